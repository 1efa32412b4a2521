// The page map: one state per page of every VMO, stored sparsely.
//
// One static table holds an entry (VMO slot, page) -> state for every page whose state is not
// the default, sorted by (slot, page). The default of a page without an entry is PG_ZERO at or
// after the VMO's zero_from and PG_ABSENT below it. There are no intervals here on purpose: the
// Python model is built on run-length intervals, and this C is the structurally different
// implementation it is checked against. Walks skip the pages without entries in one step, so a
// 2^36-page VMO with a few pages costs what its few entries cost.
//
// Exhaustion: KOBJ_MAX_PAGE_ENTRIES entries for all VMOs together. pages_map() computes the
// whole result first and returns ZX_ERR_NO_MEMORY, changing nothing, when it does not fit.
#include "kobj_internal.h"

typedef struct {
  uint64_t key;  // slot << 52 | page (pages are < 2^52: sizes are < 2^64 bytes)
  uint8_t state;
} entry_t;

static entry_t g_pages[KOBJ_MAX_PAGE_ENTRIES];
static entry_t g_scratch[KOBJ_MAX_PAGE_ENTRIES];
static uint32_t g_count;

#define SLOT_SHIFT 52u
#define PAGE_MASK_KEY ((1ull << SLOT_SHIFT) - 1u)

static uint64_t key_of(const kobj_t* vmo, uint64_t page) {
  return ((uint64_t)vmo->slot << SLOT_SHIFT) | (page & PAGE_MASK_KEY);
}

static uint64_t slot_end_key(const kobj_t* vmo) {
  return ((uint64_t)vmo->slot + 1u) << SLOT_SHIFT;
}

void pages_reset(void) { g_count = 0; }

// Index of the first entry with key >= k.
static uint32_t lower_bound(uint64_t k) {
  uint32_t lo = 0, hi = g_count;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2u;
    if (g_pages[mid].key < k) {
      lo = mid + 1u;
    } else {
      hi = mid;
    }
  }
  return lo;
}

static pg_state_t default_state(const kobj_t* vmo, uint64_t page) {
  return page >= vmo->u.vmo.zero_from ? (pg_state_t)vmo->u.vmo.tail_state : PG_ABSENT;
}

pg_state_t pages_get(const kobj_t* vmo, uint64_t page) {
  uint64_t k = key_of(vmo, page);
  uint32_t i = lower_bound(k);
  if (i < g_count && g_pages[i].key == k) return (pg_state_t)g_pages[i].state;
  return default_state(vmo, page);
}

pg_state_t pages_seg(const kobj_t* vmo, uint64_t page, uint64_t end, uint64_t* run_end) {
  uint64_t k = key_of(vmo, page);
  uint32_t i = lower_bound(k);
  if (i < g_count && g_pages[i].key == k) {
    *run_end = page + 1u;
    return (pg_state_t)g_pages[i].state;
  }
  uint64_t next = UINT64_MAX;
  if (i < g_count && g_pages[i].key < slot_end_key(vmo)) next = g_pages[i].key & PAGE_MASK_KEY;
  uint64_t zf = vmo->u.vmo.zero_from;
  if (page < zf && zf < next) next = zf;
  *run_end = next < end ? next : end;
  return default_state(vmo, page);
}

uint64_t pages_find(const kobj_t* vmo, uint64_t first, uint64_t end, uint32_t mask) {
  uint64_t p = first;
  while (p < end) {
    uint64_t run_end;
    pg_state_t s = pages_seg(vmo, p, end, &run_end);
    if (mask & PG_BIT(s)) return p;
    p = run_end;
  }
  return end;
}

// Replace the entries of pages [first, end) (indices [lo, hi) of the table) with the n entries
// in g_scratch.
static void splice(uint32_t lo, uint32_t hi, uint32_t n) {
  uint32_t old_len = hi - lo;
  uint32_t tail = g_count - hi;
  if (n > old_len) {
    for (uint32_t k = tail; k-- > 0;) g_pages[lo + n + k] = g_pages[hi + k];
  } else if (n < old_len) {
    for (uint32_t k = 0; k < tail; k++) g_pages[lo + n + k] = g_pages[hi + k];
  }
  for (uint32_t k = 0; k < n; k++) g_pages[lo + k] = g_scratch[k];
  g_count = g_count - old_len + n;
}

zx_status_t pages_map(kobj_t* vmo, uint64_t first, uint64_t end, const uint8_t map[PG_NSTATES]) {
  if (first >= end) return ZX_OK;
  kobj_vmo_t* v = &vmo->u.vmo;
  uint64_t size_pages = v->size_bytes >> PAGE_SHIFT;
  uint64_t zf = v->zero_from;
  pg_state_t tail = (pg_state_t)v->tail_state;
  // When the range covers every tail page without an entry (it runs to the end, and from
  // zero_from on, or every page between zero_from and it has an entry), they all change alike:
  // change the tail state instead of giving each page an entry.
  pg_state_t new_tail = tail;
  if (zf < size_pages && end >= size_pages &&
      (first <= zf ||
       lower_bound(key_of(vmo, first)) - lower_bound(key_of(vmo, zf)) == first - zf)) {
    new_tail = (pg_state_t)map[tail];
  }
  uint64_t new_zf = zf;
  uint32_t lo = lower_bound(key_of(vmo, first));
  uint32_t hi = lower_bound(key_of(vmo, end - 1u) + 1u);
  uint32_t outside = g_count - (hi - lo);
  uint32_t n = 0;  // new entries for [first, end), in g_scratch
  uint64_t p = first;
  uint32_t i = lo;
  while (p < end) {
    if (i < hi && (g_pages[i].key & PAGE_MASK_KEY) == p) {
      pg_state_t s = (pg_state_t)map[g_pages[i].state];
      pg_state_t d = p >= zf ? new_tail : PG_ABSENT;
      if (s != d) {
        g_scratch[n].key = g_pages[i].key;
        g_scratch[n].state = (uint8_t)s;
        n++;
      }
      i++;
      p++;
      continue;
    }
    // A run of pages without entries: [p, gap_end), all in state d now.
    uint64_t gap_end = i < hi ? (g_pages[i].key & PAGE_MASK_KEY) : end;
    if (p < zf && zf < gap_end) gap_end = zf;
    pg_state_t d = p >= zf ? tail : PG_ABSENT;
    pg_state_t s = (pg_state_t)map[d];
    pg_state_t after = p >= zf ? new_tail : PG_ABSENT;  // what they read as without entries
    if (s != after) {
      if (p < zf && gap_end == zf && (s == new_tail || zf >= size_pages)) {
        // The pages just below the tail join it: move zero_from down.
        new_zf = p;
        new_tail = s;
      } else {
        uint64_t count = gap_end - p;
        if (count > (uint64_t)(KOBJ_MAX_PAGE_ENTRIES - outside - n)) return ZX_ERR_NO_MEMORY;
        for (uint64_t q = p; q < gap_end; q++) {
          g_scratch[n].key = key_of(vmo, q);
          g_scratch[n].state = (uint8_t)s;
          n++;
        }
      }
    }
    p = gap_end;
  }
  if ((uint64_t)outside + n > KOBJ_MAX_PAGE_ENTRIES) return ZX_ERR_NO_MEMORY;
  splice(lo, hi, n);
  v->zero_from = new_zf;
  v->tail_state = (uint8_t)new_tail;
  return ZX_OK;
}

zx_status_t pages_set_tail(kobj_t* vmo, uint64_t page, pg_state_t tail) {
  kobj_vmo_t* v = &vmo->u.vmo;
  uint64_t zf = v->zero_from;
  if (page <= zf) {
    // No page in [page, zf) can change its state by this (the caller passes page >= zf; an
    // equal one just renames the state of the empty or entry-free tail).
    if (page == zf) v->tail_state = (uint8_t)tail;
    return page == zf ? ZX_OK : ZX_ERR_INVALID_ARGS;
  }
  // Pages [zf, page) keep their state: without entries they read as the old tail, so they get
  // entries (and entries saying PG_ABSENT become redundant below the new zero_from).
  uint32_t lo = lower_bound(key_of(vmo, zf));
  uint32_t hi = lower_bound(key_of(vmo, page - 1u) + 1u);
  uint32_t outside = g_count - (hi - lo);
  uint32_t n = 0;
  pg_state_t old_tail = (pg_state_t)v->tail_state;
  uint32_t i = lo;
  for (uint64_t p = zf; p < page;) {
    if (i < hi && (g_pages[i].key & PAGE_MASK_KEY) == p) {
      if (g_pages[i].state != PG_ABSENT) g_scratch[n++] = g_pages[i];
      i++;
      p++;
      continue;
    }
    uint64_t gap_end = i < hi ? (g_pages[i].key & PAGE_MASK_KEY) : page;
    if (old_tail != PG_ABSENT) {
      if (gap_end - p > (uint64_t)(KOBJ_MAX_PAGE_ENTRIES - outside - n)) return ZX_ERR_NO_MEMORY;
      for (uint64_t q = p; q < gap_end; q++) {
        g_scratch[n].key = key_of(vmo, q);
        g_scratch[n].state = (uint8_t)old_tail;
        n++;
      }
    }
    p = gap_end;
  }
  splice(lo, hi, n);
  v->zero_from = page;
  v->tail_state = (uint8_t)tail;
  return ZX_OK;
}

zx_status_t pages_assign(kobj_t* vmo, uint64_t first, uint64_t end, pg_state_t state) {
  uint8_t map[PG_NSTATES];
  for (int s = 0; s < PG_NSTATES; s++) map[s] = (uint8_t)state;
  return pages_map(vmo, first, end, map);
}

void pages_drop_from(kobj_t* vmo, uint64_t page) {
  uint32_t lo = lower_bound(key_of(vmo, page));
  uint32_t hi = lower_bound(slot_end_key(vmo));
  if (page > PAGE_MASK_KEY) return;
  uint32_t tail = g_count - hi;
  for (uint32_t k = 0; k < tail; k++) g_pages[lo + k] = g_pages[hi + k];
  g_count -= hi - lo;
}

uint32_t pages_free(void) { return KOBJ_MAX_PAGE_ENTRIES - g_count; }
