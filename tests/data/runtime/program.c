// A small test program for the runtime and toolchain tests: it stands in for the generated
// program (CODEGEN's templates) and exercises the runtime API the templates use.
#include <rig/runtime.h>

static const char kHello[] = "rig runtime test program\n";
// Writable pointers the compiler cannot fold away: they need relocations at load time (DT_RELR).
const char* volatile g_words[] = {"alpha", "beta", "gamma"};
int (*volatile g_main_ptr)(void) = rig_program_main;

int rig_program_main(void) {
  const rig_runtime_info_t* info = rig_runtime_info();
  rig_output_write(kHello, sizeof(kHello) - 1);
  char line[64];
  rig_memset(line, 0, sizeof(line));
  size_t n = 0;
  for (size_t i = 0; i < sizeof(g_words) / sizeof(g_words[0]); ++i) {
    size_t len = rig_strlen(g_words[i]);
    rig_memcpy(line + n, g_words[i], len);
    n += len;
    line[n++] = ' ';
  }
  line[n++] = '\n';
  rig_output_write(line, n);
  if (!RIG_HAS(zx_pager_query_dirty_ranges)) return 2;
  zx_handle_t pager = ZX_HANDLE_INVALID;
  zx_status_t st = zx_pager_create(0, &pager);
  return st == ZX_OK && info->page_size == zx_system_get_page_size() ? 0 : 1;
}
