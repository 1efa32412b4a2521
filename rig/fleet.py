"""Runs spread over hosts: the composition behind `rig run --host ...` (this machine counts as
a host: ``local``).

The work is split into parts, (arch, scenario files), enough for every host to have one
(rig.judge.shard splits the files). Each host takes parts from one queue; a part is built here
and booted there (rig.api.run with a remote launcher), in a directory of its own. When a part
ends with its host's SSH connection gone, the host leaves the fleet, the attempt is kept on the
record (its scenarios INFRA), and the part goes back to the queue for another host. The parts'
results are joined by rig.judge.merge into one rig.run/1 result.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rig.api import Printer, RunRequest, RunResult, null_printer, run
from rig.errors import EXIT_ENVIRONMENT, RemoteError
from rig.judge import shard as sharding
from rig.judge.merge import merge_results
from rig.run.remote import HostSpec, RemoteHost, RemoteLauncher, SshPolicy
from rig.scenario.loader import load_many

LOG = logging.getLogger(__name__)


@dataclass
class Part:
    index: int
    arch: str
    paths: tuple[Path, ...]
    failed_on: set[str] = field(default_factory=set)
    result: RunResult | None = None
    host: str | None = None


@dataclass
class Attempt:
    part: int
    host: str
    out_dir: str
    outcome: str
    lost: str | None = None
    wall_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"part": self.part, "host": self.host, "dir": self.out_dir,
                "outcome": self.outcome, "lost": self.lost, "wall_s": round(self.wall_s, 3)}


def split_parts(req: RunRequest, hosts: int) -> list[Part]:
    """(arch, files) parts, enough that every host has one (as far as files allow)."""
    files = load_many(req.scenario_paths)
    weights = [sharding.FileWeight(sharding.file_key(f.path),
                                   sum(len(s.steps) for s in f.scenarios)) for f in files]
    per_arch = max(1, min(len(files), math.ceil(hosts / max(1, len(req.arches)))))
    groups = sharding.assign(sharding.estimate_weights(weights, {}), per_arch)
    parts: list[Part] = []
    for arch in req.arches:
        for names in groups:
            if names:
                chosen = tuple(p for p in req.scenario_paths if sharding.file_key(p) in names)
                parts.append(Part(len(parts), arch, chosen))
    return parts


def _prefixed(printer: Printer, host: str) -> Printer:
    def out(text: str) -> None:
        printer(f"{host}: {text}")
    return out


def run_on_hosts(req: RunRequest, hosts: Sequence[HostSpec | None], policy: SshPolicy, *,
                 printer: Printer = null_printer,
                 stop: threading.Event | None = None) -> RunResult:
    """Build here, boot on ``hosts`` (None: this machine), join the results into
    ``req.out_dir/result.json``.

    :raises RemoteError: no host could be reached at all.
    """
    stop = stop or threading.Event()
    out = req.out_dir
    out.mkdir(parents=True, exist_ok=True)
    parts = split_parts(req, len(hosts))
    # Host j starts with part j (every host gets work, whatever the order they connect in);
    # the rest, and the parts of hosts that fail, go to one queue any live host takes from.
    todo: queue.Queue[Part] = queue.Queue()
    first: dict[int, Part] = {}
    for p in parts:
        if p.index < len(hosts):
            first[p.index] = p
        else:
            todo.put(p)
    attempts: list[Attempt] = []
    lock = threading.Lock()
    live = {str(h) if h else "local" for h in hosts}
    remaining = [len(parts)]
    connect_errors: list[str] = []
    started = time.monotonic()

    def worker(j: int, spec: HostSpec | None) -> None:
        name = str(spec) if spec else "local"
        remote: RemoteHost | None = None
        mine = first.pop(j, None)
        try:
            if spec is not None:
                try:
                    remote = RemoteHost(spec, policy).connect()
                except RemoteError as exc:
                    printer(f"{name}: leaves the fleet: {exc}")
                    with lock:
                        connect_errors.append(str(exc))
                        live.discard(name)
                    if mine is not None:
                        todo.put(mine)
                    return
            while not stop.is_set():
                with lock:
                    if remaining[0] == 0:
                        return
                if mine is not None:
                    part, mine = mine, None
                else:
                    try:
                        part = todo.get(timeout=0.2)
                    except queue.Empty:
                        continue
                if name in part.failed_on and len(live - part.failed_on) > 0:
                    todo.put(part)  # another host will take it
                    time.sleep(0.05)
                    continue
                n = sum(1 for a in attempts if a.part == part.index)
                part_dir = (out / "parts" / f"{part.index:02d}-{part.arch}-try{n}").resolve()
                printer(f"{name}: part {part.index} ({part.arch}: "
                        f"{', '.join(p.name for p in part.paths)})")
                launcher = RemoteLauncher(remote, part_dir) if remote is not None else None
                t0 = time.monotonic()
                res = run(replace(req, scenario_paths=part.paths, arches=(part.arch,),
                                  out_dir=part_dir, jobs=1, launcher=launcher),
                          printer=_prefixed(printer, name), stop=stop)
                lost = None
                if launcher is not None:
                    lost = next((q.connection_lost for q in launcher.started
                                 if q.connection_lost), None)
                    if lost is None and res.result["outcome"] == "INFRA" and remote is not None \
                            and not remote.alive():
                        lost = f"{name}: SSH connection lost"
                attempt = Attempt(part.index, name, str(part_dir), res.result["outcome"], lost,
                                  time.monotonic() - t0)
                with lock:
                    attempts.append(attempt)
                    if lost is not None:
                        live.discard(name)
                        part.failed_on.add(name)
                        if live:
                            printer(f"{name}: connection lost; part {part.index} goes to "
                                    "another host")
                            part.result = res  # kept until a rerun replaces it
                            todo.put(part)
                            return
                    part.result, part.host = res, name
                    remaining[0] -= 1
                if lost is not None:
                    return
        finally:
            if remote is not None:
                remote.close()

    threads = [threading.Thread(target=worker, args=(j, h), name=f"rig-host-{h or 'local'}")
               for j, h in enumerate(hosts)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            while t.is_alive():
                t.join(timeout=0.5)
    except BaseException:
        stop.set()
        for t in threads:
            t.join()
        raise
    done = [p for p in parts if p.result is not None]
    if not done:
        raise RemoteError("no host ran anything: " + "; ".join(connect_errors or ["no hosts"]))
    merged = merge_results([p.result.result for p in done if p.result is not None],
                           sources=[str(p.result.out_dir) for p in done if p.result is not None])
    merged["wall_s"] = round(time.monotonic() - started, 3)
    merged["hosts"] = [{"host": str(h) if h else "local",
                        "lost": (str(h) if h else "local") not in live} for h in hosts]
    merged["attempts"] = [a.to_json() for a in attempts]
    missing = [p.index for p in parts if p.result is None]
    if missing:
        merged["outcome"], merged["exit_status"] = "INFRA", EXIT_ENVIRONMENT
        merged["unfinished_parts"] = missing
    (out / "result.json").write_text(json.dumps(merged, indent=1) + "\n")
    return RunResult(out, merged, int(merged["exit_status"]))
