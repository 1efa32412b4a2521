// Kernel objects of the sim: the object and handle tables, ports, the bootstrap channel,
// platform objects, and the generic handle/object syscalls. VMOs are in kobj_vmo.c, pagers and
// the pager semantics in pager.c, the page map in pager_pages.c.
#include "kobj_internal.h"

sim_profile_t kobj_profile = SIM_PROFILE_2024;

static kobj_t g_objects[KOBJ_MAX_OBJECTS];
static zx_koid_t g_next_koid;

typedef struct {
  kobj_t* obj;  // NULL: free
  zx_rights_t rights;
  uint32_t gen;
} handle_slot_t;

static handle_slot_t g_handles[KOBJ_MAX_HANDLES];
static uint32_t g_handle_cursor;

// The bootstrap channel's one message (the sim makes one channel per boot).
static kobj_channel_t g_channel;
static int g_channel_used;

static sim_page_request_t g_blocked;

void kobj_memcpy(void* dst, const void* src, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  const unsigned char* s = (const unsigned char*)src;
  for (size_t i = 0; i < n; i++) d[i] = s[i];
}

void kobj_memset(void* dst, int c, size_t n) {
  unsigned char* d = (unsigned char*)dst;
  for (size_t i = 0; i < n; i++) d[i] = (unsigned char)c;
}

const sim_page_request_t* sim_blocked_request(void) { return &g_blocked; }

void kobj_set_blocked(zx_handle_t h, uint16_t command, uint64_t offset, uint64_t length) {
  g_blocked.vmo = h;
  g_blocked.command = command;
  g_blocked.offset = offset;
  g_blocked.length = length;
}

void kobj_init(sim_profile_t profile) {
  kobj_profile = profile;
  kobj_memset(g_objects, 0, sizeof(g_objects));
  kobj_memset(g_handles, 0, sizeof(g_handles));
  kobj_memset(&g_blocked, 0, sizeof(g_blocked));
  g_channel_used = 0;
  g_handle_cursor = 0;
  g_next_koid = 1024;  // koids 0..1023 are reserved in Zircon too
  for (uint32_t i = 0; i < KOBJ_MAX_OBJECTS; i++) g_objects[i].slot = i;
  pages_reset();
}

void kobj_debug_counts(uint32_t* objects, uint32_t* handles, uint32_t* pages) {
  *objects = *handles = 0;
  for (uint32_t i = 0; i < KOBJ_MAX_OBJECTS; i++) *objects += g_objects[i].type != KOBJ_NONE;
  for (uint32_t i = 0; i < KOBJ_MAX_HANDLES; i++) *handles += g_handles[i].obj != NULL;
  *pages = KOBJ_MAX_PAGE_ENTRIES - pages_free();
}

// ---- Objects ---------------------------------------------------------------------------------

kobj_t* kobj_alloc(kobj_type_t type) {
  for (uint32_t i = 0; i < KOBJ_MAX_OBJECTS; i++) {
    kobj_t* o = &g_objects[i];
    if (o->type != KOBJ_NONE) continue;
    kobj_memset(o, 0, sizeof(*o));
    o->slot = i;
    o->type = type;
    o->refs = 0;
    o->koid = g_next_koid++;
    return o;
  }
  return NULL;
}

void kobj_ref(kobj_t* o) { o->refs++; }

static void destroy(kobj_t* o) {
  if (o->type == KOBJ_VMO) {
    kobj_vmo_t* v = &o->u.vmo;
    pages_drop_from(o, 0);
    pager_vmo_destroy(o);
    kobj_t* port = v->port;
    kobj_t* parent = v->parent;
    o->type = KOBJ_NONE;
    if (port != NULL) kobj_unref(port);
    if (parent != NULL) kobj_unref(parent);
    return;
  }
  if (o->type == KOBJ_CHANNEL && o->channel != NULL) {
    kobj_channel_t* c = o->channel;
    for (uint32_t i = 0; i < c->nhandles; i++) {
      if (c->handles[i] != NULL) kobj_unref(c->handles[i]);
    }
    c->nhandles = 0;
    c->has_message = 0;
    g_channel_used = 0;
  }
  o->type = KOBJ_NONE;
}

void kobj_unref(kobj_t* o) {
  if (o->refs > 0) o->refs--;
  if (o->refs == 0) destroy(o);
}

// ---- Handles ---------------------------------------------------------------------------------
// A handle value encodes its slot and a generation: a closed value is not handed out again for
// a long time, so `closed` handles keep failing with ZX_ERR_BAD_HANDLE. The low two bits are 1,
// as in Zircon's handle values.

static zx_handle_t handle_value(uint32_t slot, uint32_t gen) {
  return (zx_handle_t)(((slot + 1u) << 16) | ((gen & 0x3fffu) << 2) | 3u);
}

static handle_slot_t* handle_slot(zx_handle_t h) {
  if ((h & 3u) != 3u) return NULL;
  uint32_t slot = (h >> 16);
  if (slot == 0 || slot > KOBJ_MAX_HANDLES) return NULL;
  handle_slot_t* s = &g_handles[slot - 1u];
  if (s->obj == NULL || handle_value(slot - 1u, s->gen) != h) return NULL;
  return s;
}

zx_status_t kobj_handle_make(kobj_t* o, zx_rights_t rights, zx_handle_t* out) {
  for (uint32_t n = 0; n < KOBJ_MAX_HANDLES; n++) {
    uint32_t i = (g_handle_cursor + n) % KOBJ_MAX_HANDLES;
    handle_slot_t* s = &g_handles[i];
    if (s->obj != NULL) continue;
    g_handle_cursor = (i + 1u) % KOBJ_MAX_HANDLES;
    s->obj = o;
    s->rights = rights;
    s->gen++;
    kobj_ref(o);
    *out = handle_value(i, s->gen);
    return ZX_OK;
  }
  return ZX_ERR_NO_RESOURCES;
}

zx_status_t kobj_get(zx_handle_t h, kobj_type_t type, zx_rights_t need, kobj_t** out) {
  handle_slot_t* s = handle_slot(h);
  if (s == NULL) return ZX_ERR_BAD_HANDLE;
  if (type != KOBJ_NONE && s->obj->type != type) return ZX_ERR_WRONG_TYPE;
  if ((s->rights & need) != need) return ZX_ERR_ACCESS_DENIED;
  *out = s->obj;
  return ZX_OK;
}

static zx_rights_t handle_rights(zx_handle_t h) {
  handle_slot_t* s = handle_slot(h);
  return s != NULL ? s->rights : 0;
}

static void handle_free(handle_slot_t* s) {
  kobj_t* o = s->obj;
  s->obj = NULL;
  s->rights = 0;
  kobj_unref(o);
}

zx_status_t kobj_copy_out(void* user, const void* src, size_t n) {
  if (n == 0) return ZX_OK;
  if (user == NULL || !sim_user_ok(user, n)) return ZX_ERR_INVALID_ARGS;
  kobj_memcpy(user, src, n);
  return ZX_OK;
}

zx_status_t kobj_handle_new_platform(kobj_type_t type, zx_rights_t rights, void* cookie,
                                     zx_handle_t* out) {
  if (type < KOBJ_DEBUGLOG || type > KOBJ_JOB || out == NULL) return ZX_ERR_INVALID_ARGS;
  kobj_t* o = kobj_alloc(type);
  if (o == NULL) return ZX_ERR_NO_MEMORY;
  o->cookie = cookie;
  zx_status_t st = kobj_handle_make(o, rights, out);
  if (st != ZX_OK) o->type = KOBJ_NONE;
  return st;
}

zx_status_t kobj_handle_lookup(zx_handle_t h, kobj_type_t type, zx_rights_t need, void** cookie) {
  kobj_t* o;
  zx_status_t st = kobj_get(h, type, need, &o);
  if (st != ZX_OK) return st;
  if (cookie != NULL) *cookie = (o->type >= KOBJ_DEBUGLOG) ? o->cookie : NULL;
  return ZX_OK;
}

zx_status_t sys_zx_handle_close(zx_handle_t handle) {
  if (handle == ZX_HANDLE_INVALID) return ZX_OK;
  handle_slot_t* s = handle_slot(handle);
  if (s == NULL) return ZX_ERR_BAD_HANDLE;
  handle_free(s);
  return ZX_OK;
}

static int rights_ok(zx_rights_t have, zx_rights_t want, zx_rights_t* out) {
  if (want == ZX_RIGHT_SAME_RIGHTS) {
    *out = have;
    return 1;
  }
  if ((have & want) != want) return 0;
  *out = want;
  return 1;
}

zx_status_t sys_zx_handle_duplicate(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out) {
  handle_slot_t* s = handle_slot(handle);
  if (s == NULL) return ZX_ERR_BAD_HANDLE;
  if (!(s->rights & ZX_RIGHT_DUPLICATE)) return ZX_ERR_ACCESS_DENIED;
  zx_rights_t r;
  if (!rights_ok(s->rights, rights, &r)) return ZX_ERR_INVALID_ARGS;
  if (out == NULL || !sim_user_ok(out, sizeof(*out))) return ZX_ERR_INVALID_ARGS;
  zx_handle_t h;
  zx_status_t st = kobj_handle_make(s->obj, r, &h);
  if (st != ZX_OK) return st;
  *out = h;
  return ZX_OK;
}

zx_status_t sys_zx_handle_replace(zx_handle_t handle, zx_rights_t rights, zx_handle_t* out) {
  handle_slot_t* s = handle_slot(handle);
  if (s == NULL) return ZX_ERR_BAD_HANDLE;
  // The old handle is gone whatever happens next (Zircon removes it first).
  kobj_t* o = s->obj;
  zx_rights_t have = s->rights;
  kobj_ref(o);
  handle_free(s);
  zx_rights_t r;
  zx_status_t st = ZX_ERR_INVALID_ARGS;
  zx_handle_t h = ZX_HANDLE_INVALID;
  if (rights_ok(have, rights, &r) && out != NULL && sim_user_ok(out, sizeof(*out))) {
    st = kobj_handle_make(o, r, &h);
    if (st == ZX_OK) *out = h;
  }
  kobj_unref(o);
  return st;
}

// ---- Ports -----------------------------------------------------------------------------------

#define PORT_DEFAULT_RIGHTS                                                                    \
  (ZX_RIGHT_TRANSFER | ZX_RIGHT_DUPLICATE | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_READ | \
   ZX_RIGHT_WRITE)

zx_status_t sys_zx_port_create(uint32_t options, zx_handle_t* out) {
  if (options & ~1u) return ZX_ERR_INVALID_ARGS;  // 1: ZX_PORT_BIND_TO_INTERRUPT
  if (out == NULL || !sim_user_ok(out, sizeof(*out))) return ZX_ERR_INVALID_ARGS;
  kobj_t* o = kobj_alloc(KOBJ_PORT);
  if (o == NULL) return ZX_ERR_NO_MEMORY;
  zx_handle_t h;
  zx_status_t st = kobj_handle_make(o, PORT_DEFAULT_RIGHTS, &h);
  if (st != ZX_OK) {
    o->type = KOBJ_NONE;
    return st;
  }
  *out = h;
  return ZX_OK;
}

zx_status_t kobj_port_queue(kobj_t* port, const zx_port_packet_t* pkt) {
  kobj_port_t* p = &port->u.port;
  if (p->count == KOBJ_PORT_QUEUE) return ZX_ERR_SHOULD_WAIT;
  kobj_memcpy(&p->q[(p->head + p->count) % KOBJ_PORT_QUEUE], pkt, sizeof(*pkt));
  p->count++;
  return ZX_OK;
}

zx_status_t sys_zx_port_wait(zx_handle_t handle, zx_time_t deadline, zx_port_packet_t* packet) {
  (void)deadline;  // one thread: nothing can arrive while we wait, so never block
  kobj_t* o;
  zx_status_t st = kobj_get(handle, KOBJ_PORT, ZX_RIGHT_READ, &o);
  if (st != ZX_OK) return st;
  kobj_port_t* p = &o->u.port;
  if (p->count == 0) return ZX_ERR_TIMED_OUT;
  st = kobj_copy_out(packet, &p->q[p->head], sizeof(*packet));
  if (st != ZX_OK) return st;
  p->head = (p->head + 1u) % KOBJ_PORT_QUEUE;
  p->count--;
  return ZX_OK;
}

// ---- The bootstrap channel -------------------------------------------------------------------

#define CHANNEL_RIGHTS                                                                         \
  (ZX_RIGHT_TRANSFER | ZX_RIGHT_DUPLICATE | ZX_RIGHT_WAIT | ZX_RIGHT_INSPECT | ZX_RIGHT_READ | \
   ZX_RIGHT_WRITE | ZX_RIGHT_SIGNAL | ZX_RIGHT_SIGNAL_PEER)

zx_status_t kobj_channel_new_with_message(const void* bytes, uint32_t nbytes,
                                          const zx_handle_t* handles, uint32_t nhandles,
                                          zx_handle_t* out) {
  if (g_channel_used) return ZX_ERR_NO_RESOURCES;
  if (nbytes > KOBJ_CHANNEL_MAX_BYTES || nhandles > KOBJ_CHANNEL_MAX_HANDLES)
    return ZX_ERR_OUT_OF_RANGE;
  for (uint32_t i = 0; i < nhandles; i++) {
    if (handle_slot(handles[i]) == NULL) return ZX_ERR_BAD_HANDLE;
  }
  kobj_t* o = kobj_alloc(KOBJ_CHANNEL);
  if (o == NULL) return ZX_ERR_NO_MEMORY;
  zx_handle_t h;
  zx_status_t st = kobj_handle_make(o, CHANNEL_RIGHTS, &h);
  if (st != ZX_OK) {
    o->type = KOBJ_NONE;
    return st;
  }
  kobj_channel_t* c = &g_channel;
  g_channel_used = 1;
  o->channel = c;
  kobj_memcpy(c->bytes, bytes, nbytes);
  c->nbytes = nbytes;
  // The handles move into the message: the objects stay alive, the handle values are gone.
  for (uint32_t i = 0; i < nhandles; i++) {
    handle_slot_t* s = handle_slot(handles[i]);
    c->handles[i] = s->obj;
    c->rights[i] = s->rights;
    kobj_ref(s->obj);
    handle_free(s);
  }
  c->nhandles = nhandles;
  c->has_message = 1;
  *out = h;
  return ZX_OK;
}

zx_status_t sys_zx_channel_read(zx_handle_t handle, uint32_t options, void* bytes,
                                zx_handle_t* handles, uint32_t num_bytes, uint32_t num_handles,
                                uint32_t* actual_bytes, uint32_t* actual_handles) {
  kobj_t* o;
  zx_status_t st = kobj_get(handle, KOBJ_CHANNEL, ZX_RIGHT_READ, &o);
  if (st != ZX_OK) return st;
  if (options != 0) return ZX_ERR_INVALID_ARGS;
  kobj_channel_t* c = o->channel;
  // The peer end (the kernel's) is gone once the message is read.
  if (c == NULL || !c->has_message) return ZX_ERR_PEER_CLOSED;
  // Zircon reports the sizes through actual_* and leaves the message queued when it does not
  // fit (ZX_ERR_BUFFER_TOO_SMALL).
  if (actual_bytes != NULL) {
    st = kobj_copy_out(actual_bytes, &c->nbytes, sizeof(*actual_bytes));
    if (st != ZX_OK) return st;
  }
  if (actual_handles != NULL) {
    st = kobj_copy_out(actual_handles, &c->nhandles, sizeof(*actual_handles));
    if (st != ZX_OK) return st;
  }
  if (num_bytes < c->nbytes || num_handles < c->nhandles) return ZX_ERR_BUFFER_TOO_SMALL;
  if (c->nbytes != 0 && (bytes == NULL || !sim_user_ok(bytes, c->nbytes)))
    return ZX_ERR_INVALID_ARGS;
  if (c->nhandles != 0 &&
      (handles == NULL || !sim_user_ok(handles, c->nhandles * sizeof(zx_handle_t))))
    return ZX_ERR_INVALID_ARGS;
  zx_handle_t made[KOBJ_CHANNEL_MAX_HANDLES];
  for (uint32_t i = 0; i < c->nhandles; i++) {
    st = kobj_handle_make(c->handles[i], c->rights[i], &made[i]);
    if (st != ZX_OK) {
      for (uint32_t j = 0; j < i; j++) sys_zx_handle_close(made[j]);
      return st;
    }
  }
  kobj_memcpy(bytes, c->bytes, c->nbytes);
  for (uint32_t i = 0; i < c->nhandles; i++) {
    handles[i] = made[i];
    kobj_unref(c->handles[i]);  // the message's reference; the new handle holds its own
    c->handles[i] = NULL;
  }
  c->nhandles = 0;
  c->has_message = 0;
  return ZX_OK;
}

// ---- Properties, VMARs -----------------------------------------------------------------------

zx_status_t sys_zx_object_get_property(zx_handle_t handle, uint32_t property, void* value,
                                       size_t value_size) {
  kobj_t* o;
  zx_status_t st = kobj_get(handle, KOBJ_NONE, ZX_RIGHT_GET_PROPERTY, &o);
  if (st != ZX_OK) return st;
  if (property != ZX_PROP_NAME) return ZX_ERR_NOT_SUPPORTED;
  if (value_size < ZX_MAX_NAME_LEN) return ZX_ERR_BUFFER_TOO_SMALL;
  char name[ZX_MAX_NAME_LEN];
  kobj_memset(name, 0, sizeof(name));
  if (o->type == KOBJ_VMO) kobj_memcpy(name, o->u.vmo.name, sizeof(name) - 1u);
  return kobj_copy_out(value, name, sizeof(name));
}

// The sim identity-maps the program and never maps VMOs for it: the test program does not map
// (the pager scenarios use zx_vmo_read/write). The handles are still checked as Zircon does.
zx_status_t sys_zx_vmar_map(zx_handle_t vmar, zx_vm_option_t options, size_t vmar_offset,
                            zx_handle_t vmo, uint64_t vmo_offset, size_t len,
                            zx_vaddr_t* mapped_addr) {
  (void)options;
  (void)vmar_offset;
  (void)vmo_offset;
  (void)len;
  (void)mapped_addr;
  kobj_t* o;
  zx_status_t st = kobj_get(vmar, KOBJ_VMAR, 0, &o);
  if (st != ZX_OK) return st;
  st = kobj_get(vmo, KOBJ_VMO, 0, &o);
  if (st != ZX_OK) return st;
  return ZX_ERR_NOT_SUPPORTED;
}

zx_status_t sys_zx_vmar_unmap(zx_handle_t vmar, zx_vaddr_t addr, size_t len) {
  (void)addr;
  (void)len;
  kobj_t* o;
  zx_status_t st = kobj_get(vmar, KOBJ_VMAR, 0, &o);
  if (st != ZX_OK) return st;
  return ZX_ERR_NOT_FOUND;
}

zx_rights_t kobj_handle_rights(zx_handle_t h) { return handle_rights(h); }
