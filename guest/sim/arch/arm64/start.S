// arm64 entry (zircon-facts.md 8): the boot trampoline branches to the load address of
// kernel.bin + zbi_kernel_t.entry with x0 = the data ZBI's physical address. kernel.bin is a
// container header (32 bytes) + the KERNEL_ARM64 item header (32 bytes) + this payload, so
// `entry` counts from 64 bytes before __payload_start. The payload is linked at 0x40200040
// (kernel.bin at 0x40200000, facts 8); loaded anywhere else, it copies itself there first.

  // zbi_kernel_t { uint64 entry; uint64 reserve_memory_size; } precedes _start: the linker
  // script writes it (it needs __sim_end).
  .section .text.boot, "ax"
  .globl _start
_start:
  msr daifset, #0xf
  mov x19, x0                        // the data ZBI
  // Where were we loaded? Copy ourselves to the link address if elsewhere.
  adr x1, __payload_start
  ldr x2, =__payload_start
  cmp x1, x2
  b.eq 2f
  ldr x3, =__payload_end
  sub x3, x3, x2                     // bytes to copy
  cmp x1, x2
  b.hi 1f
  // destination above source: copy backwards
  add x1, x1, x3
  add x4, x2, x3
0:
  cbz x3, 3f
  ldrb w5, [x1, #-1]!
  strb w5, [x4, #-1]!
  sub x3, x3, #1
  b 0b
1:
  mov x4, x2
5:
  cbz x3, 3f
  ldrb w5, [x1], #1
  strb w5, [x4], #1
  sub x3, x3, #1
  b 5b
3:
  ic iallu
  dsb sy
  isb
  ldr x6, =2f
  br x6
2:
  // Zero the bss (and the stacks).
  ldr x1, =__bss_start
  ldr x2, =__sim_end
4:
  cmp x1, x2
  b.hs 6f
  str xzr, [x1], #8
  b 4b
6:
  ldr x1, =__stack_top
  msr spsel, #1
  mov sp, x1
  ldr x1, =sim_vectors
  msr vbar_el1, x1
  // FP/SIMD on for EL1 and EL0: the program and the vDSO may use them (the sim itself is built
  // with -mgeneral-regs-only and never touches them).
  mov x1, #(3 << 20)
  msr cpacr_el1, x1
  isb
  mov x0, x19
  bl arch_main
7:
  wfi
  b 7b

  // Enter the program at EL1t: SP_EL0 is its stack, exceptions come back on SP_EL1.
  // arch_enter_user(entry, arg0, arg1, sp)
  .text
  .globl arch_enter_user
arch_enter_user:
  msr sp_el0, x3
  msr elr_el1, x0
  mov x4, #0x3c4                     // DAIF masked, M = EL1t
  msr spsr_el1, x4
  ldr x4, =__stack_top               // the sim's stack starts over for every trap
  mov sp, x4
  mov x0, x1
  mov x1, x2
  mov x2, #0
  mov x3, #0
  mov x4, #0
  mov x5, #0
  mov x6, #0
  mov x7, #0
  mov x8, #0
  mov x9, #0
  mov x10, #0
  mov x11, #0
  mov x12, #0
  mov x13, #0
  mov x14, #0
  mov x15, #0
  mov x16, #0
  mov x17, #0
  mov x18, #0
  mov x19, #0
  mov x20, #0
  mov x21, #0
  mov x22, #0
  mov x23, #0
  mov x24, #0
  mov x25, #0
  mov x26, #0
  mov x27, #0
  mov x28, #0
  mov x29, #0
  mov x30, #0                        // returning from the entry point jumps to 0: a crash
  eret

  .globl arch_current_fp
arch_current_fp:
  mov x0, x29
  ret

  .section .note.GNU-stack, "", %progbits
