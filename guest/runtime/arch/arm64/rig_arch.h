// arm64 facts the shared runtime C needs; picked by include path (-I guest/runtime/arch/arm64).
#ifndef RIG_ARCH_H_
#define RIG_ARCH_H_

#define RIG_ARCH_NAME "arm64"
#define RIG_EM_MACHINE 183u     // EM_AARCH64
#define RIG_R_RELATIVE 1027u    // R_AARCH64_RELATIVE

#endif  // RIG_ARCH_H_
