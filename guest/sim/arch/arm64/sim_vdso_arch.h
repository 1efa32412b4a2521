// arm64 vDSO stub: the syscall's index in x16, then `svc #0`; the sim returns the result in x0.
// The program runs at EL1t (SP_EL0), so the svc is taken to the sim's EL1h vectors.
#define SIM_VDSO_STUB(name, nr)                                                     \
  .globl name; .type name, %function; .globl _##name; .type _##name, %function;     \
  .balign 16; name: _##name: mov x16, nr; svc 0; ret;                              \
  .size name, . - name; .size _##name, . - _##name;
