// x86-64 entry: a multiboot v1 image with the a.out kludge (flag 16), so QEMU's -kernel loads
// this flat file at its link address whatever the ELF says (QEMU refuses ELF64 multiboot
// kernels without the kludge) and passes image.zbi (-initrd) as the first module. The file
// starts with zbi_kernel_t so the same bytes are the KERNEL_X64 item's payload; the multiboot
// header follows at offset 16 and its addresses place the load relative to the header, so
// QEMU also boots image.zbi itself as -kernel (header at file offset 96).
//
// Entry in 32-bit protected mode (eax = 0x2badb002, ebx = multiboot info): zero the bss, build
// identity page tables for 4 GiB (2 MiB pages; the first 2 MiB in 4 KiB pages with page 0 left
// out so NULL faults), enable SSE for the program, enter long mode, call arch_main(mbi).

#define MB_MAGIC 0x1badb002
#define MB_FLAGS 0x00010003  // page-aligned modules, memory info, a.out kludge addresses

  .section .text.boot, "ax"
  .code32
  // zbi_kernel_t (16 bytes) precedes this: the linker script writes it (it needs __sim_end).
mb_header:
  .long MB_MAGIC
  .long MB_FLAGS
  .long -(MB_MAGIC + MB_FLAGS)
  .long mb_header                    // header_addr
  .long __payload_start              // load_addr
  .long __payload_end                // load_end_addr
  .long __sim_end                    // bss_end_addr
  .long _start32                     // entry_addr

  .globl _start32
_start32:
  cli
  mov %ebx, %esi                     // multiboot info
  cmp $0x2badb002, %eax
  je 1f
  xor %esi, %esi
1:
  // Zero the bss (page tables, stacks).
  mov $__bss_start, %edi
  mov $__sim_end, %ecx
  sub %edi, %ecx
  shr $2, %ecx
  xor %eax, %eax
  rep stosl
  mov $__stack_top, %esp

  // PML4[0] -> PDPT; PDPT[0..3] -> PD0..PD3; PD0[0] -> PT0 (4 KiB pages, page 0 absent).
  mov $pdpt, %eax
  or $3, %eax
  mov %eax, pml4
  mov $pd, %eax
  or $3, %eax
  mov $pdpt, %edi
  mov $4, %ecx
2:
  mov %eax, (%edi)
  add $4096, %eax
  add $8, %edi
  loop 2b
  // 2048 PD entries of 2 MiB: present, writable, PS.
  mov $pd, %edi
  mov $0x83, %eax
  xor %edx, %edx
  mov $2048, %ecx
3:
  mov %eax, (%edi)
  mov %edx, 4(%edi)
  add $0x200000, %eax
  adc $0, %edx
  add $8, %edi
  loop 3b
  mov $pt0, %eax
  or $3, %eax
  mov %eax, pd
  movl $0, pd + 4
  // PT0: pages 1..511 present and writable; page 0 absent.
  mov $pt0 + 8, %edi
  mov $0x1003, %eax
  mov $511, %ecx
4:
  mov %eax, (%edi)
  add $4096, %eax
  add $8, %edi
  loop 4b

  mov %cr4, %eax
  or $((1 << 5) | (1 << 9) | (1 << 10)), %eax   // PAE, OSFXSR, OSXMMEXCPT
  mov %eax, %cr4
  mov $pml4, %eax
  mov %eax, %cr3
  mov $0xc0000080, %ecx              // EFER.LME
  rdmsr
  or $(1 << 8), %eax
  wrmsr
  mov %cr0, %eax
  and $~(1 << 2), %eax               // EM off: SSE for the program
  or $((1 << 31) | (1 << 1) | 1), %eax   // PG, MP, PE
  mov %eax, %cr0
  lgdt gdt_ptr
  ljmp $0x08, $long_entry

  .code64
long_entry:
  mov $0x10, %ax
  mov %ax, %ds
  mov %ax, %es
  mov %ax, %ss
  xor %eax, %eax
  mov %ax, %fs
  mov %ax, %gs
  mov $__stack_top, %rsp
  mov %esi, %edi                     // arch_main(multiboot info)
  call arch_main
5:
  hlt
  jmp 5b

  .balign 8
gdt:
  .quad 0
  .quad 0x00af9a000000ffff           // 0x08: 64-bit code
  .quad 0x00cf92000000ffff           // 0x10: data
gdt_ptr:
  .word gdt_ptr - gdt - 1
  .long gdt

  // arch_enter_user(entry, arg0, arg1, sp): the program runs at ring 0 on its own stack;
  // its return address is 0, so returning from the entry point is a crash.
  .text
  .globl arch_enter_user
arch_enter_user:
  mov %rdi, %rax
  mov %rcx, %rsp
  pushq $0
  mov %rsi, %rdi
  mov %rdx, %rsi
  xor %edx, %edx
  xor %ecx, %ecx
  xor %ebx, %ebx
  xor %ebp, %ebp
  xor %r8d, %r8d
  xor %r9d, %r9d
  xor %r10d, %r10d
  xor %r11d, %r11d
  xor %r12d, %r12d
  xor %r13d, %r13d
  xor %r14d, %r14d
  xor %r15d, %r15d
  movb $0, sim_x86_in_sim(%rip)
  jmp *%rax

  .globl arch_current_fp
arch_current_fp:
  mov %rbp, %rax
  ret

  .section .bss.pagetables, "aw", @nobits
  .balign 4096
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4 * 4096
pt0: .skip 4096

  .section .note.GNU-stack, "", @progbits
