// What a real kernel prints when things go wrong (zircon-facts.md 6 and 9): a kernel panic
// block, a user-mode crash report, the reboot line, and a hang.
#include "sim.h"

static void raw_line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void raw_line(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = sim_vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
  sim_write_raw(buf, (size_t)n);
  sim_write_raw("\r\n", 2);
}

extern char __sim_start[], __sim_end[];
static int g_in_panic;

_Noreturn void sim_reboot(const char* why) {
  sim_kprintf("sim: reboot (%s)", why);
  sim_kprintf("%s", SIM_ARCH_REBOOT_LINE);
  arch_exit(SIM_EXIT_REBOOT);
}

_Noreturn void sim_hang(const char* why) {
  sim_kprintf("sim: hanging forever (%s)", why);
  arch_halt_forever();
}

_Noreturn void sim_panic(const sim_frame_t* f, const char* fmt, ...) {
  if (g_in_panic++) {
    raw_line("sim: panic while panicking");
    arch_exit(SIM_EXIT_FATAL);
  }
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  sim_vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  raw_line("%s", "");
  raw_line("ZIRCON KERNEL PANIC");
  raw_line("%s", "");
  raw_line("UPTIME: %lums", (unsigned long)(sim_now() / 1000000));
  raw_line("Version: %s", SIM_VERSION_STRING);
  raw_line("panic (caller %p): %s", f ? (void*)(uintptr_t)arch_frame_pc(f) : (void*)0, msg);
  raw_line("{{{reset}}}");
  raw_line("{{{module:0:kernel:elf:0000000000000000000000000000000073696d00}}}");
  raw_line("{{{mmap:%p:%#lx:load:0:rwx:0x0}}}", (void*)__sim_start,
           (unsigned long)(__sim_end - __sim_start));
  if (f != 0) arch_dump_frame(f);
  uint64_t pcs[16];
  int n = arch_backtrace(f, pcs, 16);
  for (int i = 0; i < n; ++i) raw_line("{{{bt:%d:%p}}}", i, (void*)(uintptr_t)pcs[i]);
  if (sim_config.halt_on_panic) {
    raw_line("CRASH: starting debug shell... (reason = 4)");
    raw_line("entering panic shell loop");
    arch_halt_forever();
  }
  raw_line("%s", SIM_ARCH_REBOOT_LINE);
  arch_exit(SIM_EXIT_REBOOT);
}

_Noreturn void sim_user_crash(const sim_frame_t* f, const char* what, uint64_t addr) {
  uint64_t pc = arch_frame_pc(f);
  sim_kprintf("KERN: fatal %s, PC at %p (%s+%#lx), address %p", what, (void*)(uintptr_t)pc,
              sim_prog_name, (unsigned long)(pc - sim_prog_base), (void*)(uintptr_t)addr);
  sim_kprintf("<== fatal : process %s[%u] thread initial-thread[%u]", sim_prog_name,
              SIM_KOID_TEST_PROC, SIM_KOID_TEST_THREAD);
  sim_kprintf("<== fatal %s, PC at %p", what, (void*)(uintptr_t)pc);
  arch_dump_frame(f);
  sim_kprintf("dso: id=0000000000000000 base=%p name=<application>", (void*)sim_prog_base);
  uint64_t pcs[16];
  int n = arch_backtrace(f, pcs, 16);
  for (int i = 0; i < n; ++i) sim_kprintf("{{{bt:%d:%p}}}", i, (void*)(uintptr_t)pcs[i]);
  sim_userboot_process_crashed();
}

_Noreturn void sim_exception(sim_frame_t* f, int from_user, const char* what, uint64_t addr,
                             uint64_t code) {
  if (from_user && sim_user_running()) sim_user_crash(f, what, addr);
  sim_panic(f, "%s in the sim at %p, address %p, code %#lx", what,
            (void*)(uintptr_t)arch_frame_pc(f), (void*)(uintptr_t)addr, (unsigned long)code);
}

int sim_walk_frames(uint64_t fp, uint64_t lo, uint64_t hi, uint64_t* pcs, int n, int max) {
  while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
    const uint64_t* rec = (const uint64_t*)(uintptr_t)fp;
    if (rec[1] == 0) break;
    pcs[n++] = rec[1];
    if (rec[0] <= fp) break;
    fp = rec[0];
  }
  return n;
}
