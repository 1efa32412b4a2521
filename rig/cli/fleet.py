"""`rig run` options for fleets (not a command of its own): --shard i/n with --durations F;
the shard's files chosen before the build, its place noted in result.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rig import __version__, api
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


def add_host_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", action="append", default=[], metavar="USER@HOST[:PORT]",
                   help="boot on this host over SSH (repeatable; `local` is this machine): the "
                   "build is copied over SFTP, QEMU runs there, its console streams back; a "
                   "host whose connection drops leaves and its scenarios run elsewhere")
    p.add_argument("--hosts-file", type=Path, metavar="F",
                   help="hosts, one a line: USER@HOST[:PORT] [identity=PATH] [tmp=DIR], or local")
    p.add_argument("--known-hosts", type=Path, metavar="F",
                   help="host keys to check against (default ~/.ssh/known_hosts and the "
                   "system's); an unknown key is refused")
    p.add_argument("--trust-new-host-keys", action="store_true",
                   help="trust on first use: accept an unknown host key and record it in the "
                   "known-hosts file (never a changed one)")
    p.add_argument("--identity", action="append", default=[], type=Path, metavar="KEY",
                   help="a private key file (repeatable; default: the SSH agent and ~/.ssh/id_*;"
                   " never a password)")


def hosts_of(args: argparse.Namespace) -> list[Any]:
    from rig.run.remote import parse_host, parse_hosts_file

    hosts = [parse_host(h) for h in args.host]
    if args.hosts_file is not None:
        hosts += parse_hosts_file(args.hosts_file)
    return hosts


def run(args: argparse.Namespace, req: api.RunRequest, **kw: Any) -> api.RunResult:
    """api.run, or rig.fleet.run_on_hosts with --host/--hosts-file."""
    hosts = hosts_of(args)
    if not hosts:
        return api.run(req, **kw)
    from rig.fleet import run_on_hosts
    from rig.run.remote import SshPolicy

    policy = SshPolicy(known_hosts=args.known_hosts,
                       trust_new_host_keys=args.trust_new_host_keys,
                       identity_files=tuple(args.identity))
    return run_on_hosts(req, hosts, policy, printer=kw.get("printer", print),
                        stop=kw.get("stop"))
