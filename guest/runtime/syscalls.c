// The syscall table: one pointer per entry of <rig/syscalls.def>, resolved from the vDSO by name
// (pure: makes no syscall itself).
#include "rig_internal.h"

rig_syscall_table_t rig_syscall_table;

#define RIG_SYSCALL(ret, name, params, args) #name,
static const char* const kNames[] = {
#include <rig/syscalls.def>
};

#define RIG_NUM_SYSCALLS (sizeof(kNames) / sizeof(kNames[0]))
_Static_assert(sizeof(rig_syscall_table_t) == RIG_NUM_SYSCALLS * sizeof(void (*)(void)),
               "one table pointer per syscalls.def entry");

size_t rig_syscall_count(void) { return RIG_NUM_SYSCALLS; }

const char* rig_syscall_name(size_t i) { return i < RIG_NUM_SYSCALLS ? kNames[i] : 0; }

int rig_syscall_present(size_t i) {
  size_t k = 0;
#define RIG_SYSCALL(ret, name, params, args) \
  if (k++ == i) return rig_syscall_table.name != 0;
#include <rig/syscalls.def>
  return 0;
}

size_t rig_resolve_syscalls(const rig_vdso_t* v) {
  size_t found = 0;
  size_t i = 0;
#define RIG_SYSCALL(ret, name, params, args)                                 \
  rig_syscall_table.name = (ret(*) params)rig_vdso_sym(v, kNames[i++]);      \
  found += rig_syscall_table.name != 0;
#define RIG_SYSCALL_NORETURN(name, params, args)                             \
  rig_syscall_table.name = (void(*) params)rig_vdso_sym(v, kNames[i++]);     \
  found += rig_syscall_table.name != 0;
#include <rig/syscalls.def>
  return found;
}
