// arm64 entry. userboot starts us with x0 = bootstrap channel handle, x1 = vDSO base and a
// fresh stack (zircon-facts.md 3.2 and 7). Nothing here may touch a global pointer before
// rig_apply_relocs has run: the image is a static PIE loaded at an unknown address.

  .text
  .globl _start
  .hidden _start
  .type _start, %function
_start:
  mov x19, x0                    // bootstrap channel (callee-saved across the calls below)
  mov x20, x1                    // vDSO base
  mov x29, #0                    // end of the frame-pointer chain
  mov x30, #0
  mov x9, sp
  and x9, x9, #~15               // AAPCS64: sp 16-byte aligned
  mov sp, x9
  adrp x0, __ehdr_start          // load address of our own ELF header = load bias
  add x0, x0, :lo12:__ehdr_start
  adrp x1, _DYNAMIC              // our PT_DYNAMIC, PC-relative so no relocation is needed
  add x1, x1, :lo12:_DYNAMIC
  bl rig_apply_relocs
  cbnz x0, 1f                    // count of relocations we could not apply
  mov x0, x19
  mov x1, x20
  bl rig_start_c                 // does not return
1:
  brk #0x1
  .size _start, . - _start

  .globl rig_arch_trap
  .hidden rig_arch_trap
  .type rig_arch_trap, %function
rig_arch_trap:
  brk #0x1
  b rig_arch_trap
  .size rig_arch_trap, . - rig_arch_trap

  .section .note.GNU-stack, "", %progbits
