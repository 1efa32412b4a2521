// The output path for records, chosen at run time (docs/runtime.md):
//   1. option rig.output=debug-write           -> zx_debug_write            ("debug-write")
//      (an argv word from era D on, else an environ word: rig_procargs_option_get)
//   2. a debuglog handle PA_HND(PA_FD, 0x8000)  -> zx_debuglog_write         ("debuglog")
//   3. zx_debuglog_create(root resource)        -> zx_debuglog_write         ("debuglog-new")
//   4. zx_debuglog_create(ZX_HANDLE_INVALID)    -> zx_debuglog_write         ("debuglog-new")
//   5. otherwise                                -> zx_debug_write            ("debug-write")
// The debuglog silently drops records written back to back; a 1 ms pause every 10 records lost
// none of 5,000 (facts 7), so writes are paced.
#include "rig_internal.h"

static zx_handle_t g_log = ZX_HANDLE_INVALID;
static uint32_t g_records;

const char* rig_output_init(const rig_procargs_t* pa) {
  // Where rig_env_get looks too: rig build passes the word in argv from era D on, and the
  // 2023+ userboot passes no environ at all.
  const char* want = rig_procargs_option_get(pa, "rig.output");
  if (want != 0 && rig_strcmp(want, "debug-write") == 0 && RIG_HAS(zx_debug_write)) {
    return "debug-write";
  }
  zx_handle_t h = rig_procargs_handle_with_bits(pa, PA_FD, PA_FD_USE_FOR_STDIO);
  if (h != ZX_HANDLE_INVALID) {
    g_log = h;
    return "debuglog";
  }
  zx_handle_t root = rig_procargs_handle(pa, PA_RESOURCE, 0);
  if (root != ZX_HANDLE_INVALID && zx_debuglog_create(root, 0, &h) == ZX_OK) {
    g_log = h;
    return "debuglog-new";
  }
  if (zx_debuglog_create(ZX_HANDLE_INVALID, 0, &h) == ZX_OK) {
    g_log = h;
    return "debuglog-new";
  }
  return "debug-write";
}

void rig_output_write(const char* buf, size_t len) {
  if (g_log == ZX_HANDLE_INVALID) {
    // The kernel keeps 256 bytes of one write and drops the rest silently: cut it ourselves so
    // the loss is at least the same every time.
    zx_debug_write(buf, len < RIG_DEBUG_WRITE_MAX ? len : RIG_DEBUG_WRITE_MAX);
    return;
  }
  zx_debuglog_write(g_log, 0, buf, len < RIG_DEBUGLOG_MAX ? len : RIG_DEBUGLOG_MAX);
  if (++g_records % RIG_PACE_EVERY == 0) zx_nanosleep(zx_deadline_after(ZX_MSEC(1)));
}
