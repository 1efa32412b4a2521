// Common boot: find the ZBI's CMDLINE items, read the sim's own words, print the banner, set up
// the kernel objects and fault injection, then run userboot.
#include "sim.h"

#define ZBI_TYPE_CONTAINER 0x544f4f42u
#define ZBI_TYPE_CMDLINE 0x4c444d43u
#define ZBI_CONTAINER_MAGIC 0x868cf7e6u
#define ZBI_ITEM_MAGIC 0xb5781729u

sim_cmdline_t sim_cmdline;
sim_config_t sim_config;
static char g_cmdline_buf[8192];

extern char __sim_end[];  // linker script: end of the sim's image, bss and stacks

// ---- Memory ---------------------------------------------------------------------------------
static uintptr_t g_free, g_free_end;

void* sim_alloc_pages(size_t bytes) {
  size_t n = (bytes + SIM_PAGE - 1) & ~(size_t)(SIM_PAGE - 1);
  if (n == 0 || n > g_free_end - g_free) return 0;
  uint8_t* p = (uint8_t*)g_free;
  g_free += n;
  for (size_t i = 0; i < n; ++i) p[i] = 0;
  return p;
}

// User pointers are plain pointers: anything in RAM outside page 0 is the program's to use
// (the sim runs one program; the identity map leaves page 0 unmapped).
int sim_user_ok(const void* p, size_t len) {
  uintptr_t a = (uintptr_t)p;
  uintptr_t lo = arch_ram_base() < SIM_PAGE ? SIM_PAGE : arch_ram_base();
  uintptr_t hi = arch_ram_base() + arch_ram_size();
  if (a < lo || a >= hi) return 0;
  return len <= hi - a;
}

// ---- Command line -----------------------------------------------------------------------------
static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0; }

int sim_cmdline_next(size_t* pos, const char** word, size_t* n) {
  size_t i = *pos;
  while (i < sim_cmdline.len && is_space(sim_cmdline.text[i])) ++i;
  if (i >= sim_cmdline.len) {
    *pos = i;
    return 0;
  }
  size_t start = i;
  while (i < sim_cmdline.len && !is_space(sim_cmdline.text[i])) ++i;
  *word = sim_cmdline.text + start;
  *n = i - start;
  *pos = i;
  return 1;
}

const char* sim_cmdline_get(const char* key, size_t* vlen) {
  size_t klen = sim_strlen(key), pos = 0, n;
  const char* w;
  const char* found = 0;
  size_t flen = 0;
  while (sim_cmdline_next(&pos, &w, &n)) {
    if (n < klen || !sim_memeq(w, key, klen)) continue;
    if (n == klen) {
      found = w + n;
      flen = 0;
    } else if (w[klen] == '=') {
      found = w + klen + 1;
      flen = n - klen - 1;
    }
  }
  if (vlen != 0) *vlen = flen;
  return found;
}

int sim_cmdline_is(const char* key, const char* value) {
  size_t n;
  const char* v = sim_cmdline_get(key, &n);
  return v != 0 && n == sim_strlen(value) && sim_memeq(v, value, n);
}

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Every CMDLINE item, in order, joined with spaces (items need not be NUL-terminated; a NUL
// ends an item's text).
static void read_cmdline(const uint8_t* zbi, size_t total) {
  size_t len = 0;
  for (size_t off = 32; off + 32 <= total;) {
    uint32_t type = rd32(zbi + off), length = rd32(zbi + off + 4);
    const uint8_t* payload = zbi + off + 32;
    if (type == ZBI_TYPE_CMDLINE && payload + length <= zbi + total) {
      if (len != 0 && len < sizeof g_cmdline_buf - 1) g_cmdline_buf[len++] = ' ';
      for (uint32_t i = 0; i < length && payload[i] != 0 && len < sizeof g_cmdline_buf - 1; ++i) {
        g_cmdline_buf[len++] = (char)payload[i];
      }
    }
    off += 32 + (((size_t)length + 7u) & ~(size_t)7u);
  }
  g_cmdline_buf[len] = '\0';
  sim_cmdline.text = g_cmdline_buf;
  sim_cmdline.len = len;
}

static void read_config(void) {
  sim_config.profile = SIM_PROFILE_2024;
  if (sim_cmdline_is("rig.sim.profile", "2020")) sim_config.profile = SIM_PROFILE_2020;
  if (sim_cmdline_is("rig.sim.profile", "2022")) sim_config.profile = SIM_PROFILE_2022;
  sim_config.flavour = sim_config.profile == SIM_PROFILE_2020 ? SIM_UB_2020 : SIM_UB_NEXT;
  if (sim_cmdline_is("rig.sim.userboot", "2020")) sim_config.flavour = SIM_UB_2020;
  if (sim_cmdline_is("rig.sim.userboot", "next")) sim_config.flavour = SIM_UB_NEXT;
  sim_config.serial_syscalls = sim_cmdline_is("kernel.enable-serial-syscalls", "true") ||
                               sim_cmdline_is("kernel.enable-serial-syscalls", "output-only");
  sim_config.halt_on_panic = sim_cmdline_is("kernel.halt-on-panic", "true");
}

void sim_print_banner(void) {
  sim_kprintf("welcome to the rig sim (SIMULATED Zircon, not a real kernel): arch %s profile %d "
              "userboot %s",
              SIM_ARCH_NAME, (int)sim_config.profile,
              sim_config.flavour == SIM_UB_2020 ? "2020" : "next");
  sim_kprintf("%s", "");
  sim_kprintf("version: %s", SIM_VERSION_STRING);
}

_Noreturn void sim_main(const void* zbi, size_t zbi_size) {
  const uint8_t* z = zbi;
  if (z == 0 || rd32(z) != ZBI_TYPE_CONTAINER || rd32(z + 8) != ZBI_CONTAINER_MAGIC) {
    sim_kprintf("welcome to the rig sim (SIMULATED Zircon, not a real kernel): arch %s",
                SIM_ARCH_NAME);
    sim_kprintf("sim: no ZBI container at %p: nothing to boot", zbi);
    arch_exit(SIM_EXIT_FATAL);
  }
  size_t total = 32 + (size_t)rd32(z + 4);
  if (zbi_size != 0 && zbi_size < total) total = zbi_size;
  read_cmdline(z, total);
  read_config();

  uintptr_t lo = (uintptr_t)__sim_end;
  uintptr_t zend = (uintptr_t)z + total;
  if (zend > lo && (uintptr_t)z < arch_ram_base() + arch_ram_size()) lo = zend;
  g_free = (lo + SIM_PAGE - 1) & ~(uintptr_t)(SIM_PAGE - 1);
  g_free_end = arch_ram_base() + arch_ram_size();

  sim_print_banner();
  sim_kprintf("sim: ZBI at %p, %lu bytes; free RAM [%p, %p)", zbi, (unsigned long)total,
              (void*)g_free, (void*)g_free_end);
  sim_kprintf("sim: CMDLINE %.*s", (int)sim_cmdline.len, sim_cmdline.text);
  kobj_init(sim_config.profile);
  sim_faults_init();
  sim_userboot(zbi, total);
}
