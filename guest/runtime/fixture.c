// Per-scenario fixture and step reporters (see <rig/fixture.h>).
#include <rig/fixture.h>

// A page of the aux pattern is written with this many bytes per zx_vmo_write.
#define PATTERN_CHUNK 4096u
// The pattern is written to at most this much of the aux VMO: a supply step far past the VMO
// (an out-of-range test) must not make setup write gigabytes. Supplies beyond it would get
// zero pages; no scenario supplies that much inside its VMO.
#define AUX_FILL_MAX (64ull << 20)

static unsigned char g_chunk[PATTERN_CHUNK];

const void* rig_fill_pattern(void* buf, size_t len) {
  unsigned char* p = (unsigned char*)buf;
  // Never zero: 1..255 repeating, so written pages are never mistaken for zero pages.
  for (size_t i = 0; i < len; i++) p[i] = (unsigned char)(1u + (i % 255u));
  return buf;
}

void rig_poison(void* buf, size_t len) { rig_memset(buf, RIG_POISON_BYTE, len); }

uint64_t rig_rest(uint64_t size, uint64_t offset) { return size > offset ? size - offset : 0; }

static void close_if(zx_handle_t* h) {
  if (*h != ZX_HANDLE_INVALID) zx_handle_close(*h);
  *h = ZX_HANDLE_INVALID;
}

static void close_all(rig_fixture_t* fx) {
  close_if(&fx->vmo_no_rights);
  close_if(&fx->pager_no_rights);
  close_if(&fx->slice);
  close_if(&fx->clone);
  close_if(&fx->plain_vmo);
  close_if(&fx->other_vmo);
  close_if(&fx->other_pager);
  // fx->closed is already closed: only forget its value.
  fx->closed = ZX_HANDLE_INVALID;
  close_if(&fx->aux_zero);
  close_if(&fx->aux);
  close_if(&fx->vmo);
  close_if(&fx->port);
  close_if(&fx->pager);
}

static int fail(rig_fixture_t* fx, const char* what, zx_status_t st) {
  rig_record_err(fx->spec->s, what, st);
  close_all(fx);
  return 0;
}

int rig_fixture_setup(rig_fixture_t* fx, const rig_fixture_spec_t* spec) {
  zx_status_t st;
  rig_memset(fx, 0, sizeof(*fx));
  fx->spec = spec;
  fx->size = spec->vmo_size;

  if ((st = zx_pager_create(0, &fx->pager)) != ZX_OK) return fail(fx, "create_pager", st);
  if ((st = zx_port_create(0, &fx->port)) != ZX_OK) return fail(fx, "create_port", st);
  st = zx_pager_create_vmo(fx->pager, spec->vmo_options, fx->port, /*key=*/spec->s,
                           spec->vmo_size, &fx->vmo);
  if (st != ZX_OK) return fail(fx, "create_vmo", st);

  if (spec->aux_size != 0) {
    if ((st = zx_vmo_create(spec->aux_size, 0, &fx->aux)) != ZX_OK)
      return fail(fx, "create_aux", st);
    rig_fill_pattern(g_chunk, sizeof(g_chunk));
    uint64_t fill = spec->aux_size < AUX_FILL_MAX ? spec->aux_size : AUX_FILL_MAX;
    for (uint64_t off = 0; off < fill; off += PATTERN_CHUNK) {
      uint64_t n = fill - off < PATTERN_CHUNK ? fill - off : PATTERN_CHUNK;
      if ((st = zx_vmo_write(fx->aux, g_chunk, off, (size_t)n)) != ZX_OK)
        return fail(fx, "fill_aux", st);
    }
  }
  if (spec->aux_zero_size != 0) {
    if ((st = zx_vmo_create(spec->aux_zero_size, 0, &fx->aux_zero)) != ZX_OK)
      return fail(fx, "create_aux_zero", st);
  }

  if (spec->need & RIG_NEED_CLOSED) {
    zx_handle_t h;
    if ((st = zx_port_create(0, &h)) != ZX_OK) return fail(fx, "make_closed", st);
    if ((st = zx_handle_close(h)) != ZX_OK) return fail(fx, "make_closed", st);
    fx->closed = h;
  }
  if (spec->need & (RIG_NEED_OTHER_PAGER | RIG_NEED_OTHER_VMO)) {
    if ((st = zx_pager_create(0, &fx->other_pager)) != ZX_OK)
      return fail(fx, "make_other_pager", st);
  }
  if (spec->need & RIG_NEED_OTHER_VMO) {
    // Same size and options, other pager: only the pager koid differs.
    st = zx_pager_create_vmo(fx->other_pager, spec->vmo_options & ~ZX_VMO_TRAP_DIRTY, fx->port,
                             /*key=*/0x10000u + spec->s, spec->vmo_size, &fx->other_vmo);
    if (st != ZX_OK) return fail(fx, "make_other_vmo", st);
  }
  if (spec->need & RIG_NEED_PLAIN_VMO) {
    if ((st = zx_vmo_create(spec->vmo_size, 0, &fx->plain_vmo)) != ZX_OK)
      return fail(fx, "make_plain_vmo", st);
  }
  if (spec->need & RIG_NEED_CLONE) {
    st = zx_vmo_create_child(fx->vmo, ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE, 0, spec->vmo_size,
                             &fx->clone);
    if (st != ZX_OK) return fail(fx, "make_clone", st);
  }
  if (spec->need & RIG_NEED_SLICE) {
    st = zx_vmo_create_child(fx->vmo, ZX_VMO_CHILD_SLICE, 0, spec->vmo_size, &fx->slice);
    if (st != ZX_OK) return fail(fx, "make_slice", st);
  }
  if (spec->need & RIG_NEED_VMO_NO_RIGHTS) {
    st = zx_handle_duplicate(fx->vmo, RIG_VMO_NO_RIGHTS, &fx->vmo_no_rights);
    if (st != ZX_OK) return fail(fx, "make_vmo_no_rights", st);
  }
  return 1;
}

zx_handle_t rig_take_pager_no_rights(rig_fixture_t* fx) {
  // Pagers have no ZX_RIGHT_DUPLICATE, so the reduced handle replaces the scenario's pager
  // handle (the scenario must not use the full pager afterwards; `rig validate` checks that).
  // If the replace fails the step gets ZX_HANDLE_INVALID and reports BAD_HANDLE, which the
  // host flags as a mismatch.
  if (fx->pager_no_rights == ZX_HANDLE_INVALID && fx->pager != ZX_HANDLE_INVALID) {
    if (zx_handle_replace(fx->pager, RIG_PAGER_NO_RIGHTS, &fx->pager_no_rights) == ZX_OK)
      fx->pager = ZX_HANDLE_INVALID;
  }
  return fx->pager_no_rights;
}

void rig_fixture_teardown(rig_fixture_t* fx) {
  close_all(fx);
  rig_record_send(fx->spec->s, fx->reported);
}

static void report(rig_fixture_t* fx, rig_step_result_t* res) {
  rig_record_step(res);
  fx->reported++;
}

void rig_step_skip(rig_fixture_t* fx, uint32_t t, const char* sys) {
  rig_record_skip(fx->spec->s, t, sys);
  fx->reported++;
}

void rig_step_status(rig_fixture_t* fx, uint32_t t, zx_status_t st) {
  rig_step_result_t res;
  rig_memset(&res, 0, sizeof(res));
  res.s = fx->spec->s;
  res.t = t;
  res.status = st;
  report(fx, &res);
}

static int entry_is_poison(const zx_vmo_dirty_range_t* e) {
  const unsigned char* p = (const unsigned char*)e;
  for (size_t i = 0; i < sizeof(*e); i++)
    if (p[i] != RIG_POISON_BYTE) return 0;
  return 1;
}

void rig_step_query(rig_fixture_t* fx, uint32_t t, zx_status_t st, const size_t* actual,
                    const size_t* avail, const zx_vmo_dirty_range_t* buf, size_t buf_entries) {
  rig_step_result_t res;
  rig_memset(&res, 0, sizeof(res));
  res.s = fx->spec->s;
  res.t = t;
  res.status = st;
  res.fields = RIG_F_RANGES;
  if (actual != NULL && *actual != RIG_UNSET) {
    res.fields |= RIG_F_ACTUAL;
    res.actual = *actual;
  }
  if (avail != NULL && *avail != RIG_UNSET) {
    res.fields |= RIG_F_AVAIL;
    res.avail = *avail;
  }
  size_t nr = 0;
  if (buf != NULL) {
    if (res.fields & RIG_F_ACTUAL) {
      // Never read past the buffer, whatever the kernel claims.
      nr = res.actual < buf_entries ? (size_t)res.actual : buf_entries;
    } else {
      while (nr < buf_entries && !entry_is_poison(&buf[nr])) nr++;
    }
  }
  res.ranges = buf;
  res.nr = nr;
  report(fx, &res);
}

void rig_step_stats(rig_fixture_t* fx, uint32_t t, zx_status_t st,
                    const zx_pager_vmo_stats_t* stats) {
  rig_step_result_t res;
  rig_memset(&res, 0, sizeof(res));
  res.s = fx->spec->s;
  res.t = t;
  res.status = st;
  if (stats->modified != RIG_STATS_UNSET) {
    res.fields |= RIG_F_MODIFIED;
    res.modified = stats->modified;
  }
  report(fx, &res);
}

void rig_step_query_all(rig_fixture_t* fx, uint32_t t, zx_handle_t pager, zx_handle_t vmo,
                        size_t k, zx_vmo_dirty_range_t* buf, size_t buf_entries,
                        zx_vmo_dirty_range_t* out, size_t out_entries, uint64_t max_calls) {
  // The kernel is never told of more room than `buf` really has: a kernel that writes past
  // what it was given room for must not corrupt the program. Codegen passes buf_entries == k,
  // so this is buffer_size = 24 * k as the contract says.
  size_t room = k < buf_entries ? k : buf_entries;
  rig_step_result_t res;
  rig_memset(&res, 0, sizeof(res));
  res.s = fx->spec->s;
  res.t = t;
  // actual and avail are those of the last call (the one that ended the loop); an error
  // leaves them out.
  res.fields = RIG_F_ACTUAL | RIG_F_AVAIL | RIG_F_CALLS | RIG_F_RANGES;

  uint64_t offset = 0;
  size_t nr = 0;
  zx_status_t st = ZX_OK;
  while (res.calls < max_calls) {
    size_t actual = 0, avail = 0;
    rig_poison(buf, room * sizeof(*buf));
    st = zx_pager_query_dirty_ranges(pager, vmo, offset, rig_rest(fx->size, offset), buf,
                                     room * sizeof(*buf), &actual, &avail);
    res.calls++;
    if (st != ZX_OK) break;
    res.actual = actual;
    res.avail = avail;
    size_t got = actual < room ? actual : room;  // never read past the buffer
    for (size_t i = 0; i < got && nr < out_entries; i++) out[nr++] = buf[i];
    if (actual == avail || got == 0) break;
    // Continue after the last returned range.
    const zx_vmo_dirty_range_t* last = &buf[got - 1];
    uint64_t next = last->offset + last->length;
    if (next <= offset) {  // no progress: stop rather than spin
      res.stop = "noprogress";
      break;
    }
    offset = next;
    if (res.calls == max_calls) res.stop = "bound";  // would go on, but may not
  }
  res.status = st;
  if (st != ZX_OK) res.fields &= ~(uint32_t)(RIG_F_ACTUAL | RIG_F_AVAIL);
  res.ranges = out;
  res.nr = nr;
  report(fx, &res);
}
