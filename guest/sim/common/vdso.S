// The vDSO: one stub per entry of <rig/syscalls.def>, exported as zx_NAME and _zx_NAME. A stub
// traps into the sim with its index in syscalls.def (__COUNTER__, in the order of the enum in sim.h) (SIM_VDSO_STUB comes from the arch's
// sim_vdso_arch.h). Each variant (build.yaml) is this file built with -D flags that hide the
// syscalls it lacks: a hidden symbol stays out of the dynamic symbol table.
#include <sim_vdso_arch.h>

  .text
#define RIG_SYSCALL(ret, name, params, args) SIM_VDSO_STUB(name, __COUNTER__)
#include <rig/syscalls.def>

#ifdef SIM_VDSO_NO_QUERY_DIRTY_RANGES
  .hidden zx_pager_query_dirty_ranges
  .hidden _zx_pager_query_dirty_ranges
#endif
#ifdef SIM_VDSO_NO_QUERY_VMO_STATS
  .hidden zx_pager_query_vmo_stats
  .hidden _zx_pager_query_vmo_stats
#endif
#ifdef SIM_VDSO_NO_GET_PAGE_SIZE
  .hidden zx_system_get_page_size
  .hidden _zx_system_get_page_size
#endif

  .section .note.GNU-stack, "", %progbits
