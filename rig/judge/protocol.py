"""Guest record protocol (docs/protocol.md): serial-log lines in, records and anomalies out.

The guest's output is untrusted: :func:`parse_log` never raises on any input. Whatever does not
fit the protocol becomes an :class:`Anomaly` on the result, with the log line it came from.
Time and memory grow with the log's size, never with numbers inside it: lost sequence numbers
are kept as ranges, anomalies past the first few of a kind are only counted, lines without a
record are kept only at the end of the log, and :func:`iter_log_lines` cuts overlong lines.
:func:`encode_record` is the Python twin of ``guest/runtime/record.c``, used by tests to build
logs.
"""

from __future__ import annotations

import binascii
import enum
import logging
import re
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

LOG = logging.getLogger(__name__)

PREFIX = "@RIG1 "
VERSION = 1
MAX_RECORD_BYTES = 200
NONCE_RE = re.compile(r"^[0-9a-f]{16}$")
KINDS = frozenset({"hello", "sbeg", "step", "rng", "skip", "err", "send", "bye"})
RANGES_PER_RECORD = 4
# Bounds that keep a hostile or huge log cheap (see the module docstring).
MAX_ANOMALIES_PER_KIND = 20  # listed one by one; the rest of a kind are counted
MAX_OTHER_LINES = 10_000  # lines without a record kept (the last ones: a crash shows there)
MAX_OTHER_LINE_CHARS = 1024  # of each, the start (kernel lines are short)
MAX_LINE_BYTES = 64 * 1024  # iter_log_lines cuts longer lines (a record is at most 200 bytes)
_MAX_PIECE_CHARS = 4 * 1024  # a candidate record is matched on at most this much of its text

# One record: prefix, nonce, seq, kind, fields, CRC. Trailing bytes after the CRC (a CR, another
# console's text run into the line) are ignored; the CRC covers everything before '~'.
_RECORD_RE = re.compile(
    r"@RIG1 (?P<nonce>[0-9a-f]{16}) (?P<seq>0|[1-9][0-9]{0,9}) (?P<kind>[a-z]+)"
    r"(?P<fields>(?: [!-}]+)*?) ~(?P<crc>[0-9a-f]{8})"
)
_RANGE_RE = re.compile(r"^([0-9a-f]{1,16}):([0-9a-f]{1,16}):([0-9a-f]{1,16})$")
_INT_RE = re.compile(r"^-?(?:0|[1-9][0-9]{0,19})$")


class AnomalyKind(enum.Enum):
    """What can be wrong with the records of a log."""

    CORRUPT = "corrupt"  # CRC mismatch or a garbled record: contents not used
    MALFORMED = "malformed"  # CRC fine but a field or the kind breaks the grammar
    TOO_LONG = "too_long"  # longer than MAX_RECORD_BYTES (a debuglog may cut such a record)
    OVERFLOW = "overflow"  # the guest left fields out (ovf=1)
    GAP = "gap"  # sequence numbers never seen: records dropped
    DUPLICATE = "duplicate"  # a sequence number seen twice
    REORDERED = "reordered"  # a record arrived after a later one
    FOREIGN = "foreign"  # another nonce: another boot or a stale image
    AFTER_BYE = "after_bye"  # a record of this run after its `bye`


@dataclass(frozen=True)
class Anomaly:
    kind: AnomalyKind
    detail: str
    line: int | None = None  # 1-based log line, when one line is to blame
    seqs: tuple[int, ...] = ()

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{self.kind.value}: {where}{self.detail}"


@dataclass(frozen=True)
class Record:
    """One well-formed record with a good CRC."""

    line: int  # 1-based line of the log
    nonce: str
    seq: int
    kind: str
    fields: tuple[tuple[str, str], ...]  # key=value pairs in order (first of a repeated key)
    ranges: tuple[tuple[int, int, int], ...] = ()  # `rng` records: (offset, length, options)
    text: str = ""

    def get(self, key: str) -> str | None:
        for k, v in self.fields:
            if k == key:
                return v
        return None

    def number(self, key: str) -> int | None:
        """The field as a decimal integer, or None when absent or not a number."""
        value = self.get(key)
        if value is None or not _INT_RE.match(value):
            return None
        return int(value)


@dataclass(frozen=True)
class ParsedLog:
    """Records of one run, in sequence order, and everything that looked wrong."""

    nonce: str | None  # the nonce whose records were taken (None: no record found)
    records: tuple[Record, ...]  # unique sequence numbers, sorted by seq
    anomalies: tuple[Anomaly, ...]
    # Sequence numbers never seen below the highest seen, as (first, last) ranges, inclusive.
    gaps: tuple[tuple[int, int], ...]
    foreign: int  # records with another nonce
    # The last MAX_OTHER_LINES lines without a good record (kernel output, garbled records),
    # each cut to MAX_OTHER_LINE_CHARS, with line numbers.
    other_lines: tuple[tuple[int, str], ...] = field(repr=False, default=())
    line_count: int = 0

    @property
    def dropped(self) -> int:
        """How many sequence numbers were never seen."""
        return sum(last - first + 1 for first, last in self.gaps)

    @property
    def hello(self) -> Record | None:
        return next((r for r in self.records if r.kind == "hello"), None)

    @property
    def bye(self) -> Record | None:
        return next((r for r in self.records if r.kind == "bye"), None)

    def anomalies_of(self, kind: AnomalyKind) -> tuple[Anomaly, ...]:
        return tuple(a for a in self.anomalies if a.kind is kind)


# ---------------------------------------------------------------------------------------------
# Encoding (the Python twin of guest/runtime/record.c)


def crc32_hex(text: str) -> str:
    return f"{binascii.crc32(text.encode('ascii', 'replace')) & 0xFFFFFFFF:08x}"


def format_range(offset: int, length: int, options: int) -> str:
    return f"{offset:x}:{length:x}:{options:x}"


def encode_record(nonce: str, seq: int, kind: str,
                  fields: Sequence[tuple[str, str | int]] = (),
                  ranges: Sequence[tuple[int, int, int]] = ()) -> str:
    """One record line without its line end, exactly as the guest prints it."""
    parts = [PREFIX + f"{nonce} {seq} {kind}"]
    parts.extend(f"{k}={v}" for k, v in fields)
    parts.extend(format_range(*r) for r in ranges)
    body = " ".join(parts) + " "
    return f"{body}~{crc32_hex(body)}"


def encode_step_records(nonce: str, seq: int, s: int, t: int, status: int, *,
                        actual: int | None = None, avail: int | None = None,
                        calls: int | None = None, modified: int | None = None,
                        ranges: Sequence[tuple[int, int, int]] | None = None) -> list[str]:
    """A `step` record and its `rng` records (4 ranges each), numbered from ``seq``."""
    fields: list[tuple[str, str | int]] = [("s", s), ("t", t), ("st", status)]
    for key, value in (("actual", actual), ("avail", avail), ("calls", calls),
                       ("modified", modified)):
        if value is not None:
            fields.append((key, value))
    if ranges is not None:
        fields.append(("nr", len(ranges)))
    out = [encode_record(nonce, seq, "step", fields)]
    for k in range(0, len(ranges or ()), RANGES_PER_RECORD):
        chunk = list((ranges or ())[k:k + RANGES_PER_RECORD])
        out.append(encode_record(nonce, seq + len(out), "rng", [("s", s), ("t", t), ("at", k)],
                                 chunk))
    return out


# ---------------------------------------------------------------------------------------------
# Parsing


def _to_text(raw: str | bytes) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", errors="replace")
    return raw


def _candidates(text: str) -> list[str]:
    """Every piece of the line that starts with the prefix, up to the next prefix."""
    pieces: list[str] = []
    start = text.find(PREFIX)
    while start >= 0:
        nxt = text.find(PREFIX, start + 1)
        pieces.append(text[start:nxt] if nxt >= 0 else text[start:])
        start = nxt
    return pieces


class _Anomalies:
    """Anomalies, the first MAX_ANOMALIES_PER_KIND of each kind in full, the rest counted."""

    def __init__(self) -> None:
        self.listed: list[Anomaly] = []
        self.counts: dict[AnomalyKind, int] = {}

    def append(self, anomaly: Anomaly) -> None:
        n = self.counts.get(anomaly.kind, 0)
        self.counts[anomaly.kind] = n + 1
        if n < MAX_ANOMALIES_PER_KIND:
            self.listed.append(anomaly)

    def result(self) -> tuple[Anomaly, ...]:
        more = [Anomaly(kind, f"{n - MAX_ANOMALIES_PER_KIND} more {kind.value} anomalies not "
                              f"listed ({n} in all)")
                for kind, n in self.counts.items() if n > MAX_ANOMALIES_PER_KIND]
        return (*self.listed, *more)


def _parse_candidate(piece: str, line_no: int,
                     anomalies: _Anomalies) -> Record | None:
    piece = piece[:_MAX_PIECE_CHARS]
    m = _RECORD_RE.match(piece)
    if m is None:
        anomalies.append(Anomaly(AnomalyKind.CORRUPT, f"garbled record {piece[:80]!r}",
                                 line_no))
        return None
    body = piece[:m.end("fields")] + " "
    if crc32_hex(body) != m.group("crc"):
        anomalies.append(Anomaly(AnomalyKind.CORRUPT, f"CRC mismatch in {piece[:80]!r}",
                                 line_no))
        return None
    record_text = piece[:m.end()]
    kind = m.group("kind")
    seq = int(m.group("seq"))
    fields: list[tuple[str, str]] = []
    ranges: list[tuple[int, int, int]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for token in m.group("fields").split():
        key, sep, value = token.partition("=")
        if sep:
            if not key:
                problems.append(f"field without a key {token!r}")
            elif key in seen:
                problems.append(f"field {key!r} repeated")
            else:
                seen.add(key)
                fields.append((key, value))
            continue
        rm = _RANGE_RE.match(token) if kind == "rng" else None
        if rm is None:
            problems.append(f"token {token!r} is neither key=value nor a range")
            continue
        ranges.append((int(rm.group(1), 16), int(rm.group(2), 16), int(rm.group(3), 16)))
    if kind not in KINDS:
        problems.append(f"unknown kind {kind!r}")
    if kind == "rng" and len(ranges) > RANGES_PER_RECORD:
        problems.append(f"{len(ranges)} ranges in one rng record (at most "
                        f"{RANGES_PER_RECORD})")
    for problem in problems:
        anomalies.append(Anomaly(AnomalyKind.MALFORMED, f"seq {seq}: {problem}", line_no,
                                 (seq,)))
    if len(record_text.encode("utf-8", "replace")) > MAX_RECORD_BYTES:
        anomalies.append(Anomaly(AnomalyKind.TOO_LONG,
                                 f"seq {seq}: {len(record_text)} bytes (at most "
                                 f"{MAX_RECORD_BYTES})", line_no, (seq,)))
    if ("ovf", "1") in fields:
        anomalies.append(Anomaly(AnomalyKind.OVERFLOW,
                                 f"seq {seq}: the guest left fields out of this {kind} record",
                                 line_no, (seq,)))
    if kind not in KINDS:
        return None
    return Record(line=line_no, nonce=m.group("nonce"), seq=seq, kind=kind,
                  fields=tuple(fields), ranges=tuple(ranges), text=record_text)


def ranges_text(gaps: Sequence[tuple[int, int]], most: int = 8) -> str:
    """[(3, 5), (9, 9)] -> '3-5, 9' (the first ``most`` ranges, then how many more)."""
    out = [str(a) if a == b else f"{a}-{b}" for a, b in gaps[:most]]
    if len(gaps) > most:
        out.append(f"... ({len(gaps) - most} more ranges)")
    return ", ".join(out)


def gaps_of(seqs: Iterable[int]) -> tuple[tuple[int, int], ...]:
    """The ranges of numbers from 0 to the highest of ``seqs`` that are not in it."""
    gaps: list[tuple[int, int]] = []
    expected = 0
    for seq in sorted(set(seqs)):
        if seq > expected:
            gaps.append((expected, seq - 1))
        expected = seq + 1
    return tuple(gaps)


def iter_log_lines(stream: BinaryIO, *, max_line_bytes: int = MAX_LINE_BYTES,
                   chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """The lines of a binary stream, read in chunks: memory stays bounded whatever the log.

    A line longer than ``max_line_bytes`` is cut into pieces of at most that size; a cut
    falls before the last record prefix of the piece when one starts near its end, so a record
    is not split (one longer than a piece is garbled anyway).
    """
    prefix = PREFIX.encode()

    def cut(line: bytes) -> Iterator[bytes]:
        while len(line) > max_line_bytes:
            at = line.rfind(prefix, max_line_bytes - 2 * MAX_RECORD_BYTES, max_line_bytes)
            at = at if at > 0 else max_line_bytes
            yield line[:at]
            line = line[at:]
        yield line

    pending = b""
    while True:
        chunk = stream.read(chunk_bytes)
        if not chunk:
            break
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield from cut(line)
        if len(pending) > max_line_bytes:  # keep only an unfinished piece
            *done, pending = cut(pending)
            yield from done
    if pending:
        yield from cut(pending)


def parse_log(lines: Iterable[str | bytes], *, nonces: Collection[str]) -> ParsedLog:
    """Find this run's records in a serial log.

    ``nonces`` are the nonces accepted for this run, most wanted first (the manifest's nonce,
    then the program's built-in id): the first of them that has records in the log is taken and
    every other record counts as foreign. Never raises on any log content.
    """
    wanted = [n for n in nonces if isinstance(n, str) and NONCE_RE.match(n)]
    anomalies = _Anomalies()
    candidates: list[Record] = []
    other: deque[tuple[int, str]] = deque(maxlen=MAX_OTHER_LINES)
    line_count = 0
    for line_no, raw in enumerate(lines, start=1):
        line_count = line_no
        text = _to_text(raw).rstrip("\r\n").replace("\r", "")
        found = False
        for piece in _candidates(text):
            record = _parse_candidate(piece, line_no, anomalies)
            if record is not None:
                candidates.append(record)
                found = True
        if not found:
            # Kept for crash detection; a garbled record's line may still carry kernel text.
            other.append((line_no, text[:MAX_OTHER_LINE_CHARS]))
    by_nonce: dict[str, int] = {}
    for record in candidates:
        by_nonce[record.nonce] = by_nonce.get(record.nonce, 0) + 1
    chosen = next((n for n in wanted if by_nonce.get(n)), None)
    foreign = sum(count for nonce, count in by_nonce.items() if nonce != chosen)
    if foreign:
        others = ", ".join(f"{n} ({c})" for n, c in sorted(by_nonce.items()) if n != chosen)
        anomalies.append(Anomaly(AnomalyKind.FOREIGN,
                                 f"{foreign} records with another nonce ignored: {others}"))
    ours = [r for r in candidates if r.nonce == chosen]
    accepted: dict[int, Record] = {}
    highest = -1
    bye_seq: int | None = None
    for record in ours:
        if bye_seq is not None and record.seq > bye_seq:
            anomalies.append(Anomaly(AnomalyKind.AFTER_BYE,
                                     f"seq {record.seq} ({record.kind}) after bye "
                                     f"(seq {bye_seq})", record.line, (record.seq,)))
        if record.seq in accepted:
            first = accepted[record.seq]
            same = "same content" if first.text == record.text else "different content"
            anomalies.append(Anomaly(AnomalyKind.DUPLICATE,
                                     f"seq {record.seq} seen again ({same}; first at line "
                                     f"{first.line})", record.line, (record.seq,)))
            continue
        if record.seq < highest:
            anomalies.append(Anomaly(AnomalyKind.REORDERED,
                                     f"seq {record.seq} arrived after seq {highest}",
                                     record.line, (record.seq,)))
        accepted[record.seq] = record
        highest = max(highest, record.seq)
        if record.kind == "bye" and bye_seq is None:
            bye_seq = record.seq
    gaps = gaps_of(accepted)
    if gaps:
        dropped = sum(b - a + 1 for a, b in gaps)
        anomalies.append(Anomaly(AnomalyKind.GAP,
                                 f"{dropped} records dropped: seq {ranges_text(gaps)}"))
    records = tuple(accepted[s] for s in sorted(accepted))
    result = anomalies.result()
    LOG.debug("parsed %d lines: %d records for nonce %s, %d anomalies", line_count,
              len(records), chosen, len(result))
    return ParsedLog(nonce=chosen, records=records, anomalies=result, gaps=gaps,
                     foreign=foreign, other_lines=tuple(other), line_count=line_count)
