// Console output: a small printf, debuglog-style line prefixes, and the `silence` fault.
// Every byte the sim prints goes through sim_putc_raw, so `silence` silences everything.
#include "sim.h"

int sim_console_silenced;

void sim_putc_raw(char c) {
  if (!sim_console_silenced) arch_console_putc(c);
}

void sim_write_raw(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) sim_putc_raw(s[i]);
}

// ---- printf: %s %c %d %i %u %x %p with l/ll/z, width, '0' and '-' flags ------------------
typedef struct {
  char* buf;
  size_t size;
  size_t len;
} out_t;

static void out_c(out_t* o, char c) {
  if (o->len + 1 < o->size) o->buf[o->len] = c;
  o->len++;
}

static void out_num(out_t* o, uint64_t v, unsigned base, int neg, int width, int zero,
                    int left, int alt) {
  char tmp[24];
  int n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v != 0);
  int len = n + (neg ? 1 : 0) + (alt ? 2 : 0);
  if (!left && !zero) {
    for (; len < width; ++len) out_c(o, ' ');
  }
  if (neg) out_c(o, '-');
  if (alt) {
    out_c(o, '0');
    out_c(o, 'x');
  }
  if (!left && zero) {
    for (; len < width; ++len) out_c(o, '0');
  }
  while (n > 0) out_c(o, tmp[--n]);
  if (left) {
    for (; len < width; ++len) out_c(o, ' ');
  }
}

int sim_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  out_t o = {buf, size, 0};
  for (const char* p = fmt; *p != '\0'; ++p) {
    if (*p != '%') {
      out_c(&o, *p);
      continue;
    }
    ++p;
    int zero = 0, left = 0, width = 0, lng = 0, alt = 0;
    for (;; ++p) {
      if (*p == '0') zero = 1;
      else if (*p == '-') left = 1;
      else if (*p == '#') alt = 1;
      else break;
    }
    while (*p >= '0' && *p <= '9') width = width * 10 + (*p++ - '0');
    int prec = -1;
    if (*p == '.') {
      ++p;
      if (*p == '*') {
        prec = va_arg(ap, int);
        ++p;
      } else {
        prec = 0;
        while (*p >= '0' && *p <= '9') prec = prec * 10 + (*p++ - '0');
      }
    }
    while (*p == 'l' || *p == 'z') {
      lng = 1;
      ++p;
    }
    switch (*p) {
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (s == 0) s = "(null)";
        int n = 0;
        while (s[n] != '\0' && (prec < 0 || n < prec)) ++n;
        if (!left) for (int i = n; i < width; ++i) out_c(&o, ' ');
        for (int i = 0; i < n; ++i) out_c(&o, s[i]);
        if (left) for (int i = n; i < width; ++i) out_c(&o, ' ');
        break;
      }
      case 'c':
        out_c(&o, (char)va_arg(ap, int));
        break;
      case 'd':
      case 'i': {
        int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        out_num(&o, u, 10, v < 0, width, zero, left, 0);
        break;
      }
      case 'u':
        out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, 0, width, zero, left,
                0);
        break;
      case 'x':
        out_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, 0, width, zero, left,
                alt);
        break;
      case 'p':
        out_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void*), 16, 0, width, zero, left, 1);
        break;
      case '%':
        out_c(&o, '%');
        break;
      case '\0':
        --p;
        break;
      default:
        out_c(&o, '%');
        out_c(&o, *p);
        break;
    }
  }
  if (size != 0) buf[o.len < size ? o.len : size - 1] = '\0';
  return (int)o.len;
}

int sim_snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = sim_vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

static void dlog_prefix(uint32_t pid, uint32_t tid) {
  zx_time_t now = sim_now();
  uint64_t ms = (uint64_t)now / 1000000u;
  char pre[48];
  int n = sim_snprintf(pre, sizeof pre, "[%05lu.%03lu] %05u:%05u> ", ms / 1000u, ms % 1000u,
                       pid, tid);
  sim_write_raw(pre, (size_t)n);
}

// A record without a trailing newline gets one; an embedded newline starts an unprefixed line
// (facts 7). Line ends are CR LF as the real console's.
void sim_dlog_line(uint32_t pid, uint32_t tid, const char* text, size_t n) {
  dlog_prefix(pid, tid);
  for (size_t i = 0; i < n; ++i) {
    if (text[i] == '\n') {
      sim_write_raw("\r\n", 2);
      if (i + 1 == n) return;
      continue;
    }
    sim_putc_raw(text[i]);
  }
  sim_write_raw("\r\n", 2);
}

static void vline(uint32_t pid, uint32_t tid, const char* prefix, const char* fmt, va_list ap) {
  char buf[512];
  size_t p = sim_strlen(prefix);
  for (size_t i = 0; i < p; ++i) buf[i] = prefix[i];
  int n = sim_vsnprintf(buf + p, sizeof buf - p, fmt, ap);
  size_t len = p + (size_t)n;
  if (len > sizeof buf - 1) len = sizeof buf - 1;
  sim_dlog_line(pid, tid, buf, len);
}

void sim_kprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(0, 0, "", fmt, ap);
  va_end(ap);
}

void sim_ubprintf(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vline(SIM_KOID_USERBOOT_PROC, SIM_KOID_USERBOOT_THREAD, "userboot: ", fmt, ap);
  va_end(ap);
}
