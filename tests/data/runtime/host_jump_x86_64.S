// rig_host_jump(entry, sp, arg0, arg1): enter a guest image on the host the way userboot enters
// it (x86-64: rdi = bootstrap channel, rsi = vDSO base, a fresh stack). Host tests only.
  .text
  .globl rig_host_jump
  .type rig_host_jump, @function
rig_host_jump:
  mov %rsi, %rsp
  mov %rdi, %rax
  mov %rdx, %rdi
  mov %rcx, %rsi
  xor %ebp, %ebp
  push $0                        // a null return address, as after a call
  jmp *%rax
  .size rig_host_jump, . - rig_host_jump
  .section .note.GNU-stack, "", @progbits
