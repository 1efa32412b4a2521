// Processargs message parsing (pure). Format: zircon-facts.md 3.2; the 2020 shape (facts 7): a
// 4200-byte message, a 4096-byte environ area, 17 handles, args_num = 0, no names.
//
// The message is untrusted input: every offset and string is checked against the message length
// before use, and a bad message leaves an empty result, never a crash.
#include "rig_internal.h"

#define RIG_PA_HEADER_SIZE 36u

static uint32_t read_u32(const uint8_t* p) {
  // Byte loads: handle_info_off need not be 4-byte aligned.
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

// Checks that `num` NUL-terminated strings start at `off` and end inside `len`.
static int strings_fit(const uint8_t* msg, uint32_t len, uint32_t off, uint32_t num) {
  if (num == 0) return 1;
  if (off >= len) return 0;
  uint32_t pos = off;
  for (uint32_t i = 0; i < num; ++i) {
    while (pos < len && msg[pos] != 0) ++pos;
    if (pos >= len) return 0;
    ++pos;  // past the NUL
  }
  return 1;
}

// String i of a validated string section, or NULL.
static const char* nth_string(const uint8_t* msg, uint32_t off, uint32_t num, uint32_t i) {
  if (msg == 0 || i >= num) return 0;
  const char* s = (const char*)msg + off;
  for (uint32_t k = 0; k < i; ++k) s += rig_strlen(s) + 1;
  return s;
}

zx_status_t rig_procargs_parse(rig_procargs_t* pa, const void* msg, size_t len,
                               const zx_handle_t* handles, size_t handle_count) {
  rig_memset(pa, 0, sizeof(*pa));
  const uint8_t* m = (const uint8_t*)msg;
  if (m == 0 || len < RIG_PA_HEADER_SIZE) return ZX_ERR_BUFFER_TOO_SMALL;
  if (len > 0xffffffffu) return ZX_ERR_OUT_OF_RANGE;
  uint32_t n = (uint32_t)len;
  if (read_u32(m + 0) != ZX_PROCARGS_PROTOCOL) return ZX_ERR_INVALID_ARGS;
  if (read_u32(m + 4) != ZX_PROCARGS_VERSION) return ZX_ERR_NOT_SUPPORTED;
  uint32_t handle_info_off = read_u32(m + 8);
  uint32_t args_off = read_u32(m + 12), args_num = read_u32(m + 16);
  uint32_t environ_off = read_u32(m + 20), environ_num = read_u32(m + 24);
  uint32_t names_off = read_u32(m + 28), names_num = read_u32(m + 32);

  if (handle_count > 0xffffu) return ZX_ERR_OUT_OF_RANGE;
  if (handle_count != 0) {
    uint64_t end = (uint64_t)handle_info_off + 4u * (uint64_t)handle_count;
    if (handle_info_off < RIG_PA_HEADER_SIZE || end > n) return ZX_ERR_OUT_OF_RANGE;
  }
  if (!strings_fit(m, n, args_off, args_num) || !strings_fit(m, n, environ_off, environ_num) ||
      !strings_fit(m, n, names_off, names_num)) {
    return ZX_ERR_OUT_OF_RANGE;
  }

  pa->msg = m;
  pa->msg_len = n;
  pa->handles = handles;
  pa->handle_count = (uint32_t)handle_count;
  pa->handle_info_off = handle_info_off;
  pa->args_off = args_off;
  pa->args_num = args_num;
  pa->environ_off = environ_off;
  pa->environ_num = environ_num;
  pa->names_off = names_off;
  pa->names_num = names_num;
  return ZX_OK;
}

uint32_t rig_procargs_info(const rig_procargs_t* pa, uint32_t i) {
  if (pa->msg == 0 || i >= pa->handle_count) return 0;
  return read_u32(pa->msg + pa->handle_info_off + 4u * i);
}

zx_handle_t rig_procargs_handle(const rig_procargs_t* pa, uint32_t type, uint32_t arg) {
  uint32_t want = PA_HND(type, arg);
  for (uint32_t i = 0; i < pa->handle_count; ++i) {
    if (rig_procargs_info(pa, i) == want) return pa->handles[i];
  }
  return ZX_HANDLE_INVALID;
}

zx_handle_t rig_procargs_handle_with_bits(const rig_procargs_t* pa, uint32_t type,
                                          uint32_t arg_bits) {
  for (uint32_t i = 0; i < pa->handle_count; ++i) {
    uint32_t info = rig_procargs_info(pa, i);
    if (PA_HND_TYPE(info) == (type & 0xFFu) && (PA_HND_ARG(info) & arg_bits) == arg_bits) {
      return pa->handles[i];
    }
  }
  return ZX_HANDLE_INVALID;
}

const char* rig_procargs_arg(const rig_procargs_t* pa, uint32_t i) {
  return nth_string(pa->msg, pa->args_off, pa->args_num, i);
}

const char* rig_procargs_env(const rig_procargs_t* pa, uint32_t i) {
  return nth_string(pa->msg, pa->environ_off, pa->environ_num, i);
}

const char* rig_procargs_name(const rig_procargs_t* pa, uint32_t i) {
  return nth_string(pa->msg, pa->names_off, pa->names_num, i);
}

// Value of "key=value" ("" for a bare "key" or "key=") among strings [first, num) of a string
// table; the last match wins, as with repeated kernel command-line words.
static const char* find_option(const uint8_t* msg, uint32_t off, uint32_t num, uint32_t first,
                               const char* key) {
  if (key == 0 || key[0] == '\0' || first >= num) return 0;
  size_t klen = rig_strlen(key);
  const char* found = 0;
  const char* s = nth_string(msg, off, num, first);
  for (uint32_t i = first; i < num; ++i) {
    if (rig_strncmp(s, key, klen) == 0) {
      if (s[klen] == '=') found = s + klen + 1;
      else if (s[klen] == '\0') found = s + klen;  // a bare "key": ""
    }
    s += rig_strlen(s) + 1;
  }
  return found;
}

const char* rig_procargs_env_get(const rig_procargs_t* pa, const char* key) {
  return find_option(pa->msg, pa->environ_off, pa->environ_num, 0, key);
}

const char* rig_procargs_option_get(const rig_procargs_t* pa, const char* key) {
  // argv words after the program name first: from era D userboot splits the program word at
  // '+' into argv, and the 2023+ userboot passes no environ at all. Older userboots pass no
  // argv but every kernel command-line word as environ.
  const char* v = find_option(pa->msg, pa->args_off, pa->args_num, 1, key);
  return v != 0 ? v : rig_procargs_env_get(pa, key);
}
