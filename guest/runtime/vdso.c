// vDSO symbol lookup by name (pure: reads memory only).
//
// The vDSO is an ET_DYN image linked at 0 and mapped at `base`. Its section headers are not in
// the mapped VMO (facts 3.4, 7), so everything goes through the program headers and PT_DYNAMIC:
// DT_SYMTAB, DT_STRTAB and DT_GNU_HASH (the real vDSO has only this one) or DT_HASH, else a
// bounded scan of the symbol table.
#include "rig_internal.h"

#define RIG_SHN_UNDEF 0u
// Bound on hash chain walks: a corrupt table must not make us loop forever.
#define RIG_VDSO_CHAIN_MAX 65536u

zx_status_t rig_vdso_open(rig_vdso_t* v, uintptr_t base) {
  rig_memset(v, 0, sizeof(*v));
  v->base = base;
  const rig_elf64_ehdr_t* eh = (const rig_elf64_ehdr_t*)base;
  if (base == 0 || eh->e_ident[0] != 0x7f || eh->e_ident[1] != 'E' || eh->e_ident[2] != 'L' ||
      eh->e_ident[3] != 'F' || eh->e_ident[4] != 2 /* ELFCLASS64 */ ||
      eh->e_phentsize != sizeof(rig_elf64_phdr_t)) {
    return ZX_ERR_INVALID_ARGS;
  }
  const rig_elf64_phdr_t* ph = (const rig_elf64_phdr_t*)(base + eh->e_phoff);
  const rig_elf64_dyn_t* dyn = 0;
  for (uint32_t i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == RIG_PT_DYNAMIC) dyn = (const rig_elf64_dyn_t*)(base + ph[i].p_vaddr);
  }
  if (dyn == 0) return ZX_ERR_NOT_FOUND;

  uint64_t symtab = 0, strtab = 0, gnu = 0, sysv = 0, syment = sizeof(rig_elf64_sym_t);
  for (uint32_t i = 0; dyn[i].d_tag != RIG_DT_NULL && i < 1024u; ++i) {
    int64_t tag = dyn[i].d_tag;
    if (tag == RIG_DT_SYMTAB) symtab = dyn[i].d_val;
    else if (tag == RIG_DT_STRTAB) strtab = dyn[i].d_val;
    else if (tag == RIG_DT_STRSZ) v->strsz = dyn[i].d_val;
    else if (tag == RIG_DT_GNU_HASH) gnu = dyn[i].d_val;
    else if (tag == RIG_DT_HASH) sysv = dyn[i].d_val;
    else if (tag == RIG_DT_SYMENT) syment = dyn[i].d_val;
  }
  if (symtab == 0 || strtab == 0 || syment != sizeof(rig_elf64_sym_t)) return ZX_ERR_NOT_FOUND;
  v->symtab = (const rig_elf64_sym_t*)(base + symtab);
  v->strtab = (const char*)(base + strtab);
  if (gnu != 0) v->gnu_hash = (const uint32_t*)(base + gnu);
  if (sysv != 0) v->sysv_hash = (const uint32_t*)(base + sysv);

  // For a scan: the symbol table ends where the string table starts in every lld/ld layout;
  // cap it in any case.
  uint64_t n = RIG_VDSO_SCAN_MAX;
  if (strtab > symtab && (strtab - symtab) / sizeof(rig_elf64_sym_t) < n) {
    n = (strtab - symtab) / sizeof(rig_elf64_sym_t);
  }
  v->nsyms = (uint32_t)n;
  v->method = v->gnu_hash ? RIG_VDSO_GNU_HASH : v->sysv_hash ? RIG_VDSO_SYSV_HASH : RIG_VDSO_SCAN;
  return ZX_OK;
}

// 1 when symbol `idx` is defined and named `name`.
static int sym_matches(const rig_vdso_t* v, uint32_t idx, const char* name) {
  const rig_elf64_sym_t* s = &v->symtab[idx];
  if (s->st_shndx == RIG_SHN_UNDEF || s->st_value == 0) return 0;
  if (v->strsz != 0 && s->st_name >= v->strsz) return 0;
  return rig_strcmp(v->strtab + s->st_name, name) == 0;
}

static uint32_t gnu_hash(const char* name) {
  uint32_t h = 5381;
  for (const unsigned char* p = (const unsigned char*)name; *p; ++p) h = h * 33u + *p;
  return h;
}

static uint32_t sysv_hash(const char* name) {
  uint32_t h = 0;
  for (const unsigned char* p = (const unsigned char*)name; *p; ++p) {
    h = (h << 4) + *p;
    uint32_t g = h & 0xf0000000u;
    if (g) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

static void* lookup_gnu(const rig_vdso_t* v, const char* name) {
  // Header: nbuckets, symoffset, bloom_size (in 64-bit words), bloom_shift; then the bloom
  // words, the buckets and the chain (one word per symbol from symoffset on).
  const uint32_t* t = v->gnu_hash;
  uint32_t nbuckets = t[0], symoffset = t[1], bloom_size = t[2], bloom_shift = t[3];
  if (nbuckets == 0) return 0;
  const uint64_t* bloom = (const uint64_t*)(t + 4);
  const uint32_t* buckets = (const uint32_t*)(bloom + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  uint32_t h = gnu_hash(name);
  if (bloom_size != 0) {
    uint64_t word = bloom[(h / 64u) % bloom_size];
    uint64_t mask = ((uint64_t)1 << (h % 64u)) | ((uint64_t)1 << ((h >> bloom_shift) % 64u));
    if ((word & mask) != mask) return 0;
  }
  uint32_t idx = buckets[h % nbuckets];
  if (idx < symoffset) return 0;
  for (uint32_t n = 0; n < RIG_VDSO_CHAIN_MAX; ++n, ++idx) {
    uint32_t ch = chain[idx - symoffset];
    if ((ch | 1u) == (h | 1u) && sym_matches(v, idx, name)) {
      return (void*)(v->base + v->symtab[idx].st_value);
    }
    if (ch & 1u) break;  // end of this bucket's chain
  }
  return 0;
}

static void* lookup_sysv(const rig_vdso_t* v, const char* name) {
  const uint32_t* t = v->sysv_hash;
  uint32_t nbucket = t[0], nchain = t[1];
  if (nbucket == 0) return 0;
  const uint32_t* bucket = t + 2;
  const uint32_t* chain = bucket + nbucket;
  uint32_t idx = bucket[sysv_hash(name) % nbucket];
  for (uint32_t n = 0; idx != 0 && idx < nchain && n < nchain; ++n, idx = chain[idx]) {
    if (sym_matches(v, idx, name)) return (void*)(v->base + v->symtab[idx].st_value);
  }
  return 0;
}

static void* lookup_scan(const rig_vdso_t* v, const char* name) {
  for (uint32_t i = 1; i < v->nsyms; ++i) {
    if (sym_matches(v, i, name)) return (void*)(v->base + v->symtab[i].st_value);
  }
  return 0;
}

void* rig_vdso_sym(const rig_vdso_t* v, const char* name) {
  if (v->method == RIG_VDSO_GNU_HASH) return lookup_gnu(v, name);
  if (v->method == RIG_VDSO_SYSV_HASH) return lookup_sysv(v, name);
  if (v->method == RIG_VDSO_SCAN) return lookup_scan(v, name);
  return 0;
}

const char* rig_vdso_variant(const char* vmo_name) {
  if (vmo_name == 0) return "unknown";
  if (rig_strcmp(vmo_name, "vdso/next") == 0) return "next";
  if (rig_strcmp(vmo_name, "vdso/stable") == 0 || rig_strcmp(vmo_name, "vdso/full") == 0) {
    return "stable";
  }
  return "unknown";
}
