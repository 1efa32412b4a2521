// The platform half of the sim: interfaces between its common C and the arch directories.
// The sim replaces only the Zircon kernel: it boots the same image.zbi, runs a mini userboot
// that starts bin/rig-test as real userboot does, and services its syscalls through a vDSO of
// our own (docs/sim.md). It is always labelled simulated.
//
// Arch code (guest/sim/arch/<arch>/) provides everything declared under "arch hooks"; the arch
// is chosen by include path (-I guest/sim/arch/<arch>, which holds sim_arch.h) and by which
// files the build compiles (guest/sim/build.yaml), never by #ifdef here.
#ifndef SIM_SIM_H_
#define SIM_SIM_H_

#include <stdarg.h>

#include "kobj.h"
#include <sim_arch.h>  // SIM_ARCH_NAME, sim_frame_t

#define SIM_HIDDEN __attribute__((visibility("hidden")))
#define SIM_PAGE 4096u

// ---- Exit statuses (the value the sim hands the arch exit path; docs/sim.md) ------------------
// QEMU's own exit code: arm64 semihosting gives the value itself; x86 isa-debug-exit gives
// (value << 1) | 1, except SIM_EXIT_POWEROFF, which is an ACPI S5 power-off (QEMU exits 0).
enum {
  SIM_EXIT_POWEROFF = 0,  // userboot finished (any program status) and powered off
  SIM_EXIT_REBOOT = 2,    // a reboot: root-job reboot action, panic without halt, `reboot` fault
  SIM_EXIT_FATAL = 3,     // the sim itself could not go on (no ZBI, exception before the console)
};

// ---- Arch hooks ---------------------------------------------------------------------------------
void arch_console_putc(char c) SIM_HIDDEN;
_Noreturn void arch_exit(int status) SIM_HIDDEN;  // SIM_EXIT_*
_Noreturn void arch_halt_forever(void) SIM_HIDDEN; // spin with interrupts off, never exits
// Where RAM is: [base, base + size).
uintptr_t arch_ram_base(void) SIM_HIDDEN;
uintptr_t arch_ram_size(void) SIM_HIDDEN;
// Make freshly written code at [p, p + len) executable (cache maintenance).
void arch_sync_code(void* p, size_t len) SIM_HIDDEN;
// Start the program: entry(arg0, arg1) on stack `sp`, as user code. Does not return: the
// program leaves through zx_process_exit or a fault.
_Noreturn void arch_enter_user(uintptr_t entry, uintptr_t arg0, uintptr_t arg1,
                               uintptr_t sp) SIM_HIDDEN;
// Trap frame accessors (the frame layout is the arch's).
uint64_t arch_frame_syscall_nr(const sim_frame_t* f) SIM_HIDDEN;
uint64_t arch_frame_arg(const sim_frame_t* f, int i) SIM_HIDDEN;  // i = 0..7
void arch_frame_set_return(sim_frame_t* f, uint64_t v) SIM_HIDDEN;
uint64_t arch_frame_pc(const sim_frame_t* f) SIM_HIDDEN;
uint64_t arch_frame_sp(const sim_frame_t* f) SIM_HIDDEN;
// Make the user code fault as soon as the syscall returns (the `usercrash` fault).
void arch_frame_make_user_fault(sim_frame_t* f) SIM_HIDDEN;
// Print the register frame, one register group a line, through sim_kprintf.
void arch_dump_frame(const sim_frame_t* f) SIM_HIDDEN;
// Frame-pointer walk for {{{bt:...}}} lines: fills up to `max` return addresses.
int arch_backtrace(const sim_frame_t* f, uint64_t* pcs, int max) SIM_HIDDEN;
uint64_t arch_current_fp(void) SIM_HIDDEN;
// The frame-record walk both arches share ([fp] = caller's fp, [fp + 8] = return address),
// inside RAM [lo, hi): appends to pcs[n..max) and returns the new count.
int sim_walk_frames(uint64_t fp, uint64_t lo, uint64_t hi, uint64_t* pcs, int n, int max)
    SIM_HIDDEN;

// ---- Called by the arch code --------------------------------------------------------------------
// Common boot, once the MMU, stack and vectors are up. `zbi` is the data ZBI (arm64: x0; x86: the
// multiboot module); `zbi_size` 0 when unknown (the container header says it).
_Noreturn void sim_main(const void* zbi, size_t zbi_size) SIM_HIDDEN;
// A syscall trap from the vDSO. Returns with the result stored in the frame.
void sim_syscall(sim_frame_t* f) SIM_HIDDEN;
// An exception: from_user says whether the program's code (or its vDSO stub) was running.
// `what` names the exception ("page fault", "undefined instruction", ...), `addr` the faulting
// data address when there is one.
_Noreturn void sim_exception(sim_frame_t* f, int from_user, const char* what, uint64_t addr,
                             uint64_t code) SIM_HIDDEN;

// ---- Console (console.c) ------------------------------------------------------------------------
void sim_putc_raw(char c) SIM_HIDDEN;                  // honours the `silence` fault
void sim_write_raw(const char* s, size_t n) SIM_HIDDEN;
int sim_vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) SIM_HIDDEN;
int sim_snprintf(char* buf, size_t size, const char* fmt, ...) SIM_HIDDEN
    __attribute__((format(printf, 3, 4)));
// One debuglog-style line: "[SSSSS.mmm] PPPPP:TTTTT> text" CR LF per line of text.
void sim_dlog_line(uint32_t pid, uint32_t tid, const char* text, size_t n) SIM_HIDDEN;
// Kernel lines (pid:tid 0:0) and userboot lines ("userboot: " prefix, userboot's koids).
void sim_kprintf(const char* fmt, ...) SIM_HIDDEN __attribute__((format(printf, 1, 2)));
void sim_ubprintf(const char* fmt, ...) SIM_HIDDEN __attribute__((format(printf, 1, 2)));
extern int sim_console_silenced SIM_HIDDEN;

// Koids printed in debuglog prefixes (what a real 2020 boot showed).
#define SIM_KOID_USERBOOT_PROC 1025u
#define SIM_KOID_USERBOOT_THREAD 1043u
#define SIM_KOID_TEST_PROC 1053u
#define SIM_KOID_TEST_THREAD 1056u

// ---- Strings (string.c) -------------------------------------------------------------------------
size_t sim_strlen(const char* s) SIM_HIDDEN;
int sim_strcmp(const char* a, const char* b) SIM_HIDDEN;
int sim_strncmp(const char* a, const char* b, size_t n) SIM_HIDDEN;
int sim_memeq(const void* a, const void* b, size_t n) SIM_HIDDEN;
int sim_starts_with(const char* s, size_t n, const char* prefix) SIM_HIDDEN;
int sim_parse_u64(const char* s, size_t n, uint64_t* out) SIM_HIDDEN;  // decimal; 1 on success

// ---- Time (platform_sys.c) ----------------------------------------------------------------------
// The virtual monotonic clock in ns: advances 1 us per syscall and jumps on zx_nanosleep, so
// the runtime's pacing sleeps cost nothing and every log is the same from boot to boot.
zx_time_t sim_now(void) SIM_HIDDEN;
void sim_clock_advance(zx_duration_t d) SIM_HIDDEN;

// ---- Command line (boot.c) ----------------------------------------------------------------------
// All CMDLINE items concatenated with spaces, as userboot reads them.
typedef struct {
  const char* text;
  size_t len;
} sim_cmdline_t;
extern sim_cmdline_t sim_cmdline SIM_HIDDEN;
// Word iteration: *pos starts at 0; returns 0 when no word is left.
int sim_cmdline_next(size_t* pos, const char** word, size_t* n) SIM_HIDDEN;
// Value of the last word "key=value" (bare "key" gives ""), or NULL; *vlen its length.
const char* sim_cmdline_get(const char* key, size_t* vlen) SIM_HIDDEN;
int sim_cmdline_is(const char* key, const char* value) SIM_HIDDEN;
void sim_print_banner(void) SIM_HIDDEN;

typedef enum { SIM_UB_2020 = 0, SIM_UB_NEXT = 1 } sim_userboot_flavour_t;
typedef struct {
  sim_profile_t profile;
  sim_userboot_flavour_t flavour;
  int serial_syscalls;  // kernel.enable-serial-syscalls=true|output-only
  int halt_on_panic;    // kernel.halt-on-panic=true
} sim_config_t;
extern sim_config_t sim_config SIM_HIDDEN;

// ---- The vDSO images (vdso_images.S) and userboot (userboot.c) --------------------------------
typedef struct {
  const uint8_t* data;
  size_t size;
  const char* name;  // the VMO name: vdso/full, vdso/stable, vdso/next
} sim_vdso_image_t;
// Variant i (0 = what userboot maps into the program) for the configured profile; NULL past the
// end.
const sim_vdso_image_t* sim_vdso_variant(int i) SIM_HIDDEN;

_Noreturn void sim_userboot(const void* zbi, size_t zbi_size) SIM_HIDDEN;
// The program ended: zx_process_exit(status) or a crash (-1028). Prints userboot's end of run
// and powers off; never returns.
_Noreturn void sim_userboot_process_exited(int64_t status) SIM_HIDDEN;
_Noreturn void sim_userboot_process_crashed(void) SIM_HIDDEN;  // exit status -1028
// Where the loaded program lives (for crash reports).
extern uintptr_t sim_prog_base SIM_HIDDEN, sim_prog_end SIM_HIDDEN;
extern const char* sim_prog_name SIM_HIDDEN;
int sim_user_running(void) SIM_HIDDEN;  // the program has been started and not ended

// ---- Memory (boot.c) ----------------------------------------------------------------------------
// Page-aligned bump allocation from free RAM, zero filled; NULL when RAM is exhausted.
void* sim_alloc_pages(size_t bytes) SIM_HIDDEN;

// ---- Panics and crash reports (panic.c) ---------------------------------------------------------
_Noreturn void sim_panic(const sim_frame_t* f, const char* fmt, ...) SIM_HIDDEN
    __attribute__((format(printf, 2, 3)));
_Noreturn void sim_user_crash(const sim_frame_t* f, const char* what, uint64_t addr) SIM_HIDDEN;
// A reboot as the real kernel does it with -no-reboot: the PSCI line, then exit.
_Noreturn void sim_reboot(const char* why) SIM_HIDDEN;
// Stop forever (a real kernel whose program blocks never powers off: the host detects hangs).
_Noreturn void sim_hang(const char* why) SIM_HIDDEN;
#define SIM_VERSION_STRING "rig-sim-1 (simulated Zircon, not a real kernel)"

// ---- Fault injection (fault.c) ------------------------------------------------------------------
void sim_faults_init(void) SIM_HIDDEN;
// The program wrote an output record (debuglog or debug_write): track @RIG1 records, apply
// corrupt/drop/hang/panic/... Returns 0 when the bytes must not be printed (drop).
// `buf` may be modified in place (corrupt): the caller passes a private copy.
int sim_faults_on_output(char* buf, size_t n) SIM_HIDDEN;
// After the output was printed (or dropped): a step that starts now fires its faults.
void sim_faults_after_output(sim_frame_t* f) SIM_HIDDEN;
// A syscall result is about to be returned: apply wrong-status / wrong-range.
zx_status_t sim_faults_on_result(uint64_t nr, sim_frame_t* f, zx_status_t st) SIM_HIDDEN;

// The frame of the syscall being served (NULL outside one), and a syscall's name.
extern sim_frame_t* sim_current_frame SIM_HIDDEN;
const char* sim_syscall_name(uint64_t nr) SIM_HIDDEN;

// ---- Syscall numbers: the order of <rig/syscalls.def> (the vDSO stubs count the same way) ----
enum {
#define RIG_SYSCALL(ret, name, params, args) SIM_NR_##name,
#include <rig/syscalls.def>
  SIM_NR_COUNT,
};

#endif  // SIM_SIM_H_
