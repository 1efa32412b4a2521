"""Differential test under real QEMU: random valid scenarios in the sim on both arches against
the Python model, for every profile.

The sim's pager semantics are a plain per-page C specification; the model is built on
run-length intervals. Two structurally different implementations that agree on hundreds of
random scenarios (each run as the real test program, booted from the real image.zbi) leave
few places for a shared bug. Fixed seeds in CI; more with RIG_SIM_DIFF_COUNT (per profile) and
another seed with RIG_SIM_DIFF_SEED. A difference fails with the scenario's YAML printed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rig import api
from rig.profiles import PROFILE_NAMES
from rig.scenario.generate import GeneratedScenario, generate_scenarios
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

# 170 per profile: 510 scenarios in all, each on both arches.
COUNT = int(os.environ.get("RIG_SIM_DIFF_COUNT", "170"))
SEED = int(os.environ.get("RIG_SIM_DIFF_SEED", "4242"))
_EXPECT = re.compile(r"^\s+expect: .*$\n", re.M)


def scenarios_for(profile: str) -> list[GeneratedScenario]:
    out: list[GeneratedScenario] = []
    batch = 0
    while len(out) < COUNT:
        for g in generate_scenarios(SEED + 101 * batch + int(profile), COUNT,
                                    api.scenario_problems, prefix=f"d{profile}b{batch}"):
            if g.scenario.applies_to(profile) and len(out) < COUNT:
                out.append(g)
        batch += 1
    return out


def suite_text(generated: list[GeneratedScenario]) -> str:
    """One file of every scenario; `expect:` lines dropped: the model alone decides here."""
    body = [_EXPECT.sub("", g.text).split("\n", 1)[1] for g in generated]
    return "scenarios:\n" + "".join(body)


@pytest.mark.parametrize("profile", PROFILE_NAMES)
def test_random_scenarios_in_the_sim_equal_the_model(tmp_path: Path, profile: str) -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")
    generated = scenarios_for(profile)
    path = tmp_path / f"random-{profile}.yaml"
    path.write_text(suite_text(generated))
    result = api.run(api.RunRequest(scenario_paths=(path,), arches=("x64", "arm64"),
                                    out_dir=tmp_path / "run", target="sim", abi=profile))
    by_name = {g.scenario.name: g.text for g in generated}
    bad = []
    for arch in result.result["arches"]:
        assert arch["simulated"] and arch["abi"] == profile
        assert len(arch["scenarios"]) == len(generated)
        for s in arch["scenarios"]:
            if s["outcome"] not in ("PASS", "SKIP"):
                steps = [f"step {st['index']} {st['op']}: {st['outcome']} {st['reason']}"
                         for st in s["steps"] if st["outcome"] not in ("PASS", "SKIP")]
                bad.append(f"{arch['arch']} {s['outcome']} {s['reason']}\n  "
                           + "\n  ".join(steps) + "\n" + by_name.get(s["name"], "?"))
    assert not bad, (f"{len(bad)} of {2 * len(generated)} differ (seed {SEED}, profile "
                     f"{profile}):\n" + "\n".join(bad[:5]))
