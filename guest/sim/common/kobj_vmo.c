// VMO syscalls: creation, children, read/write, op_range, size, and read-only VMOs over
// platform bytes. The pager semantics of each operation are in pager.c.
#include "kobj_internal.h"

#define P PAGE_SIZE_BYTES

#define VMO_RIGHTS                                                                           \
  (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_READ | \
   ZX_RIGHT_WRITE | ZX_RIGHT_MAP | ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY |            \
   ZX_RIGHT_SIGNAL)
#define BYTES_VMO_RIGHTS                                                                      \
  (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_READ | \
   ZX_RIGHT_EXECUTE | ZX_RIGHT_MAP | ZX_RIGHT_GET_PROPERTY)

zx_status_t kobj_vmo_make(uint64_t size_bytes, uint32_t options, zx_rights_t rights,
                          kobj_t** obj, zx_handle_t* out);

static int in_range(uint64_t off, uint64_t len, uint64_t size) {
  uint64_t end = off + len;
  if (end < off) return 0;
  return end <= size;
}

static int round_size(uint64_t size, uint64_t* out) {
  if (size > UINT64_MAX - (P - 1u)) return 0;
  *out = (size + P - 1u) & ~(P - 1u);
  return 1;
}

static int out_ok(zx_handle_t* out) { return out != NULL && sim_user_ok(out, sizeof(*out)); }

zx_status_t sys_zx_vmo_create(uint64_t size, uint32_t options, zx_handle_t* out) {
  uint32_t allowed = ZX_VMO_RESIZABLE | ZX_VMO_DISCARDABLE |
                     (kobj_profile == SIM_PROFILE_2024 ? ZX_VMO_UNBOUNDED : 0);
  if (options & ~allowed) return ZX_ERR_INVALID_ARGS;  // TRAP_DIRTY included (SimpleTrapDirty)
  uint64_t rounded;
  if (!round_size(size, &rounded)) return ZX_ERR_OUT_OF_RANGE;
  if (!out_ok(out)) return ZX_ERR_INVALID_ARGS;
  kobj_t* o;
  zx_handle_t h;
  zx_status_t st = kobj_vmo_make(rounded, options & ZX_VMO_RESIZABLE, VMO_RIGHTS, &o, &h);
  if (st != ZX_OK) return st;
  *out = h;
  return ZX_OK;
}

zx_status_t kobj_vmo_new_from_bytes(const void* data, uint64_t size, const char* name,
                                    zx_handle_t* out) {
  uint64_t rounded;
  if (!round_size(size, &rounded) || out == NULL) return ZX_ERR_INVALID_ARGS;
  kobj_t* o;
  zx_handle_t h;
  zx_status_t st = kobj_vmo_make(rounded, 0, BYTES_VMO_RIGHTS, &o, &h);
  if (st != ZX_OK) return st;
  o->u.vmo.bytes = (const uint8_t*)data;
  o->u.vmo.bytes_len = size;
  if (name != NULL) {
    for (uint32_t i = 0; i + 1u < ZX_MAX_NAME_LEN && name[i] != '\0'; i++)
      o->u.vmo.name[i] = name[i];
  }
  *out = h;
  return ZX_OK;
}

zx_status_t sys_zx_vmo_create_child(zx_handle_t vmo, uint32_t options, uint64_t offset,
                                    uint64_t size, zx_handle_t* out) {
  // sys_vmo_create_child: the size is rounded and NO_WRITE|RESIZABLE refused before the lookup.
  uint64_t rounded;
  if (!round_size(size, &rounded)) return ZX_ERR_OUT_OF_RANGE;
  if ((options & ZX_VMO_CHILD_NO_WRITE) && (options & ZX_VMO_CHILD_RESIZABLE))
    return ZX_ERR_INVALID_ARGS;
  kobj_t* parent;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, ZX_RIGHT_DUPLICATE | ZX_RIGHT_READ, &parent);
  if (st != ZX_OK) return st;
  uint32_t kind = options & (ZX_VMO_CHILD_SLICE | ZX_VMO_CHILD_SNAPSHOT |
                             ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE | ZX_VMO_CHILD_REFERENCE);
  uint32_t extra = options & ~kind;
  if (extra & ~(ZX_VMO_CHILD_RESIZABLE | ZX_VMO_CHILD_NO_WRITE)) return ZX_ERR_INVALID_ARGS;
  kobj_vmo_t* pv = &parent->u.vmo;
  int slice = kind == ZX_VMO_CHILD_SLICE;
  int clone = kind == ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE ||
              (kind == ZX_VMO_CHILD_SNAPSHOT && !pv->pager_backed);
  if (!slice && !clone) return ZX_ERR_NOT_SUPPORTED;
  if (pv->bytes != NULL || pv->parent != NULL) return ZX_ERR_NOT_SUPPORTED;  // not needed
  if (slice) {
    // VmObjectPaged::CreateChildSlice refuses resizable parents; slices are page aligned and
    // inside the parent.
    if (pv->options & ZX_VMO_RESIZABLE) return ZX_ERR_NOT_SUPPORTED;
    if (extra & ZX_VMO_CHILD_RESIZABLE) return ZX_ERR_INVALID_ARGS;
    if ((offset | size) & (P - 1u)) return ZX_ERR_INVALID_ARGS;
    if (!in_range(offset, size, pv->size_bytes)) return ZX_ERR_INVALID_ARGS;
    rounded = size;
  } else if (offset & (P - 1u)) {
    return ZX_ERR_INVALID_ARGS;
  }
  if (!out_ok(out)) return ZX_ERR_INVALID_ARGS;
  kobj_t* o;
  zx_handle_t h;
  uint32_t child_options = (extra & ZX_VMO_CHILD_RESIZABLE) ? ZX_VMO_RESIZABLE : 0;
  zx_rights_t rights = VMO_RIGHTS;
  if (extra & ZX_VMO_CHILD_NO_WRITE) rights &= ~ZX_RIGHT_WRITE;
  st = kobj_vmo_make(rounded, child_options, rights, &o, &h);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  v->parent = parent;
  kobj_ref(parent);
  v->parent_offset = offset;
  v->is_slice = slice;
  v->is_clone = clone;
  *out = h;
  return ZX_OK;
}

// A clone's own pages are PG_CLEAN (written or committed in the clone); every other page reads
// through to the parent at the same offset (snapshot-at-least-on-write of a pager VMO: the
// parent's later changes show through where the clone has not written).
static zx_status_t clone_read(kobj_t* o, zx_handle_t h, uint8_t* buf, uint64_t off, size_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  kobj_t* parent = v->parent;
  uint64_t psize = parent->u.vmo.size_bytes;
  uint64_t done = 0;
  while (done < len) {
    uint64_t at = off + done;
    uint64_t n = P - (at & (P - 1u));
    if (n > len - done) n = len - done;
    uint64_t pat = at + v->parent_offset;
    if (pages_get(o, at >> PAGE_SHIFT) == PG_CLEAN) {
      for (uint64_t i = 0; i < n; i++) buf[done + i] = (uint8_t)(((at + i) & 0xfeu) | 1u);
    } else if (pat >= at && in_range(pat, n, psize)) {
      zx_status_t st = pager_vmo_read(parent, h, buf + done, pat, (size_t)n);
      if (st != ZX_OK) return st;
    } else {
      kobj_memset(buf + done, 0, (size_t)n);  // past the parent: zero
    }
    done += n;
  }
  return ZX_OK;
}

zx_status_t sys_zx_vmo_read(zx_handle_t vmo, void* buffer, uint64_t offset, size_t buffer_size) {
  kobj_t* o;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, ZX_RIGHT_READ, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  if (v->bytes != NULL) {
    if (!in_range(offset, buffer_size, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    if (buffer_size == 0) return ZX_OK;
    if (buffer == NULL || !sim_user_ok(buffer, buffer_size)) return ZX_ERR_INVALID_ARGS;
    uint8_t* b = (uint8_t*)buffer;
    for (uint64_t i = 0; i < buffer_size; i++) {
      uint64_t at = offset + i;
      b[i] = at < v->bytes_len ? v->bytes[at] : 0;
    }
    return ZX_OK;
  }
  if (v->is_slice) {
    if (!in_range(offset, buffer_size, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    return pager_vmo_read(v->parent, vmo, buffer, offset + v->parent_offset, buffer_size);
  }
  if (v->is_clone) {
    if (!in_range(offset, buffer_size, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    if (buffer_size == 0) return ZX_OK;
    if (buffer == NULL || !sim_user_ok(buffer, buffer_size)) return ZX_ERR_INVALID_ARGS;
    return clone_read(o, vmo, (uint8_t*)buffer, offset, buffer_size);
  }
  return pager_vmo_read(o, vmo, buffer, offset, buffer_size);
}

// Writing a clone copies the parent's pages first (so an unsupplied parent page blocks on a
// READ request), then the pages are the clone's own; the parent never becomes dirty.
static zx_status_t clone_write(kobj_t* o, zx_handle_t h, const void* buf, uint64_t off,
                               size_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  if (!in_range(off, len, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  if (len == 0) return ZX_OK;
  if (buf == NULL || !sim_user_ok(buf, len)) return ZX_ERR_INVALID_ARGS;
  uint64_t first = off >> PAGE_SHIFT;
  uint64_t last = off + len;
  uint64_t end = (last >> PAGE_SHIFT) + ((last & (P - 1u)) != 0);
  kobj_t* parent = v->parent;
  kobj_vmo_t* pv = &parent->u.vmo;
  for (uint64_t p = first; p < end; p++) {
    if (pages_get(o, p) == PG_CLEAN) continue;
    uint64_t pat = (p << PAGE_SHIFT) + v->parent_offset;
    if (!pv->pager_backed || !in_range(pat, P, pv->size_bytes)) continue;
    if (pages_get(parent, pat >> PAGE_SHIFT) == PG_ABSENT) {
      if (pv->detached) return ZX_ERR_BAD_STATE;
      uint8_t probe;
      zx_status_t st = pager_vmo_read(parent, h, &probe, pat, 1);
      if (st != ZX_OK) return st;
    }
  }
  return pages_assign(o, first, end, PG_CLEAN);
}

zx_status_t sys_zx_vmo_write(zx_handle_t vmo, const void* buffer, uint64_t offset,
                             size_t buffer_size) {
  kobj_t* o;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, ZX_RIGHT_WRITE, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  if (v->bytes != NULL) return ZX_ERR_ACCESS_DENIED;
  if (v->is_slice) {
    if (!in_range(offset, buffer_size, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    return pager_vmo_write(v->parent, vmo, buffer, offset + v->parent_offset, buffer_size);
  }
  if (v->is_clone) return clone_write(o, vmo, buffer, offset, buffer_size);
  return pager_vmo_write(o, vmo, buffer, offset, buffer_size);
}

zx_status_t sys_zx_vmo_op_range(zx_handle_t vmo, uint32_t op, uint64_t offset, uint64_t size,
                                void* buffer, size_t buffer_size) {
  (void)buffer;
  (void)buffer_size;
  kobj_t* o;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, 0, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  zx_rights_t rights = kobj_handle_rights(vmo);
  switch (op) {
    case ZX_VMO_OP_COMMIT:
    case ZX_VMO_OP_ZERO:
    case ZX_VMO_OP_DECOMMIT:
      if (!(rights & ZX_RIGHT_WRITE)) return ZX_ERR_ACCESS_DENIED;
      break;
    case ZX_VMO_OP_CACHE_SYNC:
    case ZX_VMO_OP_CACHE_INVALIDATE:
    case ZX_VMO_OP_CACHE_CLEAN:
    case ZX_VMO_OP_CACHE_CLEAN_INVALIDATE:
    case ZX_VMO_OP_DONT_NEED:
    case ZX_VMO_OP_ALWAYS_NEED:
    case ZX_VMO_OP_PREFETCH:
      if (!(rights & (ZX_RIGHT_READ | ZX_RIGHT_WRITE))) return ZX_ERR_ACCESS_DENIED;
      return in_range(offset, size, v->size_bytes) ? ZX_OK : ZX_ERR_OUT_OF_RANGE;
    default:
      return ZX_ERR_NOT_SUPPORTED;
  }
  if (v->bytes != NULL) return ZX_ERR_NOT_SUPPORTED;
  kobj_t* target = o;
  if (v->is_slice) {
    if (!in_range(offset, size, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    target = v->parent;
    offset += v->parent_offset;
  }
  if (op == ZX_VMO_OP_DECOMMIT) {
    if (target->u.vmo.pager_backed) return ZX_ERR_NOT_SUPPORTED;
    if (!in_range(offset, size, target->u.vmo.size_bytes)) return ZX_ERR_OUT_OF_RANGE;
    uint64_t first = (offset + P - 1u) >> PAGE_SHIFT, end = (offset + size) >> PAGE_SHIFT;
    return first < end ? pages_assign(target, first, end, PG_ABSENT) : ZX_OK;
  }
  if (op == ZX_VMO_OP_COMMIT) return pager_vmo_commit(target, vmo, offset, size);
  return pager_vmo_zero(target, vmo, offset, size);
}

zx_status_t sys_zx_vmo_get_size(zx_handle_t vmo, uint64_t* size) {
  kobj_t* o;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, 0, &o);
  if (st != ZX_OK) return st;
  return kobj_copy_out(size, &o->u.vmo.size_bytes, sizeof(*size));
}

zx_status_t sys_zx_vmo_set_size(zx_handle_t vmo, uint64_t size) {
  kobj_t* o;
  zx_status_t st = kobj_get(vmo, KOBJ_VMO, ZX_RIGHT_WRITE, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  // sys_vmo_set_size (mist-os): RESIZE is checked only on resizable VMOs; the others fail with
  // ZX_ERR_UNAVAILABLE "for backwards compatibility". Older kernels check WRITE only.
  if (kobj_profile == SIM_PROFILE_2024 && (v->options & ZX_VMO_RESIZABLE) &&
      !(kobj_handle_rights(vmo) & ZX_RIGHT_RESIZE))
    return ZX_ERR_ACCESS_DENIED;
  if (!(v->options & ZX_VMO_RESIZABLE) || v->bytes != NULL || v->is_slice)
    return ZX_ERR_UNAVAILABLE;
  uint64_t rounded;
  if (!round_size(size, &rounded)) return ZX_ERR_OUT_OF_RANGE;
  return pager_vmo_resize(o, rounded);
}
