"""Round trip: guest/runtime/record.c compiled for the host with clang-19, parsed by rig.protocol.

The C is the real record writer; only the runtime services it calls (output, environ, boot
facts) are replaced by a small host driver, because the host has no vDSO or debuglog.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rig.judge.protocol import Anomaly, AnomalyKind, Record, encode_record, parse_log
from tests.conftest import require_tool

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parents[2]

DRIVER = r"""
#include <rig/record.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Host stand-ins for the runtime services record.c uses.
void rig_output_write(const char* buf, size_t len) { fwrite(buf, 1, len, stdout); }
const char* rig_env_get(const char* key) {
  return strcmp(key, "rig.nonce") == 0 ? getenv("RIG_TEST_NONCE") : NULL;
}
static const rig_runtime_info_t info = {"debug-write", "next", 4096, 0, 0, 0};
const rig_runtime_info_t* rig_runtime_info(void) { return &info; }

int main(void) {
  static zx_vmo_dirty_range_t ranges[9];
  for (int i = 0; i < 9; i++) {
    ranges[i].offset = (uint64_t)i * 0x2000;
    ranges[i].length = 0x1000;
    ranges[i].options = (uint64_t)(i & 1);
  }
  rig_record_hello("0123456789abcdef", 2);
  rig_record_sbeg(0, 3, "write-then-query");
  rig_step_result_t res = {0};
  res.s = 0; res.t = 0; res.status = 0;
  rig_record_step(&res);
  res.t = 1; res.status = -10; res.fields = RIG_F_ACTUAL | RIG_F_AVAIL | RIG_F_RANGES;
  res.actual = 9; res.avail = 11; res.ranges = ranges; res.nr = 9;
  rig_record_step(&res);
  rig_record_skip(0, 2, "zx_pager_query_dirty_ranges");
  rig_record_send(0, 3);
  rig_record_sbeg(1, 2, "huge-values");
  rig_record_err(1, "create_vmo", -2147483647 - 1);
  // Every field at its widest: the record must stay within 200 bytes and say ovf=1.
  rig_step_result_t big = {0};
  big.s = 4294967295u; big.t = 4294967295u; big.status = -2147483647 - 1;
  big.fields = RIG_F_ACTUAL | RIG_F_AVAIL | RIG_F_CALLS | RIG_F_MODIFIED | RIG_F_RANGES;
  big.actual = big.avail = big.calls = big.modified = UINT64_MAX;
  static zx_vmo_dirty_range_t wide[5];
  for (int i = 0; i < 5; i++) {
    wide[i].offset = UINT64_MAX - (uint64_t)i;
    wide[i].length = UINT64_MAX;
    wide[i].options = UINT64_MAX;
  }
  big.ranges = wide; big.nr = 5;
  rig_record_step(&big);
  rig_record_send(1, 1);
  rig_record_bye(2);
  static const char crc_check[] = "123456789";
  printf("crc %08x\n", rig_crc32(crc_check, 9));
  return 0;
}
"""


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clang = require_tool("clang-19", "clang-19")
    out = tmp_path_factory.mktemp("record-host")
    (out / "driver.c").write_text(DRIVER)
    exe = out / "driver"
    subprocess.run(
        [clang, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{ROOT / 'guest/include'}",
         str(ROOT / "guest/runtime/record.c"), str(out / "driver.c"), "-o", str(exe)],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return exe


def run_driver(exe: Path, nonce: str | None) -> list[str]:
    env = {"PATH": "/usr/bin:/bin"}
    if nonce is not None:
        env["RIG_TEST_NONCE"] = nonce
    proc = subprocess.run([str(exe)], check=True, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env)
    return proc.stdout.splitlines()


def test_crc32_matches_zlib(driver: Path) -> None:
    lines = run_driver(driver, None)
    assert lines[-1] == "crc cbf43926"  # the standard CRC-32 check value of "123456789"


def test_records_round_trip_with_cmdline_nonce(driver: Path) -> None:
    nonce = "fedcba9876543210"
    lines = run_driver(driver, nonce)[:-1]
    parsed = parse_log(lines, nonces=[nonce])
    assert parsed.nonce == nonce
    assert [(r.seq, r.kind) for r in parsed.records] == [
        (0, "hello"), (1, "sbeg"), (2, "step"), (3, "step"), (4, "rng"), (5, "rng"), (6, "rng"),
        (7, "skip"), (8, "send"), (9, "sbeg"), (10, "err"), (11, "step"), (12, "rng"),
        (13, "rng"), (14, "rng"), (15, "send"), (16, "bye"),
    ]
    by_seq = {r.seq: r for r in parsed.records}
    assert by_seq[0].fields == (("prog", "0123456789abcdef"), ("nonce_src", "cmdline"),
                                ("out", "debug-write"), ("page", "4096"), ("scenarios", "2"),
                                ("vdso", "next"))
    assert by_seq[3].fields == (("s", "0"), ("t", "1"), ("st", "-10"), ("actual", "9"),
                                ("avail", "11"), ("nr", "9"))
    ranges = tuple(r for s in (4, 5, 6) for r in by_seq[s].ranges)
    assert ranges == tuple((i * 0x2000, 0x1000, i & 1) for i in range(9))
    assert [by_seq[s].number("at") for s in (4, 5, 6)] == [0, 4, 8]
    assert by_seq[7].fields == (("s", "0"), ("t", "2"), ("why", "unavailable"),
                                ("sys", "zx_pager_query_dirty_ranges"))
    assert by_seq[10].fields == (("s", "1"), ("what", "create_vmo"), ("st", "-2147483648"))
    assert by_seq[16].fields == (("scenarios", "2"), ("records", "16"))
    # Each line is exactly what the Python twin encodes.
    for record in parsed.records:
        fields = list(record.fields)
        assert record.text == encode_record(nonce, record.seq, record.kind, fields,
                                            record.ranges)
    # The widest step kept its fixed fields, dropped what did not fit and said so.
    big = by_seq[11]
    assert big.fields[:3] == (("s", "4294967295"), ("t", "4294967295"), ("st", "-2147483648"))
    assert big.get("ovf") == "1"
    assert all(len(line.encode()) <= 200 for line in lines)
    wide = [r for s in (12, 13, 14) for r in by_seq[s].ranges]
    assert wide == [((1 << 64) - 1 - i, (1 << 64) - 1, (1 << 64) - 1) for i in range(5)]
    assert parsed.anomalies == (
        Anomaly(AnomalyKind.OVERFLOW, "seq 11: the guest left fields out of this step record",
                big.line, (11,)),
    )


def test_builtin_nonce_without_cmdline_word(driver: Path) -> None:
    lines = run_driver(driver, "not-a-nonce")[:-1]
    parsed = parse_log(lines, nonces=["1111111111111111", "0123456789abcdef"])
    assert parsed.nonce == "0123456789abcdef"
    hello = parsed.hello
    assert isinstance(hello, Record)
    assert hello.get("nonce_src") == "builtin"
    assert len(parsed.records) == 17
    assert parsed.gaps == ()


# ---------------------------------------------------------------------------------------------
# fixture.c on the host. No kernel with dirty tracking is available here, so the pager syscalls
# are stand-ins in the driver that follow zircon-facts.md section 2.7 (copy-out loop) over a
# scripted list of dirty ranges, and log every call. Two modes inject kernel faults no real
# kernel here can produce (no progress, never converging) to show the loop cannot hang.

FIXTURE_DRIVER = r"""
#include <rig/fixture.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rig_output_write(const char* buf, size_t len) { fwrite(buf, 1, len, stdout); }
const char* rig_env_get(const char* key) { (void)key; return "00112233aabbccdd"; }
static const rig_runtime_info_t info = {"debuglog", "next", 4096, 0, 0, 0};
const rig_runtime_info_t* rig_runtime_info(void) { return &info; }
_Noreturn void rig_arch_trap(void) { abort(); }
rig_syscall_table_t rig_syscall_table;

static const char* mode;
static zx_handle_t next_handle = 0x100;
static zx_vmo_dirty_range_t dirty[8];
static size_t ndirty;

#define LOG(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))

static zx_status_t f_pager_create(uint32_t o, zx_handle_t* out) {
  *out = next_handle++; LOG("pager_create %u -> %x", o, *out); return ZX_OK;
}
static zx_status_t f_port_create(uint32_t o, zx_handle_t* out) {
  *out = next_handle++; LOG("port_create %u -> %x", o, *out); return ZX_OK;
}
static zx_status_t f_pager_create_vmo(zx_handle_t p, uint32_t o, zx_handle_t port, uint64_t key,
                                      uint64_t size, zx_handle_t* out) {
  LOG("pager_create_vmo %x %u %x %llu %llx", p, o, port, (unsigned long long)key,
      (unsigned long long)size);
  if (strcmp(mode, "setup_fail") == 0) return ZX_ERR_INVALID_ARGS;
  *out = next_handle++; return ZX_OK;
}
static zx_status_t f_vmo_create(uint64_t size, uint32_t o, zx_handle_t* out) {
  *out = next_handle++; LOG("vmo_create %llx %u -> %x", (unsigned long long)size, o, *out);
  return ZX_OK;
}
static zx_status_t f_vmo_write(zx_handle_t v, const void* b, uint64_t off, size_t n) {
  const unsigned char* p = b;
  LOG("vmo_write %x %llx %zx first=%u last=%u", v, (unsigned long long)off, n, p[0], p[n - 1]);
  return ZX_OK;
}
static zx_status_t f_vmo_create_child(zx_handle_t v, uint32_t o, uint64_t off, uint64_t size,
                                      zx_handle_t* out) {
  *out = next_handle++;
  LOG("vmo_create_child %x %#x %llx %llx -> %x", v, o, (unsigned long long)off,
      (unsigned long long)size, *out);
  return ZX_OK;
}
static zx_status_t f_handle_duplicate(zx_handle_t h, zx_rights_t r, zx_handle_t* out) {
  *out = next_handle++; LOG("handle_duplicate %x %#x -> %x", h, r, *out); return ZX_OK;
}
static zx_status_t f_handle_replace(zx_handle_t h, zx_rights_t r, zx_handle_t* out) {
  *out = next_handle++; LOG("handle_replace %x %#x -> %x", h, r, *out); return ZX_OK;
}
static zx_status_t f_handle_close(zx_handle_t h) { LOG("handle_close %x", h); return ZX_OK; }

static zx_status_t f_query(zx_handle_t p, zx_handle_t v, uint64_t off, uint64_t len, void* buf,
                           size_t size, size_t* actual, size_t* avail) {
  LOG("query %x %x %llx %llx %zu", p, v, (unsigned long long)off, (unsigned long long)len, size);
  if (strcmp(mode, "query_error") == 0) return ZX_ERR_BAD_HANDLE;
  zx_vmo_dirty_range_t* out = buf;
  size_t index = 0, total = 0;
  if (strcmp(mode, "noprogress") == 0) {  // fault: the same first range on every call
    out[0] = dirty[0];
    *actual = 1; *avail = ndirty; return ZX_OK;
  }
  if (strcmp(mode, "runaway") == 0) {  // fault: always one more range after this one
    out[0].offset = off; out[0].length = 4096; out[0].options = 0;
    *actual = 1; *avail = 2; return ZX_OK;
  }
  for (size_t i = 0; i < ndirty; i++) {
    if (dirty[i].offset + dirty[i].length <= off || dirty[i].offset >= off + len) continue;
    if ((index + 1) * sizeof(zx_vmo_dirty_range_t) > size) {
      if (avail == NULL) break;
      total++;
      continue;
    }
    out[index++] = dirty[i];
    total++;
  }
  if (actual) *actual = index;
  if (avail) *avail = total;
  return ZX_OK;
}

static zx_vmo_dirty_range_t qbuf[4];
static zx_vmo_dirty_range_t qall[7];

int main(int argc, char** argv) {
  mode = argc > 1 ? argv[1] : "";
  rig_syscall_table.zx_pager_create = f_pager_create;
  rig_syscall_table.zx_port_create = f_port_create;
  rig_syscall_table.zx_pager_create_vmo = f_pager_create_vmo;
  rig_syscall_table.zx_vmo_create = f_vmo_create;
  rig_syscall_table.zx_vmo_write = f_vmo_write;
  rig_syscall_table.zx_vmo_create_child = f_vmo_create_child;
  rig_syscall_table.zx_handle_duplicate = f_handle_duplicate;
  rig_syscall_table.zx_handle_replace = f_handle_replace;
  rig_syscall_table.zx_handle_close = f_handle_close;
  rig_syscall_table.zx_pager_query_dirty_ranges = f_query;
  for (int i = 0; i < 3; i++) {  // pages 1, 3, 5 dirty
    dirty[i].offset = (uint64_t)(2 * i + 1) * 4096; dirty[i].length = 4096;
  }
  ndirty = 3;
  rig_record_hello("0123456789abcdef", 1);
  int variants = strcmp(mode, "setup") == 0 || strcmp(mode, "setup_fail") == 0;
  static const rig_fixture_spec_t plain = {.s = 0, .steps = 1, .vmo_size = 0x6000};
  static const rig_fixture_spec_t all = {
      .s = 0, .steps = 1, .vmo_size = 0x2000, .vmo_options = ZX_VMO_TRAP_DIRTY,
      .aux_size = 0x2000, .aux_zero_size = 0x1000,
      .need = RIG_NEED_CLOSED | RIG_NEED_OTHER_VMO | RIG_NEED_PLAIN_VMO | RIG_NEED_CLONE |
              RIG_NEED_SLICE | RIG_NEED_VMO_NO_RIGHTS};
  rig_fixture_t fx;
  if (!rig_fixture_setup(&fx, variants ? &all : &plain)) {
    rig_fixture_teardown(&fx);
    return 0;
  }
  LOG("-- steps");
  if (strcmp(mode, "query_null_actual") == 0 || strcmp(mode, "query_error") == 0) {
    size_t avail = RIG_UNSET;
    rig_poison(qbuf, 2 * sizeof(qbuf[0]));
    zx_status_t st = zx_pager_query_dirty_ranges(fx.pager, fx.vmo, 0, fx.size, qbuf,
                                                 2 * sizeof(qbuf[0]), NULL, &avail);
    rig_step_query(&fx, 0, st, NULL, &avail, qbuf, 2);
  } else if (strcmp(mode, "query_all_short_buffer") == 0) {
    // Room for 8 asked, but the buffer holds 2: the kernel must be told 2 entries, not 8.
    rig_step_query_all(&fx, 0, fx.pager, fx.vmo, 8, qbuf, 2, qall, 7, 7);
  } else if (!variants) {
    rig_step_query_all(&fx, 0, fx.pager, fx.vmo, 2, qbuf, 4, qall, 7, 7);
  } else {
    zx_handle_t reduced = rig_take_pager_no_rights(&fx);
    LOG("pager %x, no_rights %x, again %x", fx.pager, reduced, rig_take_pager_no_rights(&fx));
    rig_step_status(&fx, 0, ZX_OK);
  }
  LOG("-- teardown");
  rig_fixture_teardown(&fx);
  return 0;
}
"""


@pytest.fixture(scope="module")
def fixture_driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clang = require_tool("clang-19", "clang-19")
    out = tmp_path_factory.mktemp("fixture-host")
    (out / "driver.c").write_text(FIXTURE_DRIVER)
    exe = out / "driver"
    subprocess.run(
        [clang, "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function", "-O1",
         f"-I{ROOT / 'guest/include'}", f"-I{ROOT / 'guest/runtime'}",
         *(str(ROOT / "guest/runtime" / f) for f in ("record.c", "fixture.c", "string.c")),
         str(out / "driver.c"), "-o", str(exe)],
        check=True, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return exe


def run_fixture(exe: Path, mode: str) -> tuple[list[tuple[str, tuple[tuple[str, str], ...],
                                                        tuple[tuple[int, int, int], ...]]],
                                                  list[str]]:
    proc = subprocess.run([str(exe), mode], check=True, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    parsed = parse_log(proc.stdout.splitlines(), nonces=["00112233aabbccdd"])
    assert (parsed.anomalies, parsed.gaps) == ((), ())
    return ([(r.kind, r.fields, r.ranges) for r in parsed.records[1:]],
            proc.stderr.splitlines())


def test_fixture_setup_creates_every_variant_and_closes_all(fixture_driver: Path) -> None:
    records, calls = run_fixture(fixture_driver, "setup")
    assert calls == [
        "pager_create 0 -> 100", "port_create 0 -> 101",
        "pager_create_vmo 100 8 101 0 2000",
        "vmo_create 2000 0 -> 103",  # aux for supply, filled with the non-zero pattern
        "vmo_write 103 0 1000 first=1 last=16", "vmo_write 103 1000 1000 first=1 last=16",
        "vmo_create 1000 0 -> 104",  # aux for supply_zero: never written
        "port_create 0 -> 105", "handle_close 105",  # closed
        "pager_create 0 -> 106",  # other pager, and a VMO of it (without TRAP_DIRTY)
        "pager_create_vmo 106 0 101 65536 2000",
        "vmo_create 2000 0 -> 108",  # plain VMO
        "vmo_create_child 102 0x10 0 2000 -> 109",  # snapshot-at-least-on-write clone
        "vmo_create_child 102 0x8 0 2000 -> 10a",  # slice
        "handle_duplicate 102 0xd0e3 -> 10b",  # VMO: no READ, no WRITE
        "-- steps",
        # pager: TRANSFER | INSPECT, made once at its step by replacing the pager handle
        "handle_replace 100 0x8002 -> 10c", "pager 0, no_rights 10c, again 10c",
        "-- teardown",
        "handle_close 10b", "handle_close 10c", "handle_close 10a", "handle_close 109",
        "handle_close 108", "handle_close 107", "handle_close 106", "handle_close 104",
        "handle_close 103", "handle_close 102", "handle_close 101",
    ]
    assert records == [
        ("step", (("s", "0"), ("t", "0"), ("st", "0")), ()),
        ("send", (("s", "0"), ("steps", "1")), ()),
    ]


def test_fixture_setup_failure_reports_err_and_closes(fixture_driver: Path) -> None:
    records, calls = run_fixture(fixture_driver, "setup_fail")
    assert calls == ["pager_create 0 -> 100", "port_create 0 -> 101",
                     "pager_create_vmo 100 8 101 0 2000", "handle_close 101", "handle_close 100"]
    assert records == [
        ("err", (("s", "0"), ("what", "create_vmo"), ("st", "-10")), ()),
        ("send", (("s", "0"), ("steps", "0")), ()),
    ]


def test_query_all_loop_matches_the_model(fixture_driver: Path) -> None:
    """Pages 1, 3, 5 dirty in a 6-page VMO, room for 2 per call: the model's cl-query-all."""
    from rig.model.predict import predict
    from rig.scenario.loader import load_scenarios
    scenario = load_scenarios(ROOT / "tests/data/scenarios/checklog.yaml").scenarios[1]
    pred = predict(scenario, "2024").steps[4]
    records, calls = run_fixture(fixture_driver, "query_all")
    assert calls[calls.index("-- steps") + 1:calls.index("-- teardown")] == [
        "query 100 102 0 6000 48", "query 100 102 4000 2000 48"]
    step, rng = records[0], records[1]
    assert step == ("step", (("s", "0"), ("t", "0"), ("st", "0"), ("actual", "1"),
                             ("avail", "1"), ("calls", "2"), ("nr", "3")), ())
    assert (pred.status, pred.actual, pred.avail, pred.calls, pred.ranges) == (
        0, 1, 1, 2, rng[2])
    assert rng[1] == (("s", "0"), ("t", "0"), ("at", "0"))


def test_query_without_actual_counts_entries_by_poison(fixture_driver: Path) -> None:
    records, _ = run_fixture(fixture_driver, "query_null_actual")
    assert records[:2] == [
        ("step", (("s", "0"), ("t", "0"), ("st", "0"), ("avail", "3"), ("nr", "2")), ()),
        ("rng", (("s", "0"), ("t", "0"), ("at", "0")), ((4096, 4096, 0), (12288, 4096, 0))),
    ]


def test_query_error_prints_no_unwritten_fields(fixture_driver: Path) -> None:
    records, _ = run_fixture(fixture_driver, "query_error")
    assert records[0] == ("step", (("s", "0"), ("t", "0"), ("st", "-11"), ("nr", "0")), ())


@pytest.mark.parametrize(("mode", "calls", "stop"), [("noprogress", 2, "noprogress"),
                                                     ("runaway", 7, "bound")])
def test_query_all_cannot_hang_on_a_broken_kernel(fixture_driver: Path, mode: str,
                                                  calls: int, stop: str) -> None:
    records, log = run_fixture(fixture_driver, mode)
    assert sum(line.startswith("query ") for line in log) == calls
    # The record says the loop was cut short, and why.
    assert records[0][1][5:7] == (("calls", str(calls)), ("stop", stop))


def test_query_all_never_tells_the_kernel_more_room_than_its_buffer(fixture_driver: Path) -> None:
    # A kernel writing as many entries as it was told there is room for must stay inside the
    # buffer: buffer_size is capped at the entries the buffer holds.
    records, log = run_fixture(fixture_driver, "query_all_short_buffer")
    assert [line for line in log if line.startswith("query ")] == [
        "query 100 102 0 6000 48", "query 100 102 4000 2000 48"]
    assert records[0][0] == "step" and ("nr", "3") in records[0][1]
