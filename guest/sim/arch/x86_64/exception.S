// x86-64 interrupt stubs. Vectors 0-31 (exceptions) run on IST2, vector 0x80 (the vDSO's
// syscall trap) on IST1, so the sim never runs on the program's stack. The program runs at
// ring 0 too: sim_x86_in_sim tells a program crash from a sim panic.

.macro STUB vec, has_error
  .balign 16
isr\vec:
  .if \has_error == 0
  pushq $0
  .endif
  pushq $\vec
  jmp isr_common
.endm

  .text
isr_common:
  push %rax
  push %rbx
  push %rcx
  push %rdx
  push %rsi
  push %rdi
  push %rbp
  push %r8
  push %r9
  push %r10
  push %r11
  push %r12
  push %r13
  push %r14
  push %r15
  mov %rsp, %rdi
  cld
  call arch_trap
  pop %r15
  pop %r14
  pop %r13
  pop %r12
  pop %r11
  pop %r10
  pop %r9
  pop %r8
  pop %rbp
  pop %rdi
  pop %rsi
  pop %rdx
  pop %rcx
  pop %rbx
  pop %rax
  add $16, %rsp
  iretq

  STUB 0, 0
  STUB 1, 0
  STUB 2, 0
  STUB 3, 0
  STUB 4, 0
  STUB 5, 0
  STUB 6, 0
  STUB 7, 0
  STUB 8, 1
  STUB 9, 0
  STUB 10, 1
  STUB 11, 1
  STUB 12, 1
  STUB 13, 1
  STUB 14, 1
  STUB 15, 0
  STUB 16, 0
  STUB 17, 1
  STUB 18, 0
  STUB 19, 0
  STUB 20, 0
  STUB 21, 1
  STUB 22, 0
  STUB 23, 0
  STUB 24, 0
  STUB 25, 0
  STUB 26, 0
  STUB 27, 0
  STUB 28, 0
  STUB 29, 1
  STUB 30, 1
  STUB 31, 0
  STUB 128, 0

  .section .rodata
  .balign 8
  .globl sim_x86_isr_table
sim_x86_isr_table:
  .quad isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7, isr8, isr9, isr10, isr11, isr12
  .quad isr13, isr14, isr15, isr16, isr17, isr18, isr19, isr20, isr21, isr22, isr23, isr24
  .quad isr25, isr26, isr27, isr28, isr29, isr30, isr31
  .globl sim_x86_isr_syscall
sim_x86_isr_syscall:
  .quad isr128

  .section .note.GNU-stack, "", @progbits
