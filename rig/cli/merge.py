"""`rig merge`: join the result.json of shards (or of runs spread over hosts) into one."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rig.errors import InputError
from rig.judge import shard as sharding
from rig.judge.merge import merge_results

EPILOG = """\
Each INPUT is a run directory of `rig run` (its result.json and journal.jsonl) or a result.json.
Writes DIR/result.json (schema rig.run/1, with "merged_from" and each scenario's and boot's
"part") and DIR/durations.json (seconds per scenario file and arch, from the journals: give it
to the next `rig run --shard I/N --durations F`). Exit status: the merged run's own (0 passed,
1 failed, 3 infrastructure), 2 for inputs that do not fit together (other target or profile,
a scenario in two shards).
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "merge", help="join shard results (rig run --shard) into one result and durations file",
        description="Join the results of several `rig run`s of one suite (the shards of a CI "
        "fleet) into one result.json, as one unsharded run would have written it, plus a "
        "durations file for balancing the next shards.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help="a run directory or its result.json (one per shard)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="where to write result.json and durations.json")
    p.add_argument("--json", type=Path, metavar="F", help="also copy result.json to F")
    p.set_defaults(func=run)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read a run result: {exc}") from exc


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    events = []
    try:
        text = path.read_text()
    except OSError:
        return []
    for line in text.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # a killed run's last line may be cut short
        if isinstance(ev, dict):
            events.append(ev)
    return events


def merge_dirs(inputs: list[Path], out: Path) -> dict[str, Any]:
    """Merge ``inputs`` into ``out``; returns the merged result.

    :raises InputError: unreadable inputs, inputs that do not fit together.
    """
    parts, names = [], []
    durations: dict[str, dict[str, float]] = {}
    for given in inputs:
        path = given / "result.json" if given.is_dir() else given
        result = _read_json(path)
        parts.append(result)
        names.append(str(path))
        for name, per_arch in sharding.durations_from_run(result, _journal(path.parent)).items():
            into = durations.setdefault(name, {})
            for arch, secs in per_arch.items():
                into[arch] = round(into.get(arch, 0.0) + secs, 4)
    merged = merge_results(parts, sources=names)
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(merged, indent=1) + "\n")
    (out / "durations.json").write_text(sharding.render_durations(durations))
    return merged


def run(args: argparse.Namespace) -> int:
    merged = merge_dirs(list(args.inputs), args.out)
    for a in merged["arches"]:
        counts = ", ".join(f"{v} {k.lower()}" for k, v in a["counts"].items() if v)
        print(f"{a['arch']}: {a['outcome']}{' SIMULATED' if a.get('simulated') else ''}: "
              f"{len(a['scenarios'])} scenarios from {len(a['builds'])} part(s): {counts}")
        for s in a["scenarios"]:
            if s["outcome"] not in ("PASS", "SKIP"):
                print(f"  {s['outcome']:<10} {s['name']} ({s.get('where') or s['file']}): "
                      f"{s.get('reason', '')}")
    print(f"{merged['outcome']}: merged {len(args.inputs)} result(s) into "
          f"{args.out / 'result.json'}; durations in {args.out / 'durations.json'}")
    if args.json is not None:
        args.json.write_text((args.out / "result.json").read_text())
    return int(merged["exit_status"])
