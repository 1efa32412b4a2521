// x86-64 facts the shared runtime C needs; picked by include path (-I guest/runtime/arch/x86_64).
#ifndef RIG_ARCH_H_
#define RIG_ARCH_H_

#define RIG_ARCH_NAME "x86_64"
#define RIG_EM_MACHINE 62u      // EM_X86_64
#define RIG_R_RELATIVE 8u       // R_X86_64_RELATIVE

#endif  // RIG_ARCH_H_
