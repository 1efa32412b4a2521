// The vDSO images, one per variant (guest/sim/build.yaml builds them before the sim and puts
// their directory on the include path), embedded as read-only data.
  .section .rodata.sim_vdso, "a"
#define SIM_VDSO_IMAGE(sym, file) \
  .balign 4096;                   \
  .globl sym;                     \
  .hidden sym;                    \
sym:                              \
  .incbin file;                   \
  .globl sym##_end;               \
  .hidden sym##_end;              \
sym##_end:

SIM_VDSO_IMAGE(sim_vdso_full2020, "vdso-full2020.so")
SIM_VDSO_IMAGE(sim_vdso_stable2022, "vdso-stable2022.so")
SIM_VDSO_IMAGE(sim_vdso_stable2024, "vdso-stable2024.so")
SIM_VDSO_IMAGE(sim_vdso_next, "vdso-next.so")

  .section .note.GNU-stack, "", %progbits
