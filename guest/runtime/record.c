// The one implementation of the guest record format (docs/protocol.md, version 1):
//
//   @RIG1 <nonce> <seq> <kind> <key=value> ... ~<crc32 hex8>\n
//
// Every record is built whole in a local buffer, never longer than RIG_RECORD_MAX bytes, and
// written with one rig_output_write() call so the debuglog (224 bytes per write) never cuts it.
#include <rig/record.h>

#define RIG_PREFIX "@RIG1 "
#define NONCE_LEN 16u
// Room kept free at the end of every record: " ovf=1" (a field did not fit) and " ~xxxxxxxx".
#define TRAILER_RESERVE 16u

static uint32_t g_seq;
static char g_nonce[NONCE_LEN + 1];

typedef struct rec {
  char buf[RIG_RECORD_MAX + 2];  // + '\n' + NUL
  size_t len;
  int overflow;  // a field was left out because it did not fit
} rec_t;

// ---- CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; equals zlib's crc32) -----------------

uint32_t rig_crc32(const void* data, size_t len) {
  // Four-bit table: small enough to keep in .rodata of a freestanding program.
  static const uint32_t table[16] = {
      0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
      0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
      0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu,
  };
  const unsigned char* p = (const unsigned char*)data;
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < len; i++) {
    crc ^= p[i];
    crc = (crc >> 4) ^ table[crc & 0xfu];
    crc = (crc >> 4) ^ table[crc & 0xfu];
  }
  return crc ^ 0xffffffffu;
}

// ---- Formatting ----------------------------------------------------------------------------------

static size_t fmt_u64(char* out, uint64_t v, unsigned base) {
  char tmp[24];
  size_t n = 0;
  do {
    unsigned d = (unsigned)(v % base);
    tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + (d - 10));
    v /= base;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
  return n;
}

static size_t fmt_i64(char* out, int64_t v) {
  if (v < 0) {
    out[0] = '-';
    // Negate in unsigned arithmetic so INT64_MIN does not overflow.
    return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v, 10);
  }
  return fmt_u64(out, (uint64_t)v, 10);
}

// Append `n` bytes if the record keeps TRAILER_RESERVE bytes free; else remember the overflow.
static void rec_put(rec_t* r, const char* s, size_t n) {
  if (r->len + n + TRAILER_RESERVE > RIG_RECORD_MAX) {
    r->overflow = 1;
    return;
  }
  for (size_t i = 0; i < n; i++) r->buf[r->len++] = s[i];
}

// Keys and values never contain spaces, '~' or control bytes: the parser splits on spaces.
static char clean(char c) { return (c > ' ' && c < '~') ? c : '?'; }

static int rec_fits(const rec_t* r, size_t n) {
  return r->len + n + TRAILER_RESERVE <= RIG_RECORD_MAX;
}

static void rec_begin(rec_t* r, const char* kind) {
  char num[24];
  size_t n;
  r->len = 0;
  r->overflow = 0;
  for (const char* p = RIG_PREFIX; *p; p++) r->buf[r->len++] = *p;
  for (size_t i = 0; i < NONCE_LEN; i++) r->buf[r->len++] = g_nonce[i];
  r->buf[r->len++] = ' ';
  n = fmt_u64(num, g_seq, 10);
  for (size_t i = 0; i < n; i++) r->buf[r->len++] = num[i];
  r->buf[r->len++] = ' ';
  for (const char* p = kind; *p; p++) r->buf[r->len++] = *p;
}

// " key=value" as one unit: a field is printed whole or not at all.
static void rec_field_str(rec_t* r, const char* key, const char* value) {
  char tmp[RIG_RECORD_MAX];
  size_t n = 0;
  tmp[n++] = ' ';
  for (const char* p = key; *p && n < sizeof(tmp) - 1; p++) tmp[n++] = clean(*p);
  if (n < sizeof(tmp) - 1) tmp[n++] = '=';
  for (const char* p = value; *p && n < sizeof(tmp); p++) tmp[n++] = clean(*p);
  rec_put(r, tmp, n);
}

static void rec_field_num(rec_t* r, const char* key, int64_t sv, uint64_t uv, int is_signed) {
  char tmp[64];
  size_t n = 0;
  tmp[n++] = ' ';
  for (const char* p = key; *p && n < 32; p++) tmp[n++] = *p;
  tmp[n++] = '=';
  n += is_signed ? fmt_i64(tmp + n, sv) : fmt_u64(tmp + n, uv, 10);
  rec_put(r, tmp, n);
}

static void rec_field_u(rec_t* r, const char* key, uint64_t v) { rec_field_num(r, key, 0, v, 0); }
static void rec_field_i(rec_t* r, const char* key, int64_t v) { rec_field_num(r, key, v, 0, 1); }

// Close the record (overflow marker, CRC), write it, advance the sequence number.
static void rec_end(rec_t* r) {
  char crc_hex[8];
  if (r->overflow) {
    const char* ovf = " ovf=1";
    for (const char* p = ovf; *p; p++) r->buf[r->len++] = *p;
  }
  r->buf[r->len++] = ' ';
  uint32_t crc = rig_crc32(r->buf, r->len);
  for (int i = 7; i >= 0; i--) {
    crc_hex[i] = "0123456789abcdef"[crc & 0xfu];
    crc >>= 4;
  }
  r->buf[r->len++] = '~';
  for (int i = 0; i < 8; i++) r->buf[r->len++] = crc_hex[i];
  r->buf[r->len++] = '\n';
  r->buf[r->len] = '\0';
  rig_output_write(r->buf, r->len);
  g_seq++;
}

// ---- Records -------------------------------------------------------------------------------------

static int is_nonce(const char* s) {
  if (s == NULL) return 0;
  for (size_t i = 0; i < NONCE_LEN; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return 0;
  }
  return s[NONCE_LEN] == '\0';
}

// A program option that is a plain decimal below 10^8, or `absent` (missing or malformed).
static uint32_t option_index(const char* key, uint32_t absent) {
  const char* s = rig_env_get(key);
  uint32_t k = 0;
  if (s == 0 || *s == '\0') return absent;
  for (; *s != '\0'; ++s) {
    if (*s < '0' || *s > '9' || k >= 10000000u) return absent;
    k = k * 10u + (uint32_t)(*s - '0');
  }
  return k;
}

// rig.start=<k>: the runner's reboot after a crash or hang in scenario k-1 resumes here.
uint32_t rig_start_scenario(void) { return option_index("rig.start", 0); }

// rig.end=<k>: a slice of the suite stops before scenario k (the runner's -j slices).
uint32_t rig_end_scenario(void) { return option_index("rig.end", 0xffffffffu); }

// rig.gdb=1 (`rig repro --gdb`): after hello, print where this program is loaded (it changes
// every boot) and where the hold flag is, then wait until a debugger clears the flag. Not a
// record: nothing judges it, and without the word the program never gets here.
// Hidden: a PC-relative address, no GOT entry (a GOT would add a RELRO segment to every program).
extern const char __ehdr_start[] __attribute__((visibility("hidden")));

static void gdb_wait(void) {
  const char* g = rig_env_get("rig.gdb");
  if (g == 0 || g[0] != '1' || g[1] != '\0') return;
  // The hold flag lives on this stack frame, not in a global: a writable global would change
  // the program's segments for every run, debugged or not. The debugger clears it by address.
  volatile uint32_t hold = 1;
  char line[96];
  size_t n = 0;
  static const char a[] = "rig.gdb: load=0x", b[] = " hold=0x",
                    c[] = " waiting for the debugger to clear the hold\n";
  for (size_t i = 0; a[i] != '\0'; i++) line[n++] = a[i];
  n += fmt_u64(line + n, (uint64_t)(uintptr_t)__ehdr_start, 16);
  for (size_t i = 0; b[i] != '\0'; i++) line[n++] = b[i];
  n += fmt_u64(line + n, (uint64_t)(uintptr_t)&hold, 16);
  for (size_t i = 0; c[i] != '\0'; i++) line[n++] = c[i];
  rig_output_write(line, n);
  while (hold != 0) {
  }
}

void rig_record_hello(const char* builtin_id, uint32_t scenarios) {
  const char* from_cmdline = rig_env_get("rig.nonce");
  const char* src = "cmdline";
  const char* nonce = from_cmdline;
  if (!is_nonce(nonce)) {
    nonce = builtin_id;
    src = "builtin";
  }
  for (size_t i = 0; i < NONCE_LEN; i++) {
    char c = (nonce != NULL && is_nonce(nonce)) ? nonce[i] : '0';
    g_nonce[i] = c;
  }
  g_nonce[NONCE_LEN] = '\0';

  const rig_runtime_info_t* info = rig_runtime_info();
  rec_t r;
  rec_begin(&r, "hello");
  rec_field_str(&r, "prog", is_nonce(builtin_id) ? builtin_id : "0000000000000000");
  rec_field_str(&r, "nonce_src", src);
  rec_field_str(&r, "out", (info && info->output) ? info->output : "unknown");
  rec_field_u(&r, "page", info ? info->page_size : 0);
  rec_field_u(&r, "scenarios", scenarios);
  rec_field_str(&r, "vdso", (info && info->vdso) ? info->vdso : "unknown");
  uint32_t start = rig_start_scenario(), end = rig_end_scenario();
  if (start != 0) rec_field_u(&r, "start", start);
  if (end != 0xffffffffu) rec_field_u(&r, "end", end);
  rec_end(&r);
  gdb_wait();
}

void rig_record_sbeg(uint32_t s, uint32_t steps, const char* name) {
  rec_t r;
  rec_begin(&r, "sbeg");
  rec_field_u(&r, "s", s);
  rec_field_u(&r, "steps", steps);
  rec_field_str(&r, "name", name);
  rec_end(&r);
}

void rig_record_err(uint32_t s, const char* what, zx_status_t status) {
  rec_t r;
  rec_begin(&r, "err");
  rec_field_u(&r, "s", s);
  rec_field_str(&r, "what", what);
  rec_field_i(&r, "st", status);
  rec_end(&r);
}

void rig_record_send(uint32_t s, uint32_t steps) {
  rec_t r;
  rec_begin(&r, "send");
  rec_field_u(&r, "s", s);
  rec_field_u(&r, "steps", steps);
  rec_end(&r);
}

void rig_record_skip(uint32_t s, uint32_t t, const char* sys) {
  rec_t r;
  rec_begin(&r, "skip");
  rec_field_u(&r, "s", s);
  rec_field_u(&r, "t", t);
  rec_field_str(&r, "why", "unavailable");
  rec_field_str(&r, "sys", sys);
  rec_end(&r);
}

void rig_record_bye(uint32_t scenarios) {
  rec_t r;
  rec_begin(&r, "bye");
  rec_field_u(&r, "scenarios", scenarios);
  rec_field_u(&r, "records", g_seq);
  rec_end(&r);
}

// " <off_hex>:<len_hex>:<opt_hex>"
static size_t fmt_range(char* out, const zx_vmo_dirty_range_t* range) {
  size_t n = 0;
  out[n++] = ' ';
  n += fmt_u64(out + n, range->offset, 16);
  out[n++] = ':';
  n += fmt_u64(out + n, range->length, 16);
  out[n++] = ':';
  n += fmt_u64(out + n, range->options, 16);
  return n;
}

void rig_record_step(const rig_step_result_t* res) {
  rec_t r;
  rec_begin(&r, "step");
  rec_field_u(&r, "s", res->s);
  rec_field_u(&r, "t", res->t);
  rec_field_i(&r, "st", res->status);
  if (res->fields & RIG_F_ACTUAL) rec_field_u(&r, "actual", res->actual);
  if (res->fields & RIG_F_AVAIL) rec_field_u(&r, "avail", res->avail);
  if (res->fields & RIG_F_CALLS) rec_field_u(&r, "calls", res->calls);
  if (res->fields & RIG_F_MODIFIED) rec_field_u(&r, "modified", res->modified);
  if (res->stop != NULL) rec_field_str(&r, "stop", res->stop);
  size_t nr = (res->fields & RIG_F_RANGES) && res->ranges != NULL ? res->nr : 0;
  if (res->fields & RIG_F_RANGES) rec_field_u(&r, "nr", nr);
  rec_end(&r);

  // Ranges: up to RIG_RANGES_PER_RECORD per `rng` record, fewer if the next would not fit
  // (only with huge offsets); every record carries at least one range, so this terminates.
  size_t k = 0;
  while (k < nr) {
    rec_begin(&r, "rng");
    rec_field_u(&r, "s", res->s);
    rec_field_u(&r, "t", res->t);
    rec_field_u(&r, "at", k);
    size_t in_record = 0;
    while (k < nr && in_record < RIG_RANGES_PER_RECORD) {
      char tok[72];
      size_t n = fmt_range(tok, &res->ranges[k]);
      if (in_record > 0 && !rec_fits(&r, n)) break;
      rec_put(&r, tok, n);
      k++;
      in_record++;
    }
    rec_end(&r);
  }
}

uint32_t rig_record_count(void) { return g_seq; }
