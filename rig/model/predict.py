"""Reference model of Zircon pager dirty tracking, one semantics per ABI profile (pure).

The model predicts, for every step of a scenario, the status a real kernel returns and, for
queries, ``actual``, ``avail`` and every range; for ``stats``, ``modified``. It also finds steps
that would block on a page request (``validation_problems``), which the guest cannot survive.

Every rule cites its source in ``docs/model.md``. Profiles:

* ``2020``: a kernel from before dirty tracking (zircon-facts.md section 7, measured).
* ``2022``: the E1 "tail" model (``supply_zero_offset_``), no handle rights checks.
* ``2024``: the E2 zero-interval model with rights checks.

State is a run-length map from page index to page state, so the cost of every step grows with
the number of distinct runs it touches, never with the number of pages.
"""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field

from rig import zx
from rig.errors import ScenarioError
from rig.model.pagemap import COMMITTED_DIRTY, READS_ZERO, ZEROES, PageMap, PageState
from rig.profiles import PROFILE_NAMES, Profile, get_profile
from rig.scenario.loader import Handle, Scenario, ScenarioFile, Step, StepKind

LOG = logging.getLogger(__name__)

PROFILES = PROFILE_NAMES

P = zx.PAGE_SIZE
_U64 = 1 << 64

# Statuses the model speaks (rig.zx keeps only the most common ones as names).
_OK = zx.ZX_OK
_NOT_SUPPORTED = zx.ZX_ERR_NOT_SUPPORTED
_INVALID_ARGS = zx.ZX_ERR_INVALID_ARGS
_BAD_HANDLE = zx.ZX_ERR_BAD_HANDLE
_WRONG_TYPE = zx.ZX_ERR_WRONG_TYPE
_OUT_OF_RANGE = zx.ZX_ERR_OUT_OF_RANGE
_BAD_STATE = zx.ZX_ERR_BAD_STATE
_NOT_FOUND = zx.ZX_ERR_NOT_FOUND
_UNAVAILABLE = zx.ZX_ERR_UNAVAILABLE
_ACCESS_DENIED = zx.ZX_ERR_ACCESS_DENIED

# OP_FAIL `data` values each era accepts (PageSource::IsValidExternalFailureCode). The 2020 set
# is the one the first OP_FAIL kernels had; only ZX_ERR_IO was measured (facts section 7).
_FAIL_CODES_2020 = frozenset({zx.ZX_ERR_IO, -42, zx.ZX_ERR_BAD_STATE})
_FAIL_CODES = zx.PAGER_FAIL_CODES

QUERY_SYSCALL = "zx_pager_query_dirty_ranges"
STATS_SYSCALL = "zx_pager_query_vmo_stats"


# ---------------------------------------------------------------------------------------------
# Public data shapes (docs/design.md)


@dataclass(frozen=True)
class StepPrediction:
    index: int
    op: str  # the step's YAML key
    status: int | None  # None when unavailable
    actual: int | None = None
    avail: int | None = None
    ranges: tuple[tuple[int, int, int], ...] | None = None  # bytes: (offset, length, options)
    calls: int | None = None
    modified: int | None = None
    unavailable: str | None = None  # syscall missing in this profile


@dataclass(frozen=True)
class ScenarioPrediction:
    name: str
    profile: str
    steps: tuple[StepPrediction, ...]  # empty when setup fails
    setup_error: tuple[str, int] | None = None


# ---------------------------------------------------------------------------------------------
# Page states and the run-length page map


# ---------------------------------------------------------------------------------------------
# The simulated VMO


class _Blocked(Exception):
    """The step would wait on a page request (the guest has no pager thread)."""

    def __init__(self, first: int, end: int, why: str, fix: str) -> None:
        super().__init__(why)
        self.first, self.end, self.why, self.fix = first, end, why, fix


@dataclass
class _Vmo:
    profile: str
    trap_dirty: bool
    resizable: bool
    pages: PageMap
    detached: bool = False
    modified: bool = False
    # E1 only (profile 2022): supply_zero_offset_ and awaiting_clean_zero_range_end_, in pages.
    szo: int = 0
    aczre: int = 0
    # What the profile means, looked up once: the rules ask it on every step.
    features: Profile = field(init=False)

    def __post_init__(self) -> None:
        self.features = get_profile(self.profile)

    @property
    def size_bytes(self) -> int:
        return self.pages.size_pages * P

    @property
    def e1(self) -> bool:  # the E1 era: the tail model (profile 2022)
        return self.features.tail_model

    @property
    def e2(self) -> bool:  # the E2 era: zero intervals (profile 2024)
        return self.features.zero_intervals

    # E1 bookkeeping (vm_cow_pages.h UpdateSupplyZeroOffsetLocked and
    # ConsiderTrimAwaitingCleanZeroRangeLocked).
    def update_szo(self, new: int) -> None:
        prev = self.szo
        self.szo = new
        if self.aczre and not (prev <= new < self.aczre):
            self.aczre = 0

    def consider_trim_aczre(self, end: int) -> None:
        if self.aczre and self.szo <= end < self.aczre:
            self.aczre = 0 if end == self.szo else end


def _pages_of(offset: int, length: int) -> tuple[int, int]:
    """Pages touched by bytes [offset, offset+length)."""
    return offset // P, -(-(offset + length) // P)


def _in_range(offset: int, length: int, size: int) -> bool:
    """range_check.h InRange: no uint64 overflow, offset <= size, offset+length <= size."""
    return offset + length < _U64 and offset + length <= size


def _trim_range(offset: int, length: int, size: int) -> int | None:
    """range_check.h TrimRange: None (OUT_OF_RANGE) on uint64 overflow or ``offset > size``,
    else the length clipped to ``size``. A range that only partly fits is not an error."""
    if offset + length >= _U64 or offset > size:
        return None
    return min(length, size - offset)


def _bounded_length(vmo: _Vmo, offset: int, length: int) -> int | None:
    """The length COMMIT/OP_ZERO act on, or None for OUT_OF_RANGE: E2 (mist-os @053a4beb)
    checks InRange; older kernels trim the range to the VMO size (_trim_range)."""
    if vmo.e2:
        return length if _in_range(offset, length, vmo.size_bytes) else None
    return _trim_range(offset, length, vmo.size_bytes)


def _page_list(first: int, end: int) -> str:
    return f"page {first}" if end - first == 1 else f"pages {first}..{end - 1}"


# ---------------------------------------------------------------------------------------------
# Handle checks (zircon/kernel/lib/syscalls/pager.cc)


def _handle_status(step: Step, profile: str) -> int | None:
    """Status of the handle lookups of a pager syscall, or None when they pass.

    Order: pager lookup (type, then rights on 2024), VMO lookup (same), then the pager koid
    match, which rejects VMOs of other pagers, plain VMOs, clones and slices.
    """
    if step.pager is Handle.VALID and step.vmo is Handle.VALID:
        return None
    rights_checked = get_profile(profile).rights_checked
    for which in (step.pager, step.vmo):
        if which in (Handle.INVALID, Handle.CLOSED):
            return _BAD_HANDLE
        if which is Handle.WRONG_TYPE:
            return _WRONG_TYPE
        if which is Handle.NO_RIGHTS and rights_checked:
            return _ACCESS_DENIED
    if step.pager is Handle.OTHER_PAGER or step.vmo in (
            Handle.OTHER_PAGER, Handle.PLAIN_VMO, Handle.CLONE, Handle.SLICE):
        return _INVALID_ARGS
    return None


def _signed64(value: int) -> int:
    value %= _U64
    return value - _U64 if value >= (1 << 63) else value


# ---------------------------------------------------------------------------------------------
# Steps


@dataclass(slots=True)
class _Out:
    status: int | None
    actual: int | None = None
    avail: int | None = None
    ranges: tuple[tuple[int, int, int], ...] | None = None
    calls: int | None = None
    modified: int | None = None
    unavailable: str | None = None


def _not_supplied(vmo: _Vmo, first: int, end: int) -> None:
    """Raise for an access to unsupplied pages; detached VMOs fail instead (returns)."""
    run = vmo.pages.first_in(first, end, lambda s: s is PageState.ABSENT)
    if run is not None and not vmo.detached:
        s, e, _ = run
        raise _Blocked(s, e, f"{_page_list(s, e)} not supplied (a READ page request)",
                       f"add `supply: [{s}, {e - s}]` before this step")


def _has_absent(vmo: _Vmo, first: int, end: int) -> bool:
    return vmo.pages.first_in(first, end, lambda s: s is PageState.ABSENT) is not None


def _needs_dirty_request(vmo: _Vmo, first: int, end: int,
                         ok: frozenset[PageState] = frozenset({PageState.DIRTY})) -> None:
    """Under ZX_VMO_TRAP_DIRTY, making a page Dirty waits for a DIRTY request + OP_DIRTY."""
    if not vmo.trap_dirty or not vmo.features.dirty_tracking:
        return
    run = vmo.pages.first_in(first, end, lambda s: s not in ok)
    if run is not None:
        s, e, state = run
        raise _Blocked(s, e, f"{_page_list(s, e)} {state.name.lower()} in a trap_dirty VMO "
                             "(a DIRTY page request)",
                       f"add `op_dirty: [{s}, {e - s}]` before this step")


def _write(vmo: _Vmo, offset: int, length: int) -> _Out:
    if not _in_range(offset, length, vmo.size_bytes):
        return _Out(_OUT_OF_RANGE)
    if length == 0:
        return _Out(_OK)
    first, end = _pages_of(offset, length)
    _not_supplied(vmo, first, end)
    if _has_absent(vmo, first, end):
        return _Out(_BAD_STATE)  # detached: the fault fails (page_source.cc)
    if vmo.trap_dirty and vmo.detached and vmo.features.dirty_tracking and vmo.pages.first_in(
            first, end, lambda s: s is not PageState.DIRTY) is not None:
        return _Out(_BAD_STATE)  # a DIRTY request on a detached source fails
    _needs_dirty_request(vmo, first, end)
    vmo.pages.assign(first, end, PageState.DIRTY)
    vmo.modified = True
    return _Out(_OK)


def _read(vmo: _Vmo, offset: int, length: int) -> _Out:
    if not _in_range(offset, length, vmo.size_bytes):
        return _Out(_OUT_OF_RANGE)
    if length == 0:
        return _Out(_OK)
    first, end = _pages_of(offset, length)
    _not_supplied(vmo, first, end)
    if _has_absent(vmo, first, end):
        return _Out(_BAD_STATE)
    return _Out(_OK)


def _commit(vmo: _Vmo, offset: int, length: int) -> _Out:
    # VmObjectPaged::CommitRangeInternal rounds the range out to pages first (OUT_OF_RANGE if
    # that overflows). Then, for a non-pin commit, kernels up to E1 *trim* it to the VMO size
    # (TrimRange: mid-2020 vm_object_paged.cc, gnoliyil E1 vm_object_paged.cc), so a range that
    # runs past the end commits the part that fits; mist-os @053a4beb checks InRange instead.
    end = offset + length
    end_page = -(-end // P) * P
    if end >= _U64 or end_page >= _U64:
        return _Out(_OUT_OF_RANGE)
    first_byte = offset // P * P
    span = end_page - first_byte
    bounded = _bounded_length(vmo, first_byte, span)
    if bounded is None:
        return _Out(_OUT_OF_RANGE)
    span = bounded
    if span == 0:
        return _Out(_OK)
    first, end = first_byte // P, (first_byte + span) // P
    _not_supplied(vmo, first, end)
    if _has_absent(vmo, first, end):
        return _Out(_BAD_STATE)
    # Committing a dirty zero range allocates pages that must be Dirty; under TRAP_DIRTY that
    # needs a DIRTY request (E1 LookupPagesLocked: "offset >= supply_zero_offset_" generates one
    # even for DirtyTrackingAction::None; for E2 intervals this is the conservative choice).
    _needs_dirty_request(vmo, first, end, ok=frozenset(PageState) - ZEROES)

    def commit(s: PageState) -> PageState:
        if s in ZEROES:
            return PageState.DIRTY
        if s is PageState.MARKER:
            return PageState.CLEAN
        return s

    vmo.pages.transform(first, end, commit)
    return _Out(_OK)


def _op_zero(vmo: _Vmo, offset: int, length: int) -> _Out:
    # VmObjectPaged::ZeroRange: kernels up to E1 *trim* the range to the VMO size (TrimRange;
    # OUT_OF_RANGE only on overflow or offset > size: mid-2020 and gnoliyil E1
    # vm_object_paged.cc); mist-os ZeroRangeInternal (@053a4beb) checks InRange instead.
    bounded = _bounded_length(vmo, offset, length)
    if bounded is None:
        return _Out(_OUT_OF_RANGE)
    length = bounded
    if length == 0:
        return _Out(_OK)
    first, end = _pages_of(offset, length)
    whole_first, whole_end = -(-offset // P), (offset + length) // P
    partial = [p for p in sorted({first, end - 1})
               if not whole_first <= p < whole_end]
    pages = vmo.pages
    if not vmo.features.dirty_tracking:
        # Not measured on a real 2020 kernel: modelled as a plain write of zeroes.
        _not_supplied(vmo, first, end)
        if _has_absent(vmo, first, end):
            return _Out(_BAD_STATE)
        pages.assign(first, end, PageState.DIRTY)
        vmo.modified = True
        return _Out(_OK)
    # Partial pages are written with zeroes unless they already read as zero
    # (VmObjectPaged::ZeroPartialPage, PageWouldReadZeroLocked).
    for p in partial:
        state = next(pages.runs(p, p + 1))[2]
        if state in READS_ZERO:
            continue
        _not_supplied(vmo, p, p + 1)
        if state is PageState.ABSENT:
            return _Out(_BAD_STATE)
        _needs_dirty_request(vmo, p, p + 1)
    if whole_first < whole_end:
        if vmo.e2:
            # Whole pages become a dirty zero interval without any page request, even under
            # TRAP_DIRTY (VmCowPages::ZeroPagesPreservingContentLocked).
            pass
        elif whole_end < vmo.szo:
            # E1 below supply_zero_offset_: pages are looked up for write and zeroed in place.
            _not_supplied(vmo, whole_first, whole_end)
            if _has_absent(vmo, whole_first, whole_end):
                return _Out(_BAD_STATE)
            _needs_dirty_request(vmo, whole_first, whole_end,
                                 ok=frozenset({PageState.DIRTY, PageState.MARKER}))
    # All checks passed: apply. The VMO counts as modified only when something was zeroed:
    # a partial page that already reads as zero is skipped without a write, and ZeroRange marks
    # the VMO modified only once whole pages were processed ("start > original_start"; both
    # gnoliyil E1 and mist-os @053a4beb vm_object_paged.cc).
    modified = whole_first < whole_end
    for p in partial:
        state = next(pages.runs(p, p + 1))[2]
        if state in READS_ZERO:
            continue
        pages.assign(p, p + 1, PageState.DIRTY)
        modified = True
    if whole_first < whole_end:
        if vmo.e2:
            # Markers and existing intervals (AwaitingClean or not) are already zero.
            pages.transform(whole_first, whole_end, lambda s: s if s in (
                PageState.MARKER, PageState.ZERO_AWAITING) else PageState.ZERO)
        elif whole_first < vmo.szo <= whole_end:
            vmo.update_szo(whole_first)
            pages.assign(whole_first, whole_end, PageState.ZERO)
        elif vmo.szo <= whole_first:
            pages.assign(whole_first, whole_end, PageState.ZERO)
        else:
            pages.transform(whole_first, whole_end,
                            lambda s: s if s is PageState.MARKER else PageState.DIRTY)
    if modified:
        vmo.modified = True
    return _Out(_OK)


def _resize(vmo: _Vmo, new_size_bytes: int) -> _Out:
    if not vmo.resizable:
        return _Out(_UNAVAILABLE)
    new = new_size_bytes // P
    old = vmo.pages.size_pages
    if new < old:
        if vmo.e1:
            if new < vmo.szo:
                vmo.update_szo(new)
            else:
                vmo.consider_trim_aczre(new)
        vmo.pages.resize(new, PageState.ABSENT)
    elif new > old:
        # The new tail is dirty and zero (both eras); a 2020 kernel has no such tail.
        fill = PageState.ZERO if vmo.features.dirty_tracking else PageState.ABSENT
        vmo.pages.resize(new, fill)
    vmo.modified = True
    return _Out(_OK)


def _supply(vmo: _Vmo, step: Step, profile: str) -> _Out:
    offset, length = step.offset_bytes, step.length_bytes
    if offset % P or length % P:
        return _Out(_INVALID_ARGS)
    handle = _handle_status(step, profile)
    if handle is not None:
        return _Out(handle)
    if length == 0 and get_profile(profile).dirty_tracking:
        # VmObjectPaged::SupplyPages loops "while (len > 0)" (gnoliyil E1) / "while
        # (!range.is_empty())" (mist-os @053a4beb): an empty supply never reaches
        # SupplyPagesLocked, so neither its range check nor the detached check runs. The mid-2020
        # SupplyPages checks InRange first.
        return _Out(_OK)
    if not _in_range(offset, length, vmo.size_bytes):
        return _Out(_OUT_OF_RANGE)
    if vmo.detached and vmo.features.detached_bad_state:
        return _Out(_BAD_STATE)  # SupplyPagesLocked: page_source_->is_detached() (2024)
    fill = PageState.CLEAN if step.kind is StepKind.SUPPLY else PageState.MARKER
    # Only absent pages are filled; present pages and dirty zero ranges are skipped silently.
    vmo.pages.transform(offset // P, (offset + length) // P,
                        lambda s: fill if s is PageState.ABSENT else s)
    return _Out(_OK)


def _op_range(vmo: _Vmo, step: Step, profile: str) -> _Out:
    """zx_pager_op_range: alignment, handles, op and data, then the op itself."""
    offset, length = step.offset_bytes, step.length_bytes
    if offset % P or length % P:
        return _Out(_INVALID_ARGS)
    handle = _handle_status(step, profile)
    if handle is not None:
        return _Out(handle)
    data = step.data or 0
    kind = step.kind
    first, end = offset // P, (offset + length) // P
    in_range = _in_range(offset, length, vmo.size_bytes)
    if kind is StepKind.OP_FAIL:
        signed = _signed64(data)
        codes = _FAIL_CODES if get_profile(profile).dirty_tracking else _FAIL_CODES_2020
        if not -(1 << 31) <= signed < (1 << 31) or signed not in codes:
            return _Out(_INVALID_ARGS)
        if not in_range:
            return _Out(_OUT_OF_RANGE)
        if vmo.detached and vmo.features.detached_bad_state:
            return _Out(_BAD_STATE)
        return _Out(_OK)
    if not get_profile(profile).dirty_tracking:
        return _Out(_NOT_SUPPORTED)  # ops 2..4 did not exist (facts section 7)
    if kind is StepKind.OP_DIRTY:
        if data != 0:
            return _Out(_INVALID_ARGS)
        # VmCowPages::DirtyPages: the trap first, then the range, then (2024) a detached
        # source. On 2024 VmObjectPaged::DirtyPages first maps the range with GetCowRange, which
        # rejects an overflowing range before DirtyPages runs (mist-os @053a4beb); E1
        # VmObjectPaged::DirtyPages calls DirtyPagesLocked directly (trap check first).
        if vmo.e2 and offset + length >= _U64:
            return _Out(_OUT_OF_RANGE)
        if not vmo.trap_dirty:
            return _Out(_NOT_SUPPORTED)
        if not in_range:
            return _Out(_OUT_OF_RANGE)
        if vmo.detached and vmo.features.detached_bad_state:
            return _Out(_BAD_STATE)
        if _has_absent(vmo, first, end):
            return _Out(_NOT_FOUND)
        vmo.pages.assign(first, end, PageState.DIRTY)
        return _Out(_OK)
    if kind in (StepKind.WRITEBACK_BEGIN, StepKind.WRITEBACK_BEGIN_ZERO):
        if data not in (0, zx.ZX_VMO_DIRTY_RANGE_IS_ZERO):
            return _Out(_INVALID_ARGS)
        if not in_range:
            return _Out(_OUT_OF_RANGE)
        _writeback_begin(vmo, first, end, is_zero=data == zx.ZX_VMO_DIRTY_RANGE_IS_ZERO)
        return _Out(_OK)
    # WRITEBACK_END
    if data != 0:
        return _Out(_INVALID_ARGS)
    if not in_range:
        return _Out(_OUT_OF_RANGE)
    _writeback_end(vmo, first, end)
    return _Out(_OK)


def _zero_runs(pages: PageMap, first: int, end: int) -> list[tuple[int, int]]:
    """Maximal dirty zero runs (E2 zero intervals) overlapping [first, end), unclipped.

    Adjacent zero intervals always merge (VmPageList::AddZeroInterval), so an interval is a
    maximal run of zero pages.
    """
    out: list[tuple[int, int]] = []
    lo = max(first - 1, 0)
    hi = min(end + 1, pages.size_pages)
    for s, e, state in pages.runs(lo, hi):
        if state not in ZEROES:
            continue
        if out and out[-1][1] == s:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    # Extend the first and last runs past the window to their real ends.
    result = []
    for s, t in out:
        while s > 0:
            prev = next(pages.runs(s - 1, s))[2]
            if prev not in ZEROES:
                break
            s = _run_start(pages, s - 1)
        while t < pages.size_pages:
            nxt = next(pages.runs(t, t + 1))[2]
            if nxt not in ZEROES:
                break
            t = _run_end(pages, t)
        if s < end and t > first:
            result.append((s, t))
    return result


def _run_start(pages: PageMap, page: int) -> int:
    return pages.starts[bisect_right(pages.starts, page) - 1]


def _run_end(pages: PageMap, page: int) -> int:
    i = bisect_right(pages.starts, page)
    return pages.starts[i] if i < len(pages.starts) else pages.size_pages


def _writeback_begin(vmo: _Vmo, first: int, end: int, *, is_zero: bool) -> None:
    if first >= end:
        return
    pages = vmo.pages
    if vmo.e2:
        if not is_zero:
            pages.transform(first, end,
                            lambda s: PageState.AWAITING if s is PageState.DIRTY else s)
        # A zero interval is marked AwaitingClean from its start sentinel, so only intervals that
        # start inside the range count; one that starts before it is left alone
        # (VmCowPages::WritebackBeginLocked, 2024: AwaitingCleanLength on the start sentinel).
        for s, t in _zero_runs(pages, first, end):
            if s >= first:
                pages.transform(s, min(t, end), lambda _s: PageState.ZERO_AWAITING)
        return
    # E1 (VmCowPages::WritebackBeginLocked, tail model).
    if not is_zero:
        pages.transform(first, end,
                        lambda s: PageState.AWAITING if s is PageState.DIRTY else s)
    if vmo.aczre == 0:
        if first <= vmo.szo < end:
            vmo.aczre = end
    elif first <= vmo.aczre < end:
        vmo.aczre = end


def _writeback_end(vmo: _Vmo, first: int, end: int) -> None:
    if first >= end:
        return
    pages = vmo.pages
    if vmo.e2:
        runs = list(_zero_runs(pages, first, end))
        pages.transform(first, end,
                        lambda s: PageState.CLEAN if s is PageState.AWAITING else s)
        # Zero intervals (VmCowPages::WritebackEndLocked, 2024): only intervals whose start lies
        # in the range are considered; a running "awaiting clean end" grows with each start's
        # AwaitingCleanLength; a whole interval below it is removed, otherwise its start is
        # clipped. Removed zero ranges are "not supplied" again (facts 2.12).
        awaiting_end = first
        for s, t in runs:
            if s < first:
                continue
            prefix = s
            for rs, re_, state in pages.runs(s, t):
                if state is not PageState.ZERO_AWAITING or rs != prefix:
                    break
                prefix = re_
            awaiting_end = max(awaiting_end, prefix)
            clean_to = t if t <= end and t <= awaiting_end else min(awaiting_end, end, t)
            if clean_to > s:
                pages.assign(s, clean_to, PageState.ABSENT)
        return
    # E1 (VmCowPages::WritebackEndLocked, tail model).
    szo = vmo.szo
    if first > szo:
        return
    if first < szo:
        pages.transform(first, min(end, szo),
                        lambda s: PageState.CLEAN if s is PageState.AWAITING else s)
    if end <= szo or vmo.aczre == 0:
        return
    zero_end = min(vmo.aczre, end)

    def finish_tail(s: PageState) -> PageState:
        if s is PageState.AWAITING:
            return PageState.CLEAN
        if s is PageState.ZERO:
            return PageState.ABSENT
        return s

    pages.transform(szo, zero_end, finish_tail)
    vmo.update_szo(zero_end)


def _detach(vmo: _Vmo, step: Step, profile: str) -> _Out:
    handle = _handle_status(step, profile)
    if handle is not None:
        return _Out(handle)
    # Clean pages and clean zero markers go; Dirty, AwaitingClean and dirty zero ranges stay.
    vmo.pages.transform(0, vmo.pages.size_pages, lambda s: PageState.ABSENT if s in (
        PageState.CLEAN, PageState.MARKER) else s)
    vmo.detached = True
    return _Out(_OK)


def _stats(vmo: _Vmo, step: Step, profile: str) -> _Out:
    if not get_profile(profile).dirty_tracking:
        return _Out(None, unavailable=STATS_SYSCALL)
    handle = _handle_status(step, profile)
    if handle is not None:
        return _Out(handle)
    modified = int(vmo.modified)
    if step.reset:
        vmo.modified = False
    return _Out(_OK, modified=modified)


# Range option per PageState value: None (not dirty), 0 (committed), 1 (dirty zero).
_RANGE_OPTION: tuple[int | None, ...] = (None, None, None, 0, 0, 1, 1)


def dirty_ranges(vmo: _Vmo, first: int, end: int) -> list[tuple[int, int, int]]:
    """Dirty ranges over pages [first, end): (first_page, end_page, options), merged.

    Committed Dirty/AwaitingClean runs merge; dirty zero runs are reported apart with
    ZX_VMO_DIRTY_RANGE_IS_ZERO even when adjacent (facts section 2 item 6).
    """
    pages = vmo.pages
    starts, states, size = pages.starts, pages.states, pages.size_pages
    end = min(end, size)
    out: list[tuple[int, int, int]] = []
    if first >= end:
        return out
    option = _RANGE_OPTION
    n = len(starts)
    i = bisect_right(starts, first) - 1
    cur_first = cur_end = cur_opt = -1
    while i < n:
        s = starts[i]
        if s >= end:
            break
        opt = option[states[i]]
        i += 1
        if opt is None:
            continue
        e = starts[i] if i < n else size
        if s < first:
            s = first
        if e > end:
            e = end
        if opt == cur_opt and s == cur_end:
            cur_end = e
            continue
        if cur_opt >= 0:
            out.append((cur_first, cur_end, cur_opt))
        cur_first, cur_end, cur_opt = s, e, opt
    if cur_opt >= 0:
        out.append((cur_first, cur_end, cur_opt))
    return out


def _e1_try_advance_szo(vmo: _Vmo, first: int, end: int) -> None:
    """EnumerateDirtyRangesLocked first moves supply_zero_offset_ over committed pages."""
    if not first <= vmo.szo < end:
        return
    new = vmo.szo
    for s, e, state in vmo.pages.runs(vmo.szo, end):
        if state not in COMMITTED_DIRTY or s != new:
            break
        new = e
    if new != vmo.szo:
        vmo.update_szo(new)


def _query_once(vmo: _Vmo, offset: int, length: int, buffer_size: int | None,
                buffer_null: bool, actual_null: bool, avail_null: bool) -> _Out:
    """One zx_pager_query_dirty_ranges after the handle checks."""
    if not _in_range(offset, length, vmo.size_bytes):
        return _Out(_OUT_OF_RANGE)
    first, end = _pages_of(offset, length)
    if vmo.e1:
        _e1_try_advance_szo(vmo, first, end)
    found = dirty_ranges(vmo, first, end)
    capacity = len(found) if buffer_size is None else buffer_size // zx.DIRTY_RANGE_SIZE
    fits = found[:capacity]
    if fits and buffer_null:
        return _Out(_INVALID_ARGS)  # the copy-out faults and SoftFault fails
    # With avail NULL the walk stops at the first range that does not fit; otherwise it
    # counts every range (PagerDispatcher::QueryDirtyRanges).
    written = tuple((s * P, (e - s) * P, opt) for s, e, opt in fits)
    return _Out(_OK, actual=None if actual_null else len(written),
                avail=None if avail_null else len(found), ranges=written)


def _query(vmo: _Vmo, step: Step, profile: str) -> _Out:
    if not get_profile(profile).dirty_tracking:
        return _Out(None, unavailable=QUERY_SYSCALL)
    handle = _handle_status(step, profile)
    if handle is not None:
        return _Out(handle)
    q = step.query
    assert q is not None
    offset = q.offset_bytes if q.offset_bytes is not None else 0
    length = (q.length_bytes if q.length_bytes is not None
              else max(vmo.size_bytes - offset, 0))
    return _query_once(vmo, offset, length, q.buffer_size, q.buffer_null, q.actual_null,
                       q.avail_null)


def _query_all(vmo: _Vmo, step: Step, profile: str) -> _Out:
    """The documented loop: query from the end of the last range until actual == avail."""
    if not get_profile(profile).dirty_tracking:
        return _Out(None, unavailable=QUERY_SYSCALL)
    entries = step.buffer_entries or 1
    offset = 0
    calls = 0
    collected: list[tuple[int, int, int]] = []
    while True:
        out = _query_once(vmo, offset, max(vmo.size_bytes - offset, 0),
                          entries * zx.DIRTY_RANGE_SIZE, False, False, False)
        calls += 1
        if out.status != _OK:
            return _Out(out.status, calls=calls, ranges=tuple(collected))
        assert out.ranges is not None and out.actual is not None
        collected.extend(out.ranges)
        if out.actual == out.avail or not out.ranges:
            return _Out(_OK, actual=out.actual, avail=out.avail, ranges=tuple(collected),
                        calls=calls)
        last = out.ranges[-1]
        offset = last[0] + last[1]


def _run_write(vmo: _Vmo, step: Step, profile: str) -> _Out:
    return _write(vmo, step.offset_bytes, step.length_bytes)


def _run_read(vmo: _Vmo, step: Step, profile: str) -> _Out:
    return _read(vmo, step.offset_bytes, step.length_bytes)


def _run_op_zero(vmo: _Vmo, step: Step, profile: str) -> _Out:
    return _op_zero(vmo, step.offset_bytes, step.length_bytes)


def _run_commit(vmo: _Vmo, step: Step, profile: str) -> _Out:
    return _commit(vmo, step.offset_bytes, step.length_bytes)


def _run_resize(vmo: _Vmo, step: Step, profile: str) -> _Out:
    assert step.new_size_bytes is not None
    return _resize(vmo, step.new_size_bytes)


_STEP_FUNCS: dict[StepKind, Callable[[_Vmo, Step, str], _Out]] = {
    StepKind.SUPPLY: _supply,
    StepKind.SUPPLY_ZERO: _supply,
    StepKind.WRITE: _run_write,
    StepKind.WRITE_BYTES: _run_write,
    StepKind.READ: _run_read,
    StepKind.OP_DIRTY: _op_range,
    StepKind.OP_FAIL: _op_range,
    StepKind.WRITEBACK_BEGIN: _op_range,
    StepKind.WRITEBACK_BEGIN_ZERO: _op_range,
    StepKind.WRITEBACK_END: _op_range,
    StepKind.OP_ZERO: _run_op_zero,
    StepKind.COMMIT: _run_commit,
    StepKind.RESIZE: _run_resize,
    StepKind.DETACH: _detach,
    StepKind.STATS: _stats,
    StepKind.QUERY: _query,
    StepKind.QUERY_ALL: _query_all,
}
_OP_NAMES = {kind: kind.value for kind in StepKind}


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclass(frozen=True)
class _Block:
    step: Step
    first: int
    end: int
    why: str
    fix: str


def _check_profile(profile: str) -> None:
    get_profile(profile)


def _simulate(scenario: Scenario, profile: str) -> tuple[ScenarioPrediction, _Block | None]:
    _check_profile(profile)
    spec = scenario.vmo
    if spec.trap_dirty and not get_profile(profile).dirty_tracking:
        # ZX_VMO_TRAP_DIRTY did not exist: zx_pager_create_vmo rejects it (facts section 7).
        return (ScenarioPrediction(scenario.name, profile, (),
                                   setup_error=("create_vmo", _INVALID_ARGS)), None)
    vmo = _Vmo(profile=profile, trap_dirty=spec.trap_dirty, resizable=spec.resizable,
               pages=PageMap(spec.pages, PageState.ABSENT), szo=spec.pages)
    steps: list[StepPrediction] = []
    funcs = _STEP_FUNCS
    for step in scenario.steps:
        try:
            out = funcs[step.kind](vmo, step, profile)
        except _Blocked as blocked:
            return (ScenarioPrediction(scenario.name, profile, tuple(steps)),
                    _Block(step, blocked.first, blocked.end, blocked.why, blocked.fix))
        steps.append(StepPrediction(step.index, _OP_NAMES[step.kind], out.status, out.actual,
                                    out.avail, out.ranges, out.calls, out.modified,
                                    out.unavailable))
    return ScenarioPrediction(scenario.name, profile, tuple(steps)), None


def _block_message(scenario: Scenario, block: _Block, profiles: list[str]) -> str:
    step = block.step
    return (f"{step.location}: scenario '{scenario.name}': step {step.index} ({step.op}): "
            f"would block on profile {', '.join(profiles)}: {block.why}; {block.fix}, "
            "or restrict the scenario with `abi:`")


def predict(scenario: Scenario, profile: str) -> ScenarioPrediction:
    """Predict every step of ``scenario`` on ``profile``.

    :raises InputError: for an unknown profile.
    :raises ScenarioError: when a step would block on a page request (see validation_problems).
    """
    prediction, block = _simulate(scenario, profile)
    if block is not None:
        raise ScenarioError(_block_message(scenario, block, [profile]))
    return prediction


def validation_problems(file: ScenarioFile) -> list[str]:
    """Steps that would block on a page request, for every profile a scenario applies to.

    Each message names file:line, scenario, step (index and key), the pages and the fix.
    """
    problems: list[str] = []
    for scenario in file.scenarios:
        by_message: dict[tuple[int, str, str], list[str]] = {}
        for profile in PROFILES:
            if not scenario.applies_to(profile):
                continue
            _, block = _simulate(scenario, profile)
            if block is not None:
                key = (block.step.index, block.why, block.fix)
                by_message.setdefault(key, []).append(profile)
        for (index, why, fix), profiles in by_message.items():
            block = _Block(scenario.steps[index], 0, 0, why, fix)
            problems.append(_block_message(scenario, block, profiles))
    return problems


# ---------------------------------------------------------------------------------------------
# Expectations


def _show(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(f"[{o // P if o % P == 0 else o}, "
                               f"{n // P if n % P == 0 else n}, {x}]"
                               for o, n, x in value) + "]"
    return "n/a" if value is None else str(value)


def expect_disagreements(scenario: Scenario, prediction: ScenarioPrediction) -> list[str]:
    """Where the scenario's ``expect:`` values differ from the model, one message each.

    Steps the profile cannot run (unavailable syscalls, a failed setup) are not compared.
    """
    out: list[str] = []
    if prediction.setup_error is not None:
        return out
    for step, pred in zip(scenario.steps, prediction.steps, strict=False):
        exp = step.expect
        if exp is None or pred.unavailable is not None:
            continue
        where = (f"{step.location}: scenario '{scenario.name}': step {step.index} "
                 f"({step.op})")
        if exp.status is not None and exp.status != pred.status:
            out.append(f"{where}: status: expected {zx.status_name(exp.status)}, model "
                       f"{'n/a' if pred.status is None else zx.status_name(pred.status)} "
                       f"(profile {prediction.profile})")
        for key in ("actual", "avail", "calls", "modified", "ranges"):
            want = getattr(exp, key)
            got = getattr(pred, key)
            if want is not None and want != got:
                out.append(f"{where}: {key}: expected {_show(want)}, model {_show(got)} "
                           f"(profile {prediction.profile}; ranges in pages when aligned)")
    return out
