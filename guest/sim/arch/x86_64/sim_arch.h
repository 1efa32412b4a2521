// x86-64 facts the sim's common C needs; picked by include path (-I guest/sim/arch/x86_64).
#ifndef SIM_ARCH_H_
#define SIM_ARCH_H_

#include <stdint.h>

#define SIM_ARCH_NAME "x86_64"
#define SIM_ELF_MACHINE 62u  // EM_X86_64
#define SIM_ARCH_REBOOT_LINE "Rebooting... (reset through the 0xcf9 reset control register)"

// The trap frame exception.S builds (lowest address first): the general registers it pushes,
// the vector and error code, then what the CPU pushed.
typedef struct sim_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error;
  uint64_t rip, cs, rflags, rsp, ss;
} sim_frame_t;

#endif  // SIM_ARCH_H_
