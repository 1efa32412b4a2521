// C entry: after start.S has relocated the image, resolve the syscalls, read the processargs
// message, choose the output path, run the program and exit with its return value.
#include "rig_internal.h"

// Big enough for the 2020 message (4200 bytes, 17 handles; facts 7) and a newer userboot's.
#define RIG_PA_MAX_BYTES 16384u
#define RIG_PA_MAX_HANDLES 64u

static uint8_t g_pa_bytes[RIG_PA_MAX_BYTES] __attribute__((aligned(8)));
static zx_handle_t g_pa_handles[RIG_PA_MAX_HANDLES];
static rig_procargs_t g_pa;
static rig_runtime_info_t g_info;
static char g_vdso_name[ZX_MAX_NAME_LEN + 1];

const rig_runtime_info_t* rig_runtime_info(void) { return &g_info; }

const char* rig_env_get(const char* key) { return rig_procargs_option_get(&g_pa, key); }

static void read_procargs(zx_handle_t bootstrap) {
  uint32_t nbytes = 0, nhandles = 0;
  zx_status_t st = zx_channel_read(bootstrap, 0, g_pa_bytes, g_pa_handles, RIG_PA_MAX_BYTES,
                                   RIG_PA_MAX_HANDLES, &nbytes, &nhandles);
  if (st != ZX_OK) return;  // g_pa stays empty: no environ, no handles
  rig_procargs_parse(&g_pa, g_pa_bytes, nbytes, g_pa_handles, nhandles);
}

static const char* vdso_variant(void) {
  zx_handle_t vmo = rig_procargs_handle(&g_pa, PA_VMO_VDSO, 0);
  if (vmo == ZX_HANDLE_INVALID) return "unknown";
  if (zx_object_get_property(vmo, ZX_PROP_NAME, g_vdso_name, ZX_MAX_NAME_LEN) != ZX_OK) {
    return "unknown";
  }
  g_vdso_name[ZX_MAX_NAME_LEN] = '\0';
  return rig_vdso_variant(g_vdso_name);
}

_Noreturn void rig_start_c(zx_handle_t bootstrap, uintptr_t vdso_base) {
  rig_vdso_t vdso;
  if (rig_vdso_open(&vdso, vdso_base) == ZX_OK) rig_resolve_syscalls(&vdso);
  // A missing vDSO leaves every entry NULL: each zx_* call then returns RIG_ERR_UNAVAILABLE
  // and zx_process_exit traps.

  read_procargs(bootstrap);
  zx_handle_close(bootstrap);

  g_info.page_size = zx_system_get_page_size();  // 4096 when the vDSO lacks it
  g_info.vdso = vdso_variant();
  g_info.root_job = rig_procargs_handle(&g_pa, PA_JOB_DEFAULT, 0);
  g_info.root_resource = rig_procargs_handle(&g_pa, PA_RESOURCE, 0);
  g_info.vmar_root = rig_procargs_handle(&g_pa, PA_VMAR_ROOT, 0);
  g_info.output = rig_output_init(&g_pa);

  zx_process_exit(rig_program_main());
}
