"""`rig run` options for fleets (not a command of its own): --shard i/n with --durations F;
the shard's files chosen before the build, its place noted in result.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rig import __version__
from rig.judge import shard as sharding
from rig.scenario.loader import load_many


def add_fleet_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", type=sharding.parse_shard, metavar="I/N",
                   help="run only shard I of N of the scenario files (stable: every shard of a "
                   "fleet computes the same split; join the shards with `rig merge`)")
    p.add_argument("--durations", type=Path, metavar="F",
                   help="with --shard: a durations file of earlier runs (`rig merge --out D` "
                   "writes D/durations.json) to balance shards by time; ignored while it does "
                   "not exist (shards are then balanced by step counts)")


def shard_paths(args: argparse.Namespace, paths: tuple[Path, ...]) -> tuple[Path, ...]:
    """The files of ``args.shard`` among ``paths`` (all of them without --shard)."""
    if args.shard is None:
        return paths
    files = load_many(paths)
    weights = [sharding.FileWeight(sharding.file_key(f.path),
                                   sum(len(s.steps) for s in f.scenarios)) for f in files]
    durations = sharding.read_durations(args.durations, args.arch)
    return tuple(Path(p) for p in sharding.select_shard(paths, weights, args.shard, durations))


def shard_note(args: argparse.Namespace, paths: tuple[Path, ...]) -> dict[str, Any]:
    return {"index": args.shard.index, "count": args.shard.count,
            "files": [sharding.file_key(p) for p in paths],
            "durations": str(args.durations) if args.durations else None}


def write_empty_shard(args: argparse.Namespace) -> int:
    """A shard with no files (more shards than files): an empty, passing result."""
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    result = {"schema": "rig.run/1", "rig_version": __version__, "outcome": "PASS",
              "exit_status": 0, "interrupted": False, "wall_s": 0.0, "arches": [],
              "shard": shard_note(args, ())}
    (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    print(f"shard {args.shard}: no scenario files (more shards than files); wrote "
          f"{out / 'result.json'}")
    return 0


def note_shard(args: argparse.Namespace, paths: tuple[Path, ...]) -> None:
    """Record the shard in result.json (which files, of which split)."""
    if args.shard is None:
        return
    path = args.out / "result.json"
    result = json.loads(path.read_text())
    result["shard"] = shard_note(args, paths)
    path.write_text(json.dumps(result, indent=1) + "\n")
