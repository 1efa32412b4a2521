"""Benchmark: `rig run` of the bundled suite on both arches with the sim, cold and warm.

Goals (issue 10): under 10 s cold and under 3 s warm (wall, both arches), and the rig's own time
(wall minus the time QEMU ran) under 0.5 s plus 5 ms per scenario, warm. Also (issue 14) the
sim's boot-to-power-off per arch and profile, aim under 1 s each. Run from the repo root:

    .venv/bin/python bench/bench_run.py [--repeat 3]

Cold means empty build caches (a fresh RIG_CACHE_DIR): the sim kernel and the test program are
compiled. Warm means the same again: both come from the cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig import api  # noqa: E402
from rig.scenario.loader import bundled_suite_paths  # noqa: E402

COLD_GOAL_S = 10.0
WARM_GOAL_S = 3.0
OWN_BASE_S = 0.5
OWN_PER_SCENARIO_S = 0.005
BOOT_GOAL_S = 1.0


def one_run(out: Path, abi: str = "2024") -> tuple[float, dict[str, object]]:
    t0 = time.monotonic()
    result = api.run(api.RunRequest(scenario_paths=tuple(bundled_suite_paths()),
                                    arches=("arm64", "x64"), out_dir=out, target="sim",
                                    abi=abi))
    wall = time.monotonic() - t0
    assert result.result["outcome"] in ("PASS", "SKIP"), result.result["outcome"]
    return wall, result.result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rig-bench-run-") as tmp:
        os.environ["RIG_CACHE_DIR"] = str(Path(tmp) / "cache")
        cold, _ = one_run(Path(tmp) / "cold")
        warm_walls, owns = [], []
        scenarios = 0
        for i in range(args.repeat):
            wall, result = one_run(Path(tmp) / f"warm{i}")
            arches = result["arches"]
            assert isinstance(arches, list)
            # The arches run in parallel: the rig's own time is wall minus the longest QEMU.
            qemu = max(float(a["qemu_s"]) for a in arches)
            scenarios = max(len(a["scenarios"]) for a in arches)
            warm_walls.append(wall)
            owns.append(wall - qemu)
        warm = statistics.median(warm_walls)
        own = statistics.median(owns)
        own_goal = OWN_BASE_S + OWN_PER_SCENARIO_S * scenarios
        print(f"rig run, bundled suite ({scenarios} scenarios), arm64 + x64, sim, TCG:")
        print(f"  cold {cold:.2f} s (goal < {COLD_GOAL_S:g} s)  warm {warm:.2f} s (goal < "
              f"{WARM_GOAL_S:g} s)  rig's own time warm {own:.2f} s (goal < {own_goal:.2f} s)")
        print("sim boot to power-off (QEMU start to exit), bundled suite, warm:")
        for abi in ("2020", "2022", "2024"):
            _, result = one_run(Path(tmp) / f"boot{abi}", abi)
            arches = result["arches"]
            assert isinstance(arches, list)
            times = "  ".join(f"{a['arch']} {a['boots'][0]['elapsed_s']:.2f} s" for a in arches)
            print(f"  profile {abi}: {times} (goal < {BOOT_GOAL_S:g} s each)")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
