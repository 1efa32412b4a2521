"""Benchmark: render + compile of the bundled suite per arch, cold and cached, and ELF sizes.

Goals (issue 4): under 3 s cold and under 0.2 s cached per arch. Run from the repo root:

    .venv/bin/python bench/bench_build.py [--abi 2024] [--repeat 3]

Cold means an empty build cache (a fresh temporary directory), so clang and lld really run;
cached means the same inputs again, so the ELF comes from the cache. Loading the YAML is
timed apart: it is the scenario loader's cost, not the build's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rig.image.boards import available_arches, load_board  # noqa: E402
from rig.program.codegen import render_program  # noqa: E402
from rig.run.toolchain import compile_program  # noqa: E402
from rig.scenario.loader import bundled_suite_paths, load_many  # noqa: E402

COLD_GOAL_S = 3.0
CACHED_GOAL_S = 0.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--abi", default="2024")
    parser.add_argument("--target", default="zircon")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    files = load_many(bundled_suite_paths())
    load_s = time.perf_counter() - t0
    scenarios = sum(len(f.scenarios) for f in files)
    print(f"bundled suite: {len(files)} files, {scenarios} scenarios; YAML load {load_s:.3f} s")
    print(f"{'arch':<6} {'render':>8} {'cold':>8} {'cached':>8} {'ELF bytes':>10} "
          f"{'C lines':>8}  goals (cold < {COLD_GOAL_S} s, cached < {CACHED_GOAL_S} s)")
    ok = True
    for arch in available_arches():
        target = load_board(arch, args.target).compile_target
        renders, colds, cacheds = [], [], []
        size = lines = 0
        for _ in range(args.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                out, cache = Path(tmp) / "out", Path(tmp) / "cache"
                t = time.perf_counter()
                program = render_program(files, abi=args.abi, arch=arch, target=args.target)
                renders.append(time.perf_counter() - t)
                elf = compile_program(program.c_source, target, out, cache_dir=cache)
                colds.append(time.perf_counter() - t)
                assert not elf.cached
                t = time.perf_counter()
                program = render_program(files, abi=args.abi, arch=arch, target=args.target)
                again = compile_program(program.c_source, target, out, cache_dir=cache)
                cacheds.append(time.perf_counter() - t)
                assert again.cached
                size, lines = elf.size, program.c_source.count("\n")
        cold, cached = statistics.median(colds), statistics.median(cacheds)
        met = cold < COLD_GOAL_S and cached < CACHED_GOAL_S
        ok &= met
        print(f"{arch:<6} {statistics.median(renders):>7.3f}s {cold:>7.3f}s {cached:>7.3f}s "
              f"{size:>10} {lines:>8}  {'met' if met else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
