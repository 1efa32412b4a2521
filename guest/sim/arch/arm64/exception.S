// arm64 exception vectors. The program runs at EL1t (on SP_EL0), the sim at EL1h (SP_EL1): an
// exception from the program lands in the "current EL with SP0" group, one from the sim in the
// "current EL with SPx" group, so telling a user crash from a kernel panic needs no flag.
#define FRAME_SIZE 288

.macro SAVE_FRAME
  sub sp, sp, #FRAME_SIZE
  stp x0, x1, [sp, #0]
  stp x2, x3, [sp, #16]
  stp x4, x5, [sp, #32]
  stp x6, x7, [sp, #48]
  stp x8, x9, [sp, #64]
  stp x10, x11, [sp, #80]
  stp x12, x13, [sp, #96]
  stp x14, x15, [sp, #112]
  stp x16, x17, [sp, #128]
  stp x18, x19, [sp, #144]
  stp x20, x21, [sp, #160]
  stp x22, x23, [sp, #176]
  stp x24, x25, [sp, #192]
  stp x26, x27, [sp, #208]
  stp x28, x29, [sp, #224]
  mrs x9, sp_el0
  stp x30, x9, [sp, #240]
  mrs x9, elr_el1
  mrs x10, spsr_el1
  stp x9, x10, [sp, #256]
  mrs x9, esr_el1
  mrs x10, far_el1
  stp x9, x10, [sp, #272]
.endm

.macro VECTOR kind
  .balign 0x80
  SAVE_FRAME
  mov x0, sp
  mov x1, #\kind
  b sim_vector_common
.endm

  // Its own section: the 2 KiB alignment must not move .text off 0x40200040 (sim.ld).
  .section .vectors, "ax"
  .balign 2048
  .globl sim_vectors
sim_vectors:
  VECTOR 0   // current EL, SP0: sync (the program: svc or a fault)
  VECTOR 1   // current EL, SP0: irq
  VECTOR 1   // fiq
  VECTOR 1   // serror
  VECTOR 2   // current EL, SPx: sync (the sim itself)
  VECTOR 3   // irq
  VECTOR 3   // fiq
  VECTOR 3   // serror
  VECTOR 4   // lower EL, AArch64
  VECTOR 4
  VECTOR 4
  VECTOR 4
  VECTOR 4   // lower EL, AArch32
  VECTOR 4
  VECTOR 4
  VECTOR 4

sim_vector_common:
  bl arch_exception                  // returns only for a syscall
  ldp x9, x10, [sp, #256]
  msr elr_el1, x9
  msr spsr_el1, x10
  ldr x9, [sp, #248]
  msr sp_el0, x9
  ldp x0, x1, [sp, #0]
  ldp x2, x3, [sp, #16]
  ldp x4, x5, [sp, #32]
  ldp x6, x7, [sp, #48]
  ldp x8, x9, [sp, #64]
  ldp x10, x11, [sp, #80]
  ldp x12, x13, [sp, #96]
  ldp x14, x15, [sp, #112]
  ldp x16, x17, [sp, #128]
  ldp x18, x19, [sp, #144]
  ldp x20, x21, [sp, #160]
  ldp x22, x23, [sp, #176]
  ldp x24, x25, [sp, #192]
  ldp x26, x27, [sp, #208]
  ldp x28, x29, [sp, #224]
  ldr x30, [sp, #240]
  add sp, sp, #FRAME_SIZE
  eret

  .section .note.GNU-stack, "", %progbits
