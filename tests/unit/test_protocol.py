"""rig.protocol: records in, anomalies out; never raises on guest output."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig.judge.protocol import (
    MAX_ANOMALIES_PER_KIND,
    MAX_LINE_BYTES,
    MAX_RECORD_BYTES,
    Anomaly,
    AnomalyKind,
    ParsedLog,
    Record,
    encode_record,
    encode_step_records,
    iter_log_lines,
    parse_log,
)

N = "00112233aabbccdd"
OTHER = "ffffffffffffffff"
FIXTURE_LOG = (Path(__file__).resolve().parents[1] / "data" / "logs" / "real"
               / "zircon-arm64-2020-core-tests.serial.log")


def rec(seq: int, kind: str = "sbeg", nonce: str = N, **fields: str | int) -> str:
    return encode_record(nonce, seq, kind, list(fields.items()) or [("s", 0)])


def test_encode_record_format() -> None:
    line = encode_record(N, 7, "step", [("s", 1), ("t", 2), ("st", -10)])
    assert line == f"@RIG1 {N} 7 step s=1 t=2 st=-10 ~{line[-8:]}"
    # CRC-32 of everything up to and including the space before '~' (zlib's crc32).
    import binascii
    assert int(line[-8:], 16) == binascii.crc32(line[:-9].encode())


def test_one_record_with_every_prefix_and_line_end() -> None:
    line = rec(0, "hello", prog="0123456789abcdef", nonce_src="builtin")
    lines: list[str | bytes] = [
        f"[00043.946] 01053:01056> {line}\r\n",
        f"userboot: {rec(1)}\r",
        (rec(2) + "\r\n").encode(),
        rec(3),
    ]
    parsed = parse_log(lines, nonces=[N])
    assert [(r.seq, r.kind, r.line) for r in parsed.records] == [
        (0, "hello", 1), (1, "sbeg", 2), (2, "sbeg", 3), (3, "sbeg", 4)]
    assert parsed.records[0] == Record(
        line=1, nonce=N, seq=0, kind="hello",
        fields=(("prog", "0123456789abcdef"), ("nonce_src", "builtin")), text=line)
    assert parsed.anomalies == ()
    assert parsed.gaps == ()
    assert parsed.other_lines == ()


def test_kernel_lines_are_kept_not_interpreted() -> None:
    lines = ["welcome to Zircon", rec(0), "[00001.000] 00000:00000> @RIG1 is not a record",
             "ZIRCON KERNEL PANIC"]
    parsed = parse_log(lines, nonces=[N])
    assert [r.seq for r in parsed.records] == [0]
    assert parsed.other_lines == (
        (1, "welcome to Zircon"), (3, "[00001.000] 00000:00000> @RIG1 is not a record"),
        (4, "ZIRCON KERNEL PANIC"))
    # "@RIG1 " followed by anything else is a garbled record: reported, never used.
    assert parsed.anomalies == (
        Anomaly(AnomalyKind.CORRUPT, "garbled record '@RIG1 is not a record'", 3),)


def test_gap_duplicate_reorder_and_after_bye() -> None:
    lines = [rec(0), rec(1), rec(3), rec(1), rec(2), rec(5, "bye", scenarios=0, records=5),
             rec(6)]
    parsed = parse_log(lines, nonces=[N])
    assert [r.seq for r in parsed.records] == [0, 1, 2, 3, 5, 6]
    assert parsed.gaps == ((4, 4),)
    assert parsed.anomalies == (
        Anomaly(AnomalyKind.DUPLICATE, "seq 1 seen again (same content; first at line 2)", 4,
                (1,)),
        Anomaly(AnomalyKind.REORDERED, "seq 2 arrived after seq 3", 5, (2,)),
        Anomaly(AnomalyKind.AFTER_BYE, "seq 6 (sbeg) after bye (seq 5)", 7, (6,)),
        Anomaly(AnomalyKind.GAP, "1 records dropped: seq 4"),
    )


def test_corrupt_record_is_not_used() -> None:
    good = rec(1, "step", s=0, t=0, st=0)
    bad = good.replace("st=0", "st=5")
    parsed = parse_log([rec(0), bad, rec(2)], nonces=[N])
    assert [r.seq for r in parsed.records] == [0, 2]
    assert parsed.gaps == ((1, 1),)
    assert [a.kind for a in parsed.anomalies] == [AnomalyKind.CORRUPT, AnomalyKind.GAP]
    assert parsed.anomalies[0].line == 2


def test_foreign_nonce_and_nonce_preference() -> None:
    lines = [rec(0, nonce=OTHER), rec(0), rec(1, nonce=OTHER), rec(1)]
    parsed = parse_log(lines, nonces=[N, OTHER])
    assert parsed.nonce == N
    assert parsed.foreign == 2
    assert parsed.anomalies == (
        Anomaly(AnomalyKind.FOREIGN, f"2 records with another nonce ignored: {OTHER} (2)"),)
    # The second nonce is taken only when the first has no record at all.
    only_other = parse_log(lines[::2], nonces=[N, OTHER])
    assert (only_other.nonce, [r.seq for r in only_other.records]) == (OTHER, [0, 1])
    nothing = parse_log(lines, nonces=["0" * 16])
    assert (nothing.nonce, nothing.records, nothing.foreign) == (None, (), 4)


def test_malformed_fields_too_long_and_overflow() -> None:
    long_name = "n" * 200
    lines = [
        encode_record(N, 0, "sbeg", [("s", 0), ("name", long_name)]),
        encode_record(N, 1, "step", [("s", 0), ("t", 0), ("st", 0), ("ovf", 1)]),
        encode_record(N, 2, "rng", [("s", 0), ("t", 0), ("at", 0)],
                      [(0, 4096, 0)] * 5),
        encode_record(N, 3, "wat", [("s", 0)]),
        encode_record(N, 4, "step", [("s", 0), ("s", 1)]),
    ]
    parsed = parse_log(lines, nonces=[N])
    assert [r.seq for r in parsed.records] == [0, 1, 2, 4]
    assert parsed.records[3].fields == (("s", "0"),)
    assert [(a.kind, a.seqs) for a in parsed.anomalies] == [
        (AnomalyKind.TOO_LONG, (0,)),
        (AnomalyKind.OVERFLOW, (1,)),
        (AnomalyKind.MALFORMED, (2,)),
        (AnomalyKind.MALFORMED, (3,)),
        (AnomalyKind.MALFORMED, (4,)),
        (AnomalyKind.GAP, ()),
    ]


def test_step_records_split_ranges_four_per_record() -> None:
    ranges = [(i * 8192, 4096, i % 2) for i in range(9)]
    lines = encode_step_records(N, 10, 2, 3, 0, actual=9, avail=9, ranges=ranges)
    assert [line.split()[3] for line in lines] == ["step", "rng", "rng", "rng"]
    parsed = parse_log(lines, nonces=[N])
    assert [r.number("at") for r in parsed.records[1:]] == [0, 4, 8]
    assert tuple(r for x in parsed.records[1:] for r in x.ranges) == tuple(ranges)
    assert parsed.records[0].number("nr") == 9
    assert all(len(line) <= MAX_RECORD_BYTES for line in lines)


def _splice(records: list[str], seed: int) -> tuple[list[bytes], list[int]]:
    """The real log with records spliced in at random places, as the debuglog prints them."""
    kernel = FIXTURE_LOG.read_bytes().split(b"\r\n")
    rnd = random.Random(seed)
    slots = sorted(rnd.sample(range(len(kernel)), len(records)))
    out: list[bytes] = []
    where: list[int] = []
    pending = iter(records)
    slot_set = set(slots)
    for i, line in enumerate(kernel):
        out.append(line + b"\r\n")
        if i in slot_set:
            prefix = rnd.choice([b"[00043.946] 01053:01056> ", b"userboot: ", b""])
            out.append(prefix + next(pending).encode() + b"\r\n")
            where.append(len(out))
    return out, where


def test_real_zircon_log_alone_has_no_records() -> None:
    parsed = parse_log(FIXTURE_LOG.read_bytes().split(b"\n"), nonces=[N])
    assert (parsed.records, parsed.anomalies, parsed.foreign) == ((), (), 0)
    assert parsed.line_count == len(parsed.other_lines) == 2535


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_record_found_in_the_real_zircon_log(seed: int) -> None:
    records = [rec(0, "hello", prog="0123456789abcdef")]
    for s in range(40):
        records.append(encode_record(N, len(records), "sbeg", [("s", s), ("steps", 1),
                                                                 ("name", f"scn-{s}")]))
        records.extend(encode_step_records(N, len(records), s, 0, -10, actual=0, avail=6,
                                           ranges=[(4096 * k, 4096, 0) for k in range(6)]))
        records.append(encode_record(N, len(records), "send", [("s", s), ("steps", 1)]))
    records.append(rec(len(records), "bye", scenarios=40, records=len(records)))
    lines, where = _splice(records, seed)
    parsed = parse_log(lines, nonces=[N])
    assert [r.text for r in parsed.records] == records
    assert [r.line for r in parsed.records] == where
    assert (parsed.anomalies, parsed.gaps, parsed.foreign) == ((), (), 0)
    assert len(parsed.other_lines) == 2535


def _parses(parsed: ParsedLog) -> None:
    assert isinstance(parsed, ParsedLog)
    seqs = [r.seq for r in parsed.records]
    assert seqs == sorted(set(seqs))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300)), max_size=30))
def test_never_raises_on_arbitrary_lines(lines: list[str | bytes]) -> None:
    _parses(parse_log(lines, nonces=[N]))


_VALID = [rec(0, "hello", prog="0123456789abcdef"),
          *encode_step_records(N, 1, 0, 0, 0, actual=5, avail=5,
                               ranges=[(0, 4096, 0)] * 5), rec(4, "bye")]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 199),
                          st.sampled_from(["", " ", "~", "@RIG1 ", "\x00", "\r", "=", "é",
                                           "0", "-", ":"]),
                          st.booleans()), max_size=12),
       st.lists(st.sampled_from(["drop", "dup", "swap", "none"]), max_size=4))
def test_never_raises_on_damaged_records(edits: list[tuple[int, int, str, bool]],
                                         shuffles: list[str]) -> None:
    lines = list(_VALID)
    for index, pos, text, truncate in edits:
        line = lines[index % len(lines)]
        pos = min(pos, len(line))
        lines[index % len(lines)] = line[:pos] + text + ("" if truncate else line[pos:])
    for op in shuffles:
        if op == "drop" and lines:
            lines.pop(len(lines) // 2)
        elif op == "dup" and lines:
            lines.append(lines[0])
        elif op == "swap" and len(lines) > 1:
            lines[0], lines[-1] = lines[-1], lines[0]
    parsed = parse_log(lines, nonces=[N])
    _parses(parsed)
    # A record is accepted only when it is byte-for-byte one the guest could have printed.
    for record in parsed.records:
        assert record.text in _VALID


def test_hostile_sequence_numbers_cost_nothing() -> None:
    # One valid record numbered 10^9 (and one 9,999,999,999, the most the grammar takes) used
    # to make the parser list every missing number: seconds, and memory for 10^10 numbers.
    lines = [rec(0), rec(10**9), rec(9_999_999_999), rec(3)]
    start = time.perf_counter()
    parsed = parse_log(lines, nonces=[N])
    assert time.perf_counter() - start < 1.0
    assert parsed.gaps == ((1, 2), (4, 10**9 - 1), (10**9 + 1, 9_999_999_998))
    assert parsed.dropped == 9_999_999_996
    assert parsed.anomalies[-1] == Anomaly(
        AnomalyKind.GAP, "9999999996 records dropped: seq 1-2, 4-999999999, "
                         "1000000001-9999999998")


def test_a_huge_nr_costs_nothing() -> None:
    from rig.judge.compare import _observe

    step = parse_log([rec(0, "step", s=0, t=0, st=0, nr=10**19)], nonces=[N]).records[0]
    start = time.perf_counter()
    observed, missing = _observe(step, [])
    assert time.perf_counter() - start < 1.0
    assert (observed.ranges, missing) == (
        None, f"ranges 0..{10**19 - 1} of {10**19} lost (rng records missing)")


def test_anomalies_past_the_first_few_of_a_kind_are_counted() -> None:
    lines = [rec(0)] + [f"@RIG1 garbage {i}" for i in range(1000)] + [rec(1)]
    parsed = parse_log(lines, nonces=[N])
    corrupt = [a for a in parsed.anomalies if a.kind is AnomalyKind.CORRUPT]
    assert len(corrupt) == MAX_ANOMALIES_PER_KIND + 1
    assert corrupt[-1] == Anomaly(AnomalyKind.CORRUPT, f"{1000 - MAX_ANOMALIES_PER_KIND} more "
                                  "corrupt anomalies not listed (1000 in all)")


def test_overlong_lines_are_cut_without_splitting_a_record() -> None:
    record = rec(0).encode()
    noise = b"x" * (MAX_LINE_BYTES - 100)
    data = noise + record + b"y" * (3 * MAX_LINE_BYTES) + b"\n" + rec(1).encode() + b"\n"
    lines = list(iter_log_lines(io.BytesIO(data), chunk_bytes=4096))
    assert max(len(line) for line in lines) <= MAX_LINE_BYTES
    assert b"".join(lines) == data.replace(b"\n", b"")
    parsed = parse_log(lines, nonces=[N])
    assert [r.seq for r in parsed.records] == [0, 1]
