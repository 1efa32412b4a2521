// Fault injection by command-line word rig.sim.fault=<kind>@<s>.<t> (repeatable; the table of
// kinds and the outcome each must produce is guest/sim/faults.yaml).
//
// The sim follows the program's own @RIG1 records as they are written: `sbeg s=i` starts
// scenario i at step 0; each `step`/`skip` record of scenario i ends its current step, and the
// next one starts. A step "starts" right after the record before it was written (the `sbeg`
// for step 0), which is when hang, panic, reboot, usercrash and silence fire. corrupt and drop
// act on the step's own `step`/`skip` record; wrong-status and wrong-range on its syscall.
#include "sim.h"

typedef enum {
  F_HANG,
  F_PANIC,
  F_CORRUPT,
  F_DROP,
  F_SILENCE,
  F_REBOOT,
  F_USERCRASH,
  F_WRONG_STATUS,
  F_WRONG_RANGE,
  F_KFAULT,
  F_KINDS,
} fkind_t;

static const char* const g_kind_names[F_KINDS] = {
    "hang", "panic", "corrupt", "drop", "silence", "reboot", "usercrash", "wrong-status",
    "wrong-range", "kfault",
};

typedef struct {
  fkind_t kind;
  uint64_t s, t;
  int done;
} fault_t;

#define MAX_FAULTS 16
static fault_t g_faults[MAX_FAULTS];
static int g_nfaults;
static int g_have_scenario;
static uint64_t g_s, g_t;  // the step being executed: scenario g_s, step g_t

void sim_faults_init(void) {
  size_t pos = 0, n;
  const char* w;
  while (sim_cmdline_next(&pos, &w, &n)) {
    const char* key = "rig.sim.fault=";
    if (!sim_starts_with(w, n, key)) continue;
    const char* v = w + sim_strlen(key);
    size_t vn = n - sim_strlen(key), at = 0, dot = 0;
    while (at < vn && v[at] != '@') ++at;
    for (dot = at; dot < vn && v[dot] != '.'; ++dot) {
    }
    fault_t f = {F_KINDS, 0, 0, 0};
    for (int k = 0; k < F_KINDS; ++k) {
      if (sim_strlen(g_kind_names[k]) == at && sim_memeq(v, g_kind_names[k], at)) f.kind = k;
    }
    if (f.kind == F_KINDS || at >= vn || dot >= vn ||
        !sim_parse_u64(v + at + 1, dot - at - 1, &f.s) ||
        !sim_parse_u64(v + dot + 1, vn - dot - 1, &f.t) || g_nfaults >= MAX_FAULTS) {
      sim_kprintf("sim: ignoring bad fault word %.*s (want rig.sim.fault=<kind>@<s>.<t>)", (int)n,
                  w);
      continue;
    }
    g_faults[g_nfaults++] = f;
    sim_kprintf("sim: fault armed: %s at scenario %lu step %lu", g_kind_names[f.kind],
                (unsigned long)f.s, (unsigned long)f.t);
  }
}

static fault_t* armed(fkind_t kind) {
  if (!g_have_scenario) return 0;
  for (int i = 0; i < g_nfaults; ++i) {
    fault_t* f = &g_faults[i];
    if (!f->done && f->kind == kind && f->s == g_s && f->t == g_t) return f;
  }
  return 0;
}

// ---- Parsing a record: "@RIG1 <nonce> <seq> <kind> k=v ... ~crc" --------------------------
typedef struct {
  const char* kind;
  size_t kind_len;
  int has_s;
  uint64_t s;
} rec_t;

static int parse_record(const char* b, size_t n, rec_t* r) {
  size_t i = 0;
  while (i + 5 <= n && !sim_memeq(b + i, "@RIG1", 5)) ++i;
  if (i + 5 > n) return 0;
  int field = 0;
  r->has_s = 0;
  r->kind = 0;
  r->kind_len = 0;
  while (i < n && b[i] != '\n') {
    while (i < n && b[i] == ' ') ++i;
    size_t start = i;
    while (i < n && b[i] != ' ' && b[i] != '\n') ++i;
    const char* tok = b + start;
    size_t len = i - start;
    if (len == 0) break;
    if (field == 3) {
      r->kind = tok;
      r->kind_len = len;
    } else if (field > 3) {
      if (len > 2 && tok[0] == 's' && tok[1] == '=') {
        r->has_s = sim_parse_u64(tok + 2, len - 2, &r->s);
      }
    }
    field++;
  }
  return r->kind != 0;
}

static int kind_is(const rec_t* r, const char* k) {
  return r->kind_len == sim_strlen(k) && sim_memeq(r->kind, k, r->kind_len);
}

// Volatile so the compiler cannot see the NULL and drop or trap the access itself.
static volatile uintptr_t sim_fault_null_address = 0;

// A step starts: fire the faults that act at its start.
static void step_starts(sim_frame_t* frame) {
  fault_t* f;
  if ((f = armed(F_SILENCE)) != 0) {
    f->done = 1;
    sim_kprintf("sim: fault silence at %lu.%lu: the console goes quiet", (unsigned long)g_s,
                (unsigned long)g_t);
    sim_console_silenced = 1;
  }
  if ((f = armed(F_HANG)) != 0) {
    f->done = 1;
    sim_hang("fault hang");
  }
  if ((f = armed(F_PANIC)) != 0) {
    f->done = 1;
    sim_panic(frame, "fault panic injected at scenario %lu step %lu", (unsigned long)g_s,
              (unsigned long)g_t);
  }
  if ((f = armed(F_REBOOT)) != 0) {
    f->done = 1;
    // What the console shows when the machine resets under the program: a fresh boot.
    sim_print_banner();
    sim_kprintf("sim: fault reboot: the machine reset mid-run");
    arch_exit(SIM_EXIT_REBOOT);
  }
  if ((f = armed(F_KFAULT)) != 0) {
    f->done = 1;
    // A real exception in sim code (not a call to sim_panic): the vectors must report it.
    sim_kprintf("sim: fault kfault: the sim reads address 0");
    (void)*(volatile uint32_t*)sim_fault_null_address;
  }
  if ((f = armed(F_USERCRASH)) != 0 && frame != 0) {
    f->done = 1;
    arch_frame_make_user_fault(frame);  // the program faults when this syscall returns
  }
}

static int g_transition;  // a record ended a step: the next one starts after it is printed

int sim_faults_on_output(char* buf, size_t n) {
  rec_t r;
  if (g_nfaults == 0 || !parse_record(buf, n, &r)) return 1;
  if (kind_is(&r, "sbeg") && r.has_s) {
    g_have_scenario = 1;
    g_s = r.s;
    g_t = 0;
    g_transition = 1;
    return 1;
  }
  // The step being executed is the count of step/skip records since the scenario's sbeg (the
  // record's own t= is not trusted: it is the program's word, and the faults test the host).
  if (!((kind_is(&r, "step") || kind_is(&r, "skip")) && r.has_s && g_have_scenario &&
        r.s == g_s)) {
    return 1;
  }
  int print = 1;
  fault_t* f;
  if ((f = armed(F_DROP)) != 0) {
    f->done = 1;
    print = 0;
  }
  if ((f = armed(F_CORRUPT)) != 0) {
    f->done = 1;
    // Change the last byte before " ~crc": still a well-formed line, but its CRC fails.
    for (size_t i = n; i >= 3; --i) {
      if (buf[i - 1] == '~' && buf[i - 2] == ' ') {
        buf[i - 3] = buf[i - 3] == '0' ? '1' : '0';
        break;
      }
    }
  }
  g_t++;
  g_transition = 1;
  return print;
}

void sim_faults_after_output(sim_frame_t* frame) {
  if (!g_transition) return;
  g_transition = 0;
  step_starts(frame);
}

static int is_output_call(uint64_t nr) {
  return nr == SIM_NR_zx_debuglog_write || nr == SIM_NR_zx_debug_write ||
         nr == SIM_NR_zx_nanosleep || nr == SIM_NR_zx_deadline_after ||
         nr == SIM_NR_zx_clock_get_monotonic;
}

zx_status_t sim_faults_on_result(uint64_t nr, sim_frame_t* f, zx_status_t st) {
  if (g_nfaults == 0 || is_output_call(nr)) return st;
  fault_t* w;
  if ((w = armed(F_WRONG_STATUS)) != 0) {
    w->done = 1;
    return st == ZX_ERR_INTERNAL ? ZX_ERR_BAD_STATE : ZX_ERR_INTERNAL;
  }
  if (nr == SIM_NR_zx_pager_query_dirty_ranges && st == ZX_OK &&
      (w = armed(F_WRONG_RANGE)) != 0) {
    zx_vmo_dirty_range_t* buf = (zx_vmo_dirty_range_t*)(uintptr_t)arch_frame_arg(f, 4);
    uint64_t size = arch_frame_arg(f, 5);
    size_t* actual = (size_t*)(uintptr_t)arch_frame_arg(f, 6);
    if (buf != 0 && size >= sizeof *buf && sim_user_ok(buf, sizeof *buf) &&
        (actual == 0 || (sim_user_ok(actual, sizeof *actual) && *actual >= 1))) {
      w->done = 1;
      buf[0].length += SIM_PAGE;  // planted bug: the first range is one page too long
    }
  }
  return st;
}
