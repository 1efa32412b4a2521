// x86-64 platform of the sim on QEMU q35 (qemu64 CPU): COM1 console, identity paging (start.S),
// IDT with IST stacks, exit through ACPI S5 (power-off, QEMU exits 0) or isa-debug-exit.
#include "sim.h"

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4
#define ACPI_PM1A_CNT 0x604  // q35: SeaBIOS puts the ICH9 PM base at 0x600
#define RESET_CONTROL 0xcf9

// 1 while the sim runs (boot, a syscall), 0 while the program does.
volatile uint8_t sim_x86_in_sim = 1;
static uintptr_t g_ram_size = 512ul << 20;

static inline void outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(uint16_t port, uint16_t v) {
  __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v) {
  __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

// The 16550's 16-byte transmit FIFO is on (arch_main): wait for it to drain only once per 16
// bytes. Every port access leaves TCG for the device model, so this halves the console's cost.
static unsigned g_tx_room;

void arch_console_putc(char c) {
  if (g_tx_room == 0) {
    while ((inb(COM1 + 5) & 0x20) == 0) {  // THRE: FIFO empty
    }
    g_tx_room = 16;
  }
  outb(COM1, (uint8_t)c);
  g_tx_room--;
}

uintptr_t arch_ram_base(void) { return 0; }
uintptr_t arch_ram_size(void) { return g_ram_size; }

_Noreturn void arch_halt_forever(void) {
  for (;;) __asm__ volatile("cli; hlt");
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return (uint64_t)hi << 32 | lo;
}

static inline uint32_t inl(uint16_t port) {
  uint32_t v;
  __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

// PCI configuration read through the 0xcf8/0xcfc ports.
static uint32_t pci_read32(uint32_t bus, uint32_t dev, uint32_t fn, uint32_t reg) {
  outl(0xcf8, 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (reg & 0xfcu));
  return inl(0xcfc);
}

_Noreturn void arch_exit(int status) {
  if (status == SIM_EXIT_POWEROFF) {
    // ACPI S5 through PM1a_CNT (SLP_TYP 0 on QEMU's q35 DSDT, SLP_EN): QEMU powers off and
    // exits 0. The PM I/O base is the ICH9 LPC bridge's (00:1f.0) PMBASE, set by the firmware.
    uint32_t pmbase = pci_read32(0, 0x1f, 0, 0x40) & 0xff80u;
    if (pmbase != 0 && pmbase != 0xff80u) {
      outw((uint16_t)(pmbase + 4), 0x2000);
      // QEMU acts on the request from its main loop, not at once: wait for it (bounded by
      // the TSC, about a second, so a busy host does not turn a power-off into exit 1)
      // before the fallback below exits with another status.
      uint64_t t0 = rdtsc();
      while (rdtsc() - t0 < (1ull << 31)) __asm__ volatile("pause");
    }
  }
  // isa-debug-exit: QEMU exits (status << 1) | 1.
  outl(DEBUG_EXIT_PORT, (uint32_t)status);
  // No exit device: a hard reset, which -no-reboot turns into an exit (status 0).
  outb(RESET_CONTROL, 0x06);
  arch_halt_forever();
}

void arch_sync_code(void* p, size_t len) {
  (void)p;
  (void)len;  // x86 keeps instruction fetch coherent with stores
}

// ---- GDT with a TSS, IDT ------------------------------------------------------------------------
typedef struct __attribute__((packed)) {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
} tss_t;

typedef struct __attribute__((packed)) {
  uint16_t off_lo, sel;
  uint8_t ist, type_attr;
  uint16_t off_mid;
  uint32_t off_hi, zero;
} idt_entry_t;

static tss_t g_tss;
static uint64_t g_gdt[5];
static idt_entry_t g_idt[256];
extern const uint64_t sim_x86_isr_table[32], sim_x86_isr_syscall[1];
extern char __ist1_top[], __ist2_top[];

static void set_gate(int vec, uint64_t handler, int ist) {
  idt_entry_t* e = &g_idt[vec];
  e->off_lo = (uint16_t)handler;
  e->sel = 0x08;
  e->ist = (uint8_t)ist;
  e->type_attr = 0x8e;  // present, DPL 0, 64-bit interrupt gate
  e->off_mid = (uint16_t)(handler >> 16);
  e->off_hi = (uint32_t)(handler >> 32);
  e->zero = 0;
}

static void cpu_init(void) {
  g_tss.ist[0] = (uint64_t)(uintptr_t)__ist1_top;  // IST1: syscalls
  g_tss.ist[1] = (uint64_t)(uintptr_t)__ist2_top;  // IST2: exceptions
  g_tss.iomap_base = sizeof g_tss;
  uint64_t base = (uint64_t)(uintptr_t)&g_tss, limit = sizeof g_tss - 1;
  g_gdt[0] = 0;
  g_gdt[1] = 0x00af9a000000ffffull;
  g_gdt[2] = 0x00cf92000000ffffull;
  g_gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
  g_gdt[4] = base >> 32;
  struct __attribute__((packed)) {
    uint16_t limit;
    uint64_t base;
  } gp = {sizeof g_gdt - 1, (uint64_t)(uintptr_t)g_gdt},
    ip = {sizeof g_idt - 1, (uint64_t)(uintptr_t)g_idt};
  __asm__ volatile("lgdt %0\n ltr %w1" ::"m"(gp), "r"(0x18) : "memory");
  for (int v = 0; v < 32; ++v) set_gate(v, sim_x86_isr_table[v], 2);
  set_gate(0x80, sim_x86_isr_syscall[0], 1);
  __asm__ volatile("lidt %0" ::"m"(ip) : "memory");
}

static uint32_t rd32(uintptr_t a) { return *(const volatile uint32_t*)a; }

_Noreturn void arch_main(uint32_t mbi);
_Noreturn void arch_main(uint32_t mbi) {
  cpu_init();
  outb(COM1 + 2, 0x07);  // FCR: FIFOs on and cleared
  const void* zbi = 0;
  size_t zbi_size = 0;
  if (mbi != 0) {
    uint32_t flags = rd32(mbi);
    if (flags & 1u) g_ram_size = (1024ul + rd32(mbi + 8)) * 1024ul;  // 1 MiB + mem_upper KiB
    if ((flags & 8u) && rd32(mbi + 20) != 0) {
      uintptr_t mod = rd32(mbi + 24);
      zbi = (const void*)(uintptr_t)rd32(mod);
      zbi_size = rd32(mod + 4) - rd32(mod);
    }
  }
  if (zbi == 0) {
    sim_kprintf("welcome to the rig sim (SIMULATED Zircon, not a real kernel): arch %s",
                SIM_ARCH_NAME);
    sim_kprintf("sim: no multiboot module: boot with -initrd image.zbi");
    arch_exit(SIM_EXIT_FATAL);
  }
  sim_main(zbi, zbi_size);
}

// ---- Frames and traps ---------------------------------------------------------------------------
uint64_t arch_frame_syscall_nr(const sim_frame_t* f) { return f->rax & 0xffffffffu; }

uint64_t arch_frame_arg(const sim_frame_t* f, int i) {
  switch (i) {
    case 0: return f->rdi;
    case 1: return f->rsi;
    case 2: return f->rdx;
    case 3: return f->rcx;
    case 4: return f->r8;
    case 5: return f->r9;
    default: {
      // Arguments 7 and 8: on the caller's stack above the return address into the program.
      uint64_t a = f->rsp + 8u * (uint64_t)(i - 5);
      if (!sim_user_ok((const void*)(uintptr_t)a, 8)) return 0;
      return *(const uint64_t*)(uintptr_t)a;
    }
  }
}

void arch_frame_set_return(sim_frame_t* f, uint64_t v) { f->rax = v; }
uint64_t arch_frame_pc(const sim_frame_t* f) { return f->rip; }
uint64_t arch_frame_sp(const sim_frame_t* f) { return f->rsp; }
void arch_frame_make_user_fault(sim_frame_t* f) { f->rip = 0; }

static uint64_t g_cr2;  // of the last page fault

void arch_dump_frame(const sim_frame_t* f) {
  sim_kprintf(" CS:  %#18lx RIP: %#18lx EFL: %#18lx CR2: %#18lx", (unsigned long)f->cs,
              (unsigned long)f->rip, (unsigned long)f->rflags,
              (unsigned long)(f->vector == 14 ? g_cr2 : 0));
  sim_kprintf(" RAX: %#18lx RBX: %#18lx RCX: %#18lx RDX: %#18lx", (unsigned long)f->rax,
              (unsigned long)f->rbx, (unsigned long)f->rcx, (unsigned long)f->rdx);
  sim_kprintf(" RSI: %#18lx RDI: %#18lx RBP: %#18lx RSP: %#18lx", (unsigned long)f->rsi,
              (unsigned long)f->rdi, (unsigned long)f->rbp, (unsigned long)f->rsp);
  sim_kprintf("  R8: %#18lx  R9: %#18lx R10: %#18lx R11: %#18lx", (unsigned long)f->r8,
              (unsigned long)f->r9, (unsigned long)f->r10, (unsigned long)f->r11);
  sim_kprintf(" R12: %#18lx R13: %#18lx R14: %#18lx R15: %#18lx", (unsigned long)f->r12,
              (unsigned long)f->r13, (unsigned long)f->r14, (unsigned long)f->r15);
  sim_kprintf(" vector: %lu errc: %#lx", (unsigned long)f->vector, (unsigned long)f->error);
}

int arch_backtrace(const sim_frame_t* f, uint64_t* pcs, int max) {
  int n = 0;
  uint64_t fp;
  if (f != 0) {
    pcs[n++] = f->rip;
    fp = f->rbp;
  } else {
    fp = arch_current_fp();
  }
  return sim_walk_frames(fp, 0x1000, g_ram_size, pcs, n, max);
}

static const char* const g_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "undefined instruction", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection fault",
    "page fault", "reserved", "x87 FP error", "alignment check", "machine check",
    "SIMD FP error", "virtualization", "control protection", "reserved", "reserved",
    "reserved", "reserved", "reserved", "reserved", "hypervisor injection", "VMM communication",
    "security", "reserved",
};

void arch_trap(sim_frame_t* f);
void arch_trap(sim_frame_t* f) {
  if (f->vector == 0x80) {
    sim_x86_in_sim = 1;
    sim_syscall(f);
    sim_x86_in_sim = 0;
    return;
  }
  uint64_t cr2 = 0;
  if (f->vector == 14) __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
  g_cr2 = cr2;
  int from_user = !sim_x86_in_sim;
  sim_x86_in_sim = 1;
  if (f->vector == 8) {
    sim_write_raw("double fault, halting\r\n", 23);
  }
  sim_exception(f, from_user, f->vector < 32 ? g_names[f->vector] : "unexpected interrupt", cr2,
                f->error);
}
