"""Sharding a suite for CI fleets: which scenario files shard i of n runs, and the durations
file that makes the split duration-aware. Pure: data in, data out.

The unit is a scenario file (a shard builds its own program from its files). Assignment is
stable: it depends only on the files' names and weights, never on argument order, hash seeds
or the machine, so every shard of a fleet computes the same split. Weights are seconds from a
durations file of earlier runs when it knows the file, else an estimate from the file's step
count (scaled by the known files' seconds per step when there are any). Files are placed
heaviest first on the lightest shard (ties: the lower shard), which keeps shards within one
file's weight of each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from rig.errors import InputError

DURATIONS_SCHEMA = "rig.durations/1"
_SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written: --shard 2/4
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/n"`` with 1 <= i <= n.

    :raises InputError: anything else.
    """
    m = _SHARD.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise InputError(f"--shard {text!r}: wanted i/n with 1 <= i <= n, e.g. 2/4")
    return Shard(int(m.group(1)), int(m.group(2)))


@dataclass(frozen=True)
class FileWeight:
    name: str  # the file's name (its key in a durations file)
    steps: int  # steps over all its scenarios (the estimate without durations)


def file_key(path: str | PurePath) -> str:
    """A scenario file's key in durations files and merges: its name."""
    return PurePath(path).name


def estimate_weights(files: Sequence[FileWeight], durations: Mapping[str, float]
                     ) -> dict[str, float]:
    """Seconds per file: measured when known, else steps times the measured seconds per step
    (or plain steps when nothing is measured)."""
    known = [f for f in files if f.name in durations]
    steps = sum(f.steps for f in known)
    per_step = (sum(durations[f.name] for f in known) / steps) if known and steps else 1.0
    return {f.name: durations[f.name] if f.name in durations else f.steps * per_step
            for f in files}


def assign(weights: Mapping[str, float], count: int) -> list[list[str]]:
    """Split file names over ``count`` shards; each list is sorted by name."""
    loads = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for name in sorted(weights, key=lambda n: (-weights[n], n)):
        k = min(range(count), key=lambda i: (loads[i], i))
        loads[k] += weights[name]
        shards[k].append(name)
    return [sorted(s) for s in shards]


def shard_files(files: Sequence[FileWeight], shard: Shard,
                durations: Mapping[str, float] | None = None) -> list[str]:
    """The names of the files shard ``shard`` runs.

    :raises InputError: two files with one name (their durations could not be told apart).
    """
    names = [f.name for f in files]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"--shard: scenario files share a name ({', '.join(dup)}); shards "
                         "tell files apart by name: rename one")
    return assign(estimate_weights(files, durations or {}), shard.count)[shard.index - 1]


def parse_durations(data: Any, arches: Iterable[str] | None = None,
                    source: str = "durations") -> dict[str, float]:
    """A durations file's seconds per file name, summed over ``arches`` (default: all).

    :raises InputError: not a rig.durations/1 document.
    """
    if not isinstance(data, dict) or data.get("schema") != DURATIONS_SCHEMA or not isinstance(
            data.get("files"), dict):
        raise InputError(f"{source}: not a {DURATIONS_SCHEMA} file "
                         "(write one with `rig merge ... --out DIR`: DIR/durations.json)")
    wanted = set(arches) if arches is not None else None
    out: dict[str, float] = {}
    for name, per_arch in data["files"].items():
        if not isinstance(per_arch, dict):
            continue
        total = sum(float(s) for a, s in per_arch.items()
                    if (wanted is None or a in wanted) and isinstance(s, int | float))
        out[str(name)] = total
    return out


def durations_from_run(result: Mapping[str, Any], journal: Iterable[Mapping[str, Any]]
                       ) -> dict[str, dict[str, float]]:
    """Seconds per file name and arch, from a run's result.json and journal.jsonl events
    (sbeg to send of each scenario, live timestamps)."""
    files: dict[tuple[str, int], str] = {}
    for a in result.get("arches", []):
        for s in a.get("scenarios", []):
            if "index" in s:
                files[(a["arch"], int(s["index"]))] = file_key(s.get("file", ""))
    began: dict[tuple[str, int, int], float] = {}
    out: dict[str, dict[str, float]] = {}
    for ev in journal:
        kind = ev.get("event")
        if kind not in ("sbeg", "send") or "arch" not in ev or "index" not in ev:
            continue
        key = (str(ev["arch"]), int(ev.get("boot", 0)), int(ev["index"]))
        if kind == "sbeg":
            began[key] = float(ev["t"])
        elif key in began:
            name = files.get((key[0], key[2]))
            if name:
                per = out.setdefault(name, {})
                per[key[0]] = round(per.get(key[0], 0.0) + float(ev["t"]) - began.pop(key), 4)
    return out


def render_durations(per_file: Mapping[str, Mapping[str, float]]) -> str:
    return json.dumps({"schema": DURATIONS_SCHEMA,
                       "files": {n: dict(sorted(per_file[n].items()))
                                 for n in sorted(per_file)}}, indent=1) + "\n"


def read_durations(path: PurePath | None, arches: Iterable[str]) -> dict[str, float]:
    """The durations file's seconds per file name for ``arches``; {} when there is none yet.

    :raises InputError: the file exists but is not a durations file.
    """
    from pathlib import Path

    if path is None or not Path(path).is_file():
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--durations {path}: unreadable: {exc}") from exc
    return parse_durations(data, arches, source=str(path))


def select_shard(paths: Sequence[PurePath], weights: Sequence[FileWeight], shard: Shard,
                 durations: Mapping[str, float]) -> list[PurePath]:
    """The paths (in their given order) of the files shard ``shard`` runs."""
    mine = set(shard_files(weights, shard, durations))
    return [p for p in paths if file_key(p) in mine]
