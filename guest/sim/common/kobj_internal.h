// Private to the sim's kernel-object half (kobj*.c, pager*.c): objects, handles, the page map.
//
// Memory: nothing is allocated from outside. Every object lives in a fixed static table
// (KOBJ_MAX_OBJECTS objects, KOBJ_MAX_HANDLES handles), and every page state of every VMO
// lives in one static sorted table of KOBJ_MAX_PAGE_ENTRIES (VMO, page) -> state entries
// (pager_pages.c). When a table is full the syscall that needed room fails with
// ZX_ERR_NO_MEMORY (or ZX_ERR_NO_RESOURCES for handles, as Zircon does) before changing
// anything; nothing is ever overwritten.
#ifndef SIM_KOBJ_INTERNAL_H_
#define SIM_KOBJ_INTERNAL_H_

#include "kobj.h"

#define KOBJ_MAX_OBJECTS 128u
#define KOBJ_MAX_HANDLES 512u
#define KOBJ_MAX_PAGE_ENTRIES (1u << 16)  // 16 bytes each: 1 MiB, plus 1 MiB of scratch
#define KOBJ_PORT_QUEUE 32u               // packets a port holds
#define KOBJ_VMO_PENDING 4u               // outstanding page requests per VMO
#define KOBJ_CHANNEL_MAX_BYTES 16384u
#define KOBJ_CHANNEL_MAX_HANDLES 64u

#define PAGE_SIZE_BYTES 4096ull
#define PAGE_SHIFT 12u

// Private memory helpers (the platform may define memcpy/memset; these never clash).
void kobj_memcpy(void* dst, const void* src, size_t n);
void kobj_memset(void* dst, int c, size_t n);

// ---- Page states (one per page; pager_pages.c stores them sparsely) -------------------------
// The states are what the pager APIs can tell apart. Page contents are not stored: a read
// returns zeros for a page that reads as zero and a fixed non-zero pattern otherwise.
typedef enum {
  PG_ABSENT = 0,     // not supplied (pager VMO) / not committed, reads zero (plain VMO)
  PG_CLEAN,          // supplied (pager) / committed (plain): non-zero content, Clean
  PG_MARKER,         // supplied zero page marker (supply from an uncommitted aux page), Clean
  PG_DIRTY,          // committed, Dirty
  PG_AWAITING,       // committed, AwaitingClean (WRITEBACK_BEGIN seen, no END yet)
  PG_ZERO,           // dirty zero: 2024 zero interval page, 2022 page at/after the zero tail
  PG_ZERO_AWAITING,  // 2024 zero interval page, AwaitingClean
  PG_NSTATES
} pg_state_t;

#define PG_BIT(s) (1u << (s))
#define PG_SET_ZERO (PG_BIT(PG_ZERO) | PG_BIT(PG_ZERO_AWAITING))
#define PG_SET_COMMITTED_DIRTY (PG_BIT(PG_DIRTY) | PG_BIT(PG_AWAITING))
#define PG_SET_READS_ZERO (PG_BIT(PG_MARKER) | PG_SET_ZERO)
#define PG_SET_ALL ((1u << PG_NSTATES) - 1u)

// ---- Objects ---------------------------------------------------------------------------------
typedef struct kobj kobj_t;

typedef struct {
  uint16_t command;
  uint64_t offset;  // bytes
  uint64_t length;  // bytes
  int used;
} kobj_request_t;

typedef struct {
  uint64_t size_bytes;      // page rounded
  uint32_t options;         // ZX_VMO_RESIZABLE, ZX_VMO_TRAP_DIRTY (pager VMOs)
  int pager_backed;         // created by zx_pager_create_vmo
  zx_koid_t pager_koid;     // 0 unless pager_backed
  kobj_t* port;             // pager VMOs: where page requests go (holds a reference)
  uint64_t key;
  int detached;
  int modified;             // zx_pager_query_vmo_stats
  // Pages at or after zero_from that have no entry in the page map are in state tail_state
  // (PG_ZERO after a resize up; PG_ZERO_AWAITING or PG_ABSENT once an operation covered the
  // whole tail); pages below it without an entry are PG_ABSENT. So a 2^36-page zero tail or
  // zero range costs nothing (pager_pages.c).
  uint64_t zero_from;       // pages
  uint8_t tail_state;       // pg_state_t
  // Profile 2022 only (E1 VmCowPages): supply_zero_offset_ and
  // awaiting_clean_zero_range_end_, in pages. Kept as the kernel keeps them.
  uint64_t szo;
  uint64_t aczre;
  // Children: a slice forwards to its parent; a snapshot-at-least-on-write clone keeps its own
  // pages and reads through to the parent where it has none.
  kobj_t* parent;           // holds a reference
  uint64_t parent_offset;   // bytes
  int is_slice;
  int is_clone;
  // Read-only VMO over platform bytes (vDSO, BOOTFS).
  const uint8_t* bytes;
  uint64_t bytes_len;
  char name[ZX_MAX_NAME_LEN];
  kobj_request_t pending[KOBJ_VMO_PENDING];
} kobj_vmo_t;

typedef struct {
  zx_port_packet_t q[KOBJ_PORT_QUEUE];
  uint32_t head, count;
} kobj_port_t;

typedef struct {
  uint8_t bytes[KOBJ_CHANNEL_MAX_BYTES];
  uint32_t nbytes;
  kobj_t* handles[KOBJ_CHANNEL_MAX_HANDLES];  // objects in transit (hold references)
  zx_rights_t rights[KOBJ_CHANNEL_MAX_HANDLES];
  uint32_t nhandles;
  int has_message;
} kobj_channel_t;

struct kobj {
  kobj_type_t type;   // KOBJ_NONE: free slot
  uint32_t refs;      // handles + references from other objects
  zx_koid_t koid;
  uint32_t slot;      // index in the object table (page map key)
  void* cookie;       // platform objects
  union {
    kobj_vmo_t vmo;
    kobj_port_t port;
  } u;
  kobj_channel_t* channel;  // channels use the one static message buffer (bootstrap only)
};

extern sim_profile_t kobj_profile;

kobj_t* kobj_alloc(kobj_type_t type);
void kobj_ref(kobj_t* o);
void kobj_unref(kobj_t* o);
zx_status_t kobj_handle_make(kobj_t* o, zx_rights_t rights, zx_handle_t* out);
// Look up a handle: BAD_HANDLE, WRONG_TYPE (type != KOBJ_NONE and differs), ACCESS_DENIED.
zx_status_t kobj_get(zx_handle_t h, kobj_type_t type, zx_rights_t need, kobj_t** out);
// Copy out to a user pointer; ZX_ERR_INVALID_ARGS when sim_user_ok refuses it.
zx_status_t kobj_copy_out(void* user, const void* src, size_t n);

// Live objects, handles and page entries (tests: nothing may leak across scenarios).
void kobj_debug_counts(uint32_t* objects, uint32_t* handles, uint32_t* pages);

// Ports (kobj.c).
zx_status_t kobj_port_queue(kobj_t* port, const zx_port_packet_t* pkt);
void kobj_set_blocked(zx_handle_t h, uint16_t command, uint64_t offset, uint64_t length);
zx_rights_t kobj_handle_rights(zx_handle_t h);

// ---- The page map (pager_pages.c) ------------------------------------------------------------
void pages_reset(void);
pg_state_t pages_get(const kobj_t* vmo, uint64_t page);
// The state at `page` and, in *run_end, the end (<= end) of the pages after it known to have the
// same state without looking further: page+1 for a page with an entry, else the next entry or
// the zero_from boundary. Lets every walk skip pages without entries in one step.
pg_state_t pages_seg(const kobj_t* vmo, uint64_t page, uint64_t end, uint64_t* run_end);
// First page in [first, end) whose state is in `mask` (PG_BIT set), or `end`.
uint64_t pages_find(const kobj_t* vmo, uint64_t first, uint64_t end, uint32_t mask);
// Set every page of [first, end) to map[old state] (map[s] == s leaves a page alone).
// ZX_ERR_NO_MEMORY (and no change) when the table cannot hold the result.
zx_status_t pages_map(kobj_t* vmo, uint64_t first, uint64_t end, const uint8_t map[PG_NSTATES]);
zx_status_t pages_assign(kobj_t* vmo, uint64_t first, uint64_t end, pg_state_t state);
// Forget every entry at or after `page` (resize down, destruction).
void pages_drop_from(kobj_t* vmo, uint64_t page);
// Move zero_from up to `page` (<= the size), giving the pages in between entries for the
// state they have, then make `tail` the state of pages without entries from there on
// (resize up: the new pages are dirty zero). ZX_ERR_NO_MEMORY, and no change, when full.
zx_status_t pages_set_tail(kobj_t* vmo, uint64_t page, pg_state_t tail);
// Entries the table can still take.
uint32_t pages_free(void);

// ---- VMO semantics (pager.c) -----------------------------------------------------------------
void pager_vmo_destroy(kobj_t* vmo);
zx_status_t pager_vmo_read(kobj_t* vmo, zx_handle_t h, void* buf, uint64_t off, size_t len);
zx_status_t pager_vmo_write(kobj_t* vmo, zx_handle_t h, const void* buf, uint64_t off,
                            size_t len);
zx_status_t pager_vmo_commit(kobj_t* vmo, zx_handle_t h, uint64_t off, uint64_t len);
zx_status_t pager_vmo_zero(kobj_t* vmo, zx_handle_t h, uint64_t off, uint64_t len);
zx_status_t pager_vmo_resize(kobj_t* vmo, uint64_t new_size_bytes);

#endif  // SIM_KOBJ_INTERNAL_H_
