"""The bundled conformance suite (rig/scenario/suite/*.yaml) against the contract and the model.

The suite's `expect:` values were written by hand from the facts; agreement with the model here
is the cross-check of both.
"""

from __future__ import annotations

from collections import Counter

import pytest

from rig import zx
from rig.model.predict import PROFILES, expect_disagreements, predict, validation_problems
from rig.scenario.loader import (
    PAGER_SYSCALL_STEPS,
    Handle,
    ScenarioFile,
    StepKind,
    bundled_suite_paths,
    load_many,
)


@pytest.fixture(scope="module")
def suite() -> list[ScenarioFile]:
    return load_many(bundled_suite_paths())


def test_suite_is_shipped_with_several_theme_files_and_80_scenarios(
        suite: list[ScenarioFile]) -> None:
    names = [s.name for f in suite for s in f.scenarios]
    assert len(suite) >= 6
    assert len(names) >= 80
    assert [n for n, c in Counter(names).items() if c > 1] == []


def test_suite_has_no_blocking_step(suite: list[ScenarioFile]) -> None:
    assert [p for f in suite for p in validation_problems(f)] == []


@pytest.mark.parametrize("profile", PROFILES)
def test_model_agrees_with_every_expectation(suite: list[ScenarioFile], profile: str) -> None:
    disagreements = []
    predicted = 0
    for f in suite:
        for scenario in f.scenarios:
            if scenario.applies_to(profile):
                predicted += 1
                disagreements += expect_disagreements(scenario, predict(scenario, profile))
    assert disagreements == []
    assert predicted >= 20


def test_every_scenario_states_expectations(suite: list[ScenarioFile]) -> None:
    """The model is checked against independent values, so no scenario leaves it all to it."""
    without = [s.name for f in suite for s in f.scenarios
               if not any(step.expect is not None for step in s.steps)
               and not (s.vmo.trap_dirty and s.abi == ("2020",))]
    assert without == []


def test_every_step_kind_is_covered(suite: list[ScenarioFile]) -> None:
    kinds = {step.kind for f in suite for s in f.scenarios for step in s.steps}
    assert set(StepKind) - kinds == set()


def test_every_pager_error_code_is_expected_somewhere(suite: list[ScenarioFile]) -> None:
    statuses = {step.expect.status for f in suite for s in f.scenarios for step in s.steps
                if step.expect is not None and step.kind in PAGER_SYSCALL_STEPS}
    wanted = {zx.ZX_OK, zx.ZX_ERR_INVALID_ARGS, zx.ZX_ERR_BAD_HANDLE, zx.ZX_ERR_WRONG_TYPE,
              zx.ZX_ERR_ACCESS_DENIED, zx.ZX_ERR_OUT_OF_RANGE, zx.ZX_ERR_NOT_SUPPORTED,
              zx.ZX_ERR_NOT_FOUND, zx.ZX_ERR_BAD_STATE}
    assert wanted - statuses == set()


def test_every_handle_variant_is_used(suite: list[ScenarioFile]) -> None:
    used = {h for f in suite for s in f.scenarios for step in s.steps
            for h in (step.pager, step.vmo)}
    assert set(Handle) - used == set()


def test_profiles_differ_where_twins_say_so(suite: list[ScenarioFile]) -> None:
    """Profile-specific twins exist for 2022 and 2024, and 2020 has its own scenarios."""
    only = Counter(s.abi for f in suite for s in f.scenarios if len(s.abi) == 1)
    assert only[("2022",)] >= 5 and only[("2024",)] >= 5 and only[("2020",)] >= 5


def test_2020_setup_error_scenario_is_predicted_as_such(suite: list[ScenarioFile]) -> None:
    errors = [predict(s, "2020").setup_error for f in suite for s in f.scenarios
              if s.applies_to("2020") and s.vmo.trap_dirty]
    assert errors and set(errors) == {("create_vmo", zx.ZX_ERR_INVALID_ARGS)}


def test_reduced_pager_handle_is_only_used_by_the_last_pager_syscall(
        suite: list[ScenarioFile]) -> None:
    """A pager handle lacks ZX_RIGHT_DUPLICATE (facts 1.3, 7: rights 0x80c2), so the guest can
    only reduce it with zx_handle_replace; no later step may need the full pager handle."""
    offenders = []
    for f in suite:
        for s in f.scenarios:
            pager_steps = [st for st in s.steps if st.kind in PAGER_SYSCALL_STEPS]
            for st in pager_steps[:-1]:
                if st.pager is Handle.NO_RIGHTS:
                    offenders.append(f"{s.name} step {st.index}")
    assert offenders == []
