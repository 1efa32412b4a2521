// The sim's internal interface between its two halves:
//   platform (guest/sim/arch/*, guest/sim/common/{boot,userboot,vdso,console,fault}*): boot,
//     UART, exit, ZBI/BOOTFS, ELF loading, processargs, the vDSO and syscall dispatch, output
//     syscalls, time, fault injection;
//   kernel objects (guest/sim/common/kobj*.c, pager*.c): handles, VMOs, pagers, ports, channels,
//     and the pager semantics of every ABI profile, as a plain per-page executable specification.
// The kernel-object half is pure C with no platform dependency: it also compiles for the host, so
// it can be checked against the Python reference model directly.
//
// User pointers are plain pointers (the sim identity-maps memory); the kobj half asks the
// platform whether a user range is valid before touching it (sim_user_ok), so a NULL or bad
// buffer gives the status the kernel gives (ZX_ERR_INVALID_ARGS), never a sim fault.
#ifndef SIM_KOBJ_H_
#define SIM_KOBJ_H_

#include <rig/zircon.h>

// ---- Profiles (the reference model's ABI profiles, rig/model) --------------------------------
typedef enum {
  SIM_PROFILE_2020 = 2020,
  SIM_PROFILE_2022 = 2022,
  SIM_PROFILE_2024 = 2024,
} sim_profile_t;

// ---- Provided by the platform half (the host harness provides its own) ------------------------
// Non-zero when [p, p+len) is memory the test program may read or write.
int sim_user_ok(const void* p, size_t len);

// ---- Provided by the kernel-object half --------------------------------------------------------
// Reset every object and handle and select the semantics. Called once per boot before any
// syscall (the host harness calls it once per scenario).
void kobj_init(sim_profile_t profile);

typedef enum {
  KOBJ_NONE = 0,
  KOBJ_VMO,
  KOBJ_PAGER,
  KOBJ_PORT,
  KOBJ_CHANNEL,
  // Platform objects: the kobj half stores them with an opaque cookie and checks type and rights.
  KOBJ_DEBUGLOG,
  KOBJ_RESOURCE,
  KOBJ_PROCESS,
  KOBJ_THREAD,
  KOBJ_VMAR,
  KOBJ_JOB,
} kobj_type_t;

// A handle to a platform object (debuglog, root resource, process, thread, VMAR, job).
zx_status_t kobj_handle_new_platform(kobj_type_t type, zx_rights_t rights, void* cookie,
                                     zx_handle_t* out);
// Look a handle up: ZX_ERR_BAD_HANDLE (invalid or closed), ZX_ERR_WRONG_TYPE, ZX_ERR_ACCESS_DENIED
// (missing `need` rights), else ZX_OK with *cookie set (platform objects; NULL for kobj types).
zx_status_t kobj_handle_lookup(zx_handle_t h, kobj_type_t type, zx_rights_t need, void** cookie);

// A read-only VMO over bytes the platform owns (vDSO image, BOOTFS, ZBI), with a ZX_PROP_NAME
// name (e.g. "vdso/next", "vdso/full"). Reads copy from `data`; writes give ZX_ERR_ACCESS_DENIED.
zx_status_t kobj_vmo_new_from_bytes(const void* data, uint64_t size, const char* name,
                                    zx_handle_t* out);

// The bootstrap channel: its peer end holds one message of `nbytes` bytes and `nhandles`
// handles (moved into the message). *out is the end the program reads with zx_channel_read.
zx_status_t kobj_channel_new_with_message(const void* bytes, uint32_t nbytes,
                                          const zx_handle_t* handles, uint32_t nhandles,
                                          zx_handle_t* out);

// Page requests. A read or write that reaches a page the kernel would have to ask the pager for
// (unsupplied page; clean page of a trap_dirty VMO) does not complete: the kobj half queues the
// page request packet on the VMO's port exactly as the kernel does and returns
// SIM_ERR_WOULD_BLOCK with the request in *sim_blocked_request(). Today the platform reports it
// and stops (the scenario contract forbids blocking steps); a later second user thread that
// services page requests will block on it instead.
#define SIM_ERR_WOULD_BLOCK ((zx_status_t)-1000)
typedef struct {
  zx_handle_t vmo;      // the handle the blocked call used
  uint16_t command;     // ZX_PAGER_VMO_READ or ZX_PAGER_VMO_DIRTY
  uint64_t offset;      // bytes, page aligned
  uint64_t length;      // bytes
} sim_page_request_t;
const sim_page_request_t* sim_blocked_request(void);

// Every syscall of guest/include/rig/syscalls.def that is not a platform syscall, with exactly
// the zx_* signature: sys_zx_pager_create, sys_zx_pager_create_vmo, sys_zx_pager_detach_vmo,
// sys_zx_pager_supply_pages, sys_zx_pager_op_range, sys_zx_pager_query_dirty_ranges,
// sys_zx_pager_query_vmo_stats, sys_zx_vmo_create, sys_zx_vmo_read, sys_zx_vmo_write,
// sys_zx_vmo_op_range, sys_zx_vmo_set_size, sys_zx_vmo_get_size, sys_zx_vmo_create_child,
// sys_zx_vmar_map, sys_zx_vmar_unmap, sys_zx_port_create, sys_zx_port_wait, sys_zx_handle_close,
// sys_zx_handle_duplicate, sys_zx_handle_replace, sys_zx_channel_read, sys_zx_object_get_property.
// Platform syscalls (platform half): zx_debug_write, zx_debuglog_create, zx_debuglog_write,
// zx_process_exit, zx_system_get_page_size, zx_nanosleep, zx_deadline_after,
// zx_clock_get_monotonic.
#define RIG_SYSCALL(ret, name, params, args) ret sys_##name params;
#define RIG_SYSCALL_RET(ret, name, params, args, fallback) ret sys_##name params;
#define RIG_SYSCALL_NORETURN(name, params, args) void sys_##name params;
#include <rig/syscalls.def>

#endif  // SIM_KOBJ_H_
