// Self-relocation of the static PIE (pure: no syscalls, no globals; runs before anything else).
//
// lld emits DT_RELR for the Fuchsia triples (facts 7). Relocations RELR cannot express (odd
// addresses), or a link with --pack-dyn-relocs=none, land in DT_REL (clang's Fuchsia driver
// passes lld `-z rel`: the addend is in place) or DT_RELA (`-z rela`); R_*_RELATIVE is applied
// from either.
#include "rig_internal.h"

#include "rig_arch.h"

size_t rig_apply_relocs(uintptr_t base, const rig_elf64_dyn_t* dyn) {
  uint64_t rela = 0, relasz = 0, relaent = sizeof(rig_elf64_rela_t);
  uint64_t rel = 0, relsz = 0, relent = sizeof(rig_elf64_rel_t);
  uint64_t relr = 0, relrsz = 0;
  // if-chains, not a switch: a jump table would be data we have not relocated yet.
  for (; dyn->d_tag != RIG_DT_NULL; ++dyn) {
    if (dyn->d_tag == RIG_DT_RELA) rela = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELASZ) relasz = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELAENT) relaent = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_REL) rel = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELSZ) relsz = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELENT) relent = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELR) relr = dyn->d_val;
    else if (dyn->d_tag == RIG_DT_RELRSZ) relrsz = dyn->d_val;
  }

  size_t unhandled = 0;
  if (rela != 0 && relaent >= sizeof(rig_elf64_rela_t)) {
    for (uint64_t off = 0; off + sizeof(rig_elf64_rela_t) <= relasz; off += relaent) {
      const rig_elf64_rela_t* r = (const rig_elf64_rela_t*)(base + rela + off);
      if ((uint32_t)r->r_info == RIG_R_RELATIVE) {
        uint64_t v = (uint64_t)base + (uint64_t)r->r_addend;
        unsigned char* where = (unsigned char*)(base + r->r_offset);
        for (int i = 0; i < 8; ++i, v >>= 8) where[i] = (unsigned char)v;
      } else {
        ++unhandled;
      }
    }
  }

  if (rel != 0 && relent >= sizeof(rig_elf64_rel_t)) {
    for (uint64_t off = 0; off + sizeof(rig_elf64_rel_t) <= relsz; off += relent) {
      const rig_elf64_rel_t* r = (const rig_elf64_rel_t*)(base + rel + off);
      if ((uint32_t)r->r_info == RIG_R_RELATIVE) {
        // Byte-wise: REL keeps the relocations RELR cannot, which are the unaligned ones.
        unsigned char* where = (unsigned char*)(base + r->r_offset);
        uint64_t v = 0;
        for (int i = 7; i >= 0; --i) v = (v << 8) | where[i];
        v += (uint64_t)base;
        for (int i = 0; i < 8; ++i, v >>= 8) where[i] = (unsigned char)v;
      } else {
        ++unhandled;
      }
    }
  }

  if (relr != 0) {
    // Each even word is an address to relocate; each odd word is a bitmap of the 63 words
    // following the last address (bit i set: relocate word i-1).
    const uint64_t* p = (const uint64_t*)(base + relr);
    const uint64_t* end = (const uint64_t*)(base + relr + relrsz);
    uint64_t* where = 0;
    for (; p < end; ++p) {
      uint64_t entry = *p;
      if ((entry & 1u) == 0) {
        where = (uint64_t*)(base + entry);
        *where++ += base;
      } else {
        uint64_t* w = where;
        for (entry >>= 1; entry != 0; entry >>= 1, ++w) {
          if (entry & 1u) *w += base;
        }
        where += 63;
      }
    }
  }
  return unhandled;
}
