"""Speed of the reference model (run on demand: `.venv/bin/python bench/bench_model.py`).

Prints two numbers against the goals of issue 3:
* model steps per second on random scenarios (goal: at least 100,000 steps/s);
* one full query on a 2^36-page VMO holding 5,000 dirty ranges (goal: under 5 ms).
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rig import zx  # noqa: E402
from rig.model.predict import PageMap, PageState, _query_once, _simulate, _Vmo  # noqa: E402
from rig.scenario.loader import DATA_STEPS, Location, QueryArgs, Scenario, Step, StepKind, VmoSpec  # noqa: E402

P = zx.PAGE_SIZE
KINDS = [StepKind.WRITE, StepKind.WRITE_BYTES, StepKind.READ, StepKind.WRITEBACK_BEGIN,
         StepKind.WRITEBACK_END, StepKind.OP_ZERO, StepKind.COMMIT, StepKind.SUPPLY]


def random_scenario(rng: random.Random, steps: int) -> Scenario:
    pages = rng.randint(1, 1 << 20)
    loc = Location("bench", 1)
    out = [Step(0, StepKind.SUPPLY, loc, offset_bytes=0, length_bytes=pages * P)]
    for i in range(1, steps):
        r = rng.random()
        if r < 0.15:
            out.append(Step(i, StepKind.QUERY, loc, query=QueryArgs(
                buffer_size=24 * rng.randint(0, 64))))
        elif r < 0.2:
            out.append(Step(i, StepKind.RESIZE, loc,
                            new_size_bytes=rng.randint(1, pages) * P))
        else:
            kind = rng.choice(KINDS)
            first = rng.randrange(pages)
            count = rng.randint(0, min(64, pages - first))
            out.append(Step(i, kind, loc, offset_bytes=first * P, length_bytes=count * P,
                            data=DATA_STEPS.get(kind)))
    return Scenario("bench", VmoSpec(pages=pages, resizable=True), tuple(out), loc)


def bench_steps_per_second() -> float:
    rng = random.Random(1)
    scenarios = [random_scenario(rng, 200) for _ in range(200)]
    total = 0
    start = time.perf_counter()
    for profile in ("2022", "2024"):
        for sc in scenarios:
            pred, block = _simulate(sc, profile)
            total += len(pred.steps)
    return total / (time.perf_counter() - start)


def bench_huge_query_ms() -> tuple[float, int]:
    pages = 1 << 36
    vmo = _Vmo(profile="2024", trap_dirty=False, resizable=False,
               pages=PageMap(pages, PageState.CLEAN), szo=pages)
    rng = random.Random(2)
    stride = pages // 5000
    for k in range(5000):
        first = k * stride + rng.randrange(stride // 2)
        vmo.pages.assign(first, first + rng.randint(1, 8), PageState.DIRTY)
    best = float("inf")
    ranges = 0
    for _ in range(20):
        start = time.perf_counter()
        out = _query_once(vmo, 0, pages * P, None, False, False, False)
        best = min(best, time.perf_counter() - start)
        ranges = out.actual or 0
    return best * 1000, ranges


def main() -> None:
    rate = bench_steps_per_second()
    ms, ranges = bench_huge_query_ms()
    print(f"model steps/s on random scenarios: {rate:,.0f} (goal >= 100,000)")
    print(f"one query, 2^36-page VMO, {ranges} dirty ranges: {ms:.2f} ms (goal < 5 ms)")


if __name__ == "__main__":
    main()
