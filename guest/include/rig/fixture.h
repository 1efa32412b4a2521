// Per-scenario fixture: a fresh pager, port and pager-backed VMO, the aux VMOs that supply steps
// take pages from, and the handle variants of the scenario contract (invalid, closed, wrong type,
// other pager, plain VMO, clone, slice, reduced rights). Plus the step reporters that turn what a
// syscall returned into records (<rig/record.h>) and the documented query_all loop.
#ifndef RIG_FIXTURE_H_
#define RIG_FIXTURE_H_

#include <rig/record.h>

// Handle variants a scenario's steps use; the fixture creates only these (RIG_NEED_*).
#define RIG_NEED_CLOSED 0x01u
#define RIG_NEED_OTHER_PAGER 0x02u
#define RIG_NEED_OTHER_VMO 0x04u
#define RIG_NEED_PLAIN_VMO 0x08u
#define RIG_NEED_CLONE 0x10u
#define RIG_NEED_SLICE 0x20u
// 0x40u was RIG_NEED_PAGER_NO_RIGHTS: that handle is now made at its step (rig_take_pager_no_rights).
#define RIG_NEED_VMO_NO_RIGHTS 0x80u

// Rights of the reduced handles (`no_rights`): a pager without ATTACH_VMO/MANAGE_VMO and a VMO
// without READ/WRITE, both subsets of what the kernel hands out so zx_handle_duplicate accepts
// them (facts 1.3, 1.6).
#define RIG_PAGER_NO_RIGHTS (ZX_RIGHT_TRANSFER | ZX_RIGHT_INSPECT)
#define RIG_VMO_NO_RIGHTS                                                                     \
  (ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT |                 \
   ZX_RIGHT_GET_PROPERTY | ZX_RIGHT_SET_PROPERTY | ZX_RIGHT_MAP | ZX_RIGHT_SIGNAL)

// Byte the query buffers are filled with before each call, so entries the kernel wrote can be
// counted even when `actual` is NULL. No real range starts at 0xa5a5...a5 (not page aligned).
#define RIG_POISON_BYTE 0xa5
// Initial value of actual/avail/modified: left unchanged by the kernel means "not written", and
// the record then leaves the field out.
#define RIG_UNSET ((size_t)-1)
#define RIG_STATS_UNSET 0xffffffffu

typedef struct rig_fixture_spec {
  uint32_t s;               // scenario index in the program (s= of the records)
  uint32_t steps;           // number of steps
  uint64_t vmo_size;        // bytes
  uint32_t vmo_options;     // ZX_VMO_TRAP_DIRTY, ZX_VMO_RESIZABLE
  uint64_t aux_size;        // bytes of the pattern-filled aux VMO (all `supply` steps)
  uint64_t aux_zero_size;   // bytes of the never-written aux VMO (all `supply_zero` steps)
  uint32_t need;            // RIG_NEED_* bits
} rig_fixture_spec_t;

typedef struct rig_fixture {
  const rig_fixture_spec_t* spec;
  zx_handle_t pager;
  zx_handle_t port;
  zx_handle_t vmo;
  uint64_t size;            // VMO size now; a successful resize step updates it
  zx_handle_t aux;          // pattern pages for `supply`
  zx_handle_t aux_zero;     // no committed pages, for `supply_zero`
  zx_handle_t closed;       // a handle value that was closed
  zx_handle_t other_pager;  // a second pager
  zx_handle_t other_vmo;    // a VMO of the second pager
  zx_handle_t plain_vmo;    // from zx_vmo_create
  zx_handle_t clone;        // ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE child of vmo
  zx_handle_t slice;        // ZX_VMO_CHILD_SLICE child of vmo
  zx_handle_t pager_no_rights;
  zx_handle_t vmo_no_rights;
  uint32_t reported;        // steps reported (step or skip records)
} rig_fixture_t;

// Create everything the spec asks for. On failure prints `err s= what= st=`, closes what was
// made and returns 0; the caller then ends the scenario with rig_fixture_teardown().
int rig_fixture_setup(rig_fixture_t* fx, const rig_fixture_spec_t* spec);
// The pager handle without ATTACH_VMO/MANAGE_VMO (`pager: no_rights`), made on first use by
// zx_handle_replace of the scenario's pager: pagers cannot be duplicated.
zx_handle_t rig_take_pager_no_rights(rig_fixture_t* fx);
// Close every handle of the fixture and print `send s= steps=<reported>`.
void rig_fixture_teardown(rig_fixture_t* fx);

// Fill `buf` with the non-zero write pattern; returns buf.
const void* rig_fill_pattern(void* buf, size_t len);
// Fill a query buffer with RIG_POISON_BYTE.
void rig_poison(void* buf, size_t len);
// `size - offset`, or 0 past the end: the default length of a query that gives only an offset.
uint64_t rig_rest(uint64_t size, uint64_t offset);

// Reporters: one `step` record (plus `rng` records) per step.
void rig_step_skip(rig_fixture_t* fx, uint32_t t, const char* sys);
void rig_step_status(rig_fixture_t* fx, uint32_t t, zx_status_t st);
// A zx_pager_query_dirty_ranges result. `actual`/`avail` are the pointers the call got (NULL
// when it got NULL). `buf` is the buffer passed (NULL for a NULL buffer) holding `buf_entries`
// whole entries; when `actual` is NULL the entries written are counted by the poison.
void rig_step_query(rig_fixture_t* fx, uint32_t t, zx_status_t st, const size_t* actual,
                    const size_t* avail, const zx_vmo_dirty_range_t* buf, size_t buf_entries);
void rig_step_stats(rig_fixture_t* fx, uint32_t t, zx_status_t st,
                    const zx_pager_vmo_stats_t* stats);

// The documented loop (scenario contract, `query_all`): query [0, size) with room for `k`
// entries (buffer_size = 24 * k), append what came back to `out`, continue after the last
// returned range until actual == avail (or an error, or no progress). Records status, calls,
// the last call's actual/avail and every range. `buf` holds `buf_entries` entries (codegen
// passes k); the kernel is never told of more room than that. At most `max_calls` calls, so a
// kernel that never converges cannot hang the program.
void rig_step_query_all(rig_fixture_t* fx, uint32_t t, zx_handle_t pager, zx_handle_t vmo,
                        size_t k, zx_vmo_dirty_range_t* buf, size_t buf_entries,
                        zx_vmo_dirty_range_t* out, size_t out_entries, uint64_t max_calls);

#endif  // RIG_FIXTURE_H_
