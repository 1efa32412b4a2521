"""Unit tests of rig.model, one per fact; each names the fact (zircon-facts.md) or the source.

Scenarios are parsed from YAML text with the real loader, so these tests go through the same
path as scenario files.
"""

from __future__ import annotations

import pytest

from rig import zx
from rig.errors import InputError, ScenarioError
from rig.model.pagemap import PageMap, PageState
from rig.model.predict import (
    PROFILES,
    ScenarioPrediction,
    StepPrediction,
    expect_disagreements,
    predict,
    validation_problems,
)
from rig.scenario.loader import Scenario, parse_scenarios

P = zx.PAGE_SIZE
OK = zx.ZX_OK


def scenario(steps: str, vmo: str = "{pages: 4}", abi: str = "") -> Scenario:
    body = "".join(f"      {line}\n" for line in steps.strip("\n").splitlines())
    abi_line = f"    abi: {abi}\n" if abi else ""
    text = f"scenarios:\n  - name: t\n{abi_line}    vmo: {vmo}\n    steps:\n{body}"
    return parse_scenarios(text, "t.yaml").scenarios[0]


def run(steps: str, profile: str = "2024", vmo: str = "{pages: 4}") -> ScenarioPrediction:
    return predict(scenario(steps, vmo), profile)


def last(steps: str, profile: str = "2024", vmo: str = "{pages: 4}") -> StepPrediction:
    return run(steps, profile, vmo).steps[-1]


def q(index: int, ranges: list[tuple[int, int, int]], actual: int | None = None,
      avail: int | None = None, op: str = "query") -> StepPrediction:
    """A successful query prediction; ranges in pages."""
    rs = tuple((o * P, n * P, x) for o, n, x in ranges)
    return StepPrediction(index=index, op=op, status=OK,
                          actual=len(rs) if actual is None else actual,
                          avail=len(rs) if avail is None else avail, ranges=rs)


# --- page map -----------------------------------------------------------------------------


def test_page_map_splits_and_coalesces_runs() -> None:
    m = PageMap(10, PageState.ABSENT)
    m.assign(2, 5, PageState.DIRTY)
    m.assign(5, 7, PageState.DIRTY)
    assert (m.starts, m.states) == ([0, 2, 7], [PageState.ABSENT, PageState.DIRTY,
                                                PageState.ABSENT])
    m.assign(0, 10, PageState.CLEAN)
    assert (m.starts, m.states) == ([0], [PageState.CLEAN])
    assert list(m.runs(3, 4)) == [(3, 4, PageState.CLEAN)]


def test_page_map_resize_keeps_runs_and_fills() -> None:
    m = PageMap(4, PageState.CLEAN)
    m.assign(1, 2, PageState.DIRTY)
    m.resize(2, PageState.ZERO)
    m.resize(5, PageState.ZERO)
    assert list(m.runs(0, 5)) == [(0, 1, PageState.CLEAN), (1, 2, PageState.DIRTY),
                                  (2, 5, PageState.ZERO)]
    m.resize(0, PageState.ZERO)
    assert (m.starts, m.states, list(m.runs(0, 5))) == ([], [], [])


def test_page_map_huge_size_costs_runs_not_pages() -> None:
    m = PageMap(1 << 36, PageState.ABSENT)
    m.assign((1 << 36) - 1, 1 << 36, PageState.DIRTY)
    assert list(m.runs(0, 1 << 36)) == [(0, (1 << 36) - 1, PageState.ABSENT),
                                        ((1 << 36) - 1, 1 << 36, PageState.DIRTY)]


# --- what is dirty, merging, windows (facts 2.3-2.6) --------------------------------------


def test_fresh_and_supplied_pages_are_clean() -> None:
    """facts 2.5: only non-Clean committed pages and dirty zero ranges count."""
    pred = run("- query: {}\n- supply: [0, 4]\n- supply_zero: [0, 4]\n- query: {}")
    assert pred == ScenarioPrediction("t", "2024", (
        q(0, []), StepPrediction(1, "supply", OK), StepPrediction(2, "supply_zero", OK),
        q(3, [])))


@pytest.mark.parametrize("profile", ["2022", "2024"])
def test_contiguous_dirty_pages_merge(profile: str) -> None:
    """facts 2.6: contiguous runs are one range."""
    assert last("- supply: [0, 8]\n- write: [2, 1]\n- write: [3, 1]\n- write: [5, 2]\n"
                "- query: {}", profile, "{pages: 8}") == q(4, [(2, 2, 0), (5, 2, 0)])


def test_window_rounds_out_to_pages() -> None:
    """facts 2.4: enumeration runs over [ROUNDDOWN(offset), ROUNDUP(offset+len))."""
    assert last("- supply: [0, 4]\n- write: [1, 2]\n"
                "- query: {offset_bytes: 8191, length_bytes: 2}") == q(2, [(1, 2, 0)])


def test_window_clips_ranges() -> None:
    assert last("- supply: [0, 8]\n- write: [1, 6]\n- query: {offset: 3, length: 2}",
                vmo="{pages: 8}") == q(2, [(3, 2, 0)])


@pytest.mark.parametrize(("offset", "length", "status"), [
    (16384, 0, OK),  # offset == size, len 0 is valid (facts 2.3)
    (16385, 0, zx.ZX_ERR_OUT_OF_RANGE),
    (0, 16385, zx.ZX_ERR_OUT_OF_RANGE),  # unrounded values are checked
    ((1 << 64) - 1, 2, zx.ZX_ERR_OUT_OF_RANGE),  # overflow
])
def test_query_range_check_on_unrounded_bytes(offset: int, length: int, status: int) -> None:
    got = last(f"- query: {{offset_bytes: {offset}, length_bytes: {length}}}\n"
               f"  expect: {{status: {zx.status_name(status)}}}")
    assert got.status == status


# --- copy-out (facts 2.7, PagerDispatcher::QueryDirtyRanges) --------------------------------

THREE = "- supply: [0, 8]\n- write: [0, 1]\n- write: [2, 1]\n- write: [4, 1]\n"
EIGHT = "{pages: 8}"


@pytest.mark.parametrize(("buffer_bytes", "fits"), [
    (0, 0), (1, 0), (23, 0), (24, 1), (25, 1), (30, 1), (47, 1), (48, 2), (72, 3), (240, 3)])
def test_capacity_is_floor_of_buffer_size_over_24(buffer_bytes: int, fits: int) -> None:
    got = last(THREE + f"- query: {{buffer_bytes: {buffer_bytes}}}", vmo=EIGHT)
    assert got == q(4, [(0, 1, 0), (2, 1, 0), (4, 1, 0)][:fits], actual=fits, avail=3)


def test_avail_null_stops_at_first_range_that_does_not_fit() -> None:
    got = last(THREE + "- query: {buffer_entries: 1, avail: false}", vmo=EIGHT)
    assert got == StepPrediction(4, "query", OK, actual=1, avail=None,
                                 ranges=((0, P, 0),))


def test_actual_null_reports_no_actual_but_writes_entries() -> None:
    got = last(THREE + "- query: {buffer_entries: 2, actual: false}", vmo=EIGHT)
    assert got == StepPrediction(4, "query", OK, actual=None, avail=3,
                                 ranges=((0, P, 0), (2 * P, P, 0)))


def test_null_buffer_faults_only_when_an_entry_is_copied() -> None:
    """facts 2.7: NULL with size >= 24 and a range -> INVALID_ARGS; nothing to copy -> OK."""
    faulting = last(THREE + "- query: {buffer: null, buffer_bytes: 24}", vmo=EIGHT)
    counting = last(THREE + "- query: {buffer: null}", vmo=EIGHT)
    clean = last("- query: {buffer: null, buffer_bytes: 24}")
    assert (faulting, counting, clean) == (
        StepPrediction(4, "query", zx.ZX_ERR_INVALID_ARGS),
        q(4, [], actual=0, avail=3), q(0, []))


def test_query_all_counts_calls() -> None:
    got = run(THREE + "- query_all: {buffer_entries: 1}\n- query_all: {buffer_entries: 2}\n"
              "- query_all: {buffer_entries: 3}", vmo=EIGHT).steps[4:]
    ranges = ((0, P, 0), (2 * P, P, 0), (4 * P, P, 0))
    assert got == (
        StepPrediction(4, "query_all", OK, actual=1, avail=1, ranges=ranges, calls=3),
        StepPrediction(5, "query_all", OK, actual=1, avail=1, ranges=ranges, calls=2),
        StepPrediction(6, "query_all", OK, actual=3, avail=3, ranges=ranges, calls=1))


# --- handles (facts 1.6, zircon/kernel/lib/syscalls/pager.cc) -------------------------------


@pytest.mark.parametrize(("options", "status"), [
    ("pager: invalid", zx.ZX_ERR_BAD_HANDLE),
    ("pager: closed", zx.ZX_ERR_BAD_HANDLE),
    ("pager: wrong_type", zx.ZX_ERR_WRONG_TYPE),
    ("pager: other_pager", zx.ZX_ERR_INVALID_ARGS),
    ("vmo: other_pager", zx.ZX_ERR_INVALID_ARGS),
    ("vmo: plain_vmo", zx.ZX_ERR_INVALID_ARGS),
    ("vmo: clone", zx.ZX_ERR_INVALID_ARGS),
    ("vmo: slice", zx.ZX_ERR_INVALID_ARGS),
    ("pager: invalid, vmo: wrong_type", zx.ZX_ERR_BAD_HANDLE),  # pager first
    ("pager: other_pager, vmo: closed", zx.ZX_ERR_BAD_HANDLE),  # lookup before koid match
])
def test_query_handle_variants(options: str, status: int) -> None:
    for profile in ("2022", "2024"):
        assert last(f"- query: {{{options}}}", profile) == StepPrediction(0, "query", status)


@pytest.mark.parametrize("which", ["pager", "vmo"])
def test_missing_rights_denied_on_2024_only(which: str) -> None:
    steps = f"- supply: [0, 1]\n- write: [0, 1]\n- query: {{{which}: no_rights}}"
    assert last(steps, "2024") == StepPrediction(2, "query", zx.ZX_ERR_ACCESS_DENIED)
    assert last(steps, "2022") == q(2, [(0, 1, 0)])


def test_supply_and_op_range_check_alignment_before_handles() -> None:
    pred = run("- supply: {offset_bytes: 100, length_bytes: 4096}\n  pager: invalid\n"
               "- op_fail: {offset_bytes: 4096, length_bytes: 1}\n  vmo: wrong_type\n"
               "- supply: [0, 1]\n  pager: invalid")
    assert [s.status for s in pred.steps] == [zx.ZX_ERR_INVALID_ARGS, zx.ZX_ERR_INVALID_ARGS,
                                              zx.ZX_ERR_BAD_HANDLE]


# --- op_range (facts 1.3, 2.13, 2.14; PagerDispatcher::RangeOp) -----------------------------


@pytest.mark.parametrize(("data", "status"), [
    ("ZX_ERR_IO", OK), ("ZX_ERR_IO_DATA_INTEGRITY", OK), ("ZX_ERR_BAD_STATE", OK),
    ("ZX_ERR_NO_SPACE", OK), ("ZX_ERR_BUFFER_TOO_SMALL", OK),
    ("ZX_ERR_INTERNAL", zx.ZX_ERR_INVALID_ARGS), ("100", zx.ZX_ERR_INVALID_ARGS),
    ("0x11ffffffff", zx.ZX_ERR_INVALID_ARGS), ("0", zx.ZX_ERR_INVALID_ARGS),
    ("18446744073709551576", OK),  # -40 sign-extended
])
def test_op_fail_data(data: str, status: int) -> None:
    assert last(f"- op_fail: [0, 1]\n  data: {data}").status == status


def test_op_dirty_without_trap_dirty_is_not_supported() -> None:
    """facts 2.13."""
    for profile in ("2022", "2024"):
        assert last("- supply: [0, 1]\n- op_dirty: [0, 1]", profile).status == \
            zx.ZX_ERR_NOT_SUPPORTED


def test_op_dirty_checks_trap_then_range_then_detach() -> None:
    """VmCowPages::DirtyPages (both eras): the trap, then the range (VmObjectPaged's GetCowRange
    only rejects overflow), then on 2024 a detached source."""
    steps = "- op_dirty: [3, 2]\n  expect: {status: ZX_ERR_OUT_OF_RANGE}"
    assert (last(steps, "2022").status, last(steps, "2024").status) == (
        zx.ZX_ERR_NOT_SUPPORTED, zx.ZX_ERR_NOT_SUPPORTED)
    trap = "{pages: 4, trap_dirty: true}"
    detached = "- detach\n- op_dirty: [3, 2]\n  expect: {status: ZX_ERR_OUT_OF_RANGE}\n" \
               "- op_dirty: [0, 1]"
    assert [s.status for s in run(detached, "2024", trap).steps] == [
        OK, zx.ZX_ERR_OUT_OF_RANGE, zx.ZX_ERR_BAD_STATE]
    assert [s.status for s in run(detached, "2022", trap).steps] == [
        OK, zx.ZX_ERR_OUT_OF_RANGE, zx.ZX_ERR_NOT_FOUND]


def test_supply_after_detach_differs_by_era() -> None:
    """2024 SupplyPagesLocked rejects a detached source; the E1 source has no such check."""
    steps = "- detach\n- supply: [0, 1]"
    assert (last(steps, "2022").status, last(steps, "2024").status) == (OK, zx.ZX_ERR_BAD_STATE)


def test_op_dirty_overflow_is_out_of_range_before_the_trap_check_on_2024() -> None:
    """mist-os VmObjectPaged::DirtyPages (@053a4beb) returns OUT_OF_RANGE when GetCowRange fails,
    before VmCowPages::DirtyPages checks the trap; E1 goes straight to DirtyPagesLocked."""
    steps = ("- op_dirty: {offset_bytes: 9223372036854775808, length_bytes: 9223372036854775808}\n"
             "  expect: {status: ZX_ERR_OUT_OF_RANGE}")
    assert last(steps, "2024").status == zx.ZX_ERR_OUT_OF_RANGE
    assert last(steps, "2022").status == zx.ZX_ERR_NOT_SUPPORTED


def test_empty_supply_skips_the_range_and_detach_checks_after_2020() -> None:
    """VmObjectPaged::SupplyPages only calls SupplyPagesLocked while the range is non-empty
    (gnoliyil E1; mist-os @053a4beb); the mid-2020 SupplyPages checks InRange up front."""
    steps = "- resize: 8\n- resize: 4\n- detach\n- supply: [5, 0]\n- supply: [1, 0]"
    vmo = "{pages: 4, resizable: true}"
    assert [s.status for s in run(steps, "2020", vmo).steps[3:]] == [
        zx.ZX_ERR_OUT_OF_RANGE, OK]
    for profile in ("2022", "2024"):
        assert [s.status for s in run(steps, profile, vmo).steps[3:]] == [OK, OK]
    assert last("- detach\n- supply: [1, 1]", "2024").status == zx.ZX_ERR_BAD_STATE


def test_op_dirty_is_atomic_and_forks_markers() -> None:
    """facts 2.14: NOT_FOUND for an unsupplied page, nothing dirtied; markers become pages."""
    trap = "{pages: 4, trap_dirty: true}"
    pred = run("- supply_zero: [0, 2]\n- op_dirty: [0, 3]\n- query: {}\n- op_dirty: [0, 2]\n"
               "- query: {}", "2024", trap)
    assert (pred.steps[1].status, pred.steps[3].status) == (zx.ZX_ERR_NOT_FOUND, OK)
    assert pred.steps[2] == q(2, [])
    assert pred.steps[4] == q(4, [(0, 2, 0)])


# --- zero ranges, resize, OP_ZERO (facts 2.10) ---------------------------------------------


@pytest.mark.parametrize("profile", ["2022", "2024"])
def test_resize_up_tail_is_dirty_zero_and_writes_split_it(profile: str) -> None:
    pred = run("- supply: [0, 1]\n- resize: 4\n- query: {}\n- write: [2, 1]\n- query: {}\n"
               "- commit: [1, 1]\n- query: {}", profile, "{pages: 1, resizable: true}")
    assert (pred.steps[2], pred.steps[4], pred.steps[6]) == (
        q(2, [(1, 3, 1)]), q(4, [(1, 1, 1), (2, 1, 0), (3, 1, 1)]),
        q(6, [(1, 2, 0), (3, 1, 1)]))


def test_op_zero_differs_by_era() -> None:
    """E1 commits zero pages reported non-zero, E2 makes a zero interval (facts 2.10)."""
    steps = "- supply: [0, 2]\n- op_zero: [0, 2]\n- query: {}"
    assert (last(steps, "2022", "{pages: 3}"), last(steps, "2024", "{pages: 3}")) == (
        q(2, [(0, 2, 0)]), q(2, [(0, 2, 1)]))


def test_op_zero_reaching_the_end_moves_the_e1_tail() -> None:
    """E1 ZeroPagesLocked: supply_zero_offset_ in (start, end] moves down to start."""
    for profile in ("2022", "2024"):
        assert last("- supply: [0, 1]\n- op_zero: [1, 2]\n- query: {}", profile,
                    "{pages: 3}") == q(2, [(1, 2, 1)])


def test_op_zero_on_trap_dirty_needs_no_request_on_2024() -> None:
    """VmCowPages::ZeroPagesPreservingContentLocked makes intervals without page requests;
    E1 looks pages below the tail up for write, which under TRAP_DIRTY needs a DIRTY request."""
    sc = scenario("- supply: [0, 2]\n- op_zero: [0, 2]\n- query: {}",
                  "{pages: 4, trap_dirty: true}")
    assert predict(sc, "2024").steps[2] == q(2, [(0, 2, 1)])
    with pytest.raises(ScenarioError, match=r"profile 2022: pages 0..1 clean in a trap_dirty"):
        predict(sc, "2022")


def test_commit_trims_up_to_e1_and_checks_in_range_on_2024() -> None:
    """VmObjectPaged::CommitRangeInternal: a non-pin commit is TrimRange'd to the VMO size in the
    mid-2020 and gnoliyil E1 vm_object_paged.cc; mist-os @053a4beb checks InRange. A commit
    running past the end of an unsupplied page therefore waits on a READ request up to E1."""
    # Growing and shrinking first lets the scenario loader accept the range past the end.
    vmo = "{pages: 2, resizable: true}"
    steps = "- supply: [0, 2]\n- resize: 4\n- resize: 2\n- commit: [1, 2]"
    for profile in ("2020", "2022"):
        assert last(steps, profile, vmo).status == OK
    assert last(steps, "2024", vmo).status == zx.ZX_ERR_OUT_OF_RANGE
    for profile in PROFILES:
        pred = run("- resize: 4\n- resize: 2\n- commit: [3, 1]\n- commit: [2, 0]", profile, vmo)
        assert [s.status for s in pred.steps[2:]] == [zx.ZX_ERR_OUT_OF_RANGE, OK]
    with pytest.raises(ScenarioError, match=r"profile 2022: page 1 not supplied"):
        predict(scenario("- resize: 4\n- resize: 2\n- commit: [1, 2]", vmo), "2022")


def test_op_zero_trims_on_e1_and_checks_in_range_on_2024() -> None:
    """VmObjectPaged::ZeroRange: TrimRange in gnoliyil E1 vm_object_paged.cc (a range past the
    end zeroes the part that fits, here moving supply_zero_offset_ to page 3); InRange in
    mist-os ZeroRangeInternal (@053a4beb)."""
    vmo = "{pages: 4, resizable: true}"
    steps = "- resize: 6\n- resize: 4\n- op_zero: [3, 2]\n- query: {}\n- op_zero: [5, 1]"
    e1, e2 = run(steps, "2022", vmo), run(steps, "2024", vmo)
    assert [e1.steps[2].status, e1.steps[3], e1.steps[4].status] == [
        OK, q(3, [(3, 1, 1)]), zx.ZX_ERR_OUT_OF_RANGE]
    assert [e2.steps[2].status, e2.steps[3], e2.steps[4].status] == [
        zx.ZX_ERR_OUT_OF_RANGE, q(3, []), zx.ZX_ERR_OUT_OF_RANGE]


@pytest.mark.parametrize("profile", ["2022", "2024"])
def test_op_zero_marks_modified_only_when_it_zeroed(profile: str) -> None:
    """ZeroRange returns early for a partial page that PageWouldReadZeroLocked, without a write,
    and marks the VMO modified only after whole pages ("start > original_start"; gnoliyil E1
    and mist-os @053a4beb vm_object_paged.cc)."""
    pred = run("- supply_zero: [0, 1]\n- supply: [1, 1]\n"
               "- op_zero: {offset_bytes: 1, length_bytes: 1}\n- stats: {reset: false}\n"
               "- op_zero: {offset_bytes: 4097, length_bytes: 1}\n- stats: {reset: true}\n"
               "- op_zero: [0, 1]\n- stats: {reset: false}\n- op_zero: [2, 0]\n"
               "- stats: {reset: false}", profile)
    assert [pred.steps[i].modified for i in (3, 5, 7, 9)] == [0, 1, 1, 1]
    pred = run("- op_zero: [1, 0]\n- stats: {reset: false}", profile)
    assert pred.steps[1].modified == 0


def test_non_resizable_resize_is_unavailable() -> None:
    for profile in PROFILES:
        assert last("- resize: 8", profile).status == zx.ZX_ERR_UNAVAILABLE


# --- writeback (facts 2.11, 2.12; WritebackBeginLocked/WritebackEndLocked) ------------------


def test_writeback_keeps_pages_reported_until_end_and_write_during_redirties() -> None:
    pred = run("- supply: [0, 4]\n- write: [1, 2]\n- writeback_begin: [1, 2]\n- query: {}\n"
               "- write: [2, 1]\n- writeback_end: [1, 2]\n- query: {}")
    assert (pred.steps[3], pred.steps[6]) == (q(3, [(1, 2, 0)]), q(6, [(2, 1, 0)]))


def test_writeback_partway_into_tail_differs_by_era() -> None:
    """E1 WritebackEndLocked returns early when the range starts after supply_zero_offset_."""
    steps = ("- supply: [0, 1]\n- resize: 4\n- write: [2, 1]\n- writeback_begin: [2, 2]\n"
             "- writeback_end: [2, 2]\n- query: {}")
    vmo = "{pages: 1, resizable: true}"
    assert (last(steps, "2022", vmo), last(steps, "2024", vmo)) == (
        q(5, [(1, 1, 1), (2, 1, 0), (3, 1, 1)]), q(5, [(1, 1, 1)]))


def test_e2_writeback_counts_only_intervals_starting_in_the_range() -> None:
    """2024 WritebackBeginLocked/EndLocked keep AwaitingClean on the interval's start sentinel:
    a range starting partway into a zero interval neither begins nor ends its writeback."""
    vmo = "{pages: 1, resizable: true}"
    partway = last("- supply: [0, 1]\n- resize: 4\n- writeback_begin: [2, 2]\n"
                   "- writeback_end: [1, 3]\n- query: {}", "2024", vmo)
    from_start = last("- supply: [0, 1]\n- resize: 4\n- writeback_begin: [1, 2]\n"
                      "- writeback_end: [2, 2]\n- query: {}", "2024", vmo)
    prefix = last("- supply: [0, 1]\n- resize: 4\n- writeback_begin: [1, 2]\n"
                  "- writeback_end: [1, 3]\n- query: {}", "2024", vmo)
    assert (partway, from_start, prefix) == (
        q(4, [(1, 3, 1)]), q(4, [(1, 3, 1)]), q(4, [(3, 1, 1)]))


def test_e1_query_advances_the_tail_start() -> None:
    """E1 EnumerateDirtyRangesLocked moves supply_zero_offset_ over committed pages, which
    changes what a later partial WRITEBACK_END can clean."""
    vmo = "{pages: 1, resizable: true}"
    tail = ("- supply: [0, 1]\n- resize: 4\n- write: [1, 2]\n{query}- writeback_begin: [2, 2]\n"
            "- writeback_end: [2, 2]\n- query: {{}}")
    with_query = last(tail.format(query="- query: {}\n"), "2022", vmo)
    without = last(tail.format(query=""), "2022", vmo)
    assert (with_query, without) == (q(6, [(1, 1, 0)]), q(5, [(1, 2, 0), (3, 1, 1)]))


def test_cleaned_zero_range_is_unsupplied_again() -> None:
    """facts 2.12: after writeback of a zero range a read would need a READ request."""
    sc = scenario("- supply: [0, 1]\n- resize: 2\n- writeback_begin: [1, 1]\n"
                  "- writeback_end: [1, 1]\n- read: [1, 1]", "{pages: 1, resizable: true}")
    with pytest.raises(ScenarioError, match=r"step 4 \(read\): would block on profile 2024: "
                                            r"page 1 not supplied"):
        predict(sc, "2024")


# --- detach (facts 2.9, section 0) ---------------------------------------------------------


def test_detach_keeps_dirty_drops_clean() -> None:
    pred = run("- supply: [0, 4]\n- write: [1, 1]\n- detach\n- query: {}\n- op_fail: [0, 1]")
    assert pred.steps[3] == q(3, [(1, 1, 0)])
    assert pred.steps[4].status == zx.ZX_ERR_BAD_STATE
    e1 = run("- supply: [0, 4]\n- write: [1, 1]\n- detach\n- query: {}\n- op_fail: [0, 1]",
             "2022")
    assert e1.steps[4].status == OK


# --- stats ---------------------------------------------------------------------------------


def test_stats_modified_by_write_and_reset() -> None:
    pred = run("- stats: {reset: false}\n- supply: [0, 1]\n- write: [0, 1]\n"
               "- stats: {reset: true}\n- stats: {reset: false}")
    assert [s.modified for s in pred.steps] == [0, None, None, 1, 0]


# --- 2020 (facts section 7) -----------------------------------------------------------------


def test_2020_rejects_trap_dirty_at_setup() -> None:
    pred = run("- query: {}", "2020", "{pages: 2, trap_dirty: true}")
    assert pred == ScenarioPrediction("t", "2020", (),
                                      setup_error=("create_vmo", zx.ZX_ERR_INVALID_ARGS))


def test_2020_has_no_query_or_stats_and_no_dirty_ops() -> None:
    pred = run("- query: {}\n- stats: {reset: false}\n- query_all: {buffer_entries: 1}\n"
               "- op_dirty: [0, 1]\n- writeback_end: [0, 1]", "2020")
    assert pred.steps == (
        StepPrediction(0, "query", None, unavailable="zx_pager_query_dirty_ranges"),
        StepPrediction(1, "stats", None, unavailable="zx_pager_query_vmo_stats"),
        StepPrediction(2, "query_all", None, unavailable="zx_pager_query_dirty_ranges"),
        StepPrediction(3, "op_dirty", zx.ZX_ERR_NOT_SUPPORTED),
        StepPrediction(4, "writeback_end", zx.ZX_ERR_NOT_SUPPORTED))


def test_unknown_profile_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown ABI profile '2023'; known profiles: "
                                         "2020, 2022, 2024"):
        run("- query: {}", "2023")


# --- blocking steps (validation) -----------------------------------------------------------


def test_validation_names_file_line_scenario_step_page_and_fix() -> None:
    text = ("scenarios:\n"
            "  - name: blocky\n    vmo: {pages: 4, trap_dirty: true}\n    steps:\n"
            "      - supply: [0, 2]\n      - write: [1, 1]\n"
            "  - name: unsupplied\n    abi: [2022, 2024]\n    vmo: {pages: 4}\n    steps:\n"
            "      - read: [2, 2]\n"
            "  - name: fine\n    vmo: {pages: 4}\n    steps:\n      - supply: [0, 4]\n"
            "      - read: [0, 4]\n")
    problems = validation_problems(parse_scenarios(text, "v.yaml"))
    assert problems == [
        "v.yaml:6: scenario 'blocky': step 1 (write): would block on profile 2022, 2024: page 1 "
        "clean in a trap_dirty VMO (a DIRTY page request); add `op_dirty: [1, 1]` before this "
        "step, or restrict the scenario with `abi:`",
        "v.yaml:11: scenario 'unsupplied': step 0 (read): would block on profile 2022, 2024: "
        "pages 2..3 not supplied (a READ page request); add `supply: [2, 2]` before this step, "
        "or restrict the scenario with `abi:`",
    ]


def test_validation_e1_op_zero_below_tail_needs_supplied_pages() -> None:
    """E1 looks pages below supply_zero_offset_ up for write; E2 needs no request."""
    sc = scenario("- supply: [0, 1]\n- op_zero: [0, 2]", "{pages: 3}")
    with pytest.raises(ScenarioError, match=r"profile 2022: page 1 not supplied"):
        predict(sc, "2022")
    assert predict(sc, "2024").steps[1] == StepPrediction(1, "op_zero", OK)


def test_validation_2020_resized_pages_are_unsupplied() -> None:
    sc = scenario("- supply: [0, 1]\n- resize: 2\n- read: [1, 1]",
                  "{pages: 1, resizable: true}")
    with pytest.raises(ScenarioError, match=r"profile 2020: page 1 not supplied"):
        predict(sc, "2020")
    assert predict(sc, "2022").steps[2] == StepPrediction(2, "read", OK)


# --- expectations --------------------------------------------------------------------------


def test_expect_disagreements_name_step_field_and_both_values() -> None:
    sc = scenario("- supply: [0, 2]\n- write: [1, 1]\n"
                  "- query: {}\n  expect: {status: ZX_OK, actual: 2, ranges: [[0, 1, 0]]}\n"
                  "- write: [0, 1]\n  expect: {status: ZX_ERR_IO}")
    assert expect_disagreements(sc, predict(sc, "2024")) == [
        "t.yaml:7: scenario 't': step 2 (query): actual: expected 2, model 1 (profile 2024; "
        "ranges in pages when aligned)",
        "t.yaml:7: scenario 't': step 2 (query): ranges: expected [[0, 1, 0]], model "
        "[[1, 1, 0]] (profile 2024; ranges in pages when aligned)",
        "t.yaml:9: scenario 't': step 3 (write): status: expected ZX_ERR_IO, model ZX_OK "
        "(profile 2024)",
    ]
