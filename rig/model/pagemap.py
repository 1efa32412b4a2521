"""The VMO's pages as a run-length map: page index -> PageState (pure).

The model's core data structure. It is checked against a plain per-page list on random
operations (tests/unit/test_model_properties.py), so it is not only checked against itself.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from collections.abc import Callable, Iterator


class PageState(enum.IntEnum):
    """What one page of the VMO is, as far as the pager APIs can tell."""

    ABSENT = 0  # not supplied (a read or write needs a READ page request)
    CLEAN = 1  # supplied page, Clean
    MARKER = 2  # supplied zero page marker (supply from an empty aux VMO), Clean
    DIRTY = 3  # committed page, Dirty
    AWAITING = 4  # committed page, AwaitingClean (WRITEBACK_BEGIN, no END yet)
    ZERO = 5  # dirty zero range: E2 zero interval, E1 gap at/after supply_zero_offset_
    ZERO_AWAITING = 6  # E2 zero interval AwaitingClean


COMMITTED_DIRTY = frozenset({PageState.DIRTY, PageState.AWAITING})
ZEROES = frozenset({PageState.ZERO, PageState.ZERO_AWAITING})
READS_ZERO = frozenset({PageState.MARKER, PageState.ZERO, PageState.ZERO_AWAITING})


class PageMap:
    """Run-length map page index -> PageState over [0, size_pages).

    ``starts[i]`` is the first page of run ``i``; the run ends where the next starts (or at
    ``size_pages``). Adjacent runs always differ in state.
    """

    __slots__ = ("starts", "states", "size_pages")

    def __init__(self, size_pages: int, state: PageState) -> None:
        self.size_pages = size_pages
        self.starts: list[int] = [0] if size_pages else []
        self.states: list[PageState] = [state] if size_pages else []

    def runs(self, first: int, end: int) -> Iterator[tuple[int, int, PageState]]:
        """The runs overlapping pages [first, end), clipped to it."""
        end = min(end, self.size_pages)
        if first >= end:
            return
        starts, states = self.starts, self.states
        n = len(starts)
        i = bisect_right(starts, first) - 1
        while i < n and starts[i] < end:
            run_end = starts[i + 1] if i + 1 < n else self.size_pages
            yield max(starts[i], first), min(run_end, end), states[i]
            i += 1

    def first_in(self, first: int, end: int,
                 wanted: Callable[[PageState], bool]) -> tuple[int, int, PageState] | None:
        for run in self.runs(first, end):
            if wanted(run[2]):
                return run
        return None

    def _split(self, at: int) -> int:
        """Make a run start at page ``at``; return its index (len when at >= size)."""
        if at >= self.size_pages:
            return len(self.starts)
        i = bisect_right(self.starts, at) - 1
        if self.starts[i] == at:
            return i
        self.starts.insert(i + 1, at)
        self.states.insert(i + 1, self.states[i])
        return i + 1

    def transform(self, first: int, end: int, fn: Callable[[PageState], PageState]) -> None:
        """Apply ``fn`` to the state of every page in [first, end)."""
        end = min(end, self.size_pages)
        if first >= end:
            return
        i = self._split(first)
        j = self._split(end)
        states = self.states
        for k in range(i, j):
            states[k] = fn(states[k])
        self._coalesce(max(i - 1, 0), j + 1)

    def assign(self, first: int, end: int, state: PageState) -> None:
        self.transform(first, end, lambda _s: state)

    def _coalesce(self, lo: int, hi: int) -> None:
        hi = min(hi, len(self.starts))
        new_starts: list[int] = []
        new_states: list[PageState] = []
        for k in range(lo, hi):
            if new_states and new_states[-1] == self.states[k]:
                continue
            new_starts.append(self.starts[k])
            new_states.append(self.states[k])
        self.starts[lo:hi] = new_starts
        self.states[lo:hi] = new_states

    def resize(self, size_pages: int, fill: PageState) -> None:
        if size_pages < self.size_pages:
            i = self._split(size_pages)
            del self.starts[i:]
            del self.states[i:]
        elif size_pages > self.size_pages:
            if self.states and self.states[-1] == fill:
                pass
            else:
                self.starts.append(self.size_pages)
                self.states.append(fill)
        self.size_pages = size_pages
