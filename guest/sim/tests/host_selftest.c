// Checks of the kobj half that scenarios cannot reach: page-request packets on the port,
// zx_port_wait, the bootstrap channel, ZX_PROP_NAME, handle duplicate/replace/close rules,
// platform handles, and what happens when the page table is full. Run by
// `host_driver --selftest`; prints one line per failed check and "selftest ok N" at the end.
#include <stdio.h>
#include <string.h>

#include "kobj.h"

int host_selftest(void);

static int g_checks, g_failed;

#define CHECK(cond)                                                       \
  do {                                                                    \
    g_checks++;                                                           \
    if (!(cond)) {                                                        \
      g_failed++;                                                         \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
    }                                                                     \
  } while (0)

#define PAGE 4096u

static void pager_vmo(uint32_t options, uint64_t pages, uint64_t key, zx_handle_t* pager,
                      zx_handle_t* port, zx_handle_t* vmo) {
  CHECK(sys_zx_pager_create(0, pager) == ZX_OK);
  CHECK(sys_zx_port_create(0, port) == ZX_OK);
  CHECK(sys_zx_pager_create_vmo(*pager, options, *port, key, pages * PAGE, vmo) == ZX_OK);
}

static void test_page_requests(void) {
  kobj_init(SIM_PROFILE_2024);
  zx_handle_t pager, port, vmo, aux;
  pager_vmo(ZX_VMO_TRAP_DIRTY, 4, 0x55, &pager, &port, &vmo);
  static unsigned char buf[2 * PAGE];
  zx_port_packet_t pkt;
  CHECK(sys_zx_port_wait(port, 0, &pkt) == ZX_ERR_TIMED_OUT);
  // A read of unsupplied pages: a READ request for the unsupplied run.
  CHECK(sys_zx_vmo_read(vmo, buf, PAGE, 2 * PAGE) == SIM_ERR_WOULD_BLOCK);
  const sim_page_request_t* req = sim_blocked_request();
  CHECK(req->vmo == vmo && req->command == ZX_PAGER_VMO_READ);
  CHECK(req->offset == PAGE && req->length == 2 * PAGE);
  CHECK(sys_zx_port_wait(port, ZX_TIME_INFINITE, &pkt) == ZX_OK);
  CHECK(pkt.key == 0x55 && pkt.type == ZX_PKT_TYPE_PAGE_REQUEST && pkt.status == ZX_OK);
  CHECK(pkt.page_request.command == ZX_PAGER_VMO_READ);
  CHECK(pkt.page_request.offset == PAGE && pkt.page_request.length == 2 * PAGE);
  // The same request again is still pending: no second packet.
  CHECK(sys_zx_vmo_read(vmo, buf, PAGE, 2 * PAGE) == SIM_ERR_WOULD_BLOCK);
  CHECK(sys_zx_port_wait(port, 0, &pkt) == ZX_ERR_TIMED_OUT);
  // Supply; then a write of a clean page of a trap_dirty VMO asks for a DIRTY request.
  CHECK(sys_zx_vmo_create(4 * PAGE, 0, &aux) == ZX_OK);
  CHECK(sys_zx_vmo_write(aux, buf, 0, 2 * PAGE) == ZX_OK);
  CHECK(sys_zx_pager_supply_pages(pager, vmo, 0, 4 * PAGE, aux, 0) == ZX_OK);
  CHECK(sys_zx_vmo_read(vmo, buf, 0, 2 * PAGE) == ZX_OK);
  CHECK(buf[0] != 0 && buf[PAGE] != 0);  // pages 0..1 came from written aux pages
  CHECK(sys_zx_vmo_read(vmo, buf, 2 * PAGE, PAGE) == ZX_OK);
  CHECK(buf[0] == 0 && buf[PAGE - 1] == 0);  // page 2 is a zero marker
  CHECK(sys_zx_vmo_write(vmo, buf, PAGE, 10) == SIM_ERR_WOULD_BLOCK);
  CHECK(req->command == ZX_PAGER_VMO_DIRTY && req->offset == PAGE && req->length == PAGE);
  CHECK(sys_zx_port_wait(port, 0, &pkt) == ZX_OK);
  CHECK(pkt.page_request.command == ZX_PAGER_VMO_DIRTY && pkt.page_request.offset == PAGE);
  CHECK(sys_zx_pager_op_range(pager, ZX_PAGER_OP_DIRTY, vmo, PAGE, PAGE, 0) == ZX_OK);
  CHECK(sys_zx_vmo_write(vmo, buf, PAGE, 10) == ZX_OK);
  // Detach queues COMPLETE once.
  CHECK(sys_zx_pager_detach_vmo(pager, vmo) == ZX_OK);
  CHECK(sys_zx_pager_detach_vmo(pager, vmo) == ZX_OK);
  CHECK(sys_zx_port_wait(port, 0, &pkt) == ZX_OK);
  CHECK(pkt.page_request.command == ZX_PAGER_VMO_COMPLETE && pkt.key == 0x55);
  CHECK(sys_zx_port_wait(port, 0, &pkt) == ZX_ERR_TIMED_OUT);
  // After detach an unsupplied page fails instead of blocking.
  CHECK(sys_zx_vmo_read(vmo, buf, 0, PAGE) == ZX_ERR_BAD_STATE);
  CHECK(sys_zx_port_wait(port, 0, NULL) == ZX_ERR_TIMED_OUT);
  CHECK(sys_zx_port_wait(vmo, 0, &pkt) == ZX_ERR_WRONG_TYPE);
}

static void test_handles(void) {
  kobj_init(SIM_PROFILE_2022);
  zx_handle_t pager, port, vmo, dup, rep, bad;
  pager_vmo(0, 2, 1, &pager, &port, &vmo);
  // Pagers have no DUPLICATE right; replace with more rights fails and closes the handle.
  CHECK(sys_zx_handle_duplicate(pager, ZX_RIGHT_SAME_RIGHTS, &dup) == ZX_ERR_ACCESS_DENIED);
  CHECK(sys_zx_handle_replace(pager, ZX_RIGHT_TRANSFER | ZX_RIGHT_INSPECT, &rep) == ZX_OK);
  CHECK(sys_zx_handle_close(pager) == ZX_ERR_BAD_HANDLE);
  CHECK(sys_zx_handle_replace(rep, ZX_RIGHT_MANAGE_VMO, &bad) == ZX_ERR_INVALID_ARGS);
  CHECK(sys_zx_handle_close(rep) == ZX_ERR_BAD_HANDLE);
  CHECK(sys_zx_handle_duplicate(vmo, ZX_RIGHT_READ | ZX_RIGHT_DUPLICATE, &dup) == ZX_OK);
  CHECK(sys_zx_handle_duplicate(dup, ZX_RIGHT_WRITE, &bad) == ZX_ERR_INVALID_ARGS);
  static unsigned char buf[16];
  CHECK(sys_zx_vmo_write(dup, buf, 0, 1) == ZX_ERR_ACCESS_DENIED);
  CHECK(sys_zx_handle_close(dup) == ZX_OK);
  CHECK(sys_zx_handle_close(dup) == ZX_ERR_BAD_HANDLE);
  CHECK(sys_zx_handle_close(ZX_HANDLE_INVALID) == ZX_OK);
  // A closed value is not handed out again soon.
  zx_handle_t p2;
  CHECK(sys_zx_port_create(0, &p2) == ZX_OK);
  CHECK(p2 != dup);
  // Platform handles.
  int cookie = 7;
  void* got = NULL;
  zx_handle_t log;
  CHECK(kobj_handle_new_platform(KOBJ_DEBUGLOG, ZX_RIGHT_WRITE, &cookie, &log) == ZX_OK);
  CHECK(kobj_handle_lookup(log, KOBJ_DEBUGLOG, ZX_RIGHT_WRITE, &got) == ZX_OK && got == &cookie);
  CHECK(kobj_handle_lookup(log, KOBJ_RESOURCE, 0, &got) == ZX_ERR_WRONG_TYPE);
  CHECK(kobj_handle_lookup(log, KOBJ_DEBUGLOG, ZX_RIGHT_READ, &got) == ZX_ERR_ACCESS_DENIED);
  CHECK(kobj_handle_lookup(12345, KOBJ_DEBUGLOG, 0, &got) == ZX_ERR_BAD_HANDLE);
  // Children: a slice of a resizable VMO is refused; the pager koid does not pass to children.
  zx_handle_t pager2, port2, rvmo, child;
  pager_vmo(ZX_VMO_RESIZABLE, 2, 2, &pager2, &port2, &rvmo);
  CHECK(sys_zx_vmo_create_child(rvmo, ZX_VMO_CHILD_SLICE, 0, PAGE, &child) ==
        ZX_ERR_NOT_SUPPORTED);
  CHECK(sys_zx_vmo_create_child(vmo, ZX_VMO_CHILD_SLICE, 0, 2 * PAGE, &child) == ZX_OK);
  zx_handle_t aux;
  CHECK(sys_zx_vmo_create(PAGE, 0, &aux) == ZX_OK);
  CHECK(sys_zx_pager_supply_pages(pager2, child, 0, PAGE, aux, 0) == ZX_ERR_INVALID_ARGS);
  uint64_t size = 0;
  CHECK(sys_zx_vmo_get_size(child, &size) == ZX_OK && size == 2 * PAGE);
  CHECK(sys_zx_vmo_set_size(rvmo, 5 * PAGE + 1) == ZX_OK);
  CHECK(sys_zx_vmo_get_size(rvmo, &size) == ZX_OK && size == 6 * PAGE);
}

static void test_channel_and_names(void) {
  kobj_init(SIM_PROFILE_2024);
  static const char vdso[] = "\x7f" "ELF";
  zx_handle_t v, h[2], ch;
  CHECK(kobj_vmo_new_from_bytes(vdso, 4, "vdso/next", &v) == ZX_OK);
  char name[ZX_MAX_NAME_LEN];
  CHECK(sys_zx_object_get_property(v, ZX_PROP_NAME, name, sizeof(name)) == ZX_OK);
  CHECK(strcmp(name, "vdso/next") == 0);
  CHECK(sys_zx_object_get_property(v, ZX_PROP_NAME, name, 8) == ZX_ERR_BUFFER_TOO_SMALL);
  unsigned char b[8];
  CHECK(sys_zx_vmo_read(v, b, 0, 8) == ZX_OK && b[1] == 'E' && b[4] == 0);
  CHECK(sys_zx_vmo_write(v, b, 0, 1) == ZX_ERR_ACCESS_DENIED);
  h[0] = v;
  CHECK(sys_zx_port_create(0, &h[1]) == ZX_OK);
  static const char msg[] = "hello, processargs";
  CHECK(kobj_channel_new_with_message(msg, sizeof(msg), h, 2, &ch) == ZX_OK);
  CHECK(sys_zx_handle_close(v) == ZX_ERR_BAD_HANDLE);  // moved into the message
  char got[64];
  zx_handle_t hs[4];
  uint32_t nb = 0, nh = 0;
  CHECK(sys_zx_channel_read(ch, 0, got, hs, 4, 4, &nb, &nh) == ZX_ERR_BUFFER_TOO_SMALL);
  CHECK(nb == sizeof(msg) && nh == 2);
  CHECK(sys_zx_channel_read(ch, 0, got, hs, sizeof(got), 1, &nb, &nh) ==
        ZX_ERR_BUFFER_TOO_SMALL);
  CHECK(sys_zx_channel_read(ch, 0, got, hs, sizeof(got), 4, &nb, &nh) == ZX_OK);
  CHECK(memcmp(got, msg, sizeof(msg)) == 0 && nh == 2);
  CHECK(sys_zx_object_get_property(hs[0], ZX_PROP_NAME, name, sizeof(name)) == ZX_OK);
  CHECK(strcmp(name, "vdso/next") == 0);
  zx_port_packet_t pkt;
  CHECK(sys_zx_port_wait(hs[1], 0, &pkt) == ZX_ERR_TIMED_OUT);
  CHECK(sys_zx_channel_read(ch, 0, got, hs, sizeof(got), 4, &nb, &nh) == ZX_ERR_PEER_CLOSED);
  CHECK(sys_zx_handle_close(ch) == ZX_OK);
}

static void test_exhaustion(void) {
  kobj_init(SIM_PROFILE_2024);
  zx_handle_t pager, port, vmo, aux;
  uint64_t pages = 100000;  // more than the page table holds
  pager_vmo(0, pages, 3, &pager, &port, &vmo);
  CHECK(sys_zx_vmo_create(pages * PAGE, 0, &aux) == ZX_OK);
  CHECK(sys_zx_pager_supply_pages(pager, vmo, 0, pages * PAGE, aux, 0) == ZX_ERR_NO_MEMORY);
  // Nothing was supplied: a read still blocks on page 0.
  unsigned char b[1];
  CHECK(sys_zx_vmo_read(vmo, b, 0, 1) == SIM_ERR_WOULD_BLOCK);
  CHECK(sys_zx_pager_supply_pages(pager, vmo, 0, 60000ull * PAGE, aux, 0) == ZX_OK);
  CHECK(sys_zx_vmo_op_range(vmo, ZX_VMO_OP_COMMIT, 60000ull * PAGE, 40000ull * PAGE, NULL, 0) ==
        SIM_ERR_WOULD_BLOCK);
  // Zeroing every page fits: the unsupplied pages move the VMO's zero boundary down instead
  // of taking entries.
  CHECK(sys_zx_vmo_op_range(vmo, ZX_VMO_OP_ZERO, 0, pages * PAGE, NULL, 0) == ZX_OK);
  size_t actual = 0, avail = 0;
  zx_vmo_dirty_range_t r[2];
  CHECK(sys_zx_pager_query_dirty_ranges(pager, vmo, 0, pages * PAGE, r, sizeof(r), &actual,
                                        &avail) == ZX_OK);
  // (The supplied pages came from an unwritten aux VMO: zero markers, which OP_ZERO leaves.)
  CHECK(actual == 1 && avail == 1 && r[0].offset == 60000ull * PAGE &&
        r[0].length == 40000ull * PAGE && r[0].options == ZX_VMO_DIRTY_RANGE_IS_ZERO);
  // A huge VMO with a huge zero tail: resize, writeback the whole tail, query: all cheap.
  zx_handle_t pager2, port2, huge;
  pager_vmo(ZX_VMO_RESIZABLE, 1ull << 36, 4, &pager2, &port2, &huge);
  CHECK(sys_zx_vmo_set_size(huge, (1ull << 40) * PAGE) == ZX_OK);
  CHECK(sys_zx_pager_query_dirty_ranges(pager2, huge, 0, (1ull << 40) * PAGE, r, sizeof(r),
                                        &actual, &avail) == ZX_OK);
  CHECK(actual == 1 && r[0].offset == (1ull << 36) * PAGE);
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_BEGIN, huge, 0, (1ull << 40) * PAGE,
                              ZX_VMO_DIRTY_RANGE_IS_ZERO) == ZX_OK);
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_END, huge, 0, (1ull << 40) * PAGE,
                              0) == ZX_OK);
  CHECK(sys_zx_pager_query_dirty_ranges(pager2, huge, 0, (1ull << 40) * PAGE, r, sizeof(r),
                                        &actual, &avail) == ZX_OK);
  CHECK(actual == 0 && avail == 0);
  CHECK(sys_zx_vmo_set_size(huge, ((1ull << 40) + 5) * PAGE) == ZX_OK);
  CHECK(sys_zx_pager_query_dirty_ranges(pager2, huge, 0, ((1ull << 40) + 5) * PAGE, r,
                                        sizeof(r), &actual, &avail) == ZX_OK);
  CHECK(actual == 1 && r[0].offset == (1ull << 40) * PAGE && r[0].length == 5 * PAGE);
  // Part of a huge tail awaiting clean needs an entry per page: the table is full.
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_BEGIN, huge, (1ull << 40) * PAGE,
                              2 * PAGE, ZX_VMO_DIRTY_RANGE_IS_ZERO) == ZX_OK);
  CHECK(sys_zx_vmo_set_size(huge, (1ull << 41) * PAGE) == ZX_OK);
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_BEGIN, huge,
                              ((1ull << 40) + 5) * PAGE, (1ull << 39) * PAGE,
                              ZX_VMO_DIRTY_RANGE_IS_ZERO) == ZX_OK);
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_BEGIN, huge, (1ull << 40) * PAGE,
                              (1ull << 39) * PAGE, ZX_VMO_DIRTY_RANGE_IS_ZERO) ==
        ZX_ERR_NO_MEMORY);
  // Nothing changed: the interval is still awaiting clean only on its first two pages.
  CHECK(sys_zx_pager_op_range(pager2, ZX_PAGER_OP_WRITEBACK_END, huge, (1ull << 40) * PAGE,
                              (1ull << 40) * PAGE, 0) == ZX_OK);
  CHECK(sys_zx_pager_query_dirty_ranges(pager2, huge, (1ull << 40) * PAGE, (1ull << 40) * PAGE,
                                        r, sizeof(r), &actual, &avail) == ZX_OK);
  CHECK(actual == 1 && r[0].offset == ((1ull << 40) + 2) * PAGE);
}

int host_selftest(void) {
  test_page_requests();
  test_handles();
  test_channel_and_names();
  test_exhaustion();
  printf("selftest %s %d/%d\n", g_failed ? "FAILED" : "ok", g_checks - g_failed, g_checks);
  return g_failed ? 1 : 0;
}
