// The pager semantics of every ABI profile, as a plain per-page executable specification.
//
// Each page of a VMO has one state (pg_state_t, kobj_internal.h); every operation below says,
// page by page, which states it looks at and what each becomes, in the order the reference
// model (rig/model, docs/model.md) and its Fuchsia sources check things. Profiles:
//   2020: no dirty tracking (no TRAP_DIRTY, ops 2..4 NOT_SUPPORTED, no query/stats syscalls);
//   2022: E1 "tail" model: supply_zero_offset_ (szo) and awaiting_clean_zero_range_end_ (aczre)
//         kept as the E1 VmCowPages keeps them; no rights checks on pager syscalls;
//   2024: E2 zero intervals (a zero interval is a maximal run of PG_ZERO/PG_ZERO_AWAITING
//         pages), rights checks, BAD_STATE after detach.
// Page contents are not stored: a read fills the buffer with zeros for a page that reads as
// zero (marker, dirty zero, uncommitted plain page) and with a fixed non-zero pattern otherwise.
#include "kobj_internal.h"

#define P PAGE_SIZE_BYTES

static int is2020(void) { return kobj_profile == SIM_PROFILE_2020; }
static int is2022(void) { return kobj_profile == SIM_PROFILE_2022; }
static int is2024(void) { return kobj_profile == SIM_PROFILE_2024; }

static uint64_t size_pages(const kobj_t* o) { return o->u.vmo.size_bytes >> PAGE_SHIFT; }

// range_check.h InRange: no overflow, offset + len <= size.
static int in_range(uint64_t off, uint64_t len, uint64_t size) {
  uint64_t end = off + len;
  if (end < off) return 0;
  return end <= size;
}

// range_check.h TrimRange: fails on overflow or off > size, else the length clipped to size.
static int trim_range(uint64_t off, uint64_t len, uint64_t size, uint64_t* out) {
  uint64_t end = off + len;
  if (end < off || off > size) return 0;
  *out = len < size - off ? len : size - off;
  return 1;
}

// The pages touched by bytes [off, off+len) (no overflow: the caller checked the range).
static void pages_of(uint64_t off, uint64_t len, uint64_t* first, uint64_t* end) {
  uint64_t last = off + len;
  *first = off >> PAGE_SHIFT;
  *end = (last >> PAGE_SHIFT) + ((last & (P - 1u)) != 0);
}

#define ALL_BUT(s) (PG_SET_ALL & ~PG_BIT(s))

// ---- Page requests ---------------------------------------------------------------------------
// A request stays pending on its VMO until pages satisfy it (supply, op_dirty), it is failed
// (op_fail) or the VMO is detached; the packet is queued once per pending request, as the
// kernel queues a request's packet once. A later second thread blocked on it would be resumed
// when its record goes away.

static zx_status_t block_on(kobj_t* o, zx_handle_t h, uint16_t command, uint64_t first,
                            uint64_t end) {
  kobj_vmo_t* v = &o->u.vmo;
  uint64_t off = first << PAGE_SHIFT, len = (end - first) << PAGE_SHIFT;
  kobj_set_blocked(h, command, off, len);
  for (uint32_t i = 0; i < KOBJ_VMO_PENDING; i++) {
    kobj_request_t* r = &v->pending[i];
    if (r->used && r->command == command && r->offset == off && r->length == len)
      return SIM_ERR_WOULD_BLOCK;
  }
  for (uint32_t i = 0; i < KOBJ_VMO_PENDING; i++) {
    kobj_request_t* r = &v->pending[i];
    if (r->used) continue;
    r->used = 1;
    r->command = command;
    r->offset = off;
    r->length = len;
    break;
  }
  if (v->port != NULL) {
    zx_port_packet_t pkt;
    kobj_memset(&pkt, 0, sizeof(pkt));
    pkt.key = v->key;
    pkt.type = ZX_PKT_TYPE_PAGE_REQUEST;
    pkt.status = ZX_OK;
    pkt.page_request.command = command;
    pkt.page_request.offset = off;
    pkt.page_request.length = len;
    (void)kobj_port_queue(v->port, &pkt);
  }
  return SIM_ERR_WOULD_BLOCK;
}

// Drop pending requests of `command` (or every command when all_commands) overlapping the
// byte range.
static void resolve(kobj_t* o, int all_commands, uint16_t command, uint64_t off, uint64_t len) {
  for (uint32_t i = 0; i < KOBJ_VMO_PENDING; i++) {
    kobj_request_t* r = &o->u.vmo.pending[i];
    if (!r->used || (!all_commands && r->command != command)) continue;
    if (r->offset < off + len && off < r->offset + r->length) r->used = 0;
  }
}

// An access to [first, end) needs every page supplied: the first unsupplied run blocks on a
// READ request, or fails with BAD_STATE once the VMO is detached. ZX_OK when all are there.
static zx_status_t need_supplied(kobj_t* o, zx_handle_t h, uint64_t first, uint64_t end) {
  uint64_t p = pages_find(o, first, end, PG_BIT(PG_ABSENT));
  if (p == end) return ZX_OK;
  if (o->u.vmo.detached) return ZX_ERR_BAD_STATE;  // the fault fails (page_source.cc)
  return block_on(o, h, ZX_PAGER_VMO_READ, p, pages_find(o, p, end, ALL_BUT(PG_ABSENT)));
}

// Under ZX_VMO_TRAP_DIRTY, making a page Dirty that is not in `ok` waits for a DIRTY request.
static zx_status_t need_dirty_ok(kobj_t* o, zx_handle_t h, uint64_t first, uint64_t end,
                                 uint32_t ok) {
  if (!(o->u.vmo.options & ZX_VMO_TRAP_DIRTY) || is2020()) return ZX_OK;
  uint64_t p = pages_find(o, first, end, PG_SET_ALL & ~ok);
  if (p == end) return ZX_OK;
  pg_state_t s = pages_get(o, p);
  return block_on(o, h, ZX_PAGER_VMO_DIRTY, p, pages_find(o, p, end, ALL_BUT(s)));
}

// ---- E1 (2022) bookkeeping: vm_cow_pages.h UpdateSupplyZeroOffsetLocked and
// ConsiderTrimAwaitingCleanZeroRangeLocked.
static void update_szo(kobj_vmo_t* v, uint64_t new_szo) {
  uint64_t prev = v->szo;
  v->szo = new_szo;
  if (v->aczre != 0 && !(prev <= new_szo && new_szo < v->aczre)) v->aczre = 0;
}

static void consider_trim_aczre(kobj_vmo_t* v, uint64_t end) {
  if (v->aczre != 0 && v->szo <= end && end < v->aczre) v->aczre = (end == v->szo) ? 0 : end;
}

// ---- Contents --------------------------------------------------------------------------------

static int reads_zero(pg_state_t s, int pager_backed) {
  if (!pager_backed) return s == PG_ABSENT;
  return (PG_SET_READS_ZERO & PG_BIT(s)) != 0;
}

// Fill buf with what bytes [off, off+len) of the VMO read as.
static void fill_contents(const kobj_t* o, uint8_t* buf, uint64_t off, uint64_t len) {
  uint64_t done = 0;
  while (done < len) {
    uint64_t at = off + done;
    uint64_t page = at >> PAGE_SHIFT;
    uint64_t n = P - (at & (P - 1u));
    if (n > len - done) n = len - done;
    if (reads_zero(pages_get(o, page), o->u.vmo.pager_backed)) {
      kobj_memset(buf + done, 0, (size_t)n);
    } else {
      for (uint64_t i = 0; i < n; i++) buf[done + i] = (uint8_t)(((at + i) & 0xfeu) | 1u);
    }
    done += n;
  }
}

// ---- Reads and writes (zx_vmo_read / zx_vmo_write on a pager-backed or plain VMO) ------------

zx_status_t pager_vmo_read(kobj_t* o, zx_handle_t h, void* buf, uint64_t off, size_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  if (!in_range(off, len, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  if (len == 0) return ZX_OK;
  uint64_t first, end;
  pages_of(off, len, &first, &end);
  if (v->pager_backed) {
    zx_status_t st = need_supplied(o, h, first, end);
    if (st != ZX_OK) return st;
  }
  if (buf == NULL || !sim_user_ok(buf, len)) return ZX_ERR_INVALID_ARGS;
  fill_contents(o, (uint8_t*)buf, off, len);
  return ZX_OK;
}

zx_status_t pager_vmo_write(kobj_t* o, zx_handle_t h, const void* buf, uint64_t off,
                            size_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  if (!in_range(off, len, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  if (len == 0) return ZX_OK;
  uint64_t first, end;
  pages_of(off, len, &first, &end);
  if (!v->pager_backed) {
    if (buf == NULL || !sim_user_ok(buf, len)) return ZX_ERR_INVALID_ARGS;
    return pages_assign(o, first, end, PG_CLEAN);  // committed, non-zero
  }
  zx_status_t st = need_supplied(o, h, first, end);
  if (st != ZX_OK) return st;
  int trap = (v->options & ZX_VMO_TRAP_DIRTY) && !is2020();
  if (trap && v->detached && pages_find(o, first, end, ALL_BUT(PG_DIRTY)) != end)
    return ZX_ERR_BAD_STATE;  // a DIRTY request on a detached source fails
  st = need_dirty_ok(o, h, first, end, PG_BIT(PG_DIRTY));
  if (st != ZX_OK) return st;
  if (buf == NULL || !sim_user_ok(buf, len)) return ZX_ERR_INVALID_ARGS;
  st = pages_assign(o, first, end, PG_DIRTY);
  if (st != ZX_OK) return st;
  v->modified = 1;
  return ZX_OK;
}

// ---- ZX_VMO_OP_COMMIT ------------------------------------------------------------------------

// The byte length COMMIT/OP_ZERO act on: 2024 checks InRange (mist-os vm_object_paged.cc
// @053a4beb), older kernels trim the range to the VMO size (TrimRange). 0: OUT_OF_RANGE.
static int bounded_length(const kobj_vmo_t* v, uint64_t off, uint64_t len, uint64_t* out) {
  if (is2024()) {
    if (!in_range(off, len, v->size_bytes)) return 0;
    *out = len;
    return 1;
  }
  return trim_range(off, len, v->size_bytes, out);
}

zx_status_t pager_vmo_commit(kobj_t* o, zx_handle_t h, uint64_t off, uint64_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  // Rounded out to whole pages first (OUT_OF_RANGE when that overflows).
  uint64_t end_byte = off + len;
  if (end_byte < off || end_byte > UINT64_MAX - (P - 1u)) return ZX_ERR_OUT_OF_RANGE;
  uint64_t end_page_byte = (end_byte + P - 1u) & ~(P - 1u);
  uint64_t first_byte = off & ~(P - 1u);
  uint64_t span;
  if (!bounded_length(v, first_byte, end_page_byte - first_byte, &span))
    return ZX_ERR_OUT_OF_RANGE;
  if (span == 0) return ZX_OK;
  uint64_t first = first_byte >> PAGE_SHIFT, end = (first_byte + span) >> PAGE_SHIFT;
  if (!v->pager_backed) {
    uint8_t map[PG_NSTATES] = {PG_CLEAN, PG_CLEAN, PG_MARKER, PG_DIRTY, PG_AWAITING, PG_ZERO,
                               PG_ZERO_AWAITING};
    return pages_map(o, first, end, map);
  }
  zx_status_t st = need_supplied(o, h, first, end);
  if (st != ZX_OK) return st;
  // Committing a dirty zero page makes a Dirty page: under TRAP_DIRTY a DIRTY request (E1
  // LookupPagesLocked; conservative for E2, as the model).
  st = need_dirty_ok(o, h, first, end, PG_SET_ALL & ~PG_SET_ZERO);
  if (st != ZX_OK) return st;
  // Per page: dirty zero -> Dirty (non-zero range); marker -> Clean page; others stay.
  uint8_t map[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_CLEAN, PG_DIRTY, PG_AWAITING, PG_DIRTY,
                             PG_DIRTY};
  return pages_map(o, first, end, map);
}

// ---- ZX_VMO_OP_ZERO --------------------------------------------------------------------------

zx_status_t pager_vmo_zero(kobj_t* o, zx_handle_t h, uint64_t off, uint64_t len) {
  kobj_vmo_t* v = &o->u.vmo;
  uint64_t length;
  if (!bounded_length(v, off, len, &length)) return ZX_ERR_OUT_OF_RANGE;
  if (length == 0) return ZX_OK;
  uint64_t first, end;
  pages_of(off, length, &first, &end);
  uint64_t whole_first = (off >> PAGE_SHIFT) + ((off & (P - 1u)) != 0);
  uint64_t whole_end = (off + length) >> PAGE_SHIFT;
  int have_whole = whole_first < whole_end;
  // The partial pages: the first and last page touched unless they are whole.
  uint64_t partial[2];
  int npartial = 0;
  if (!(have_whole && first >= whole_first && first < whole_end)) partial[npartial++] = first;
  if (end - 1u != first && !(have_whole && end - 1u >= whole_first && end - 1u < whole_end))
    partial[npartial++] = end - 1u;

  if (!v->pager_backed) {
    // A plain VMO: whole pages are decommitted (read as zero), partial ones stay as they are.
    if (have_whole) return pages_assign(o, whole_first, whole_end, PG_ABSENT);
    return ZX_OK;
  }
  zx_status_t st;
  if (is2020()) {
    // Not measured on a real 2020 kernel: a plain write of zeroes (as the model).
    st = need_supplied(o, h, first, end);
    if (st != ZX_OK) return st;
    st = pages_assign(o, first, end, PG_DIRTY);
    if (st != ZX_OK) return st;
    v->modified = 1;
    return ZX_OK;
  }
  // Checks first, nothing changes until they all pass.
  // Partial pages are written with zeroes unless they already read as zero
  // (VmObjectPaged::ZeroPartialPage, PageWouldReadZeroLocked).
  for (int i = 0; i < npartial; i++) {
    uint64_t p = partial[i];
    pg_state_t s = pages_get(o, p);
    if (PG_SET_READS_ZERO & PG_BIT(s)) continue;
    st = need_supplied(o, h, p, p + 1u);
    if (st != ZX_OK) return st;
    st = need_dirty_ok(o, h, p, p + 1u, PG_BIT(PG_DIRTY));
    if (st != ZX_OK) return st;
  }
  if (have_whole && is2022() && whole_end < v->szo) {
    // E1 below supply_zero_offset_: the pages are looked up for write and zeroed in place.
    st = need_supplied(o, h, whole_first, whole_end);
    if (st != ZX_OK) return st;
    st = need_dirty_ok(o, h, whole_first, whole_end, PG_BIT(PG_DIRTY) | PG_BIT(PG_MARKER));
    if (st != ZX_OK) return st;
  }
  // Room: each partial page can need one entry; the whole-page change below is all or nothing
  // (pages_map), so a full table leaves at most the partial pages zeroed, never a broken map.
  if (pages_free() < (uint32_t)npartial) return ZX_ERR_NO_MEMORY;
  // Apply. modified only when something was zeroed: whole pages, or a partial page written
  // (ZeroRange marks the VMO once whole pages were processed; ZeroPartialPage returns before
  // writing a page that reads as zero).
  int modified = have_whole;
  for (int i = 0; i < npartial; i++) {
    uint64_t p = partial[i];
    if (PG_SET_READS_ZERO & PG_BIT(pages_get(o, p))) continue;
    st = pages_assign(o, p, p + 1u, PG_DIRTY);
    if (st != ZX_OK) return st;
    modified = 1;
  }
  if (have_whole) {
    if (is2024()) {
      // Whole pages become a dirty zero interval with no page request, even under TRAP_DIRTY;
      // markers and AwaitingClean interval pages already read as zero and stay
      // (VmCowPages::ZeroPagesPreservingContentLocked).
      uint8_t map[PG_NSTATES] = {PG_ZERO, PG_ZERO, PG_MARKER, PG_ZERO, PG_ZERO, PG_ZERO,
                                 PG_ZERO_AWAITING};
      st = pages_map(o, whole_first, whole_end, map);
    } else if (whole_first < v->szo && v->szo <= whole_end) {
      // E1b ZeroPagesLocked: the range reaches the tail start, which moves down to it.
      st = pages_assign(o, whole_first, whole_end, PG_ZERO);
      if (st == ZX_OK) update_szo(v, whole_first);
    } else if (v->szo <= whole_first) {
      st = pages_assign(o, whole_first, whole_end, PG_ZERO);
    } else {
      // Below the tail: zero pages committed in place (non-zero dirty); markers stay.
      uint8_t map[PG_NSTATES] = {PG_DIRTY, PG_DIRTY, PG_MARKER, PG_DIRTY, PG_DIRTY, PG_DIRTY,
                                 PG_DIRTY};
      st = pages_map(o, whole_first, whole_end, map);
    }
    if (st != ZX_OK) return st;
  }
  if (modified) v->modified = 1;
  return ZX_OK;
}

// ---- zx_vmo_set_size -------------------------------------------------------------------------

zx_status_t pager_vmo_resize(kobj_t* o, uint64_t new_size_bytes) {
  kobj_vmo_t* v = &o->u.vmo;
  uint64_t new_pages = new_size_bytes >> PAGE_SHIFT;
  uint64_t old_pages = size_pages(o);
  if (new_pages < old_pages) {
    if (v->pager_backed && is2022()) {
      if (new_pages < v->szo) {
        update_szo(v, new_pages);
      } else {
        consider_trim_aczre(v, new_pages);
      }
    }
    pages_drop_from(o, new_pages);
    if (v->zero_from > new_pages && v->zero_from != UINT64_MAX) v->zero_from = new_pages;
  }
  // Growing: the new pages have no entries; on 2022/2024 they are dirty zero (zero_from and
  // tail_state say so), on 2020 and for plain VMOs zero_from is UINT64_MAX and they are
  // absent (not supplied / not committed).
  if (new_pages > old_pages && v->zero_from != UINT64_MAX && v->tail_state != PG_ZERO) {
    zx_status_t st = pages_set_tail(o, old_pages, PG_ZERO);
    if (st != ZX_OK) return st;
  }
  v->size_bytes = new_size_bytes;
  if (v->pager_backed) v->modified = 1;
  return ZX_OK;
}

void pager_vmo_destroy(kobj_t* o) { (void)o; }

// ---- Pager syscalls --------------------------------------------------------------------------

#define PAGER_RIGHTS \
  (ZX_RIGHT_TRANSFER | ZX_RIGHT_INSPECT | ZX_RIGHT_ATTACH_VMO | ZX_RIGHT_MANAGE_VMO)
#define VMO_RIGHTS                                                                           \
  (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_READ | \
   ZX_RIGHT_WRITE | ZX_RIGHT_MAP | ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY |            \
   ZX_RIGHT_SIGNAL)

zx_status_t sys_zx_pager_create(uint32_t options, zx_handle_t* out) {
  if (options != 0) return ZX_ERR_INVALID_ARGS;
  if (out == NULL || !sim_user_ok(out, sizeof(*out))) return ZX_ERR_INVALID_ARGS;
  kobj_t* o = kobj_alloc(KOBJ_PAGER);
  if (o == NULL) return ZX_ERR_NO_MEMORY;
  zx_handle_t h;
  zx_status_t st = kobj_handle_make(o, PAGER_RIGHTS, &h);
  if (st != ZX_OK) {
    o->type = KOBJ_NONE;
    return st;
  }
  *out = h;
  return ZX_OK;
}

// A size rounded up to whole pages; 0 when that overflows.
static int round_size(uint64_t size, uint64_t* out) {
  if (size > UINT64_MAX - (P - 1u)) return 0;
  *out = (size + P - 1u) & ~(P - 1u);
  return 1;
}

zx_status_t kobj_vmo_make(uint64_t size_bytes, uint32_t options, zx_rights_t rights,
                          kobj_t** obj, zx_handle_t* out);
zx_status_t kobj_vmo_make(uint64_t size_bytes, uint32_t options, zx_rights_t rights,
                          kobj_t** obj, zx_handle_t* out) {
  kobj_t* o = kobj_alloc(KOBJ_VMO);
  if (o == NULL) return ZX_ERR_NO_MEMORY;
  kobj_vmo_t* v = &o->u.vmo;
  v->size_bytes = size_bytes;
  v->options = options;
  v->zero_from = UINT64_MAX;
  if (options & ZX_VMO_RESIZABLE) rights |= ZX_RIGHT_RESIZE;
  zx_status_t st = kobj_handle_make(o, rights, out);
  if (st != ZX_OK) {
    o->type = KOBJ_NONE;
    return st;
  }
  *obj = o;
  return ZX_OK;
}

zx_status_t sys_zx_pager_create_vmo(zx_handle_t pager, uint32_t options, zx_handle_t port,
                                    uint64_t key, uint64_t size, zx_handle_t* out) {
  kobj_t* pg;
  kobj_t* po;
  zx_status_t st = kobj_get(pager, KOBJ_PAGER, is2024() ? ZX_RIGHT_ATTACH_VMO : 0, &pg);
  if (st != ZX_OK) return st;
  st = kobj_get(port, KOBJ_PORT, ZX_RIGHT_WRITE, &po);
  if (st != ZX_OK) return st;
  // TRAP_DIRTY goes to the page source (2020 did not know it); the rest is checked by VMO
  // creation.
  if ((options & ZX_VMO_TRAP_DIRTY) && is2020()) return ZX_ERR_INVALID_ARGS;
  uint32_t allowed = ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE | (is2024() ? ZX_VMO_UNBOUNDED : 0);
  if (options & ~allowed) return ZX_ERR_INVALID_ARGS;
  uint64_t rounded;
  if (!round_size(size, &rounded)) return ZX_ERR_OUT_OF_RANGE;
  if (out == NULL || !sim_user_ok(out, sizeof(*out))) return ZX_ERR_INVALID_ARGS;
  kobj_t* o;
  zx_handle_t h;
  st = kobj_vmo_make(rounded, options & (ZX_VMO_TRAP_DIRTY | ZX_VMO_RESIZABLE), VMO_RIGHTS, &o,
                     &h);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  v->pager_backed = 1;
  v->pager_koid = pg->koid;
  v->port = po;
  kobj_ref(po);
  v->key = key;
  v->zero_from = is2020() ? UINT64_MAX : (rounded >> PAGE_SHIFT);
  v->tail_state = PG_ZERO;
  v->szo = rounded >> PAGE_SHIFT;  // CreateExternal: supply_zero_offset_ starts at the size
  v->aczre = 0;
  *out = h;
  return ZX_OK;
}

// Handle checks of a pager syscall: the pager (type; rights on 2024), the VMO (same), then the
// pager koid match, which rejects other pagers' VMOs, plain VMOs, clones and slices.
static zx_status_t get_pager_vmo(zx_handle_t pager, zx_rights_t pager_rights, zx_handle_t vmo,
                                 zx_rights_t vmo_rights, kobj_t** pg_out, kobj_t** vmo_out) {
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st = kobj_get(pager, KOBJ_PAGER, is2024() ? pager_rights : 0, &pg);
  if (st != ZX_OK) return st;
  st = kobj_get(vmo, KOBJ_VMO, is2024() ? vmo_rights : 0, &o);
  if (st != ZX_OK) return st;
  if (!o->u.vmo.pager_backed || o->u.vmo.pager_koid != pg->koid) return ZX_ERR_INVALID_ARGS;
  *pg_out = pg;
  *vmo_out = o;
  return ZX_OK;
}

zx_status_t sys_zx_pager_detach_vmo(zx_handle_t pager, zx_handle_t vmo) {
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st = get_pager_vmo(pager, ZX_RIGHT_ATTACH_VMO | ZX_RIGHT_MANAGE_VMO, vmo,
                                 ZX_RIGHT_WRITE, &pg, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  // Clean pages and clean zero markers go; Dirty, AwaitingClean and dirty zero pages stay
  // (VmCowPages::DetachSourceLocked, facts 2.9).
  uint8_t map[PG_NSTATES] = {PG_ABSENT, PG_ABSENT, PG_ABSENT, PG_DIRTY, PG_AWAITING, PG_ZERO,
                             PG_ZERO_AWAITING};
  st = pages_map(o, 0, size_pages(o), map);
  if (st != ZX_OK) return st;
  if (!v->detached && v->port != NULL) {
    zx_port_packet_t pkt;
    kobj_memset(&pkt, 0, sizeof(pkt));
    pkt.key = v->key;
    pkt.type = ZX_PKT_TYPE_PAGE_REQUEST;
    pkt.status = ZX_OK;
    pkt.page_request.command = ZX_PAGER_VMO_COMPLETE;
    (void)kobj_port_queue(v->port, &pkt);
  }
  v->detached = 1;
  resolve(o, 1, 0, 0, UINT64_MAX);  // outstanding requests fail
  return ZX_OK;
}

zx_status_t sys_zx_pager_supply_pages(zx_handle_t pager, zx_handle_t pager_vmo, uint64_t offset,
                                      uint64_t length, zx_handle_t aux_vmo,
                                      uint64_t aux_offset) {
  if ((offset | length | aux_offset) & (P - 1u)) return ZX_ERR_INVALID_ARGS;
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st =
      get_pager_vmo(pager, ZX_RIGHT_MANAGE_VMO, pager_vmo, ZX_RIGHT_WRITE, &pg, &o);
  if (st != ZX_OK) return st;
  kobj_t* aux;
  st = kobj_get(aux_vmo, KOBJ_VMO, ZX_RIGHT_READ | ZX_RIGHT_WRITE, &aux);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  // An empty supply never reaches SupplyPagesLocked after 2020 (VmObjectPaged::SupplyPages
  // loops while the range is non-empty): no range or detach check.
  if (length == 0 && !is2020()) return ZX_OK;
  // The aux pages are taken first (TakePages), then supplied.
  if (aux->u.vmo.pager_backed || aux->u.vmo.parent != NULL || aux->u.vmo.bytes != NULL)
    return ZX_ERR_NOT_SUPPORTED;
  if (!in_range(aux_offset, length, aux->u.vmo.size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  if (!in_range(offset, length, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  if (v->detached && is2024()) return ZX_ERR_BAD_STATE;  // SupplyPagesLocked (2024)
  uint64_t first = offset >> PAGE_SHIFT, end = (offset + length) >> PAGE_SHIFT;
  uint64_t aux_first = aux_offset >> PAGE_SHIFT;
  // Room: every absent page can need an entry.
  uint64_t absent = 0;
  for (uint64_t p = first; p < end;) {
    uint64_t run_end;
    pg_state_t s = pages_seg(o, p, end, &run_end);
    if (s == PG_ABSENT) absent += run_end - p;
    p = run_end;
  }
  if (absent > pages_free()) return ZX_ERR_NO_MEMORY;
  // Only absent pages are filled: a committed aux page gives a Clean page, an uncommitted one
  // a zero marker. Present pages and dirty zero pages are skipped silently.
  for (uint64_t p = first; p < end;) {
    uint64_t run_end;
    (void)pages_seg(o, p, end, &run_end);
    uint64_t aux_run_end;
    pg_state_t a = pages_seg(aux, aux_first + (p - first), aux_first + (end - first),
                             &aux_run_end);
    uint64_t stop = aux_run_end - aux_first + first;
    if (stop < run_end) run_end = stop;
    uint8_t map[PG_NSTATES] = {a == PG_ABSENT ? PG_MARKER : PG_CLEAN, PG_CLEAN, PG_MARKER,
                               PG_DIRTY, PG_AWAITING, PG_ZERO, PG_ZERO_AWAITING};
    st = pages_map(o, p, run_end, map);
    if (st != ZX_OK) return st;
    p = run_end;
  }
  // The aux pages leave the aux VMO.
  (void)pages_assign(aux, aux_first, aux_first + (end - first), PG_ABSENT);
  resolve(o, 0, ZX_PAGER_VMO_READ, offset, length);
  return ZX_OK;
}

static int valid_fail_code(uint64_t data) {
  int64_t d = (int64_t)data;
  if (d < INT32_MIN || d > INT32_MAX) return 0;
  zx_status_t code = (zx_status_t)d;
  if (code == ZX_ERR_IO || code == ZX_ERR_IO_DATA_INTEGRITY || code == ZX_ERR_BAD_STATE)
    return 1;
  // Later kernels (PageSource::IsValidExternalFailureCode) add these two.
  return !is2020() && (code == ZX_ERR_NO_SPACE || code == ZX_ERR_BUFFER_TOO_SMALL);
}

// A zero "interval" is a maximal run of dirty zero pages. The end of the run containing page p
// (p itself must be dirty zero).
static uint64_t zero_run_end(const kobj_t* o, uint64_t p) {
  uint64_t limit = size_pages(o);
  while (p < limit) {
    uint64_t run_end;
    pg_state_t s = pages_seg(o, p, limit, &run_end);
    if (!(PG_SET_ZERO & PG_BIT(s))) return p;
    p = run_end;
  }
  return limit;
}

// The first page at or after `first` (below `end`) that starts a zero interval inside the
// range: a zero page at `first` continuing an interval that starts before the range does not.
static uint64_t skip_interval_from_before(const kobj_t* o, uint64_t first, uint64_t end) {
  if (first > 0 && first < end && (PG_SET_ZERO & PG_BIT(pages_get(o, first - 1u))) &&
      (PG_SET_ZERO & PG_BIT(pages_get(o, first)))) {
    uint64_t t = zero_run_end(o, first);
    return t < end ? t : end;
  }
  return first;
}

static zx_status_t writeback_begin(kobj_t* o, uint64_t first, uint64_t end, int is_zero) {
  kobj_vmo_t* v = &o->u.vmo;
  if (first >= end) return ZX_OK;
  zx_status_t st;
  if (!is_zero) {
    uint8_t map[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_MARKER, PG_AWAITING, PG_AWAITING,
                               PG_ZERO, PG_ZERO_AWAITING};
    st = pages_map(o, first, end, map);
    if (st != ZX_OK) return st;
  }
  if (is2024()) {
    // A zero interval is marked AwaitingClean through its start, so only intervals that start
    // inside the range are marked, from their start up to the range end
    // (VmCowPages::WritebackBeginLocked).
    uint64_t p = skip_interval_from_before(o, first, end);
    uint8_t map[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_MARKER, PG_DIRTY, PG_AWAITING,
                               PG_ZERO_AWAITING, PG_ZERO_AWAITING};
    return pages_map(o, p, end, map);
  }
  // E1 (VmCowPages::WritebackBeginLocked, tail model).
  if (v->aczre == 0) {
    if (first <= v->szo && v->szo < end) v->aczre = end;
  } else if (first <= v->aczre && v->aczre < end) {
    v->aczre = end;
  }
  return ZX_OK;
}

static zx_status_t writeback_end(kobj_t* o, uint64_t first, uint64_t end) {
  kobj_vmo_t* v = &o->u.vmo;
  if (first >= end) return ZX_OK;
  zx_status_t st;
  if (is2024()) {
    uint8_t clean[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_MARKER, PG_DIRTY, PG_CLEAN, PG_ZERO,
                                 PG_ZERO_AWAITING};
    // Zero intervals that start inside the range (VmCowPages::WritebackEndLocked): a running
    // "awaiting clean end" grows with each interval's AwaitingClean prefix; an interval wholly
    // below it is removed, otherwise it is removed up to it. Removed zero pages are not
    // supplied any more (facts 2.12). Intervals starting before the range are left alone.
    // Walk the intervals as they were before this call changes anything.
    uint64_t awaiting_end = first;
    uint64_t p = skip_interval_from_before(o, first, end);
    // Committed AwaitingClean pages become Clean (they are not zero pages, so the interval
    // walk below is not affected by doing this first).
    st = pages_map(o, first, end, clean);
    if (st != ZX_OK) return st;
    while (p < end) {
      p = pages_find(o, p, end, PG_SET_ZERO);
      if (p >= end) break;
      uint64_t s = p;
      uint64_t t = zero_run_end(o, s);
      uint64_t prefix = s;
      while (prefix < t) {
        uint64_t run_end;
        if (pages_seg(o, prefix, t, &run_end) != PG_ZERO_AWAITING) break;
        prefix = run_end;
      }
      if (prefix > awaiting_end) awaiting_end = prefix;
      uint64_t clean_to;
      if (t <= end && t <= awaiting_end) {
        clean_to = t;
      } else {
        clean_to = awaiting_end;
        if (end < clean_to) clean_to = end;
        if (t < clean_to) clean_to = t;
      }
      if (clean_to > s) {
        st = pages_assign(o, s, clean_to, PG_ABSENT);
        if (st != ZX_OK) return st;
      }
      p = t;
    }
    return ZX_OK;
  }
  // E1 (VmCowPages::WritebackEndLocked, tail model).
  uint64_t szo = v->szo;
  if (first > szo) return ZX_OK;
  uint8_t clean[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_MARKER, PG_DIRTY, PG_CLEAN, PG_ZERO,
                               PG_ZERO_AWAITING};
  if (first < szo) {
    st = pages_map(o, first, end < szo ? end : szo, clean);
    if (st != ZX_OK) return st;
  }
  if (end <= szo || v->aczre == 0) return ZX_OK;
  uint64_t zero_end = v->aczre < end ? v->aczre : end;
  uint8_t finish[PG_NSTATES] = {PG_ABSENT, PG_CLEAN, PG_MARKER, PG_DIRTY, PG_CLEAN, PG_ABSENT,
                                PG_ZERO_AWAITING};
  st = pages_map(o, szo, zero_end, finish);
  if (st != ZX_OK) return st;
  update_szo(v, zero_end);
  return ZX_OK;
}

zx_status_t sys_zx_pager_op_range(zx_handle_t pager, uint32_t op, zx_handle_t pager_vmo,
                                  uint64_t offset, uint64_t length, uint64_t data) {
  if ((offset | length) & (P - 1u)) return ZX_ERR_INVALID_ARGS;
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st =
      get_pager_vmo(pager, ZX_RIGHT_MANAGE_VMO, pager_vmo, ZX_RIGHT_WRITE, &pg, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  int ok_range = in_range(offset, length, v->size_bytes);
  uint64_t first = offset >> PAGE_SHIFT;
  uint64_t end = ok_range ? (offset + length) >> PAGE_SHIFT : first;
  switch (op) {
    case ZX_PAGER_OP_FAIL:
      if (!valid_fail_code(data)) return ZX_ERR_INVALID_ARGS;
      if (!ok_range) return ZX_ERR_OUT_OF_RANGE;
      if (v->detached && is2024()) return ZX_ERR_BAD_STATE;
      resolve(o, 1, 0, offset, length);  // the requests in the range fail with `data`
      return ZX_OK;
    case ZX_PAGER_OP_DIRTY:
    case ZX_PAGER_OP_WRITEBACK_BEGIN:
    case ZX_PAGER_OP_WRITEBACK_END:
      if (is2020()) return ZX_ERR_NOT_SUPPORTED;  // no dirty tracking (facts 7)
      break;
    default:
      return ZX_ERR_NOT_SUPPORTED;
  }
  if (op == ZX_PAGER_OP_DIRTY) {
    if (data != 0) return ZX_ERR_INVALID_ARGS;
    // 2024 maps the range (GetCowRange) before DirtyPages, so an overflow comes first there.
    if (is2024() && offset + length < offset) return ZX_ERR_OUT_OF_RANGE;
    if (!(v->options & ZX_VMO_TRAP_DIRTY)) return ZX_ERR_NOT_SUPPORTED;
    if (!ok_range) return ZX_ERR_OUT_OF_RANGE;
    if (v->detached && is2024()) return ZX_ERR_BAD_STATE;
    // Atomic: any unsupplied page fails the whole op with nothing changed.
    if (pages_find(o, first, end, PG_BIT(PG_ABSENT)) != end) return ZX_ERR_NOT_FOUND;
    st = pages_assign(o, first, end, PG_DIRTY);
    if (st != ZX_OK) return st;
    resolve(o, 0, ZX_PAGER_VMO_DIRTY, offset, length);
    return ZX_OK;
  }
  if (op == ZX_PAGER_OP_WRITEBACK_BEGIN) {
    if (data != 0 && data != ZX_VMO_DIRTY_RANGE_IS_ZERO) return ZX_ERR_INVALID_ARGS;
    if (!ok_range) return ZX_ERR_OUT_OF_RANGE;
    return writeback_begin(o, first, end, data == ZX_VMO_DIRTY_RANGE_IS_ZERO);
  }
  if (data != 0) return ZX_ERR_INVALID_ARGS;
  if (!ok_range) return ZX_ERR_OUT_OF_RANGE;
  return writeback_end(o, first, end);
}

// Range option of a page for the query: -1 not dirty, 0 committed dirty, 1 dirty zero.
static int range_option(pg_state_t s) {
  if (PG_SET_COMMITTED_DIRTY & PG_BIT(s)) return 0;
  if (PG_SET_ZERO & PG_BIT(s)) return 1;
  return -1;
}

zx_status_t sys_zx_pager_query_dirty_ranges(zx_handle_t pager, zx_handle_t pager_vmo,
                                            uint64_t offset, uint64_t length, void* buffer,
                                            size_t buffer_size, size_t* actual, size_t* avail) {
  if (is2020()) return ZX_ERR_BAD_SYSCALL;  // the syscall does not exist yet
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st = get_pager_vmo(pager, ZX_RIGHT_MANAGE_VMO, pager_vmo, ZX_RIGHT_READ, &pg, &o);
  if (st != ZX_OK) return st;
  kobj_vmo_t* v = &o->u.vmo;
  if (!in_range(offset, length, v->size_bytes)) return ZX_ERR_OUT_OF_RANGE;
  uint64_t first, end;
  pages_of(offset, length, &first, &end);
  if (is2022() && first <= v->szo && v->szo < end) {
    // EnumerateDirtyRangesLocked first moves supply_zero_offset_ over the committed dirty
    // pages that follow it (TryAdvanceSupplyZeroOffsetLocked).
    uint64_t n = v->szo;
    while (n < end && (PG_SET_COMMITTED_DIRTY & PG_BIT(pages_get(o, n)))) n++;
    if (n != v->szo) update_szo(v, n);
  }
  // Walk the window page by page (pages without entries a run at a time), merging adjacent
  // pages of the same kind into one range; copy out as PagerDispatcher::QueryDirtyRanges does.
  size_t index = 0, total = 0;
  uint8_t* out = (uint8_t*)buffer;
  uint64_t cur_first = 0, cur_end = 0;
  int cur_opt = -1;
  uint64_t p = first;
  for (;;) {
    int opt = -1;
    uint64_t run_end = end;
    if (p < end) opt = range_option(pages_seg(o, p, end, &run_end));
    if (cur_opt >= 0 && (p >= end || opt != cur_opt || p != cur_end)) {
      // Emit [cur_first, cur_end) with cur_opt.
      if ((index + 1u) * sizeof(zx_vmo_dirty_range_t) > buffer_size) {
        if (avail == NULL) break;  // with avail NULL the walk stops here
        total++;
      } else {
        zx_vmo_dirty_range_t r;
        r.offset = cur_first << PAGE_SHIFT;
        r.length = (cur_end - cur_first) << PAGE_SHIFT;
        r.options = cur_opt == 1 ? ZX_VMO_DIRTY_RANGE_IS_ZERO : 0;
        // A NULL or bad buffer: the copy faults and SoftFault fails (facts 2.7).
        if (out == NULL) return ZX_ERR_INVALID_ARGS;
        st = kobj_copy_out(out + index * sizeof(r), &r, sizeof(r));
        if (st != ZX_OK) return ZX_ERR_INVALID_ARGS;
        index++;
        total++;
      }
      cur_opt = -1;
    }
    if (p >= end) break;
    if (opt >= 0) {
      if (cur_opt < 0) {
        cur_first = p;
        cur_opt = opt;
      }
      cur_end = run_end;
    }
    p = run_end;
  }
  if (actual != NULL) {
    st = kobj_copy_out(actual, &index, sizeof(*actual));
    if (st != ZX_OK) return st;
  }
  if (avail != NULL) {
    st = kobj_copy_out(avail, &total, sizeof(*avail));
    if (st != ZX_OK) return st;
  }
  return ZX_OK;
}

zx_status_t sys_zx_pager_query_vmo_stats(zx_handle_t pager, zx_handle_t pager_vmo,
                                         uint32_t options, void* buffer, size_t buffer_size) {
  if (is2020()) return ZX_ERR_BAD_SYSCALL;
  kobj_t* pg;
  kobj_t* o;
  zx_status_t st = get_pager_vmo(pager, ZX_RIGHT_MANAGE_VMO, pager_vmo, ZX_RIGHT_READ, &pg, &o);
  if (st != ZX_OK) return st;
  if (buffer_size < sizeof(zx_pager_vmo_stats_t)) return ZX_ERR_BUFFER_TOO_SMALL;
  if (options & ~ZX_PAGER_RESET_VMO_STATS) return ZX_ERR_INVALID_ARGS;
  kobj_vmo_t* v = &o->u.vmo;
  zx_pager_vmo_stats_t stats;
  stats.modified = v->modified ? ZX_PAGER_VMO_STATS_MODIFIED : 0;
  if (options & ZX_PAGER_RESET_VMO_STATS) v->modified = 0;
  return kobj_copy_out(buffer, &stats, sizeof(stats));
}
