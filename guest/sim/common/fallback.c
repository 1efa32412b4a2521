// Weak stand-ins for the kobj half (kobj.h), so the platform half links and boots on its own:
// a small handle table for platform objects, read-only VMOs over platform bytes (vDSO names,
// reads), and the bootstrap channel's one message. Every other kernel-object syscall answers
// ZX_ERR_NOT_SUPPORTED. The real kobj*.c / pager*.c definitions are strong and replace all of
// these at link time.
#include "sim.h"

#define W __attribute__((weak))
#define FB_MAX 64u

typedef struct {
  kobj_type_t type;
  zx_rights_t rights;
  void* cookie;
  const uint8_t* data;  // VMO bytes, or the channel message
  uint64_t size;
  const char* name;
  const zx_handle_t* msg_handles;
  uint32_t msg_nhandles;
  int read;  // the channel message was read
} fb_obj_t;

static fb_obj_t g_fb[FB_MAX];
static uint32_t g_fb_next;
static zx_handle_t g_fb_msg_handles[64];

static zx_handle_t fb_handle(uint32_t i) { return (zx_handle_t)((i + 1u) << 4 | 3u); }
static fb_obj_t* fb_get(zx_handle_t h) {
  if ((h & 0xfu) != 3u) return 0;
  uint32_t i = (h >> 4) - 1u;
  if (i >= g_fb_next || g_fb[i].type == KOBJ_NONE) return 0;
  return &g_fb[i];
}
static zx_status_t fb_new(kobj_type_t type, zx_rights_t rights, fb_obj_t** o, zx_handle_t* out) {
  if (g_fb_next >= FB_MAX) return ZX_ERR_NO_RESOURCES;
  *o = &g_fb[g_fb_next];
  (*o)->type = type;
  (*o)->rights = rights;
  *out = fb_handle(g_fb_next++);
  return ZX_OK;
}

W void kobj_init(sim_profile_t profile) {
  (void)profile;
  sim_kprintf("sim: the kernel-object half is not linked in: kernel-object syscalls answer "
              "ZX_ERR_NOT_SUPPORTED");
}

W zx_status_t kobj_handle_new_platform(kobj_type_t type, zx_rights_t rights, void* cookie,
                                       zx_handle_t* out) {
  fb_obj_t* o;
  zx_status_t st = fb_new(type, rights, &o, out);
  if (st == ZX_OK) o->cookie = cookie;
  return st;
}

W zx_status_t kobj_handle_lookup(zx_handle_t h, kobj_type_t type, zx_rights_t need,
                                 void** cookie) {
  fb_obj_t* o = fb_get(h);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  if (o->type != type) return ZX_ERR_WRONG_TYPE;
  if ((o->rights & need) != need) return ZX_ERR_ACCESS_DENIED;
  if (cookie != 0) *cookie = o->cookie;
  return ZX_OK;
}

W zx_status_t kobj_vmo_new_from_bytes(const void* data, uint64_t size, const char* name,
                                      zx_handle_t* out) {
  fb_obj_t* o;
  zx_status_t st = fb_new(KOBJ_VMO, ZX_RIGHT_DUPLICATE | ZX_RIGHT_TRANSFER | ZX_RIGHT_READ |
                                        ZX_RIGHT_MAP | ZX_RIGHT_GET_PROPERTY,
                          &o, out);
  if (st != ZX_OK) return st;
  o->data = data;
  o->size = size;
  o->name = name;
  return ZX_OK;
}

W zx_status_t kobj_channel_new_with_message(const void* bytes, uint32_t nbytes,
                                            const zx_handle_t* handles, uint32_t nhandles,
                                            zx_handle_t* out) {
  fb_obj_t* o;
  if (nhandles > 64) return ZX_ERR_OUT_OF_RANGE;
  zx_status_t st = fb_new(KOBJ_CHANNEL, ZX_RIGHT_READ | ZX_RIGHT_WRITE | ZX_RIGHT_TRANSFER, &o,
                          out);
  if (st != ZX_OK) return st;
  for (uint32_t i = 0; i < nhandles; ++i) g_fb_msg_handles[i] = handles[i];
  o->data = bytes;
  o->size = nbytes;
  o->msg_handles = g_fb_msg_handles;
  o->msg_nhandles = nhandles;
  return ZX_OK;
}

W const sim_page_request_t* sim_blocked_request(void) { return 0; }

// The few syscalls the stand-in serves; the X-macro below gives the rest.
#define sys_zx_channel_read fb_unused_channel_read
#define sys_zx_handle_close fb_unused_handle_close
#define sys_zx_object_get_property fb_unused_get_property
#define sys_zx_vmo_read fb_unused_vmo_read
#define sys_zx_vmo_get_size fb_unused_vmo_get_size
#define sys_zx_process_exit fb_unused_process_exit
#define RIG_SYSCALL(ret, name, params, args) \
  W ret sys_##name params;                   \
  W ret sys_##name params {                  \
    return (ret)ZX_ERR_NOT_SUPPORTED;        \
  }
#define RIG_SYSCALL_NORETURN(name, params, args) W void sys_##name params {}
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunused-parameter"
#pragma clang diagnostic ignored "-Wmissing-prototypes"
#include <rig/syscalls.def>
#pragma clang diagnostic pop
#undef sys_zx_channel_read
#undef sys_zx_handle_close
#undef sys_zx_object_get_property
#undef sys_zx_vmo_read
#undef sys_zx_vmo_get_size
#undef sys_zx_process_exit

W zx_status_t sys_zx_channel_read(zx_handle_t handle, uint32_t options, void* bytes,
                                  zx_handle_t* handles, uint32_t num_bytes, uint32_t num_handles,
                                  uint32_t* actual_bytes, uint32_t* actual_handles) {
  fb_obj_t* o = fb_get(handle);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  if (o->type != KOBJ_CHANNEL) return ZX_ERR_WRONG_TYPE;
  if (options != 0) return ZX_ERR_INVALID_ARGS;
  if (o->read) return ZX_ERR_PEER_CLOSED;
  if (actual_bytes != 0) *actual_bytes = (uint32_t)o->size;
  if (actual_handles != 0) *actual_handles = o->msg_nhandles;
  if (num_bytes < o->size || num_handles < o->msg_nhandles) return ZX_ERR_BUFFER_TOO_SMALL;
  for (uint64_t i = 0; i < o->size; ++i) ((uint8_t*)bytes)[i] = o->data[i];
  for (uint32_t i = 0; i < o->msg_nhandles; ++i) handles[i] = o->msg_handles[i];
  o->read = 1;
  return ZX_OK;
}

W zx_status_t sys_zx_handle_close(zx_handle_t handle) {
  if (handle == ZX_HANDLE_INVALID) return ZX_OK;
  fb_obj_t* o = fb_get(handle);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  o->type = KOBJ_NONE;
  return ZX_OK;
}

W zx_status_t sys_zx_object_get_property(zx_handle_t handle, uint32_t property, void* value,
                                         size_t value_size) {
  fb_obj_t* o = fb_get(handle);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  if (property != ZX_PROP_NAME || o->name == 0) return ZX_ERR_NOT_SUPPORTED;
  if (value_size < ZX_MAX_NAME_LEN) return ZX_ERR_BUFFER_TOO_SMALL;
  char* v = value;
  size_t i = 0;
  for (; o->name[i] != '\0' && i < ZX_MAX_NAME_LEN - 1; ++i) v[i] = o->name[i];
  for (; i < ZX_MAX_NAME_LEN; ++i) v[i] = '\0';
  return ZX_OK;
}

W zx_status_t sys_zx_vmo_read(zx_handle_t vmo, void* buffer, uint64_t offset, size_t size) {
  fb_obj_t* o = fb_get(vmo);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  if (o->type != KOBJ_VMO) return ZX_ERR_WRONG_TYPE;
  if (offset > o->size || size > o->size - offset) return ZX_ERR_OUT_OF_RANGE;
  for (size_t i = 0; i < size; ++i) ((uint8_t*)buffer)[i] = o->data[offset + i];
  return ZX_OK;
}

W zx_status_t sys_zx_vmo_get_size(zx_handle_t vmo, uint64_t* size) {
  fb_obj_t* o = fb_get(vmo);
  if (o == 0) return ZX_ERR_BAD_HANDLE;
  if (o->type != KOBJ_VMO) return ZX_ERR_WRONG_TYPE;
  *size = o->size;
  return ZX_OK;
}
