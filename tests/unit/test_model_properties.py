"""Property tests: random scenarios keep invariants that hold in the kernel.

Random steps may block on a page request; the simulation then stops there, as the guest would
never get past it (rig validate rejects such scenarios), and the steps before it are checked.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from rig import zx
from rig.model.predict import PROFILES, ScenarioPrediction, _simulate
from rig.scenario.loader import (
    DATA_STEPS,
    Location,
    QueryArgs,
    Scenario,
    Step,
    StepKind,
    VmoSpec,
)

P = zx.PAGE_SIZE
RANGE_KINDS = [StepKind.SUPPLY, StepKind.SUPPLY_ZERO, StepKind.WRITE, StepKind.WRITE_BYTES,
               StepKind.READ, StepKind.OP_DIRTY, StepKind.OP_FAIL, StepKind.WRITEBACK_BEGIN,
               StepKind.WRITEBACK_BEGIN_ZERO, StepKind.WRITEBACK_END, StepKind.OP_ZERO,
               StepKind.COMMIT]


def _loc(i: int) -> Location:
    return Location("gen.yaml", i + 1)


@st.composite
def steps_for(draw: st.DrawFn, pages: int, resizable: bool) -> list[Step]:
    out: list[Step] = []
    limit = pages + 2
    # Most scenarios start by supplying everything, so that they get somewhere before blocking.
    if draw(st.integers(0, 3)) > 0:
        out.append(Step(0, StepKind.SUPPLY, _loc(0), offset_bytes=0, length_bytes=pages * P))
    for _ in range(draw(st.integers(0, 24))):
        i = len(out)
        choice = draw(st.integers(0, 9))
        if choice <= 5:
            kind = draw(st.sampled_from(RANGE_KINDS))
            first = draw(st.integers(0, limit))
            count = draw(st.integers(0, limit - first + 1))
            if kind is StepKind.WRITE_BYTES or draw(st.integers(0, 7)) == 0:
                off = draw(st.integers(0, limit * P))
                length = draw(st.integers(0, 3 * P))
            else:
                off, length = first * P, count * P
            out.append(Step(i, kind, _loc(i), offset_bytes=off, length_bytes=length,
                            data=DATA_STEPS.get(kind)))
        elif choice == 6 and resizable:
            out.append(Step(i, StepKind.RESIZE, _loc(i),
                            new_size_bytes=draw(st.integers(0, limit)) * P))
        elif choice == 7:
            if draw(st.integers(0, 5)) == 0:
                out.append(Step(i, StepKind.DETACH, _loc(i)))
            else:
                out.append(Step(i, StepKind.STATS, _loc(i), reset=draw(st.booleans())))
        else:
            q_off = draw(st.none() | st.integers(0, limit * P))
            q_len = draw(st.none() | st.integers(0, limit * P))
            buf = draw(st.none() | st.integers(0, 200))
            out.append(Step(i, StepKind.QUERY, _loc(i), query=QueryArgs(
                offset_bytes=q_off, length_bytes=q_len, buffer_size=buf,
                actual_null=draw(st.integers(0, 5)) == 0,
                avail_null=draw(st.integers(0, 5)) == 0)))
    return out


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    pages = draw(st.integers(0, 24))
    resizable = draw(st.booleans())
    spec = VmoSpec(pages=pages, trap_dirty=draw(st.booleans()), resizable=resizable)
    return Scenario(name="gen", vmo=spec, steps=tuple(draw(steps_for(pages, resizable))),
                    location=_loc(0))


def _with(scenario: Scenario, *extra: Step) -> Scenario:
    base = len(scenario.steps)
    steps = scenario.steps + tuple(replace(s, index=base + k, location=_loc(base + k))
                                   for k, s in enumerate(extra))
    return replace(scenario, steps=steps)


def _sizes(scenario: Scenario, pred: ScenarioPrediction) -> list[int]:
    """VMO size in bytes after each predicted step."""
    size = scenario.vmo.size_bytes
    out = []
    for step, sp in zip(scenario.steps, pred.steps, strict=False):
        if step.kind is StepKind.RESIZE and sp.status == zx.ZX_OK:
            assert step.new_size_bytes is not None
            size = step.new_size_bytes
        out.append(size)
    return out


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(["2022", "2024"]))
def test_query_ranges_are_sorted_disjoint_aligned_and_inside_the_vmo(
        scenario: Scenario, profile: str) -> None:
    pred, _ = _simulate(scenario, profile)
    for step, sp, size in zip(scenario.steps, pred.steps, _sizes(scenario, pred), strict=False):
        assert sp.index == step.index and sp.op == step.op
        if step.kind is not StepKind.QUERY or sp.status != zx.ZX_OK:
            continue
        assert sp.ranges is not None
        prev_end = -1
        prev_opt = -1
        for off, length, opt in sp.ranges:
            assert off % P == 0 and length % P == 0 and length > 0
            assert off >= prev_end and off + length <= size
            assert opt in (0, 1)
            # Maximal runs: two touching ranges of the same kind would have been merged.
            assert not (off == prev_end and opt == prev_opt)
            prev_end, prev_opt = off + length, opt
        if sp.actual is not None:
            assert sp.actual == len(sp.ranges)
            if sp.avail is not None:
                assert sp.actual <= sp.avail


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(["2022", "2024"]), st.integers(1, 4))
def test_paginated_collection_equals_one_big_query(scenario: Scenario, profile: str,
                                                   entries: int) -> None:
    extended = _with(scenario, Step(0, StepKind.QUERY, _loc(0), query=QueryArgs()),
                     Step(0, StepKind.QUERY_ALL, _loc(0), buffer_entries=entries))
    pred, block = _simulate(extended, profile)
    if block is not None:
        return  # blocked before the two queries
    whole, paged = pred.steps[-2], pred.steps[-1]
    assert paged.ranges == whole.ranges
    assert whole.ranges is not None and whole.avail == len(whole.ranges)
    assert paged.calls == max(1, -(-len(whole.ranges) // entries))


@settings(max_examples=300, deadline=None)
@given(scenarios(), st.sampled_from(["2022", "2024"]), st.integers(0, 5), st.integers(1, 5))
def test_a_larger_buffer_never_changes_the_ranges(scenario: Scenario, profile: str,
                                                  entries: int, more: int) -> None:
    def query(n: int) -> Step:
        return Step(0, StepKind.QUERY, _loc(0), query=QueryArgs(buffer_size=24 * n))

    pred, block = _simulate(_with(scenario, query(entries), query(entries + more)), profile)
    if block is not None:
        return
    small, big = pred.steps[-2], pred.steps[-1]
    assert small.ranges is not None and big.ranges is not None
    assert small.avail == big.avail
    assert small.ranges == big.ranges[:len(small.ranges)]
    assert len(small.ranges) == min(entries, big.avail or 0)


@settings(max_examples=200, deadline=None)
@given(scenarios(), st.sampled_from(PROFILES))
def test_every_step_gets_one_prediction_in_order(scenario: Scenario, profile: str) -> None:
    pred, block = _simulate(scenario, profile)
    if pred.setup_error is not None:
        assert (profile, scenario.vmo.trap_dirty, pred.steps) == ("2020", True, ())
        return
    expected = len(scenario.steps) if block is None else block.step.index
    assert [s.index for s in pred.steps] == list(range(expected))
    for sp in pred.steps:
        assert (sp.status is None) == (sp.unavailable is not None)


@settings(max_examples=200, deadline=None)
@given(scenarios())
def test_the_2020_profile_never_reports_dirty_state(scenario: Scenario) -> None:
    pred, _ = _simulate(scenario, "2020")
    for sp in pred.steps:
        if sp.op in ("query", "query_all", "stats"):
            assert sp.status is None
        assert sp.ranges is None and sp.modified is None
