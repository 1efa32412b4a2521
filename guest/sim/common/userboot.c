// The mini userboot: reads the command line as the real userboot of the flavour's era does,
// finds the program in the first BOOTFS, loads it and the vDSO, builds the processargs message
// and the bootstrap channel, starts the program with (channel, vDSO base), and when it ends
// prints the exit status and powers off (zircon-facts.md 3, 3.5, 7, 9).
//
// Flavour 2020 (era C, measured in facts 7): `userboot=<path>` (the whole word is the path),
// `userboot.shutdown`; echoes `option "<word>"` for every word; PA_RESOURCE, no PA_FD, no argv,
// every command-line word in environ; one vDSO named vdso/full.
// Flavour next (era F): `userboot.test.next=<path>[+arg...]`, `userboot.test.root`, also
// `userboot.next`/`userboot.root`; `OPTION k=v` for accepted words and `WARNING: unknown option
// K ignored` for other userboot.* words; the debuglog as PA_FD|0x8000, argv, no environ;
// vdso/stable at index 0, vdso/next at 1. A `userboot.test.next` program is waited for.
#include "sim.h"

#define ZBI_TYPE_STORAGE_BOOTFS 0x42534642u
#define ZBI_FLAGS_STORAGE_COMPRESSED 0x1u
#define BOOTFS_MAGIC 0xa56d3ff9u
#define SIM_DEFAULT_STACK (256u * 1024u)
#define SIM_TASK_RETCODE_EXCEPTION_KILL (-1028)

uintptr_t sim_prog_base, sim_prog_end;
const char* sim_prog_name = "bin/rig-test";
static int g_running, g_wait;
static char g_path[256];

int sim_user_running(void) { return g_running; }

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(uint8_t* p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

// userboot gives up: the real one exits, the root job empties and the kernel reboots.
static _Noreturn void fail(const char* status_name, const char* what) {
  if (status_name != 0) sim_ubprintf("%s: %s", status_name, what);
  sim_kprintf("root-job: taking reboot action");
  sim_reboot("root job terminated");
}

// ---- BOOTFS -------------------------------------------------------------------------------------
typedef struct {
  const uint8_t* data;
  size_t size;
} blob_t;

static blob_t find_bootfs(const uint8_t* zbi, size_t total) {
  blob_t b = {0, 0};
  for (size_t off = 32; off + 32 <= total;) {
    uint32_t type = rd32(zbi + off), length = rd32(zbi + off + 4), flags = rd32(zbi + off + 12);
    if (type == ZBI_TYPE_STORAGE_BOOTFS) {
      if (flags & ZBI_FLAGS_STORAGE_COMPRESSED) {
        sim_ubprintf("compressed BOOTFS: the rig sim reads only uncompressed BOOTFS items");
        fail("ZX_ERR_NOT_SUPPORTED", "bootfs");
      }
      if (off + 32 + length > total) break;
      b.data = zbi + off + 32;
      b.size = length;
      return b;
    }
    off += 32 + (((size_t)length + 7u) & ~(size_t)7u);
  }
  return b;
}

static blob_t bootfs_lookup(blob_t fs, const char* name, size_t nlen) {
  blob_t none = {0, 0};
  if (fs.size < 16 || rd32(fs.data) != BOOTFS_MAGIC) return none;
  uint32_t dirsize = rd32(fs.data + 4);
  if (dirsize > fs.size - 16) return none;
  const uint8_t* d = fs.data + 16;
  const uint8_t* end = d + dirsize;
  while (d + 12 <= end) {
    uint32_t name_len = rd32(d), data_len = rd32(d + 4), data_off = rd32(d + 8);
    if (name_len == 0 || name_len > 256 || d + 12 + name_len > end) break;
    const char* n = (const char*)d + 12;
    if (name_len == nlen + 1 && sim_memeq(n, name, nlen) && n[nlen] == '\0') {
      if ((uint64_t)data_off + data_len > fs.size) return none;
      blob_t b = {fs.data + data_off, data_len};
      return b;
    }
    d += (12u + name_len + 3u) & ~3u;
  }
  return none;
}

// ---- ELF ----------------------------------------------------------------------------------------
#define PT_LOAD 1u
#define PT_INTERP 3u
#define PT_GNU_STACK 0x6474e551u
#define PF_X 1u
#define PF_R 4u

typedef struct {
  uintptr_t base;   // load bias (image linked at 0)
  uintptr_t entry;
  size_t span;
  size_t stack_size;
} loaded_t;

static zx_status_t elf_load(blob_t f, const char* what, loaded_t* out, const char** failed) {
  const uint8_t* e = f.data;
  *failed = "elf_load_prepare failed";
  if (f.size < 64 || !(e[0] == 0x7f && e[1] == 'E' && e[2] == 'L' && e[3] == 'F') || e[4] != 2 ||
      e[5] != 1) {
    return ZX_ERR_NOT_FOUND;
  }
  uint16_t type = (uint16_t)(e[16] | e[17] << 8), machine = (uint16_t)(e[18] | e[19] << 8);
  if (machine != SIM_ELF_MACHINE || (type != 3 && type != 2)) return ZX_ERR_NOT_SUPPORTED;
  uint64_t entry = 0, phoff = 0;
  for (int i = 7; i >= 0; --i) entry = entry << 8 | e[24 + i];
  for (int i = 7; i >= 0; --i) phoff = phoff << 8 | e[32 + i];
  uint16_t phentsize = (uint16_t)(e[54] | e[55] << 8), phnum = (uint16_t)(e[56] | e[57] << 8);
  if (phentsize != 56 || phoff > f.size || (uint64_t)phnum * 56u > f.size - phoff) {
    return ZX_ERR_NOT_FOUND;
  }
  uint64_t span = 0;
  size_t stack = SIM_DEFAULT_STACK;
  for (uint16_t i = 0; i < phnum; ++i) {
    const uint8_t* ph = e + phoff + 56u * i;
    uint32_t ptype = rd32(ph), pflags = rd32(ph + 4);
    uint64_t off = 0, vaddr = 0, filesz = 0, memsz = 0;
    for (int k = 7; k >= 0; --k) off = off << 8 | ph[8 + k];
    for (int k = 7; k >= 0; --k) vaddr = vaddr << 8 | ph[16 + k];
    for (int k = 7; k >= 0; --k) filesz = filesz << 8 | ph[32 + k];
    for (int k = 7; k >= 0; --k) memsz = memsz << 8 | ph[40 + k];
    if (ptype == PT_INTERP) {
      if (off < f.size && filesz <= f.size - off) {
        sim_ubprintf("'%s' has PT_INTERP \"%.*s\"", what, (int)(filesz ? filesz - 1 : 0),
                     (const char*)e + off);
      }
      sim_ubprintf("the rig sim does not honour PT_INTERP: link the program with "
                   "-Wl,--no-dynamic-linker");
      return ZX_ERR_NOT_SUPPORTED;
    }
    if (ptype == PT_GNU_STACK && memsz != 0) stack = (size_t)((memsz + 4095u) & ~4095ull);
    if (ptype != PT_LOAD) continue;
    if ((pflags & PF_X) && !(pflags & PF_R)) {
      *failed = "elf_load_map_segments failed";  // the real userboot refuses execute-only text
      return ZX_ERR_INVALID_ARGS;
    }
    if (filesz > memsz || off > f.size || filesz > f.size - off || vaddr > (1ull << 32) ||
        memsz > (1ull << 32)) {
      return ZX_ERR_INVALID_ARGS;
    }
    if (vaddr + memsz > span) span = vaddr + memsz;
  }
  if (span == 0) return ZX_ERR_NOT_FOUND;
  uint8_t* base = sim_alloc_pages((size_t)span);
  if (base == 0) return ZX_ERR_NO_MEMORY;
  for (uint16_t i = 0; i < phnum; ++i) {
    const uint8_t* ph = e + phoff + 56u * i;
    if (rd32(ph) != PT_LOAD) continue;
    uint64_t off = 0, vaddr = 0, filesz = 0;
    for (int k = 7; k >= 0; --k) off = off << 8 | ph[8 + k];
    for (int k = 7; k >= 0; --k) vaddr = vaddr << 8 | ph[16 + k];
    for (int k = 7; k >= 0; --k) filesz = filesz << 8 | ph[32 + k];
    for (uint64_t k = 0; k < filesz; ++k) base[vaddr + k] = e[off + k];
  }
  arch_sync_code(base, (size_t)span);
  out->base = (uintptr_t)base;
  out->entry = (uintptr_t)base + (uintptr_t)entry;
  out->span = (size_t)span;
  out->stack_size = stack;
  return ZX_OK;
}

static const char* status_name(zx_status_t st) {
  switch (st) {
    case ZX_ERR_NOT_FOUND: return "ZX_ERR_NOT_FOUND";
    case ZX_ERR_NOT_SUPPORTED: return "ZX_ERR_NOT_SUPPORTED";
    case ZX_ERR_INVALID_ARGS: return "ZX_ERR_INVALID_ARGS";
    case ZX_ERR_NO_MEMORY: return "ZX_ERR_NO_MEMORY";
    case ZX_ERR_BAD_HANDLE: return "ZX_ERR_BAD_HANDLE";
    default: return "ZX_ERR_INTERNAL";
  }
}

// ---- Handles and the processargs message ------------------------------------------------------
#define MAX_HANDLES 24u
static uint8_t g_msg[8192] __attribute__((aligned(8)));
static zx_handle_t g_handles[MAX_HANDLES];
static uint32_t g_infos[MAX_HANDLES];
static uint32_t g_nhandles;
static int g_objects[8];  // cookies for the platform objects
static zx_handle_t g_root_resource;

static void add_handle(zx_handle_t h, uint32_t info) {
  if (h == ZX_HANDLE_INVALID || g_nhandles >= MAX_HANDLES) return;
  g_handles[g_nhandles] = h;
  g_infos[g_nhandles] = info;
  g_nhandles++;
}

static zx_handle_t platform_handle(kobj_type_t type, int idx, zx_rights_t rights) {
  zx_handle_t h = ZX_HANDLE_INVALID;
  if (kobj_handle_new_platform(type, rights, &g_objects[idx], &h) != ZX_OK) {
    return ZX_HANDLE_INVALID;
  }
  return h;
}

#define R_BASIC (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_READ | ZX_RIGHT_WRITE | \
                 ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT)

static void common_handles(const uint8_t* zbi, size_t zbi_size, blob_t bootfs) {
  add_handle(platform_handle(KOBJ_PROCESS, 0, R_BASIC | ZX_RIGHT_MANAGE_PROCESS),
             PA_HND(PA_PROC_SELF, 0));
  add_handle(platform_handle(KOBJ_VMAR, 1, R_BASIC | ZX_RIGHT_OP_CHILDREN), PA_HND(PA_VMAR_ROOT, 0));
  add_handle(platform_handle(KOBJ_JOB, 2, R_BASIC | ZX_RIGHT_MANAGE_JOB | ZX_RIGHT_ENUMERATE),
             PA_HND(PA_JOB_DEFAULT, 0));
  g_root_resource = platform_handle(KOBJ_RESOURCE, 3, ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER);
  add_handle(g_root_resource, PA_HND(PA_RESOURCE, 0));
  zx_handle_t h = ZX_HANDLE_INVALID;
  if (kobj_vmo_new_from_bytes(zbi, zbi_size, "zbi", &h) == ZX_OK) {
    add_handle(h, PA_HND(PA_VMO_BOOTDATA, 0));
  }
  for (int i = 0; sim_vdso_variant(i) != 0; ++i) {
    const sim_vdso_image_t* v = sim_vdso_variant(i);
    h = ZX_HANDLE_INVALID;
    if (kobj_vmo_new_from_bytes(v->data, v->size, v->name, &h) == ZX_OK) {
      add_handle(h, PA_HND(PA_VMO_VDSO, (uint32_t)i));
    }
  }
  add_handle(platform_handle(KOBJ_THREAD, 4, R_BASIC | ZX_RIGHT_MANAGE_THREAD),
             PA_HND(PA_THREAD_SELF, 0));
  h = ZX_HANDLE_INVALID;
  if (bootfs.data != 0 && kobj_vmo_new_from_bytes(bootfs.data, bootfs.size, "bootfs", &h) == ZX_OK) {
    add_handle(h, PA_HND(PA_VMO_BOOTFS, 0));
  }
}

// 2020 shape (facts 7): header, handle infos, then a fixed 4096-byte environ area holding every
// command-line word (a bare word as "key="); no argv, no names.
static uint32_t build_message_2020(void) {
  uint32_t hi = 36, env = hi + 4u * g_nhandles, total = env + 4096u;
  uint32_t pos = env, count = 0;
  size_t cpos = 0, n;
  const char* w;
  while (sim_cmdline_next(&cpos, &w, &n)) {
    int has_eq = 0;
    for (size_t i = 0; i < n; ++i) has_eq |= w[i] == '=';
    size_t need = n + (has_eq ? 0 : 1) + 1;
    if (pos + need > total) break;
    for (size_t i = 0; i < n; ++i) g_msg[pos++] = (uint8_t)w[i];
    if (!has_eq) g_msg[pos++] = '=';
    g_msg[pos++] = 0;
    count++;
  }
  wr32(g_msg + 0, ZX_PROCARGS_PROTOCOL);
  wr32(g_msg + 4, ZX_PROCARGS_VERSION);
  wr32(g_msg + 8, hi);
  wr32(g_msg + 12, env);  // args_off: no argv at all
  wr32(g_msg + 16, 0);
  wr32(g_msg + 20, env);
  wr32(g_msg + 24, count);
  wr32(g_msg + 28, 0);
  wr32(g_msg + 32, 0);
  for (uint32_t i = 0; i < g_nhandles; ++i) wr32(g_msg + hi + 4u * i, g_infos[i]);
  return total;
}

// Newer shape: header, handle infos, argv strings (the program word split at '+'); no environ.
static uint32_t build_message_next(const char* word, size_t n) {
  uint32_t hi = 36, args = hi + 4u * g_nhandles, pos = args, count = 0;
  size_t i = 0;
  while (i <= n && pos < sizeof g_msg - 2) {
    size_t start = i;
    while (i < n && word[i] != '+') ++i;
    for (size_t k = start; k < i && pos < sizeof g_msg - 2; ++k) g_msg[pos++] = (uint8_t)word[k];
    g_msg[pos++] = 0;
    count++;
    ++i;  // past '+'
  }
  wr32(g_msg + 0, ZX_PROCARGS_PROTOCOL);
  wr32(g_msg + 4, ZX_PROCARGS_VERSION);
  wr32(g_msg + 8, hi);
  wr32(g_msg + 12, args);
  wr32(g_msg + 16, count);
  wr32(g_msg + 20, pos);
  wr32(g_msg + 24, 0);
  wr32(g_msg + 28, pos);
  wr32(g_msg + 32, 0);
  for (uint32_t k = 0; k < g_nhandles; ++k) wr32(g_msg + hi + 4u * k, g_infos[k]);
  return pos;
}

// ---- Command-line words -----------------------------------------------------------------------
typedef struct {
  const char* prog;  // the program word's value (path, or path+args on the next flavour)
  size_t prog_len;
  const char* root;
  size_t root_len;
  int wait;  // wait for the program and power off
} options_t;

static int key_is(const char* w, size_t n, const char* key, const char** val, size_t* vlen) {
  size_t k = sim_strlen(key);
  if (n < k || !sim_memeq(w, key, k)) return 0;
  if (n == k) {
    *val = w + n;
    *vlen = 0;
    return 1;
  }
  if (w[k] != '=') return 0;
  *val = w + k + 1;
  *vlen = n - k - 1;
  return 1;
}

static void options_2020(options_t* o) {
  size_t pos = 0, n, vlen;
  const char* w;
  const char* v;
  while (sim_cmdline_next(&pos, &w, &n)) {
    int has_eq = 0;
    for (size_t i = 0; i < n; ++i) has_eq |= w[i] == '=';
    sim_ubprintf("option \"%.*s%s\"", (int)n, w, has_eq ? "" : "=");
    if (key_is(w, n, "userboot", &v, &vlen)) {
      o->prog = v;
      o->prog_len = vlen;
    } else if (key_is(w, n, "userboot.shutdown", &v, &vlen)) {
      o->wait = 1;
    }
  }
}

static void options_next(options_t* o) {
  size_t pos = 0, n, vlen;
  const char* w;
  const char* v;
  const char* next = 0;
  size_t next_len = 0;
  const char* test = 0;
  size_t test_len = 0;
  while (sim_cmdline_next(&pos, &w, &n)) {
    if (!sim_starts_with(w, n, "userboot.")) continue;
    size_t klen = 0;
    while (klen < n && w[klen] != '=') ++klen;
    if (key_is(w, n, "userboot.test.next", &v, &vlen)) {
      test = v;
      test_len = vlen;
    } else if (key_is(w, n, "userboot.next", &v, &vlen)) {
      next = v;
      next_len = vlen;
    } else if (key_is(w, n, "userboot.test.root", &v, &vlen) ||
               key_is(w, n, "userboot.root", &v, &vlen)) {
      while (vlen > 0 && v[vlen - 1] == '/') --vlen;  // trailing '/' stripped
      o->root = v;
      o->root_len = vlen;
    } else {
      sim_ubprintf("WARNING: unknown option %.*s ignored", (int)klen, w);
      continue;
    }
    sim_ubprintf("OPTION %.*s%s", (int)n, w, klen == n ? "=" : "");
  }
  if (test != 0 && next == 0) {
    // Era F: only a test program alone is waited for, then the system powers off.
    o->prog = test;
    o->prog_len = test_len;
    o->wait = 1;
  } else if (test != 0) {
    o->prog = test;  // with both set the boot program would follow: no power-off
    o->prog_len = test_len;
  } else if (next != 0) {
    o->prog = next;
    o->prog_len = next_len;
  } else {
    o->prog = "bin/component_manager+--boot";
    o->prog_len = sim_strlen(o->prog);
  }
}

// ---- Start and end ------------------------------------------------------------------------------
_Noreturn void sim_userboot(const void* zbi, size_t zbi_size) {
  options_t o = {0, 0, 0, 0, 0};
  if (sim_config.flavour == SIM_UB_2020) {
    options_2020(&o);
    if (o.prog == 0) {
      o.prog = "bin/bootsvc";
      o.prog_len = sim_strlen(o.prog);
    }
  } else {
    options_next(&o);
  }
  g_wait = o.wait;
  // The path: the whole word (2020), or up to the first '+' (next), under the root prefix.
  size_t plen = o.prog_len;
  if (sim_config.flavour == SIM_UB_NEXT) {
    for (size_t i = 0; i < o.prog_len; ++i) {
      if (o.prog[i] == '+') {
        plen = i;
        break;
      }
    }
  }
  size_t len = 0;
  if (o.root != 0 && o.root_len != 0) {
    for (size_t i = 0; i < o.root_len && len < sizeof g_path - 2; ++i) g_path[len++] = o.root[i];
    g_path[len++] = '/';
  }
  for (size_t i = 0; i < plen && len < sizeof g_path - 1; ++i) g_path[len++] = o.prog[i];
  g_path[len] = '\0';
  sim_prog_name = g_path;

  blob_t fs = find_bootfs(zbi, zbi_size);
  if (fs.data == 0) {
    sim_ubprintf("no '/boot' bootfs in bootstrap message");
    fail(0, 0);
  }
  sim_ubprintf("searching bootfs for '%s'", g_path);
  blob_t file = bootfs_lookup(fs, g_path, len);
  if (file.data == 0) {
    sim_ubprintf("file not found");
    fail("ZX_ERR_BAD_HANDLE", "elf_load_prepare failed");
  }
  loaded_t prog, vdso;
  const char* failed = 0;
  zx_status_t st = elf_load(file, g_path, &prog, &failed);
  if (st != ZX_OK) fail(status_name(st), failed);
  const sim_vdso_image_t* v0 = sim_vdso_variant(0);
  blob_t vb = {v0->data, v0->size};
  st = elf_load(vb, v0->name, &vdso, &failed);
  if (st != ZX_OK) fail(status_name(st), "vDSO load failed");
  sim_prog_base = prog.base;
  sim_prog_end = prog.base + prog.span;
  sim_ubprintf("userboot: loaded vDSO at %p, entry point %p", (void*)vdso.base, (void*)vdso.base);

  uint8_t* stack = sim_alloc_pages(prog.stack_size);
  if (stack == 0) fail("ZX_ERR_NO_MEMORY", "stack allocation failed");
  uintptr_t sp = ((uintptr_t)stack + prog.stack_size) & ~(uintptr_t)15;

  common_handles(zbi, zbi_size, fs);
  uint32_t nbytes;
  if (sim_config.flavour == SIM_UB_2020) {
    nbytes = build_message_2020();
  } else {
    zx_handle_t log = ZX_HANDLE_INVALID;
    if (sys_zx_debuglog_create(g_root_resource, 0, &log) == ZX_OK) {
      add_handle(log, PA_HND(PA_FD, PA_FD_USE_FOR_STDIO));
    }
    nbytes = build_message_next(o.prog, o.prog_len);
  }
  zx_handle_t channel = ZX_HANDLE_INVALID;
  st = kobj_channel_new_with_message(g_msg, nbytes, g_handles, g_nhandles, &channel);
  if (st != ZX_OK) fail(status_name(st), "bootstrap channel");

  sim_ubprintf("process %s started.", g_path);
  if (g_wait) sim_ubprintf("Waiting for %s to exit...", g_path);
  g_running = 1;
  arch_enter_user(prog.entry, channel, vdso.base, sp);
}

_Noreturn void sim_userboot_process_exited(int64_t status) {
  g_running = 0;
  if (!g_wait) {
    // Nobody waits: the root job empties and the kernel takes its reboot action.
    sim_kprintf("root-job: taking reboot action");
    sim_reboot("root job terminated");
  }
  sim_ubprintf("*** Exit status %ld ***", (long)status);
  if (sim_config.flavour == SIM_UB_2020) {
    if (status == 0) {
      sim_ubprintf("***ZBI-test-successful!-MDd7/O65SuVZ23yGAaQG4CedYQGH9E1/58r73pSAVK0=***");
    }
    sim_ubprintf("Process exited.  Executing \"poweroff\".");
  } else {
    if (status == 0) {
      sim_ubprintf("***Boot-test-successful!-MDd7/O65SuVZ23yGAaQG4CedYQGH9E1/58r73pSAVK0=***");
    }
    sim_ubprintf("Process exited.  Executing poweroff");
  }
  sim_kprintf("sim: power off");
  arch_exit(SIM_EXIT_POWEROFF);
}

// A crash of the test program ends it with ZX_TASK_RETCODE_EXCEPTION_KILL (facts 7).
_Noreturn void sim_userboot_process_crashed(void) {
  sim_userboot_process_exited(SIM_TASK_RETCODE_EXCEPTION_KILL);
}
