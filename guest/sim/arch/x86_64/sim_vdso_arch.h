// x86-64 vDSO stub: the syscall's index in eax, then `int $0x80`; the result comes back in rax.
// Arguments 7 and 8 of a call stay on the caller's stack, where the sim reads them.
#define SIM_VDSO_STUB(name, nr)                                                     \
  .globl name; .type name, @function; .globl _##name; .type _##name, @function;     \
  .balign 16; name: _##name: mov $nr, %eax; int $0x80; ret;                          \
  .size name, . - name; .size _##name, . - _##name;
