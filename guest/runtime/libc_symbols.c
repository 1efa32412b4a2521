// The libc symbols clang may emit calls to even in freestanding code (struct copies,
// zero-initialisation, large local arrays). Guest-only: host tests link the pure runtime files
// against the host libc instead. Hidden: nothing outside the image binds to them.
#include "rig_internal.h"

RIG_HIDDEN void* memset(void* dst, int c, size_t n) { return rig_memset(dst, c, n); }
RIG_HIDDEN void* memcpy(void* dst, const void* src, size_t n) { return rig_memcpy(dst, src, n); }
RIG_HIDDEN void* memmove(void* dst, const void* src, size_t n) {
  return rig_memmove(dst, src, n);
}
RIG_HIDDEN int memcmp(const void* a, const void* b, size_t n) { return rig_memcmp(a, b, n); }
