// The contract between the freestanding runtime (guest/runtime/) and the generated test program
// (guest/templates/). The program includes only <rig/rig.h>, which includes this file.
//
// Flow: the arch entry (_start) relocates the image, resolves every syscall listed in
// <rig/syscalls.def> from the vDSO whose base the kernel passed, reads the processargs message
// from the bootstrap channel, chooses the output path, calls rig_program_main(), then exits
// with zx_process_exit(rig_program_main's return value).
#ifndef RIG_RUNTIME_H_
#define RIG_RUNTIME_H_

#include <rig/zircon.h>

// Implemented by the generated program.
int rig_program_main(void);

// Syscalls: calling zx_NAME(...) goes through a table filled at entry. RIG_HAS(zx_NAME) is
// false when the vDSO lacks the symbol; calling it anyway returns RIG_ERR_UNAVAILABLE without
// entering the kernel.
#define RIG_ERR_UNAVAILABLE ((zx_status_t)-0x7f00)
#define RIG_HAS(name) (rig_syscall_table.name != 0)

// Write one record line (already formatted, ending in '\n', at most 200 bytes) to the chosen
// output path. Paces debuglog writes so the kernel does not drop records.
void rig_output_write(const char* buf, size_t len);

// Value of a program option "key=value", or NULL: from argv (userboot from era D on splits the
// program word at '+' into argv words, and 2023+ userboots pass no environ), else from the
// environ (older userboots put every kernel command-line word there). For "key" alone (written
// "key=" by userboot) returns "".
const char* rig_env_get(const char* key);

// The first scenario to run: `rig.start=<k>` (read like rig_env_get), or 0. The runner passes it
// when it reboots after a crash or hang, so one ELF serves every boot of a run.
uint32_t rig_start_scenario(void);
// One past the last scenario to run: `rig.end=<k>`, or UINT32_MAX. The runner's -j slices of a
// suite each run [start, end) in a guest of their own.
uint32_t rig_end_scenario(void);

// Facts about this boot, for the hello record.
typedef struct rig_runtime_info {
  const char* output;      // "debuglog", "debuglog-new" or "debug-write"
  const char* vdso;        // "stable", "next" or "unknown"
  uint64_t page_size;      // zx_system_get_page_size(), or 4096 when the vDSO lacks it
  zx_handle_t root_job;    // ZX_HANDLE_INVALID when not passed
  zx_handle_t root_resource;
  zx_handle_t vmar_root;
} rig_runtime_info_t;
const rig_runtime_info_t* rig_runtime_info(void);

// Small freestanding helpers (no libc).
void* rig_memset(void* dst, int c, size_t n);
void* rig_memcpy(void* dst, const void* src, size_t n);
size_t rig_strlen(const char* s);
int rig_strcmp(const char* a, const char* b);
// Added by the runtime (guest/runtime/string.c); memset/memcpy/memmove/memcmp exist too.
void* rig_memmove(void* dst, const void* src, size_t n);
int rig_memcmp(const void* a, const void* b, size_t n);
int rig_strncmp(const char* a, const char* b, size_t n);

#endif  // RIG_RUNTIME_H_
