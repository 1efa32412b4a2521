// Syscall dispatch: the vDSO stub traps with the syscall's index in <rig/syscalls.def>; the
// arguments are the C arguments of the zx_* call (up to 8 integer or pointer words). Every
// call goes to sys_zx_* with exactly the zx_* signature: the kobj half's for kernel objects,
// platform_sys.c's for output, time and exit.
#include "sim.h"

// Calling a function through a pointer type with eight 64-bit integer parameters is what the
// trap already did to the caller's arguments: on AAPCS64 and SysV x86-64 every integer or
// pointer parameter travels in its own register or 8-byte stack slot, and a narrower callee
// parameter reads the low bits. Hack, but one with a single place.
typedef uint64_t u64;
#define SIM_ARGS8 u64, u64, u64, u64, u64, u64, u64, u64

static const char* const g_names[SIM_NR_COUNT + 1] = {
#define RIG_SYSCALL(ret, name, params, args) #name,
#include <rig/syscalls.def>
    0,
};

const char* sim_syscall_name(uint64_t nr) {
  return nr < SIM_NR_COUNT ? g_names[nr] : "(bad syscall number)";
}

static void blocked(uint64_t nr) {
  const sim_page_request_t* r = sim_blocked_request();
  sim_kprintf("sim: %s blocked on a page request (%s offset %#lx length %#lx, handle %#x): a "
              "real kernel's program would block forever here; the sim stops",
              sim_syscall_name(nr),
              r == 0 ? "?" : r->command == ZX_PAGER_VMO_DIRTY ? "DIRTY" : "READ",
              r == 0 ? 0ul : (unsigned long)r->offset, r == 0 ? 0ul : (unsigned long)r->length,
              r == 0 ? 0u : r->vmo);
  sim_hang("blocked on a page request");
}

sim_frame_t* sim_current_frame;

void sim_syscall(sim_frame_t* f) {
  sim_current_frame = f;
  uint64_t nr = arch_frame_syscall_nr(f);
  u64 a[8];
  for (int i = 0; i < 8; ++i) a[i] = arch_frame_arg(f, i);
  sim_clock_advance(ZX_USEC(1));
  uint64_t result = (uint64_t)(int64_t)ZX_ERR_BAD_SYSCALL;
  int is_status = 1;
  switch (nr) {
#define RIG_SYSCALL(ret, name, params, args)                                               \
  case SIM_NR_##name: {                                                                    \
    ret r = ((ret(*)(SIM_ARGS8))(uintptr_t)sys_##name)(a[0], a[1], a[2], a[3], a[4], a[5], \
                                                       a[6], a[7]);                        \
    result = (uint64_t)(int64_t)r;                                                         \
    is_status = sizeof(ret) == sizeof(zx_status_t);                                        \
    break;                                                                                 \
  }
#define RIG_SYSCALL_NORETURN(name, params, args)                                   \
  case SIM_NR_##name:                                                              \
    ((void (*)(SIM_ARGS8))(uintptr_t)sys_##name)(a[0], a[1], a[2], a[3], a[4], a[5], \
                                                 a[6], a[7]);                      \
    sim_panic(f, "%s returned", #name);
#include <rig/syscalls.def>
    default:
      break;
  }
  if (is_status) {
    zx_status_t st = (zx_status_t)result;
    if (st == SIM_ERR_WOULD_BLOCK) blocked(nr);
    st = sim_faults_on_result(nr, f, st);
    result = (uint64_t)(int64_t)st;
  }
  arch_frame_set_return(f, result);
  sim_current_frame = 0;
}
