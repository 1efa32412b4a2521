"""Every scenario `rig validate` accepts renders to C that compiles, for both arches.

Property test: random valid scenarios from the package's seeded generator
(rig.scenario.generate, filtered by the same checks as `rig validate`: api.scenario_problems),
rendered for every ABI profile and compiled with the real clang/lld for every arch. A clang
run takes about a second, so scenarios are batched: per arch one program per profile holding
every generated scenario of that profile, plus a few programs of a single scenario (a program
that lacks some kind of step is where unused declarations show up). About a dozen compiles.

The seeds are fixed so CI is reproducible; RIG_PROPERTY_SEED=N runs another set locally.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rig import api
from rig.image import boards
from rig.profiles import PROFILE_NAMES
from rig.program.codegen import render_program
from rig.run.toolchain import compile_program, find_toolchain
from rig.scenario.generate import GeneratedScenario, generate_scenarios
from rig.scenario.loader import ScenarioFile, parse_scenarios
from tests.conftest import require_tool

pytestmark = pytest.mark.toolchain

SEED = int(os.environ.get("RIG_PROPERTY_SEED", "1313"))
COUNT = 40
SINGLES = 2  # single-scenario programs per arch and profile with scenarios


@pytest.fixture(scope="module")
def generated() -> list[GeneratedScenario]:
    return generate_scenarios(SEED, COUNT, api.scenario_problems, prefix="prop")


def _file(g: GeneratedScenario) -> ScenarioFile:
    return parse_scenarios(g.text, f"{g.scenario.name}.yaml")


def test_generated_scenarios_are_valid(generated: list[GeneratedScenario]) -> None:
    assert len(generated) == COUNT
    for g in generated:
        assert api.scenario_problems(_file(g)) == [], g.text


@pytest.mark.parametrize("arch", boards.available_arches())
def test_random_valid_scenarios_compile(arch: str, generated: list[GeneratedScenario],
                                        tmp_path: Path) -> None:
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")
    toolchain = find_toolchain()
    target = boards.load_board(arch, "zircon").compile_target
    programs: list[tuple[str, list[GeneratedScenario]]] = []
    for profile in PROFILE_NAMES:
        mine = [g for g in generated if g.scenario.applies_to(profile)]
        if not mine:
            continue
        programs.append((profile, mine))
        # The shortest scenarios make the sparsest programs.
        for g in sorted(mine, key=lambda g: (len(g.scenario.steps), g.scenario.name))[:SINGLES]:
            programs.append((profile, [g]))
    for n, (profile, scenarios) in enumerate(programs):
        program = render_program([_file(g) for g in scenarios], abi=profile, arch=arch,
                                 target="zircon")
        built = compile_program(program.c_source, target, tmp_path / f"p{n}",
                                cache_dir=tmp_path / "cache", toolchain=toolchain)
        assert built.size > 0, [g.text for g in scenarios]
