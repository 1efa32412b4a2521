// x86-64 entry. userboot starts us with rdi = bootstrap channel handle, rsi = vDSO base and a
// fresh stack (zircon-facts.md 3.2). Nothing here may touch a global pointer before
// rig_apply_relocs has run: the image is a static PIE loaded at an unknown address.

  .text
  .globl _start
  .hidden _start
  .type _start, @function
_start:
  mov %rdi, %r12                 // bootstrap channel (callee-saved across the calls below)
  mov %rsi, %r13                 // vDSO base
  xor %ebp, %ebp                 // end of the frame-pointer chain
  and $-16, %rsp                 // SysV: 16-byte aligned before the call pushes the return address
  lea __ehdr_start(%rip), %rdi   // load address of our own ELF header = load bias
  lea _DYNAMIC(%rip), %rsi       // our PT_DYNAMIC, PC-relative so no relocation is needed
  call rig_apply_relocs
  test %rax, %rax                // count of relocations we could not apply
  jnz 1f
  mov %r12, %rdi
  mov %r13, %rsi
  call rig_start_c               // does not return
1:
  ud2
  .size _start, . - _start

  .globl rig_arch_trap
  .hidden rig_arch_trap
  .type rig_arch_trap, @function
rig_arch_trap:
  ud2
  jmp rig_arch_trap
  .size rig_arch_trap, . - rig_arch_trap

  .section .note.GNU-stack, "", @progbits
