// A small test program for the runtime and toolchain tests. It stands in for the generated
// program (CODEGEN's templates) and uses the runtime API the templates use: it prints what the
// runtime found (rig_runtime_info, rig_env_get), then `rig.test.lines` numbered lines (to see
// the debuglog pacing), and exits with 0 when zx_pager_query_dirty_ranges is present, else 2.
#include <rig/runtime.h>

// Writable pointers the compiler cannot fold away: they need relocations at load time (DT_RELR).
const char* volatile g_words[] = {"alpha", "beta", "gamma"};
int (*volatile g_main_ptr)(void) = rig_program_main;

static size_t append(char* buf, size_t at, const char* s) {
  size_t n = rig_strlen(s);
  rig_memcpy(buf + at, s, n);
  return at + n;
}

static size_t append_u64(char* buf, size_t at, uint64_t v) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + v % 10u);
    v /= 10u;
  } while (v != 0);
  while (n > 0) buf[at++] = digits[--n];
  return at;
}

static uint64_t parse_u64(const char* s) {
  uint64_t v = 0;
  for (; s != 0 && *s >= '0' && *s <= '9'; ++s) v = v * 10u + (uint64_t)(*s - '0');
  return v;
}

int rig_program_main(void) {
  const rig_runtime_info_t* info = rig_runtime_info();
  char line[200];
  const char* nonce = rig_env_get("rig.nonce");
  size_t n = append(line, 0, "info out=");
  n = append(line, n, info->output);
  n = append(line, n, " vdso=");
  n = append(line, n, info->vdso);
  n = append(line, n, " page=");
  n = append_u64(line, n, info->page_size);
  n = append(line, n, " job=");
  n = append_u64(line, n, info->root_job);
  n = append(line, n, " resource=");
  n = append_u64(line, n, info->root_resource);
  n = append(line, n, " vmar=");
  n = append_u64(line, n, info->vmar_root);
  n = append(line, n, " nonce=");
  n = append(line, n, nonce ? nonce : "(none)");
  line[n++] = '\n';
  rig_output_write(line, n);

  n = 0;
  for (size_t i = 0; i < sizeof(g_words) / sizeof(g_words[0]); ++i) {
    n = append(line, n, g_words[i]);
    line[n++] = ' ';
  }
  line[n++] = '\n';
  rig_output_write(line, n);

  uint64_t lines = parse_u64(rig_env_get("rig.test.lines"));
  for (uint64_t i = 0; i < lines; ++i) {
    n = append(line, 0, "line ");
    n = append_u64(line, n, i);
    line[n++] = '\n';
    rig_output_write(line, n);
  }

  if (g_main_ptr != rig_program_main) return 3;  // relocation broke a function pointer
  zx_handle_t pager = ZX_HANDLE_INVALID;
  if (zx_pager_create(0, &pager) != ZX_OK) return 4;
  return RIG_HAS(zx_pager_query_dirty_ranges) ? 0 : 2;
}
