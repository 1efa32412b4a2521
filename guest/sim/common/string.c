// Freestanding string helpers for the sim (no libc), plus the mem* symbols clang may emit calls
// to.
#include "sim.h"

size_t sim_strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

int sim_strcmp(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return (unsigned char)*a - (unsigned char)*b;
}

int sim_strncmp(const char* a, const char* b, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) return (unsigned char)a[i] - (unsigned char)b[i];
    if (a[i] == '\0') return 0;
  }
  return 0;
}

int sim_memeq(const void* a, const void* b, size_t n) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return 0;
  }
  return 1;
}

int sim_starts_with(const char* s, size_t n, const char* prefix) {
  size_t p = sim_strlen(prefix);
  return n >= p && sim_memeq(s, prefix, p);
}

int sim_parse_u64(const char* s, size_t n, uint64_t* out) {
  if (n == 0 || n > 19) return 0;
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') return 0;
    v = v * 10u + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 1;
}

// clang may turn loops and struct copies into calls to these.
void* memset(void* d, int c, size_t n) {
  volatile uint8_t* p = d;  // volatile: keep clang from turning this back into memset
  for (size_t i = 0; i < n; ++i) p[i] = (uint8_t)c;
  return d;
}

void* memcpy(void* d, const void* s, size_t n) {
  volatile uint8_t* p = d;
  const uint8_t* q = s;
  for (size_t i = 0; i < n; ++i) p[i] = q[i];
  return d;
}

void* memmove(void* d, const void* s, size_t n) {
  volatile uint8_t* p = d;
  const uint8_t* q = s;
  if (p < q) {
    for (size_t i = 0; i < n; ++i) p[i] = q[i];
  } else {
    for (size_t i = n; i > 0; --i) p[i - 1] = q[i - 1];
  }
  return d;
}

int memcmp(const void* a, const void* b, size_t n) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] - y[i];
  }
  return 0;
}
