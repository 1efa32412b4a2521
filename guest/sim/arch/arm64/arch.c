// arm64 platform of the sim on QEMU `virt` (GICv2, cortex-a53): PL011 console, identity map,
// exceptions, exit through semihosting (PSCI SYSTEM_OFF / SYSTEM_RESET as fallbacks).
#include "sim.h"

#define UART_BASE 0x09000000ul
#define UART_DR 0x00
#define UART_FR 0x18
#define UART_FR_TXFE (1u << 7)
#define RAM_BASE 0x40000000ul
#define RAM_DEFAULT (512ul << 20)
#define ZBI_TYPE_MEM_CONFIG 0x434d454du

static uintptr_t g_ram_size = RAM_DEFAULT;

// Wait for the transmit FIFO to drain (TXFE) once per 16 bytes rather than polling TXFF per
// byte: every MMIO access leaves TCG for the device model.
static unsigned g_tx_room;

void arch_console_putc(char c) {
  volatile uint32_t* fr = (volatile uint32_t*)(UART_BASE + UART_FR);
  volatile uint32_t* dr = (volatile uint32_t*)(UART_BASE + UART_DR);
  if (g_tx_room == 0) {
    while ((*fr & UART_FR_TXFE) == 0) {
    }
    g_tx_room = 16;
  }
  *dr = (uint32_t)(unsigned char)c;
  g_tx_room--;
}

uintptr_t arch_ram_base(void) { return RAM_BASE; }
uintptr_t arch_ram_size(void) { return g_ram_size; }

static uint64_t psci(uint64_t fn) {
  register uint64_t x0 __asm__("x0") = fn;
  __asm__ volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
  return x0;
}

_Noreturn void arch_exit(int status) {
  // Semihosting SYS_EXIT (0x18) with ADP_Stopped_ApplicationExit: QEMU exits with `status`.
  volatile uint64_t block[2] = {0x20026u, (uint64_t)status};
  register uint64_t x0 __asm__("x0") = 0x18;
  register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;
  __asm__ volatile("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
  // Without -semihosting: PSCI (QEMU exits 0 either way with -no-reboot).
  psci(status == SIM_EXIT_REBOOT ? 0x84000009u : 0x84000008u);
  arch_halt_forever();
}

_Noreturn void arch_halt_forever(void) {
  for (;;) __asm__ volatile("msr daifset, #0xf\n wfi");
}

void arch_sync_code(void* p, size_t len) {
  (void)p;
  (void)len;
  __asm__ volatile("dsb ish\n ic iallu\n dsb ish\n isb" ::: "memory");
}

// ---- MMU: identity map with 4 KiB granule, 39-bit VA, level 1 start ----------------------------
// L1[0] -> L2 of 2 MiB device blocks for [0, 1 GiB) with [0, 2 MiB) left unmapped (NULL faults);
// L1[1..3]: 1 GiB normal write-back blocks for RAM (virt RAM starts at 1 GiB).
static uint64_t g_l1[512] __attribute__((aligned(4096)));
static uint64_t g_l2[512] __attribute__((aligned(4096)));

#define D_VALID 1ull
#define D_TABLE 3ull
#define D_AF (1ull << 10)
#define D_SH_INNER (3ull << 8)
#define D_ATTR(i) ((uint64_t)(i) << 2)
#define D_PXN (1ull << 53)
#define D_UXN (1ull << 54)

static void mmu_init(void) {
  for (int i = 1; i < 512; ++i) {
    g_l2[i] = ((uint64_t)i << 21) | D_VALID | D_AF | D_ATTR(0) | D_PXN | D_UXN;
  }
  g_l2[0] = 0;
  g_l1[0] = (uint64_t)(uintptr_t)g_l2 | D_TABLE;
  for (int i = 1; i < 4; ++i) g_l1[i] = ((uint64_t)i << 30) | D_VALID | D_AF | D_SH_INNER | D_ATTR(1);
  uint64_t mair = 0x00ull | (0xffull << 8);  // attr0 device-nGnRnE, attr1 normal WB RA WA
  uint64_t tcr = 25ull                       // T0SZ: 39-bit VA
                 | (1ull << 8) | (1ull << 10)  // IRGN0, ORGN0 write-back
                 | (3ull << 12)                // SH0 inner
                 | (1ull << 23)                // EPD1: no TTBR1 walks
                 | (2ull << 32);               // IPS 40 bits
  __asm__ volatile(
      "msr mair_el1, %0\n msr tcr_el1, %1\n msr ttbr0_el1, %2\n dsb sy\n isb\n"
      "tlbi vmalle1\n dsb sy\n isb" ::"r"(mair),
      "r"(tcr), "r"((uint64_t)(uintptr_t)g_l1)
      : "memory");
  uint64_t sctlr;
  __asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
  sctlr |= (1ull << 0) | (1ull << 2) | (1ull << 12);  // M, C, I
  sctlr &= ~(1ull << 1);                              // A: unaligned accesses allowed
  sctlr &= ~((1ull << 3) | (1ull << 4));              // SA, SA0: the program's own business
  __asm__ volatile("msr sctlr_el1, %0\n isb" ::"r"(sctlr) : "memory");
}

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// RAM size from the data ZBI's MEM_CONFIG item (the board items rig build adds), else 512 MiB.
static void find_ram(const uint8_t* zbi) {
  if (zbi == 0 || rd32(zbi) != 0x544f4f42u) return;
  size_t total = 32 + (size_t)rd32(zbi + 4);
  for (size_t off = 32; off + 32 <= total;) {
    uint32_t type = rd32(zbi + off), length = rd32(zbi + off + 4);
    if (type == ZBI_TYPE_MEM_CONFIG) {
      for (uint32_t k = 0; k + 24 <= length; k += 24) {
        const uint8_t* r = zbi + off + 32 + k;
        uint64_t paddr = rd32(r) | (uint64_t)rd32(r + 4) << 32;
        uint64_t len = rd32(r + 8) | (uint64_t)rd32(r + 12) << 32;
        if (rd32(r + 16) == 1 && paddr == RAM_BASE && len >= (64ul << 20) && len <= (3ul << 30)) {
          g_ram_size = len;
        }
      }
    }
    off += 32 + (((size_t)length + 7u) & ~(size_t)7u);
  }
}

// ---- Devicetree (QEMU's `-kernel` Linux boot path) ---------------------------------------------
static uint32_t be32(const uint8_t* p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be_cells(const uint8_t* p, uint32_t len) {
  return len >= 8 ? (uint64_t)be32(p) << 32 | be32(p + 4) : len >= 4 ? be32(p) : 0;
}

// Finds /chosen linux,initrd-start and -end and the /memory node's size in a flattened
// devicetree (x0 when QEMU boots the file as a Linux Image). Returns the initrd or NULL.
static const uint8_t* initrd_from_fdt(const uint8_t* fdt, size_t* size) {
  if (fdt == 0 || be32(fdt) != 0xd00dfeedu) return 0;
  uint32_t total = be32(fdt + 4), off_struct = be32(fdt + 8), off_strings = be32(fdt + 12);
  if (total > (1u << 20) || off_struct >= total || off_strings >= total) return 0;
  const uint8_t* p = fdt + off_struct;
  const uint8_t* end = fdt + total;
  uint64_t start = 0, stop = 0;
  int depth = 0, in_memory = 0;
  while (p + 4 <= end) {
    uint32_t tok = be32(p);
    p += 4;
    if (tok == 1) {  // FDT_BEGIN_NODE
      const char* name = (const char*)p;
      size_t n = 0;
      while (p + n < end && p[n] != 0) ++n;
      depth++;
      if (depth == 2) in_memory = n >= 6 && sim_memeq(name, "memory", 6);
      p += (n + 1 + 3) & ~(size_t)3;
    } else if (tok == 2) {  // FDT_END_NODE
      if (depth-- == 2) in_memory = 0;
    } else if (tok == 3) {  // FDT_PROP
      if (p + 8 > end) break;
      uint32_t len = be32(p), nameoff = be32(p + 4);
      const uint8_t* val = p + 8;
      const char* pname = (const char*)fdt + off_strings + nameoff;
      if (sim_strcmp(pname, "linux,initrd-start") == 0) start = be_cells(val, len);
      if (sim_strcmp(pname, "linux,initrd-end") == 0) stop = be_cells(val, len);
      if (in_memory && sim_strcmp(pname, "reg") == 0 && len >= 16) {
        uint64_t base = be_cells(val, 8), sz = be_cells(val + 8, 8);
        if (base == RAM_BASE && sz >= (64ul << 20) && sz <= (3ul << 30)) g_ram_size = sz;
      }
      p = val + ((len + 3) & ~3u);
    } else if (tok == 4) {  // FDT_NOP
    } else {
      break;  // FDT_END or garbage
    }
  }
  if (start == 0 || stop <= start) return 0;
  *size = (size_t)(stop - start);
  return (const uint8_t*)(uintptr_t)start;
}

// x0 at entry: the data ZBI (facts 8 boot), or a devicetree (QEMU booting the file as a Linux
// Image with -initrd image.zbi).
_Noreturn void arch_main(const void* boot_arg);
_Noreturn void arch_main(const void* boot_arg) {
  mmu_init();
  const uint8_t* zbi = boot_arg;
  size_t size = 0;
  if (zbi != 0 && rd32(zbi) != 0x544f4f42u) zbi = initrd_from_fdt(boot_arg, &size);
  find_ram(zbi);
  sim_main(zbi, size);
}

// ---- Frames and exceptions ---------------------------------------------------------------------
uint64_t arch_frame_syscall_nr(const sim_frame_t* f) { return f->x[16]; }
uint64_t arch_frame_arg(const sim_frame_t* f, int i) { return f->x[i]; }
void arch_frame_set_return(sim_frame_t* f, uint64_t v) { f->x[0] = v; }
uint64_t arch_frame_pc(const sim_frame_t* f) { return f->elr; }
uint64_t arch_frame_sp(const sim_frame_t* f) { return f->sp; }
void arch_frame_make_user_fault(sim_frame_t* f) { f->elr = 0; }

void arch_dump_frame(const sim_frame_t* f) {
  for (int i = 0; i < 30; i += 4) {
    if (i + 3 < 30) {
      sim_kprintf(" x%-2d %#18lx x%-2d %#18lx x%-2d %#18lx x%-2d %#18lx", i,
                  (unsigned long)f->x[i], i + 1, (unsigned long)f->x[i + 1], i + 2,
                  (unsigned long)f->x[i + 2], i + 3, (unsigned long)f->x[i + 3]);
    } else {
      sim_kprintf(" x%-2d %#18lx x%-2d %#18lx", i, (unsigned long)f->x[i], i + 1,
                  (unsigned long)f->x[i + 1]);
    }
  }
  sim_kprintf(" lr  %#18lx usp %#18lx elr %#18lx", (unsigned long)f->x[30],
              (unsigned long)f->sp, (unsigned long)f->elr);
  sim_kprintf("spsr %#18lx esr %#18lx far %#18lx", (unsigned long)f->spsr,
              (unsigned long)f->esr, (unsigned long)f->far);
}

int arch_backtrace(const sim_frame_t* f, uint64_t* pcs, int max) {
  int n = 0;
  uint64_t fp;
  if (f != 0) {
    pcs[n++] = f->elr;
    if (n < max && f->x[30] != 0) pcs[n++] = f->x[30];
    fp = f->x[29];
  } else {
    fp = arch_current_fp();
  }
  return sim_walk_frames(fp, RAM_BASE, RAM_BASE + g_ram_size, pcs, n, max);
}

static const char* describe(uint32_t ec, uint64_t esr) {
  switch (ec) {
    case 0x00: return "undefined instruction";
    case 0x20:
    case 0x21: return "page fault (instruction abort)";
    case 0x22: return "PC alignment fault";
    case 0x24:
    case 0x25: return ((esr & 0x3f) >= 0x21 && (esr & 0x3f) <= 0x21) ? "alignment fault"
                                                                    : "page fault (data abort)";
    case 0x26: return "SP alignment fault";
    case 0x3c: return "software breakpoint";
    case 0x07: return "FP/SIMD access trap";
    default: return "unhandled synchronous exception";
  }
}

// kind: 0 sync from the program, 1 interrupt while the program ran, 2 sync in the sim,
// 3 interrupt in the sim, 4 from a lower EL (never expected).
void arch_exception(sim_frame_t* f, uint64_t kind);
void arch_exception(sim_frame_t* f, uint64_t kind) {
  uint32_t ec = (uint32_t)(f->esr >> 26) & 0x3f;
  if (kind == 0 && ec == 0x15) {  // svc from the vDSO
    sim_syscall(f);
    return;
  }
  if (kind == 2 && ec == 0x00 && *(const volatile uint32_t*)(uintptr_t)f->elr == 0xd45e0000u) {
    // The semihosting `hlt #0xf000` of arch_exit traps when QEMU runs without -semihosting:
    // skip it, arch_exit falls back to PSCI.
    f->elr += 4;
    return;
  }
  const char* what = kind == 1 || kind == 3 ? "unexpected interrupt"
                     : kind == 4            ? "exception from a lower EL"
                                            : describe(ec, f->esr);
  sim_exception(f, kind == 0 || kind == 1, what, f->far, f->esr);
}
