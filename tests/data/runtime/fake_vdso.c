// A stand-in for the Zircon vDSO, for host tests only. Built by ld.lld as a real shared object
// (GNU-hash-only and SysV-hash-only variants, section headers stripped), exporting zx_* functions
// the way the real vDSO does (also as _zx_*). Like the measured 2020 vDSO (zircon-facts.md 7) it
// lacks zx_pager_query_dirty_ranges, zx_pager_query_vmo_stats and zx_system_get_page_size.
//
// The functions log what they were called with on stdout, so a test that runs the real x86-64
// runtime on the host (host_driver `run`) can assert the whole call sequence. Behaviour is set
// with environment variables (FAKE_*), read at call time.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef int64_t zx_time_t;

#define EXPORT __attribute__((visibility("default")))
#define ALIAS(name) __attribute__((alias(#name), visibility("default")))

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

static zx_status_t env_status(const char* var) {
  const char* v = getenv(var);
  return v ? (zx_status_t)strtol(v, 0, 0) : 0;
}

EXPORT zx_status_t zx_channel_read(zx_handle_t h, uint32_t options, void* bytes,
                                   zx_handle_t* handles, uint32_t num_bytes, uint32_t num_handles,
                                   uint32_t* actual_bytes, uint32_t* actual_handles) {
  say("channel_read h=%#x cap=%u/%u\n", h, num_bytes, num_handles);
  (void)options;
  const char* path = getenv("FAKE_PA_FILE");
  uint32_t nh = (uint32_t)strtoul(getenv("FAKE_PA_HANDLES") ? getenv("FAKE_PA_HANDLES") : "0", 0, 0);
  if (path == 0) return -24;  // ZX_ERR_PEER_CLOSED
  FILE* f = fopen(path, "rb");
  if (f == 0) return -24;
  static uint8_t buf[65536];
  size_t n = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  if (n > num_bytes || nh > num_handles) return -15;  // ZX_ERR_BUFFER_TOO_SMALL
  memcpy(bytes, buf, n);
  for (uint32_t i = 0; i < nh; ++i) handles[i] = 0x1000u + i;
  *actual_bytes = (uint32_t)n;
  *actual_handles = nh;
  return 0;
}

EXPORT zx_status_t zx_handle_close(zx_handle_t h) {
  say("handle_close h=%#x\n", h);
  return 0;
}

EXPORT zx_status_t zx_object_get_property(zx_handle_t h, uint32_t prop, void* value,
                                          size_t size) {
  const char* name = getenv("FAKE_VDSO_NAME") ? getenv("FAKE_VDSO_NAME") : "vdso/next";
  say("get_property h=%#x prop=%u size=%zu\n", h, prop, size);
  if (prop != 3 || size < 32) return -10;
  memset(value, 0, size);
  strncpy((char*)value, name, size);
  return 0;
}

EXPORT zx_status_t zx_debuglog_create(zx_handle_t resource, uint32_t options, zx_handle_t* out) {
  // FAKE_DEBUGLOG_ROOT / FAKE_DEBUGLOG_INVALID: status for a create with a root resource / with
  // ZX_HANDLE_INVALID (default 0 = ZX_OK).
  zx_status_t st = env_status(resource ? "FAKE_DEBUGLOG_ROOT" : "FAKE_DEBUGLOG_INVALID");
  say("debuglog_create resource=%#x options=%u -> %d\n", resource, options, st);
  if (st == 0) *out = 0x2000u | resource;
  return st;
}

EXPORT zx_status_t zx_debuglog_write(zx_handle_t h, uint32_t options, const void* buf,
                                     size_t len) {
  say("debuglog_write h=%#x options=%u len=%zu: %.*s", h, options, len, (int)len,
      (const char*)buf);
  return 0;
}

EXPORT zx_status_t zx_debug_write(const char* buf, size_t len) {
  say("debug_write len=%zu: %.*s", len, (int)len, buf);
  return 0;
}

EXPORT zx_time_t zx_deadline_after(zx_time_t d) { return 1000000000 + d; }
EXPORT zx_status_t zx_nanosleep(zx_time_t deadline) {
  say("nanosleep deadline=%lld\n", (long long)deadline);
  return 0;
}
EXPORT zx_time_t zx_clock_get_monotonic(void) { return 42; }

EXPORT zx_status_t zx_pager_create(uint32_t options, zx_handle_t* out) {
  say("pager_create options=%u\n", options);
  *out = 0x3000u;
  return options == 0 ? 0 : -10;
}

EXPORT void zx_process_exit(int64_t code) {
  say("process_exit code=%lld\n", (long long)code);
  _exit(0);
}

// The vDSO exports every syscall twice; lookups must find the zx_ name.
zx_status_t _zx_pager_create(uint32_t options, zx_handle_t* out) ALIAS(zx_pager_create);
zx_status_t _zx_channel_read(zx_handle_t, uint32_t, void*, zx_handle_t*, uint32_t, uint32_t,
                             uint32_t*, uint32_t*) ALIAS(zx_channel_read);

// Fillers so the hash tables have many buckets and chains, as in a real 179-syscall vDSO.
// Each returns its own number, so a test can call a looked-up address and know which it got.
#define FILL(n) EXPORT int zx_filler_##n(void) { return n; }
#define FILL10(t) FILL(t##0) FILL(t##1) FILL(t##2) FILL(t##3) FILL(t##4) \
                  FILL(t##5) FILL(t##6) FILL(t##7) FILL(t##8) FILL(t##9)
FILL10(1) FILL10(2) FILL10(3) FILL10(4) FILL10(5) FILL10(6) FILL10(7) FILL10(8) FILL10(9)

// Defined but not exported: lookups must not find hidden symbols.
__attribute__((visibility("hidden"))) int zx_hidden_helper(void) { return 7; }
