// arm64 facts the sim's common C needs; picked by include path (-I guest/sim/arch/arm64).
#ifndef SIM_ARCH_H_
#define SIM_ARCH_H_

#include <stdint.h>

#define SIM_ARCH_NAME "arm64"
#define SIM_ELF_MACHINE 183u  // EM_AARCH64
// What the real kernel prints before a PSCI SYSTEM_RESET (facts 9).
#define SIM_ARCH_REBOOT_LINE "PSCI reboot: 0x84000009 0 0 0"

// The trap frame exception.S builds on the sim's stack (SP_EL1). Field offsets are used by the
// assembly: keep them in step.
typedef struct sim_frame {
  uint64_t x[31];  // x0..x30            @0
  uint64_t sp;     // SP_EL0: the program's stack pointer   @248
  uint64_t elr;    // @256
  uint64_t spsr;   // @264
  uint64_t esr;    // @272
  uint64_t far;    // @280
} sim_frame_t;

#endif  // SIM_ARCH_H_
