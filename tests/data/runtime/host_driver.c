// Host driver for the pure runtime pieces (tests/integration/test_runtime_host.py).
//
// Linked with guest/runtime/{reloc,vdso,processargs,syscalls,string}.c compiled for the host
// (the same C the guest runs), with -I guest/runtime/arch/<dir> choosing the relocation type.
// Each command prints one line "RESULT <json>" last; the fake vDSO may print log lines before it.
//
//   vdso SO auto|scan NAME...   dlopen SO (a stand-in vDSO), look NAMEs up with rig_vdso_*
//   table SO auto|scan          fill rig_syscall_table from SO and call some wrappers
//   garbage                     rig_vdso_open on memory that is not an ELF image
//   pa FILE NHANDLES KEY...     parse a processargs message (exactly FILE's bytes, heap copy)
//   variant NAME...             rig_vdso_variant
//   reloc IMAGE OUT             load IMAGE's PT_LOADs, apply its relocations, dump memory to OUT
//   run ELF SO                  load a guest x86-64 ELF and jump to its entry with SO as vDSO
//   mapped SO                   lay SO's PT_LOADs out as the kernel maps a vDSO (any arch: no
//                               code runs), fill rig_syscall_table, print each entry's offset
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rig_internal.h"

void rig_arch_trap(void) { abort(); }

// Host-arch trampoline (host_jump_<arch>.S): switch to `sp` and jump to `entry(arg0, arg1)`.
void rig_host_jump(uintptr_t entry, uintptr_t sp, uint64_t arg0, uint64_t arg1)
    __attribute__((noreturn));

static void json_str(const char* s) {
  if (s == NULL) {
    printf("null");
    return;
  }
  putchar('"');
  for (const unsigned char* p = (const unsigned char*)s; *p; ++p) {
    if (*p == '"' || *p == '\\') printf("\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f) printf("\\u%04x", *p);
    else putchar(*p);
  }
  putchar('"');
}

static uint8_t* read_file(const char* path, size_t* len) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  // Exactly n bytes (at least 1 for malloc): ASan reports any read past the message.
  uint8_t* buf = malloc(n > 0 ? (size_t)n : 1);
  if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  *len = (size_t)n;
  return buf;
}

static uintptr_t open_so(const char* path) {
  void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    exit(2);
  }
  struct link_map* lm = NULL;
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0) exit(2);
  return (uintptr_t)lm->l_addr;  // linked at 0: the load bias is the ELF header's address
}

static const char* method_name(int m) {
  static const char* const names[] = {"none", "gnu", "sysv", "scan"};
  return m >= 0 && m <= 3 ? names[m] : "?";
}

static void open_vdso(rig_vdso_t* v, const char* so, const char* mode) {
  uintptr_t base = open_so(so);
  zx_status_t st = rig_vdso_open(v, base);
  if (st != ZX_OK) {
    printf("RESULT {\"open\": %d}\n", st);
    exit(0);
  }
  if (strcmp(mode, "scan") == 0) v->method = RIG_VDSO_SCAN;  // exercise the fallback path
}

static int cmd_vdso(int argc, char** argv) {
  rig_vdso_t v;
  open_vdso(&v, argv[2], argv[3]);
  void* dl = dlopen(argv[2], RTLD_NOW | RTLD_NOLOAD);
  printf("RESULT {\"open\": 0, \"method\": \"%s\", \"syms\": {", method_name(v.method));
  for (int i = 4; i < argc; ++i) {
    void* p = rig_vdso_sym(&v, argv[i]);
    void* d = dlsym(dl, argv[i]);
    printf("%s", i > 4 ? ", " : "");
    json_str(argv[i]);
    printf(": {\"offset\": ");
    if (p) printf("%lu", (unsigned long)((uintptr_t)p - v.base));
    else printf("null");
    printf(", \"dlsym_offset\": ");
    if (d) printf("%lu", (unsigned long)((uintptr_t)d - v.base));
    else printf("null");
    if (p && strncmp(argv[i], "zx_filler_", 10) == 0) printf(", \"ret\": %d", ((int (*)(void))p)());
    printf("}");
  }
  printf("}}\n");
  return 0;
}

static int cmd_table(char** argv) {
  rig_vdso_t v;
  open_vdso(&v, argv[2], argv[3]);
  size_t found = rig_resolve_syscalls(&v);
  zx_handle_t pager = 0;
  zx_status_t create = zx_pager_create(0, &pager);
  size_t actual = 0, avail = 0;
  zx_status_t query = zx_pager_query_dirty_ranges(pager, 1, 0, 4096, NULL, 0, &actual, &avail);
  printf("RESULT {\"method\": \"%s\", \"found\": %zu, \"count\": %zu, \"missing\": [",
         method_name(v.method), found, rig_syscall_count());
  int first = 1;
  for (size_t i = 0; i < rig_syscall_count(); ++i) {
    if (rig_syscall_present(i)) continue;
    printf("%s", first ? "" : ", ");
    json_str(rig_syscall_name(i));
    first = 0;
  }
  printf("], \"has_query\": %d, \"has_create\": %d, \"pager_create\": [%d, %u], "
         "\"query\": %d, \"page_size\": %u, \"monotonic\": %lld}\n",
         RIG_HAS(zx_pager_query_dirty_ranges), RIG_HAS(zx_pager_create), create, pager, query,
         zx_system_get_page_size(), (long long)zx_clock_get_monotonic());
  return 0;
}

static int cmd_garbage(void) {
  static uint64_t zeros[64];
  rig_vdso_t v;
  zx_status_t a = rig_vdso_open(&v, (uintptr_t)zeros);
  void* p = rig_vdso_sym(&v, "zx_pager_create");
  zx_status_t b = rig_vdso_open(&v, 0);
  printf("RESULT {\"zeros\": %d, \"null\": %d, \"sym_after_failed_open\": %s}\n", a, b,
         p ? "\"found\"" : "null");
  return 0;
}

static void print_strings(const char* key, const rig_procargs_t* pa,
                          const char* (*get)(const rig_procargs_t*, uint32_t), uint32_t n) {
  printf(", \"%s\": [", key);
  for (uint32_t i = 0; i < n; ++i) {
    printf("%s", i ? ", " : "");
    json_str(get(pa, i));
  }
  printf("]");
}

static int cmd_pa(int argc, char** argv) {
  size_t len = 0;
  uint8_t* msg = read_file(argv[2], &len);
  uint32_t nh = (uint32_t)strtoul(argv[3], NULL, 0);
  zx_handle_t* handles = malloc((nh ? nh : 1) * sizeof(zx_handle_t));
  for (uint32_t i = 0; i < nh; ++i) handles[i] = 0x1000u + i;
  rig_procargs_t pa;
  zx_status_t st = rig_procargs_parse(&pa, msg, len, handles, nh);
  printf("RESULT {\"status\": %d, \"handles\": [", st);
  for (uint32_t i = 0; i < pa.handle_count; ++i) {
    uint32_t info = rig_procargs_info(&pa, i);
    printf("%s[%u, %u, %u]", i ? ", " : "", PA_HND_TYPE(info), PA_HND_ARG(info), handles[i]);
  }
  printf("]");
  print_strings("args", &pa, rig_procargs_arg, pa.args_num);
  print_strings("environ", &pa, rig_procargs_env, pa.environ_num);
  print_strings("names", &pa, rig_procargs_name, pa.names_num);
  printf(", \"get\": {");
  for (int i = 4; i < argc; ++i) {
    printf("%s", i > 4 ? ", " : "");
    json_str(argv[i]);
    printf(": ");
    json_str(rig_procargs_option_get(&pa, argv[i]));
  }
  printf("}, \"lookup\": {\"resource\": %u, \"stdio_log\": %u, \"vdso0\": %u, \"job\": %u}}\n",
         rig_procargs_handle(&pa, PA_RESOURCE, 0),
         rig_procargs_handle_with_bits(&pa, PA_FD, PA_FD_USE_FOR_STDIO),
         rig_procargs_handle(&pa, PA_VMO_VDSO, 0), rig_procargs_handle(&pa, PA_JOB_DEFAULT, 0));
  free(handles);
  free(msg);
  return 0;
}

static int cmd_variant(int argc, char** argv) {
  printf("RESULT {");
  for (int i = 2; i < argc; ++i) {
    printf("%s", i > 2 ? ", " : "");
    json_str(argv[i]);
    printf(": ");
    json_str(rig_vdso_variant(argv[i]));
  }
  printf("}\n");
  return 0;
}

// Lays IMAGE's PT_LOADs out in fresh page-aligned memory, as a loader would. Returns the base.
static uint8_t* load_image(const char* path, size_t* size, const rig_elf64_dyn_t** dyn,
                           uint64_t* entry, int prot) {
  size_t len = 0;
  uint8_t* file = read_file(path, &len);
  const rig_elf64_ehdr_t* eh = (const rig_elf64_ehdr_t*)file;
  const rig_elf64_phdr_t* ph = (const rig_elf64_phdr_t*)(file + eh->e_phoff);
  uint64_t end = 0;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == RIG_PT_LOAD && ph[i].p_vaddr + ph[i].p_memsz > end) {
      end = ph[i].p_vaddr + ph[i].p_memsz;
    }
  }
  end = (end + 0xfff) & ~(uint64_t)0xfff;
  uint8_t* base = mmap(NULL, end, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) exit(2);
  *dyn = NULL;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == RIG_PT_LOAD) memcpy(base + ph[i].p_vaddr, file + ph[i].p_offset, ph[i].p_filesz);
    if (ph[i].p_type == RIG_PT_DYNAMIC) *dyn = (const rig_elf64_dyn_t*)(base + ph[i].p_vaddr);
  }
  *size = end;
  *entry = eh->e_entry;
  free(file);
  return base;
}

static int cmd_mapped(char** argv) {
  size_t size = 0;
  const rig_elf64_dyn_t* dyn = NULL;
  uint64_t entry = 0;
  uint8_t* base = load_image(argv[2], &size, &dyn, &entry, PROT_READ | PROT_WRITE);
  rig_vdso_t v;
  zx_status_t st = rig_vdso_open(&v, (uintptr_t)base);
  if (st != ZX_OK) {
    printf("RESULT {\"open\": %d}\n", st);
    return 0;
  }
  size_t found = rig_resolve_syscalls(&v);
  printf("RESULT {\"open\": 0, \"method\": \"%s\", \"found\": %zu, \"offsets\": {",
         method_name(v.method), found);
  for (size_t i = 0; i < rig_syscall_count(); ++i) {
    const char* name = rig_syscall_name(i);
    void* p = rig_vdso_sym(&v, name);
    printf("%s", i ? ", " : "");
    json_str(name);
    if (p && rig_syscall_present(i)) printf(": %lu", (unsigned long)((uintptr_t)p - (uintptr_t)base));
    else printf(": null");
  }
  printf("}}\n");
  return 0;
}

static int cmd_reloc(char** argv) {
  size_t size = 0;
  const rig_elf64_dyn_t* dyn = NULL;
  uint64_t entry = 0;
  uint8_t* base = load_image(argv[2], &size, &dyn, &entry, PROT_READ | PROT_WRITE);
  size_t unhandled = dyn ? rig_apply_relocs((uintptr_t)base, dyn) : 0;
  FILE* out = fopen(argv[3], "wb");
  if (!out || fwrite(base, 1, size, out) != size) exit(2);
  fclose(out);
  printf("RESULT {\"base\": %lu, \"size\": %zu, \"unhandled\": %zu, \"dynamic\": %d}\n",
         (unsigned long)(uintptr_t)base, size, unhandled, dyn != NULL);
  return 0;
}

static int cmd_run(char** argv) {
  uintptr_t vdso = open_so(argv[3]);
  size_t size = 0;
  const rig_elf64_dyn_t* dyn = NULL;
  uint64_t entry = 0;
  uint8_t* base = load_image(argv[2], &size, &dyn, &entry, PROT_READ | PROT_WRITE | PROT_EXEC);
  size_t stack_size = 256 * 1024;
  uint8_t* stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack == MAP_FAILED) exit(2);
  fflush(stdout);
  // Bootstrap channel handle 0x42; the guest exits through the fake zx_process_exit.
  rig_host_jump((uintptr_t)base + entry, (uintptr_t)stack + stack_size, 0x42, vdso);
}

int main(int argc, char** argv) {
  if (argc >= 4 && strcmp(argv[1], "vdso") == 0) return cmd_vdso(argc, argv);
  if (argc == 4 && strcmp(argv[1], "table") == 0) return cmd_table(argv);
  if (argc == 2 && strcmp(argv[1], "garbage") == 0) return cmd_garbage();
  if (argc >= 4 && strcmp(argv[1], "pa") == 0) return cmd_pa(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "variant") == 0) return cmd_variant(argc, argv);
  if (argc == 4 && strcmp(argv[1], "reloc") == 0) return cmd_reloc(argv);
  if (argc == 4 && strcmp(argv[1], "run") == 0) return cmd_run(argv);
  if (argc == 3 && strcmp(argv[1], "mapped") == 0) return cmd_mapped(argv);
  fprintf(stderr, "usage: see the comment at the top of host_driver.c\n");
  return 2;
}
