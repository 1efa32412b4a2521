"""Time to shrink the planted failing scenario on the sim (run on demand:
`.venv/bin/python bench/bench_shrink.py [--arch x64|arm64] [--cold]`).

Shrinks `tests/data/scenarios/shrink-planted.yaml` (32 steps, a wrong expectation) under real
QEMU with the sim, as `rig shrink` does, and prints the wall time, the rounds (one build and
boot each), the candidates run, cached and refused, and the result's size. --cold uses an empty
build cache (every program and the sim kernel compiled afresh); the default uses the user's
cache, as a second shrink on the same machine would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rig.reports.shrink import Oracle, ShrinkSpec, load_scenario, shrink  # noqa: E402

PLANTED = Path(__file__).resolve().parent.parent / "tests" / "data" / "scenarios" / \
    "shrink-planted.yaml"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="x64")
    ap.add_argument("--cold", action="store_true")
    args = ap.parse_args()
    scenario = load_scenario(PLANTED, "planted-wrong-expect")
    with tempfile.TemporaryDirectory(prefix="bench-shrink-") as tmp:
        cache = Path(tmp) / "cache" if args.cold else None
        oracle = Oracle(ShrinkSpec(arch=args.arch, abi="2024", cache_dir=cache),
                        Path(tmp) / "work")
        r = shrink(scenario, oracle)
    print(f"shrink {args.arch} ({'cold' if args.cold else 'warm'} build cache): "
          f"{r.steps_before} -> {r.steps_after} steps in {r.elapsed_s:.1f} s; {r.rounds} rounds "
          f"(build + boot each), {r.candidates} candidates run, {r.cached} cached, "
          f"{r.refused} refused by the checks; signature {r.signature}")


if __name__ == "__main__":
    main()
