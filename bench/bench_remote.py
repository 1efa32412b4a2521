"""Benchmark: the bundled suite, both arches, sim: 1 local + 1 loopback-remote host (a real
sshd on 127.0.0.1, tests/integration/sshd_support.py) against local only (plain `rig run`).

    .venv/bin/python bench/bench_remote.py [--repeat 3]

Warm build caches (a first untimed run fills them). Both sides run two guests at a time on
this machine: local only boots both arches in parallel (-j default); the fleet gives each host
one part. On one machine the fleet can only show its overhead (SSH, SFTP, the console bridge,
separate builds per part); the gain comes with a second real machine. Root only (sshd).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig import api  # noqa: E402
from rig.fleet import run_on_hosts  # noqa: E402
from rig.judge.merge import outcomes_by_scenario  # noqa: E402
from rig.run.remote import HostSpec, SshPolicy  # noqa: E402
from rig.scenario.loader import bundled_suite_paths  # noqa: E402
from tests.integration.sshd_support import running_sshd  # noqa: E402

ARCHES = ("x64", "arm64")


def request(out: Path) -> api.RunRequest:
    return api.RunRequest(scenario_paths=tuple(bundled_suite_paths()), arches=ARCHES,
                          out_dir=out, target="sim")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rig-bench-remote-") as tmp_text:
        tmp = Path(tmp_text)
        with running_sshd(tmp / "sshd") as server:
            remote_tmp = tmp / "remote-tmp"
            remote_tmp.mkdir()
            host = HostSpec("127.0.0.1", server.user, server.port, tmp_dir=str(remote_tmp))
            policy = SshPolicy(known_hosts=server.known_hosts, identity_files=(server.user_key,))
            reference = api.run(request(tmp / "warmup")).result  # fills the caches
            local_s, fleet_s, parts = [], [], []
            for i in range(args.repeat):
                t0 = time.monotonic()
                local = api.run(request(tmp / f"local-{i}")).result
                local_s.append(time.monotonic() - t0)
                t0 = time.monotonic()
                fleet = run_on_hosts(request(tmp / f"fleet-{i}"), [None, host], policy).result
                fleet_s.append(time.monotonic() - t0)
                parts.append(sorted((a["host"], a["part"]) for a in fleet["attempts"]))
                same = outcomes_by_scenario(local) == outcomes_by_scenario(fleet) \
                    == outcomes_by_scenario(reference)
                print(f"run {i}: local only {local_s[-1]:.2f} s, local + remote "
                      f"{fleet_s[-1]:.2f} s; outcomes equal: {same}", flush=True)
                if not same:
                    return 1
    n = len(outcomes_by_scenario(reference))
    print(f"bundled suite, {', '.join(ARCHES)}, sim, {n} scenario runs, median of "
          f"{args.repeat}:")
    print(f"  local only (rig run):          {statistics.median(local_s):.2f} s")
    print(f"  1 local + 1 loopback remote:   {statistics.median(fleet_s):.2f} s")
    print(f"  parts (host, part): {parts[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
