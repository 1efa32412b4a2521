// Internal interfaces of the freestanding runtime (not for templates: they include <rig/rig.h>).
//
// The pure pieces (relocation, vDSO lookup, processargs parsing, syscall resolution, strings)
// make no syscalls, so the same C also compiles for the host and is driven from pytest
// (tests/data/runtime/host_driver.c).
#ifndef RIG_INTERNAL_H_
#define RIG_INTERNAL_H_

#include <rig/runtime.h>

#define RIG_HIDDEN __attribute__((visibility("hidden")))

// ---- Minimal ELF64 (our own names: no <elf.h> in a freestanding build) -------------------------
typedef struct {
  unsigned char e_ident[16];
  uint16_t e_type;
  uint16_t e_machine;
  uint32_t e_version;
  uint64_t e_entry;
  uint64_t e_phoff;
  uint64_t e_shoff;
  uint32_t e_flags;
  uint16_t e_ehsize;
  uint16_t e_phentsize;
  uint16_t e_phnum;
  uint16_t e_shentsize;
  uint16_t e_shnum;
  uint16_t e_shstrndx;
} rig_elf64_ehdr_t;

typedef struct {
  uint32_t p_type;
  uint32_t p_flags;
  uint64_t p_offset;
  uint64_t p_vaddr;
  uint64_t p_paddr;
  uint64_t p_filesz;
  uint64_t p_memsz;
  uint64_t p_align;
} rig_elf64_phdr_t;

typedef struct {
  int64_t d_tag;
  uint64_t d_val;  // d_val and d_ptr share this word
} rig_elf64_dyn_t;

typedef struct {
  uint32_t st_name;
  unsigned char st_info;
  unsigned char st_other;
  uint16_t st_shndx;
  uint64_t st_value;
  uint64_t st_size;
} rig_elf64_sym_t;

typedef struct {
  uint64_t r_offset;
  uint64_t r_info;
  int64_t r_addend;
} rig_elf64_rela_t;

typedef struct {
  uint64_t r_offset;
  uint64_t r_info;
} rig_elf64_rel_t;

#define RIG_PT_LOAD 1u
#define RIG_PT_DYNAMIC 2u
#define RIG_DT_NULL 0
#define RIG_DT_HASH 4
#define RIG_DT_STRTAB 5
#define RIG_DT_SYMTAB 6
#define RIG_DT_RELA 7
#define RIG_DT_RELASZ 8
#define RIG_DT_RELAENT 9
#define RIG_DT_STRSZ 10
#define RIG_DT_SYMENT 11
#define RIG_DT_REL 17
#define RIG_DT_RELSZ 18
#define RIG_DT_RELENT 19
#define RIG_DT_RELRSZ 35
#define RIG_DT_RELR 36
#define RIG_DT_RELRENT 37
#define RIG_DT_GNU_HASH 0x6ffffef5

// ---- Self-relocation (reloc.c) -----------------------------------------------------------------
// Applies the DT_RELR relocations and the R_*_RELATIVE ones in DT_REL and DT_RELA of the image
// loaded at `base` (link address 0) whose dynamic section is `dyn`. Returns how many relocations
// it could not apply (other types); 0 means done. Touches no global and calls nothing: it runs
// first.
size_t rig_apply_relocs(uintptr_t base, const rig_elf64_dyn_t* dyn) RIG_HIDDEN;

// ---- vDSO symbol lookup (vdso.c) ---------------------------------------------------------------
// Uses only the program headers and PT_DYNAMIC: the vDSO's section headers are not mapped.
enum {
  RIG_VDSO_NONE = 0,      // not opened
  RIG_VDSO_GNU_HASH = 1,  // DT_GNU_HASH (the real vDSO has only this one)
  RIG_VDSO_SYSV_HASH = 2, // DT_HASH
  RIG_VDSO_SCAN = 3,      // neither: bounded linear scan of DT_SYMTAB
};
typedef struct rig_vdso {
  uintptr_t base;
  const rig_elf64_sym_t* symtab;
  const char* strtab;
  uint64_t strsz;
  const uint32_t* gnu_hash;
  const uint32_t* sysv_hash;
  uint32_t nsyms;  // symbols a scan may visit (bounded)
  int method;      // RIG_VDSO_*
} rig_vdso_t;
#define RIG_VDSO_SCAN_MAX 4096u

// Reads the ELF header at `base`. Returns ZX_OK, or ZX_ERR_INVALID_ARGS (no ELF64 header),
// ZX_ERR_NOT_FOUND (no PT_DYNAMIC or no DT_SYMTAB/DT_STRTAB).
zx_status_t rig_vdso_open(rig_vdso_t* v, uintptr_t base) RIG_HIDDEN;
// Address of the defined symbol `name`, or NULL.
void* rig_vdso_sym(const rig_vdso_t* v, const char* name) RIG_HIDDEN;
// "vdso/next" -> "next"; "vdso/stable", "vdso/full" -> "stable"; anything else -> "unknown".
const char* rig_vdso_variant(const char* vmo_name) RIG_HIDDEN;

// ---- Syscall table (syscalls.c) ----------------------------------------------------------------
// Fills rig_syscall_table from the vDSO; entries the vDSO lacks stay NULL. Returns how many of
// the names in <rig/syscalls.def> were found.
size_t rig_resolve_syscalls(const rig_vdso_t* v) RIG_HIDDEN;
// Number of entries in <rig/syscalls.def>, and the name of entry i (NULL past the end).
size_t rig_syscall_count(void) RIG_HIDDEN;
const char* rig_syscall_name(size_t i) RIG_HIDDEN;
int rig_syscall_present(size_t i) RIG_HIDDEN;

// ---- Processargs (processargs.c) ---------------------------------------------------------------
typedef struct rig_procargs {
  const uint8_t* msg;
  uint32_t msg_len;
  const zx_handle_t* handles;
  uint32_t handle_count;  // handles received = handle info words read
  uint32_t handle_info_off;
  uint32_t args_off, args_num;
  uint32_t environ_off, environ_num;
  uint32_t names_off, names_num;
} rig_procargs_t;

// Validates the message (header, protocol, version, every section and string inside `len`).
// Returns ZX_OK; ZX_ERR_BUFFER_TOO_SMALL (shorter than the 36-byte header);
// ZX_ERR_INVALID_ARGS (protocol is not 0x4150585d); ZX_ERR_NOT_SUPPORTED (version is not
// 0x0001000); ZX_ERR_OUT_OF_RANGE (a section or string runs past the end). On error *pa is
// left empty (no environ, no handles), so later lookups find nothing.
zx_status_t rig_procargs_parse(rig_procargs_t* pa, const void* msg, size_t len,
                               const zx_handle_t* handles, size_t handle_count) RIG_HIDDEN;
// The handle whose info word is PA_HND(type, arg), or ZX_HANDLE_INVALID.
zx_handle_t rig_procargs_handle(const rig_procargs_t* pa, uint32_t type, uint32_t arg) RIG_HIDDEN;
// The first handle of `type` whose arg has every bit of `arg_bits`, or ZX_HANDLE_INVALID.
zx_handle_t rig_procargs_handle_with_bits(const rig_procargs_t* pa, uint32_t type,
                                          uint32_t arg_bits) RIG_HIDDEN;
// Handle info word i (0 past the end).
uint32_t rig_procargs_info(const rig_procargs_t* pa, uint32_t i) RIG_HIDDEN;
// String i of argv / environ / names, or NULL past the end.
const char* rig_procargs_arg(const rig_procargs_t* pa, uint32_t i) RIG_HIDDEN;
const char* rig_procargs_env(const rig_procargs_t* pa, uint32_t i) RIG_HIDDEN;
const char* rig_procargs_name(const rig_procargs_t* pa, uint32_t i) RIG_HIDDEN;
// Value of environ word "key=value" ("" for "key=" or a bare "key"), or NULL; the last
// matching word wins.
const char* rig_procargs_env_get(const rig_procargs_t* pa, const char* key) RIG_HIDDEN;
// An option "key=value" from argv (after argv[0]) or, failing that, from the environ.
const char* rig_procargs_option_get(const rig_procargs_t* pa, const char* key) RIG_HIDDEN;

// ---- Output (output.c; makes syscalls) ---------------------------------------------------------
#define RIG_DEBUGLOG_MAX 224u     // bytes one debuglog write keeps (facts 7)
#define RIG_DEBUG_WRITE_MAX 256u  // bytes one zx_debug_write keeps (facts 7)
#define RIG_PACE_EVERY 10u        // records between 1 ms pauses on the debuglog (facts 7)
// Picks the output path (see docs/runtime.md) and returns its name for rig_runtime_info.
const char* rig_output_init(const rig_procargs_t* pa) RIG_HIDDEN;

// ---- Entry (entry.c) ---------------------------------------------------------------------------
_Noreturn void rig_start_c(zx_handle_t bootstrap, uintptr_t vdso_base) RIG_HIDDEN;

#endif  // RIG_INTERNAL_H_
