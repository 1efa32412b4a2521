// The platform syscalls: output (zx_debug_write, zx_debuglog_*), process exit, page size and
// the virtual clock. Everything else belongs to the kobj half (kobj.h).
#include "sim.h"

// ---- Virtual clock --------------------------------------------------------------------------
// Starts where a small real kernel would be when userboot runs, advances 1 us per syscall
// (sim_syscall) and jumps forward on zx_nanosleep: the runtime sleeps 1 ms every 10 debuglog
// records, which must not slow the boot.
static zx_time_t g_now = ZX_MSEC(25);

zx_time_t sim_now(void) { return g_now; }

void sim_clock_advance(zx_duration_t d) {
  if (d > 0) g_now += d;
}

zx_time_t sys_zx_clock_get_monotonic(void) { return g_now; }

zx_time_t sys_zx_deadline_after(zx_duration_t d) {
  if (d <= 0) return g_now;
  if (d > ZX_TIME_INFINITE - g_now) return ZX_TIME_INFINITE;
  return g_now + d;
}

zx_status_t sys_zx_nanosleep(zx_time_t deadline) {
  if (deadline == ZX_TIME_INFINITE) sim_hang("zx_nanosleep(ZX_TIME_INFINITE)");
  if (deadline > g_now) g_now = deadline;
  return ZX_OK;
}

uint32_t sys_zx_system_get_page_size(void) { return SIM_PAGE; }

_Noreturn void sys_zx_process_exit(int64_t retcode) { sim_userboot_process_exited(retcode); }

// ---- Output -----------------------------------------------------------------------------------
#define SIM_DEBUG_WRITE_MAX 256u  // one zx_debug_write keeps at most this much (facts 7)
#define SIM_DEBUGLOG_MAX 224u     // one debuglog record keeps at most this much (facts 7)

// The debuglog object behind a KOBJ_DEBUGLOG handle (only its existence matters).
static int g_debuglog_cookie;

zx_status_t sys_zx_debug_write(const char* buffer, size_t size) {
  if (!sim_config.serial_syscalls) return ZX_ERR_NOT_SUPPORTED;
  if (size > SIM_DEBUG_WRITE_MAX) size = SIM_DEBUG_WRITE_MAX;
  if (size == 0) return ZX_OK;
  if (!sim_user_ok(buffer, size)) return ZX_ERR_INVALID_ARGS;
  char copy[SIM_DEBUG_WRITE_MAX];
  for (size_t i = 0; i < size; ++i) copy[i] = buffer[i];
  if (sim_faults_on_output(copy, size)) sim_write_raw(copy, size);
  sim_faults_after_output(sim_current_frame);
  return ZX_OK;
}

zx_status_t sys_zx_debuglog_create(zx_handle_t resource, uint32_t options, zx_handle_t* out) {
  if (options != 0) return ZX_ERR_INVALID_ARGS;
  if (resource != ZX_HANDLE_INVALID || sim_config.flavour == SIM_UB_NEXT) {
    // The 2023 kernel needs a resource (facts 3.2): the root resource userboot passed.
    void* cookie = 0;
    zx_status_t st = kobj_handle_lookup(resource, KOBJ_RESOURCE, 0, &cookie);
    if (st != ZX_OK) return st;
  }
  // The 2020 kernel also accepts ZX_HANDLE_INVALID (facts 7).
  if (!sim_user_ok(out, sizeof *out)) return ZX_ERR_INVALID_ARGS;
  zx_handle_t h;
  zx_status_t st = kobj_handle_new_platform(
      KOBJ_DEBUGLOG, ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_READ | ZX_RIGHT_WRITE |
                         ZX_RIGHT_WAIT | ZX_RIGHT_SIGNAL,
      &g_debuglog_cookie, &h);
  if (st != ZX_OK) return st;
  *out = h;
  return ZX_OK;
}

zx_status_t sys_zx_debuglog_write(zx_handle_t handle, uint32_t options, const void* buffer,
                                  size_t size) {
  void* cookie = 0;
  zx_status_t st = kobj_handle_lookup(handle, KOBJ_DEBUGLOG, ZX_RIGHT_WRITE, &cookie);
  if (st != ZX_OK) return st;
  if (options != 0) return ZX_ERR_INVALID_ARGS;
  if (size > SIM_DEBUGLOG_MAX) size = SIM_DEBUGLOG_MAX;  // silently, as the real one
  if (size != 0 && !sim_user_ok(buffer, size)) return ZX_ERR_INVALID_ARGS;
  char copy[SIM_DEBUGLOG_MAX];
  for (size_t i = 0; i < size; ++i) copy[i] = ((const char*)buffer)[i];
  if (sim_faults_on_output(copy, size)) {
    sim_dlog_line(SIM_KOID_TEST_PROC, SIM_KOID_TEST_THREAD, copy, size);
  }
  sim_faults_after_output(sim_current_frame);
  return ZX_OK;
}
