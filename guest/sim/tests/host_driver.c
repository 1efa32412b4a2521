// Host harness for the sim's kernel-object half (guest/sim/common/kobj*.c, pager*.c).
//
// Runs scenario steps read from stdin against the kobj C compiled for the host, making exactly
// the syscalls the generated test program makes: the real guest/runtime/fixture.c does the
// setup (pager, port, VMO, aux VMOs, handle variants), the reduced pager handle and the
// query_all loop, calling through rig_syscall_table, which this driver fills with the sys_*
// entry points (the 2020 profile leaves out the syscalls its vDSO lacks, as the sim's vDSO
// does). The records the fixture would print are printed here as simple lines instead.
//
// Input, one scenario at a time, any number of scenarios (numbers in C syntax: 0x.. or decimal;
// H is a handle variant: valid invalid closed wrong_type other_pager plain_vmo clone slice
// no_rights):
//   scenario NAME PROFILE VMO_SIZE VMO_OPTIONS AUX_SIZE AUX_ZERO_SIZE NEED MOST
//   step T supply|supply_zero H_PAGER H_VMO OFFSET LENGTH AUX_OFFSET
//   step T write|read OFFSET LENGTH
//   step T op H_PAGER H_VMO OP OFFSET LENGTH DATA
//   step T vmo_op OP OFFSET LENGTH
//   step T resize SIZE
//   step T detach H_PAGER H_VMO
//   step T stats H_PAGER H_VMO OPTIONS
//   step T query H_PAGER H_VMO OFFSET LENGTH|- BUFFER_SIZE BUFFER_NULL ACTUAL AVAIL
//   step T query_all K
//   end
// (MOST is codegen's max_ranges(scenario); LENGTH "-" is the rest of the VMO from OFFSET.)
// Output per scenario:
//   sbeg NAME
//   err WHAT STATUS                      (setup failed)
//   step T st=N [actual=N] [avail=N] [calls=N] [modified=N] [stop=S] [ranges=O:L:X,...]
//        [blocked=CMD:OFF:LEN]
//   skip T SYSCALL
//   send STEPS live=OBJECTS/HANDLES/PAGE_ENTRIES   (what the scenario left alive)
// `host_driver --selftest` runs the checks of host_selftest.c instead.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rig/fixture.h>

#include "kobj_internal.h"  // kobj.h plus kobj_debug_counts

// ---- What the platform half provides on the guest ------------------------------------------

// Host memory is all the test program's; NULL is the bad pointer the scenarios pass.
int sim_user_ok(const void* p, size_t len) {
  (void)len;
  return p != NULL;
}

rig_syscall_table_t rig_syscall_table;

void* rig_memset(void* dst, int c, size_t n) { return memset(dst, c, n); }

// ---- Records, as lines -----------------------------------------------------------------------

void rig_record_err(uint32_t s, const char* what, zx_status_t status) {
  (void)s;
  printf("err %s %d\n", what, status);
}

void rig_record_send(uint32_t s, uint32_t steps) {
  (void)s;
  // What is still alive after the fixture closed every handle: nothing may leak, as the sim
  // runs every scenario of a program in one boot.
  uint32_t objects, handles, pages;
  kobj_debug_counts(&objects, &handles, &pages);
  printf("send %u live=%u/%u/%u\n", steps, objects, handles, pages);
}

void rig_record_skip(uint32_t s, uint32_t t, const char* sys) {
  (void)s;
  printf("skip %u %s\n", t, sys);
}

void rig_record_step(const rig_step_result_t* r) {
  printf("step %u st=%d", r->t, r->status);
  if (r->fields & RIG_F_ACTUAL) printf(" actual=%llu", (unsigned long long)r->actual);
  if (r->fields & RIG_F_AVAIL) printf(" avail=%llu", (unsigned long long)r->avail);
  if (r->fields & RIG_F_CALLS) printf(" calls=%llu", (unsigned long long)r->calls);
  if (r->fields & RIG_F_MODIFIED) printf(" modified=%llu", (unsigned long long)r->modified);
  if (r->stop != NULL) printf(" stop=%s", r->stop);
  if (r->fields & RIG_F_RANGES) {
    printf(" ranges=");
    for (size_t i = 0; i < r->nr; i++) {
      printf("%s%llx:%llx:%llx", i ? "," : "", (unsigned long long)r->ranges[i].offset,
             (unsigned long long)r->ranges[i].length, (unsigned long long)r->ranges[i].options);
    }
  }
  if (r->status == SIM_ERR_WOULD_BLOCK) {
    const sim_page_request_t* b = sim_blocked_request();
    printf(" blocked=%u:%llx:%llx", b->command, (unsigned long long)b->offset,
           (unsigned long long)b->length);
  }
  printf("\n");
}

// ---- The syscall table -------------------------------------------------------------------------

static void fill_table(sim_profile_t profile) {
  memset(&rig_syscall_table, 0, sizeof(rig_syscall_table));
  rig_syscall_table.zx_pager_create = sys_zx_pager_create;
  rig_syscall_table.zx_pager_create_vmo = sys_zx_pager_create_vmo;
  rig_syscall_table.zx_pager_detach_vmo = sys_zx_pager_detach_vmo;
  rig_syscall_table.zx_pager_supply_pages = sys_zx_pager_supply_pages;
  rig_syscall_table.zx_pager_op_range = sys_zx_pager_op_range;
  if (profile != SIM_PROFILE_2020) {
    // Missing from the 2020 vDSO (facts 7).
    rig_syscall_table.zx_pager_query_dirty_ranges = sys_zx_pager_query_dirty_ranges;
    rig_syscall_table.zx_pager_query_vmo_stats = sys_zx_pager_query_vmo_stats;
  }
  rig_syscall_table.zx_vmo_create = sys_zx_vmo_create;
  rig_syscall_table.zx_vmo_read = sys_zx_vmo_read;
  rig_syscall_table.zx_vmo_write = sys_zx_vmo_write;
  rig_syscall_table.zx_vmo_op_range = sys_zx_vmo_op_range;
  rig_syscall_table.zx_vmo_set_size = sys_zx_vmo_set_size;
  rig_syscall_table.zx_vmo_get_size = sys_zx_vmo_get_size;
  rig_syscall_table.zx_vmo_create_child = sys_zx_vmo_create_child;
  rig_syscall_table.zx_vmar_map = sys_zx_vmar_map;
  rig_syscall_table.zx_vmar_unmap = sys_zx_vmar_unmap;
  rig_syscall_table.zx_port_create = sys_zx_port_create;
  rig_syscall_table.zx_port_wait = sys_zx_port_wait;
  rig_syscall_table.zx_handle_close = sys_zx_handle_close;
  rig_syscall_table.zx_handle_duplicate = sys_zx_handle_duplicate;
  rig_syscall_table.zx_handle_replace = sys_zx_handle_replace;
  rig_syscall_table.zx_channel_read = sys_zx_channel_read;
  rig_syscall_table.zx_object_get_property = sys_zx_object_get_property;
}

// ---- Scenario driving --------------------------------------------------------------------------

static unsigned long long num(const char* tok) {
  if (tok == NULL) {
    fprintf(stderr, "host_driver: missing number\n");
    exit(2);
  }
  return strtoull(tok, NULL, 0);
}

static zx_handle_t pager_handle(rig_fixture_t* fx, const char* h) {
  if (strcmp(h, "valid") == 0) return fx->pager;
  if (strcmp(h, "invalid") == 0) return ZX_HANDLE_INVALID;
  if (strcmp(h, "closed") == 0) return fx->closed;
  if (strcmp(h, "wrong_type") == 0) return fx->port;
  if (strcmp(h, "other_pager") == 0) return fx->other_pager;
  if (strcmp(h, "no_rights") == 0) return rig_take_pager_no_rights(fx);
  fprintf(stderr, "host_driver: unknown pager handle %s\n", h);
  exit(2);
}

static zx_handle_t vmo_handle(rig_fixture_t* fx, const char* h) {
  if (strcmp(h, "valid") == 0) return fx->vmo;
  if (strcmp(h, "invalid") == 0) return ZX_HANDLE_INVALID;
  if (strcmp(h, "closed") == 0) return fx->closed;
  if (strcmp(h, "wrong_type") == 0) return fx->port;
  if (strcmp(h, "other_pager") == 0) return fx->other_vmo;
  if (strcmp(h, "plain_vmo") == 0) return fx->plain_vmo;
  if (strcmp(h, "clone") == 0) return fx->clone;
  if (strcmp(h, "slice") == 0) return fx->slice;
  if (strcmp(h, "no_rights") == 0) return fx->vmo_no_rights;
  fprintf(stderr, "host_driver: unknown vmo handle %s\n", h);
  exit(2);
}

// Storage the kernel may write: at least `bytes`, in whole entries, never empty.
static zx_vmo_dirty_range_t* qbuf(size_t entries) {
  static zx_vmo_dirty_range_t* buf;
  static size_t have;
  if (entries == 0) entries = 1;
  if (entries > have) {
    free(buf);
    buf = calloc(entries, sizeof(*buf));
    have = entries;
    if (buf == NULL) {
      fprintf(stderr, "host_driver: out of memory\n");
      exit(3);
    }
  }
  return buf;
}

#define MAX_IO_BYTES (64u << 20)  // codegen refuses larger reads and writes

static unsigned char* io_buf(size_t len) {
  static unsigned char* buf;
  static size_t have;
  if (len == 0) len = 1;
  if (len > MAX_IO_BYTES) {
    fprintf(stderr, "host_driver: read/write of %zu bytes: codegen refuses more than %u\n", len,
            MAX_IO_BYTES);
    exit(2);
  }
  if (len > have) {
    free(buf);
    buf = malloc(len);
    have = len;
    if (buf == NULL) exit(3);
  }
  return buf;
}

static void run_step(rig_fixture_t* fx, uint64_t most, char** tok) {
  uint32_t t = (uint32_t)num(tok[0]);
  const char* kind = tok[1];
  zx_status_t st;
  if (strcmp(kind, "supply") == 0 || strcmp(kind, "supply_zero") == 0) {
    zx_handle_t pager = pager_handle(fx, tok[2]);
    zx_handle_t vmo = vmo_handle(fx, tok[3]);
    zx_handle_t aux = strcmp(kind, "supply") == 0 ? fx->aux : fx->aux_zero;
    st = zx_pager_supply_pages(pager, vmo, num(tok[4]), num(tok[5]), aux, num(tok[6]));
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "write") == 0) {
    size_t len = (size_t)num(tok[3]);
    unsigned char* io = io_buf(len);
    rig_fill_pattern(io, len);
    st = zx_vmo_write(fx->vmo, io, num(tok[2]), len);
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "read") == 0) {
    size_t len = (size_t)num(tok[3]);
    st = zx_vmo_read(fx->vmo, io_buf(len), num(tok[2]), len);
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "op") == 0) {
    zx_handle_t pager = pager_handle(fx, tok[2]);
    zx_handle_t vmo = vmo_handle(fx, tok[3]);
    st = zx_pager_op_range(pager, (uint32_t)num(tok[4]), vmo, num(tok[5]), num(tok[6]),
                           num(tok[7]));
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "vmo_op") == 0) {
    st = zx_vmo_op_range(fx->vmo, (uint32_t)num(tok[2]), num(tok[3]), num(tok[4]), NULL, 0);
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "resize") == 0) {
    uint64_t size = num(tok[2]);
    st = zx_vmo_set_size(fx->vmo, size);
    if (st == ZX_OK) fx->size = size;
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "detach") == 0) {
    zx_handle_t pager = pager_handle(fx, tok[2]);
    st = zx_pager_detach_vmo(pager, vmo_handle(fx, tok[3]));
    rig_step_status(fx, t, st);
  } else if (strcmp(kind, "stats") == 0) {
    if (!RIG_HAS(zx_pager_query_vmo_stats)) {
      rig_step_skip(fx, t, "zx_pager_query_vmo_stats");
      return;
    }
    zx_pager_vmo_stats_t stats = {.modified = RIG_STATS_UNSET};
    zx_handle_t pager = pager_handle(fx, tok[2]);
    st = zx_pager_query_vmo_stats(pager, vmo_handle(fx, tok[3]), (uint32_t)num(tok[4]), &stats,
                                  sizeof(stats));
    rig_step_stats(fx, t, st, &stats);
  } else if (strcmp(kind, "query") == 0) {
    if (!RIG_HAS(zx_pager_query_dirty_ranges)) {
      rig_step_skip(fx, t, "zx_pager_query_dirty_ranges");
      return;
    }
    zx_handle_t pager = pager_handle(fx, tok[2]);
    zx_handle_t vmo = vmo_handle(fx, tok[3]);
    uint64_t off = num(tok[4]);
    uint64_t len = strcmp(tok[5], "-") == 0 ? rig_rest(fx->size, off) : num(tok[5]);
    size_t buffer_size = (size_t)num(tok[6]);
    int buffer_null = (int)num(tok[7]);
    int want_actual = (int)num(tok[8]);
    int want_avail = (int)num(tok[9]);
    size_t actual = RIG_UNSET, avail = RIG_UNSET;
    zx_vmo_dirty_range_t* buf = NULL;
    size_t entries = 0;
    if (!buffer_null) {
      buf = qbuf((buffer_size + sizeof(*buf) - 1u) / sizeof(*buf));
      entries = buffer_size / sizeof(*buf);
      if (buffer_size) rig_poison(buf, buffer_size);
    }
    st = zx_pager_query_dirty_ranges(pager, vmo, off, len, buf, buffer_size,
                                     want_actual ? &actual : NULL, want_avail ? &avail : NULL);
    rig_step_query(fx, t, st, want_actual ? &actual : NULL, want_avail ? &avail : NULL, buf,
                   entries);
  } else if (strcmp(kind, "query_all") == 0) {
    if (!RIG_HAS(zx_pager_query_dirty_ranges)) {
      rig_step_skip(fx, t, "zx_pager_query_dirty_ranges");
      return;
    }
    size_t k = (size_t)num(tok[2]);
    static zx_vmo_dirty_range_t* all;
    static size_t all_have;
    if (most > all_have) {
      free(all);
      all = calloc(most, sizeof(*all));
      all_have = most;
    }
    zx_vmo_dirty_range_t* buf = qbuf(k);
    rig_step_query_all(fx, t, fx->pager, fx->vmo, k, buf, k, all, (size_t)most, most + 1u);
  } else {
    fprintf(stderr, "host_driver: unknown step kind %s\n", kind);
    exit(2);
  }
}

#define MAX_TOKENS 16

static int split(char* line, char** tok) {
  int n = 0;
  for (char* p = strtok(line, " \t\r\n"); p != NULL && n < MAX_TOKENS; p = strtok(NULL, " \t\r\n"))
    tok[n++] = p;
  for (int i = n; i < MAX_TOKENS; i++) tok[i] = NULL;
  return n;
}

int host_selftest(void);

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "--selftest") == 0) return host_selftest();
  static char line[4096];
  char* tok[MAX_TOKENS];
  rig_fixture_spec_t spec;
  rig_fixture_t fx;
  int active = 0, ok = 0;
  uint64_t most = 1;
  uint32_t index = 0;
  sim_profile_t booted = (sim_profile_t)0;
  while (fgets(line, sizeof(line), stdin) != NULL) {
    int n = split(line, tok);
    if (n == 0) continue;
    if (strcmp(tok[0], "scenario") == 0) {
      memset(&spec, 0, sizeof(spec));
      sim_profile_t profile = (sim_profile_t)num(tok[2]);
      // One boot per profile, as on the sim: objects are reset only when the profile changes.
      if (profile != booted) {
        kobj_init(profile);
        fill_table(profile);
        booted = profile;
      }
      spec.s = index++;
      spec.vmo_size = num(tok[3]);
      spec.vmo_options = (uint32_t)num(tok[4]);
      spec.aux_size = num(tok[5]);
      spec.aux_zero_size = num(tok[6]);
      spec.need = (uint32_t)num(tok[7]);
      most = num(tok[8]);
      printf("sbeg %s\n", tok[1]);
      active = 1;
      ok = rig_fixture_setup(&fx, &spec);
    } else if (strcmp(tok[0], "step") == 0) {
      if (active && ok) run_step(&fx, most, tok + 1);
    } else if (strcmp(tok[0], "end") == 0) {
      if (active) rig_fixture_teardown(&fx);
      active = 0;
      fflush(stdout);
    } else {
      fprintf(stderr, "host_driver: unknown line %s\n", tok[0]);
      return 2;
    }
  }
  return 0;
}
