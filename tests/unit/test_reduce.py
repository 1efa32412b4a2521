"""Shrinking's candidates (rig.scenario.reduce) and the failure signature; pure."""

from __future__ import annotations

from rig.judge.signature import signature
from rig.scenario import reduce


def test_chunks_and_ddmin_candidates() -> None:
    assert reduce.chunks([0, 1, 2, 3, 4], 2) == [[0, 1, 2], [3, 4]]
    assert reduce.chunks([0, 1], 5) == [[0], [1]]
    # n = 2: each half alone (complements are the halves again).
    assert reduce.ddmin_candidates([0, 1, 2, 3], 2) == [[0, 1], [2, 3]]
    # n = 4: each step alone, then each step left out.
    assert reduce.ddmin_candidates([0, 1, 2, 3], 4) == [
        [0], [1], [2], [3], [1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]]


def test_numbers_skip_expect_data_and_bools() -> None:
    scenario = {"name": "s", "vmo": {"pages": 8, "trap_dirty": True}, "steps": [
        {"supply": [0, 8]}, {"query": {"offset": 2, "actual": False}},
        {"op_fail": [1, 1], "data": 5, "expect": {"status": 0, "actual": 3}}, "detach",
        {"resize": 4}]}
    found = [(n.path, n.value) for n in reduce.numbers(scenario)]
    assert found == [(("vmo", "pages"), 8), (("steps", 0, "supply", 1), 8),
                     (("steps", 1, "query", "offset"), 2), (("steps", 2, "op_fail", 0), 1),
                     (("steps", 2, "op_fail", 1), 1), (("steps", 4, "resize"), 4)]
    lowered = reduce.set_number(scenario, ("steps", 0, "supply", 1), 3)
    assert lowered["steps"][0] == {"supply": [0, 3]} and scenario["steps"][0] == {"supply": [0, 8]}
    assert reduce.smaller_values(8) == [0, 1, 2, 4, 6, 7]
    assert reduce.smaller_values(1) == [0]
    assert reduce.with_steps(scenario, [0, 3])["steps"] == [{"supply": [0, 8]}, "detach"]


def test_signatures() -> None:
    step = {"index": 3, "op": "query", "outcome": "FAIL", "diffs": [
        {"field": "ranges", "expected": "((0, 4096, 0),)", "actual": "()"},
        {"field": "actual", "expected": "1", "actual": "0"}]}
    assert signature({"outcome": "FAIL", "steps": [{"outcome": "PASS", "op": "write"}, step]}) \
        == "FAIL query: actual expected 1 got 0; ranges expected ((0, 4096, 0),) got ()"
    assert signature({"outcome": "CRASH", "reason": "ZIRCON KERNEL PANIC; no send record"}) \
        == "CRASH ZIRCON KERNEL PANIC"
    assert signature({"outcome": "FAIL", "reason": "setup: expected x", "steps": []}) \
        == "FAIL setup: setup: expected x"
    assert [signature({"outcome": o}) for o in ("PASS", "SKIP", "INFRA", "HANG")] == [
        None, None, None, "HANG"]
