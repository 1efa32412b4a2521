// rig_host_jump(entry, sp, arg0, arg1): enter a guest image on the host the way userboot enters
// it (arm64: x0 = bootstrap channel, x1 = vDSO base, a fresh 16-byte-aligned stack, x29 = x30 =
// 0 so nothing can return past the entry). Host tests only; under qemu-aarch64 on x86-64 hosts.
  .text
  .globl rig_host_jump
  .type rig_host_jump, %function
rig_host_jump:
  mov sp, x1
  mov x16, x0                    // x16: the intra-procedure scratch register, fine for br
  mov x0, x2
  mov x1, x3
  mov x29, #0
  mov x30, #0
  br x16
  .size rig_host_jump, . - rig_host_jump
  .section .note.GNU-stack, "", %progbits
