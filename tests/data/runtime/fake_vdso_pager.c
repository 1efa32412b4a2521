// The pager half of a 2024-shaped stand-in vDSO, for host tests only. Linked together with
// fake_vdso.c (which plays the 2020 vDSO: no dirty tracking) into a second shared object that
// exports every syscall the generated program calls (all of guest/include/rig/syscalls.def but
// zx_vmar_map, zx_vmar_unmap and zx_port_wait), so a program for the 2024 ABI gets past its
// fixture setup and runs every step: queries, query_all loops, stats.
//
// Nothing here models the kernel. Each call logs its name and a few arguments on stdout (like
// fake_vdso.c) and succeeds with made-up handles. The one stateful piece is the dirty set every
// VMO reports: pages 0 and 2, i.e. ranges [0, 0x1000) and [0x2000, 0x3000), clipped to the
// queried interval, at most as many as fit the buffer, never more than two entries. Two entries
// always fit the guest's storage (codegen gives every query buffer room for the entries its size
// asks for, or at least for every range the scenario can have).
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;

#define EXPORT __attribute__((visibility("default")))
#define ZX_ERR_INVALID_ARGS (-10)
#define ZX_ERR_BUFFER_TOO_SMALL (-15)

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#include <stdarg.h>
static void say(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  fflush(stdout);
}

// Handles made here: 0x4000 + a counter, so a log line tells them from processargs handles.
static zx_handle_t next_handle(void) {
  static zx_handle_t n = 0x4000u;
  return n++;
}

static zx_status_t give(zx_handle_t* out) {
  if (out == NULL) return ZX_ERR_INVALID_ARGS;
  *out = next_handle();
  return 0;
}

EXPORT zx_status_t zx_pager_create_vmo(zx_handle_t pager, uint32_t options, zx_handle_t port,
                                       uint64_t key, uint64_t size, zx_handle_t* out) {
  say("pager_create_vmo pager=%#x options=%#x port=%#x key=%llu size=%#llx\n", pager, options,
      port, (unsigned long long)key, (unsigned long long)size);
  return give(out);
}

EXPORT zx_status_t zx_pager_detach_vmo(zx_handle_t pager, zx_handle_t vmo) {
  say("pager_detach_vmo pager=%#x vmo=%#x\n", pager, vmo);
  return 0;
}

EXPORT zx_status_t zx_pager_supply_pages(zx_handle_t pager, zx_handle_t vmo, uint64_t offset,
                                         uint64_t length, zx_handle_t aux, uint64_t aux_offset) {
  say("pager_supply_pages pager=%#x vmo=%#x off=%#llx len=%#llx aux=%#x aux_off=%#llx\n", pager,
      vmo, (unsigned long long)offset, (unsigned long long)length, aux,
      (unsigned long long)aux_offset);
  return 0;
}

EXPORT zx_status_t zx_pager_op_range(zx_handle_t pager, uint32_t op, zx_handle_t vmo,
                                     uint64_t offset, uint64_t length, uint64_t data) {
  say("pager_op_range pager=%#x op=%u vmo=%#x off=%#llx len=%#llx data=%#llx\n", pager, op, vmo,
      (unsigned long long)offset, (unsigned long long)length, (unsigned long long)data);
  return 0;
}

typedef struct {
  uint64_t offset, length, options;
} range_t;

EXPORT zx_status_t zx_pager_query_dirty_ranges(zx_handle_t pager, zx_handle_t vmo,
                                               uint64_t offset, uint64_t length, void* buffer,
                                               size_t buffer_size, size_t* actual,
                                               size_t* avail) {
  say("pager_query_dirty_ranges pager=%#x vmo=%#x off=%#llx len=%#llx size=%zu\n", pager, vmo,
      (unsigned long long)offset, (unsigned long long)length, buffer_size);
  if (buffer == NULL && buffer_size != 0) return ZX_ERR_INVALID_ARGS;
  static const range_t dirty[] = {{0x0, 0x1000, 0}, {0x2000, 0x1000, 0}};
  size_t room = buffer_size / sizeof(range_t), found = 0, copied = 0;
  for (size_t i = 0; i < sizeof(dirty) / sizeof(dirty[0]); ++i) {
    uint64_t lo = dirty[i].offset, hi = dirty[i].offset + dirty[i].length;
    if (hi <= offset || lo >= offset + length) continue;
    range_t r = {lo < offset ? offset : lo, 0, dirty[i].options};
    r.length = (hi > offset + length ? offset + length : hi) - r.offset;
    if (copied < room) ((range_t*)buffer)[copied++] = r;
    ++found;
  }
  if (actual != NULL) *actual = copied;
  if (avail != NULL) *avail = found;
  return 0;
}

EXPORT zx_status_t zx_pager_query_vmo_stats(zx_handle_t pager, zx_handle_t vmo, uint32_t options,
                                            void* buffer, size_t buffer_size) {
  say("pager_query_vmo_stats pager=%#x vmo=%#x options=%#x size=%zu\n", pager, vmo, options,
      buffer_size);
  if (buffer_size < sizeof(uint32_t)) return ZX_ERR_BUFFER_TOO_SMALL;
  *(uint32_t*)buffer = 1;  // ZX_PAGER_VMO_STATS_MODIFIED
  return 0;
}

EXPORT zx_status_t zx_vmo_create(uint64_t size, uint32_t options, zx_handle_t* out) {
  say("vmo_create size=%#llx options=%#x\n", (unsigned long long)size, options);
  return give(out);
}

EXPORT zx_status_t zx_vmo_read(zx_handle_t vmo, void* buffer, uint64_t offset, size_t size) {
  // Writes nothing: the guest's read target is its own business.
  say("vmo_read vmo=%#x off=%#llx size=%zu\n", vmo, (unsigned long long)offset, size);
  (void)buffer;
  return 0;
}

EXPORT zx_status_t zx_vmo_write(zx_handle_t vmo, const void* buffer, uint64_t offset,
                                size_t size) {
  say("vmo_write vmo=%#x off=%#llx size=%zu\n", vmo, (unsigned long long)offset, size);
  (void)buffer;
  return 0;
}

EXPORT zx_status_t zx_vmo_op_range(zx_handle_t vmo, uint32_t op, uint64_t offset, uint64_t size,
                                   void* buffer, size_t buffer_size) {
  say("vmo_op_range vmo=%#x op=%u off=%#llx size=%#llx\n", vmo, op, (unsigned long long)offset,
      (unsigned long long)size);
  (void)buffer;
  (void)buffer_size;
  return 0;
}

EXPORT zx_status_t zx_vmo_set_size(zx_handle_t vmo, uint64_t size) {
  say("vmo_set_size vmo=%#x size=%#llx\n", vmo, (unsigned long long)size);
  return 0;
}

EXPORT zx_status_t zx_vmo_get_size(zx_handle_t vmo, uint64_t* size) {
  say("vmo_get_size vmo=%#x\n", vmo);
  if (size == NULL) return ZX_ERR_INVALID_ARGS;
  *size = 0x10000;
  return 0;
}

EXPORT zx_status_t zx_vmo_create_child(zx_handle_t vmo, uint32_t options, uint64_t offset,
                                       uint64_t size, zx_handle_t* out) {
  say("vmo_create_child vmo=%#x options=%#x off=%#llx size=%#llx\n", vmo, options,
      (unsigned long long)offset, (unsigned long long)size);
  return give(out);
}

EXPORT zx_status_t zx_port_create(uint32_t options, zx_handle_t* out) {
  say("port_create options=%u\n", options);
  return give(out);
}

EXPORT zx_status_t zx_handle_duplicate(zx_handle_t h, uint32_t rights, zx_handle_t* out) {
  say("handle_duplicate h=%#x rights=%#x\n", h, rights);
  return give(out);
}

EXPORT zx_status_t zx_handle_replace(zx_handle_t h, uint32_t rights, zx_handle_t* out) {
  say("handle_replace h=%#x rights=%#x\n", h, rights);
  return give(out);
}

EXPORT uint32_t zx_system_get_page_size(void) { return 4096; }
