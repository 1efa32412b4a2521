"""Round trip: guest/runtime/record.c compiled for the host with clang-19, parsed by rig.protocol.

The C is the real record writer; only the runtime services it calls (output, environ, boot
facts) are replaced by a small host driver, because the host has no vDSO or debuglog.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from rig.protocol import Anomaly, AnomalyKind, Record, encode_record, parse_log

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parents[2]
CLANG = shutil.which("clang-19")

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
    if CLANG is None:
        pytest.skip("clang-19 not found on PATH (needed to compile record.c for the host)")
    out = tmp_path_factory.mktemp("record-host")
    (out / "driver.c").write_text(DRIVER)
    exe = out / "driver"
    subprocess.run(
        [CLANG, "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", f"-I{ROOT / 'guest/include'}",
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
    assert parsed.missing == ()
