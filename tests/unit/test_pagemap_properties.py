"""The run-length PageMap against a plain per-page list, on random operations.

The model's core data structure must agree page for page with the simplest possible
implementation (one state per page), and keep its own invariants (sorted run starts, adjacent
runs differ), after any sequence of transform, assign and resize.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rig.model.pagemap import PageMap, PageState

STATES = list(PageState)
MAX_PAGES = 40

ops = st.lists(st.one_of(
    st.tuples(st.just("assign"), st.integers(0, MAX_PAGES), st.integers(0, MAX_PAGES),
              st.sampled_from(STATES)),
    st.tuples(st.just("swap"), st.integers(0, MAX_PAGES), st.integers(0, MAX_PAGES),
              st.sampled_from(STATES)),
    st.tuples(st.just("resize"), st.integers(0, MAX_PAGES), st.just(0),
              st.sampled_from(STATES)),
), max_size=30)


def _pages(m: PageMap) -> list[PageState]:
    out: list[PageState] = []
    for first, end, state in m.runs(0, m.size_pages):
        out += [state] * (end - first)
    return out


@settings(max_examples=500, deadline=None)
@given(st.integers(0, MAX_PAGES), st.sampled_from(STATES), ops)
def test_pagemap_equals_a_plain_page_list(size: int, initial: PageState,
                                          operations: list[tuple[str, int, int, PageState]]
                                          ) -> None:
    m = PageMap(size, initial)
    plain = [initial] * size
    for op, a, b, state in operations:
        if op == "assign":
            m.assign(a, b, state)
            for p in range(a, min(b, len(plain))):
                plain[p] = state
        elif op == "swap":  # a transform that depends on the old state
            def fn(s: PageState, target: PageState = state) -> PageState:
                return target if s is PageState.ABSENT else PageState.ABSENT
            m.transform(a, b, fn)
            for p in range(a, min(b, len(plain))):
                plain[p] = fn(plain[p])
        else:
            m.resize(a, state)
            plain = plain[:a] + [state] * (a - len(plain))
        assert _pages(m) == plain
        assert m.size_pages == len(plain)
        assert m.starts == sorted(set(m.starts))
        assert all(x != y for x, y in zip(m.states, m.states[1:], strict=False))
        assert len(m.starts) == len(m.states)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MAX_PAGES), ops, st.integers(0, MAX_PAGES), st.integers(0, MAX_PAGES))
def test_first_in_finds_the_first_matching_page(size: int,
                                                operations: list[tuple[str, int, int, PageState]],
                                                first: int, end: int) -> None:
    m = PageMap(size, PageState.ABSENT)
    for op, a, b, state in operations:
        if op == "assign":
            m.assign(a, b, state)
    plain = _pages(m)
    run = m.first_in(first, end, lambda s: s is PageState.DIRTY)
    dirty = [p for p in range(first, min(end, size)) if plain[p] is PageState.DIRTY]
    if not dirty:
        assert run is None
    else:
        assert run is not None and run[0] == dirty[0] and run[2] is PageState.DIRTY
