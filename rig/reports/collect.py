"""Gather a run directory for the reports: result.json, each arch's build manifest, each boot's
QEMU argv and command line, and per scenario the serial lines it printed (or its crash).

Reads files only; never starts a process. Guest output is untrusted: a missing or damaged file
leaves a field empty, it never raises (only result.json itself must be a `rig.run/1` result).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rig.errors import InputError
from rig.judge.boot import find_crash
from rig.judge.crash import numbered

RUN_SCHEMA = "rig.run/1"
EXCERPT_MAX_LINES = 200  # serial lines kept per scenario in a report
CRASH_TAIL_LINES = 30  # lines kept after a crash's first line
_RECORD = re.compile(r"@RIG1 ([0-9a-f]{16}) \d+ (sbeg|send)\b.*? s=(\d+)")


@dataclass(frozen=True)
class BootInfo:
    index: int
    start: int
    dir: Path
    argv: tuple[str, ...]
    cmdline: str
    end: str
    crash: str | None
    nonce: str
    lines: tuple[str, ...] = ()  # the serial log (decoded, line ends stripped)
    part: int | None = None  # a merged result's part (rig merge, rig run --host)


@dataclass(frozen=True)
class ArchInfo:
    data: Mapping[str, Any]  # the arch entry of result.json
    manifest: Mapping[str, Any]  # the build's manifest.json ({} when unreadable)
    boots: tuple[BootInfo, ...]
    decided_by: Mapping[int, int]  # scenario index -> boot index (journal)

    @property
    def arch(self) -> str:
        return str(self.data["arch"])


@dataclass(frozen=True)
class RunInfo:
    result: Mapping[str, Any]
    path: Path  # result.json
    run_dir: Path
    arches: tuple[ArchInfo, ...]
    bundles: Mapping[tuple[str, int], Path] = field(default_factory=dict)


def load_result(path: Path) -> dict[str, Any]:
    """Read a `rig.run/1` result.json.

    :raises InputError: unreadable, not JSON, or not a `rig.run/1` result.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{path}: cannot read the run result: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not JSON ({exc}); give the result.json `rig run` "
                         "wrote") from exc
    if not isinstance(data, dict) or data.get("schema") != RUN_SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path}: schema {found!r}, wanted {RUN_SCHEMA!r} (the result.json of "
                         "`rig run`)")
    if not isinstance(data.get("arches"), list):
        raise InputError(f"{path}: no `arches` list: a damaged result.json")
    return data


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_lines(path: Path) -> tuple[str, ...]:
    try:
        raw = path.read_bytes()
    except OSError:
        return ()
    return tuple(ln.rstrip("\r") for ln in raw.decode("utf-8", "replace").split("\n"))


def _journal_deciders(run_dir: Path) -> dict[str, dict[int, int]]:
    out: dict[str, dict[int, int]] = {}
    try:
        text = (run_dir / "journal.jsonl").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a killed rig may leave half a line
        if isinstance(ev, dict) and ev.get("event") == "scenario":
            out.setdefault(str(ev.get("arch")), {})[int(ev.get("index", -1))] = int(
                ev.get("boot", 0))
    return out


def _boot_dir(run_dir: Path, arch: str, boot: Mapping[str, Any]) -> Path:
    d = Path(str(boot.get("dir", "")))
    return d if d.is_dir() else run_dir / arch / f"boot-{boot.get('index', 0)}"


def read_run(path: Path, *, bundles: Mapping[tuple[str, int], Path] | None = None) -> RunInfo:
    """Everything the reports need from the run directory holding ``path`` (result.json).

    :raises InputError: see :func:`load_result`.
    """
    result = load_result(path)
    run_dir = path.resolve().parent
    deciders = _journal_deciders(run_dir)
    arches = []
    for a in result["arches"]:
        arch = str(a.get("arch"))
        build = Path(str(a.get("build", "")))
        if not (build / "manifest.json").is_file():
            build = run_dir / arch / "build"
        manifest = _read_json(build / "manifest.json")
        boots = []
        for b in a.get("boots", []):
            d = _boot_dir(run_dir, arch, b)
            argv = _read_json(d / "qemu-argv.json")
            try:
                cmdline = (d / "cmdline.txt").read_text(errors="replace").strip()
            except OSError:
                cmdline = ""
            boots.append(BootInfo(
                index=int(b.get("index", 0)), start=int(b.get("start", 0)), dir=d,
                argv=tuple(str(x) for x in argv) if isinstance(argv, list) else (),
                cmdline=cmdline, end=str(b.get("end", "")), crash=b.get("crash"),
                nonce=str(b.get("nonce", "")), lines=_read_lines(d / "serial.log"),
                part=b.get("part")))
        arches.append(ArchInfo(a, manifest if isinstance(manifest, dict) else {},
                               tuple(boots), deciders.get(arch, {})))
    return RunInfo(result, path, run_dir, tuple(arches),
                   dict(bundles) if bundles else find_bundles(run_dir))


def find_bundles(run_dir: Path) -> dict[tuple[str, int], Path]:
    """Reproducer bundles under DIR/bundles/ (rig.reports.bundle), by (arch, scenario index)."""
    out: dict[tuple[str, int], Path] = {}
    for exp in sorted((run_dir / "bundles").glob("*/expected.json")):
        data = _read_json(exp)
        if isinstance(data, dict) and "arch" in data and "index" in data:
            out[(str(data["arch"]), int(data["index"]))] = exp.parent
    return out


def _boot_of(info: ArchInfo, index: int, part: int | None = None) -> BootInfo | None:
    # A merged result's parts number their scenarios and boots each from 0: look only among
    # the boots of the scenario's own part.
    boots = [b for b in info.boots if part is None or b.part == part] or list(info.boots)
    if not boots:
        return None
    wanted = info.decided_by.get(index) if part is None else None
    for b in boots:
        if b.index == wanted:
            return b
    # No journal: the last boot that started at or before the scenario.
    started = [b for b in boots if b.start <= index]
    return started[-1] if started else boots[0]


def scenario_excerpt(info: ArchInfo, index: int, part: int | None = None) -> tuple[str, ...]:
    """The serial lines scenario ``index`` printed (sbeg .. send of its boot's nonce); for a
    crash or hang in it, up to the crash and a tail after it."""
    boot = _boot_of(info, index, part)
    if boot is None or not boot.lines:
        return ()
    return excerpt_lines(boot.lines, boot.nonce, index)


def excerpt_lines(lines: Sequence[str], nonce: str, index: int) -> tuple[str, ...]:
    """Pure: the lines from scenario ``index``'s sbeg to its send (or to a crash and
    CRASH_TAIL_LINES after it, or to the end)."""
    begin = end = None
    for n, ln in enumerate(lines):
        m = _RECORD.search(ln)
        if m and m.group(1) == nonce and int(m.group(3)) == index:
            if m.group(2) == "sbeg" and begin is None:
                begin = n
            elif m.group(2) == "send" and begin is not None:
                end = n
                break
    if begin is None:
        return ()
    if end is None:
        crash, _ = find_crash(numbered(lines[begin:]))
        end = (begin + crash.line - 1 + CRASH_TAIL_LINES) if crash else len(lines) - 1
    out = lines[begin:end + 1]
    if len(out) > EXCERPT_MAX_LINES:
        half = EXCERPT_MAX_LINES // 2
        out = (*out[:half], f"... {len(out) - EXCERPT_MAX_LINES} lines left out ...",
               *out[-half:])
    return tuple(out)


def crash_excerpt(info: ArchInfo, index: int, part: int | None = None) -> tuple[str, ...]:
    """For a CRASH or HANG scenario: the console around the crash (or the last lines)."""
    boot = _boot_of(info, index, part)
    if boot is None or not boot.lines:
        return ()
    crash, _ = find_crash(numbered(boot.lines))
    if crash is None:
        return tuple(boot.lines[-CRASH_TAIL_LINES:])
    lo = max(crash.line - 4, 0)
    return tuple(boot.lines[lo:lo + CRASH_TAIL_LINES])


def step_difference(step: Mapping[str, Any]) -> str:
    """One line per failed step: where, op and every field expected against actual."""
    diffs = "; ".join(f"{d.get('field')}: expected {d.get('expected')}, got {d.get('actual')}"
                      for d in step.get("diffs", []))
    return (f"step {step.get('index')} {step.get('op')} ({step.get('where')}): "
            f"{step.get('reason') or diffs}")


def scenario_failure_text(s: Mapping[str, Any]) -> str:
    """The failure message of a scenario: its reason, then each step that did not pass."""
    lines = [f"{s.get('outcome')}: {s.get('reason') or ''}".rstrip(": ")]
    for st in s.get("steps", []):
        if st.get("outcome") not in ("PASS", "SKIP"):
            lines.append(f"  {st.get('outcome')} {step_difference(st)}")
            for d in st.get("diffs", []):
                lines.append(f"    {d.get('field')}: expected {d.get('expected')}, "
                             f"actual {d.get('actual')}")
    return "\n".join(lines)
