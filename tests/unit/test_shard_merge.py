"""Sharding (rig.judge.shard) and merging (rig.judge.merge): pure functions on data."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rig.errors import InputError
from rig.judge import shard as sh
from rig.judge.merge import merge_results, outcomes_by_scenario

FILES = [sh.FileWeight(f"{i:02d}-f.yaml", steps) for i, steps in
         enumerate([40, 5, 17, 9, 30, 2, 11, 23])]


def test_parse_shard() -> None:
    assert sh.parse_shard("2/4") == sh.Shard(2, 4) and str(sh.Shard(2, 4)) == "2/4"
    for bad in ("0/3", "4/3", "1/0", "a/b", "1", "1/2/3"):
        with pytest.raises(InputError, match="wanted i/n"):
            sh.parse_shard(bad)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 11])
def test_every_file_in_exactly_one_shard(count: int) -> None:
    shards = [sh.shard_files(FILES, sh.Shard(i, count)) for i in range(1, count + 1)]
    names = [n for s in shards for n in s]
    assert sorted(names) == sorted(f.name for f in FILES)


def test_assignment_is_stable_under_input_order() -> None:
    want = [sh.shard_files(FILES, sh.Shard(i, 3)) for i in (1, 2, 3)]
    for perm in itertools.islice(itertools.permutations(FILES), 50):
        assert [sh.shard_files(list(perm), sh.Shard(i, 3)) for i in (1, 2, 3)] == want


def test_shards_balanced_within_one_file() -> None:
    weights = sh.estimate_weights(FILES, {})
    loads = [sum(weights[n] for n in s) for s in sh.assign(weights, 3)]
    assert max(loads) - min(loads) <= max(weights.values())
    assert sh.assign({"a": 3.0, "b": 2.0, "c": 2.0, "d": 1.0}, 2) == [["a", "d"], ["b", "c"]]


def test_durations_decide_over_step_counts() -> None:
    files = [sh.FileWeight("big.yaml", 100), sh.FileWeight("slow.yaml", 1),
             sh.FileWeight("new.yaml", 10)]
    assert sh.assign(sh.estimate_weights(files, {}), 2) == [["big.yaml"],
                                                            ["new.yaml", "slow.yaml"]]
    # Measured: slow.yaml takes 9 s, big.yaml 1 s (0.01 s/step); new.yaml, unmeasured, is
    # estimated at 10 steps times the measured seconds per step of the others.
    measured = {"big.yaml": 1.0, "slow.yaml": 9.0}
    weights = sh.estimate_weights(files, measured)
    assert weights == {"big.yaml": 1.0, "slow.yaml": 9.0,
                       "new.yaml": pytest.approx(10 * 10.0 / 101)}
    assert sh.assign(weights, 2) == [["slow.yaml"], ["big.yaml", "new.yaml"]]


def test_duplicate_file_names_refused() -> None:
    with pytest.raises(InputError, match="share a name"):
        sh.shard_files([sh.FileWeight("a.yaml", 1), sh.FileWeight("a.yaml", 2)], sh.Shard(1, 2))


def test_durations_round_trip_and_from_journal() -> None:
    result = {"arches": [{"arch": "x64", "scenarios": [
        {"index": 0, "file": "scenarios/a.yaml"}, {"index": 1, "file": "scenarios/b.yaml"},
        {"index": 2, "file": "scenarios/b.yaml"}]}]}
    journal = [{"event": "sbeg", "t": 10.0, "arch": "x64", "boot": 0, "index": 0},
               {"event": "send", "t": 10.5, "arch": "x64", "boot": 0, "index": 0},
               {"event": "sbeg", "t": 10.5, "arch": "x64", "boot": 0, "index": 1},
               {"event": "sbeg", "t": 20.0, "arch": "x64", "boot": 1, "index": 1},  # rerun
               {"event": "send", "t": 20.25, "arch": "x64", "boot": 1, "index": 1},
               {"event": "sbeg", "t": 20.25, "arch": "x64", "boot": 1, "index": 2},
               {"event": "send", "t": 21.25, "arch": "x64", "boot": 1, "index": 2}]
    per_file = sh.durations_from_run(result, journal)
    assert per_file == {"a.yaml": {"x64": 0.5}, "b.yaml": {"x64": 1.25}}
    import json
    data = json.loads(sh.render_durations(per_file))
    assert sh.parse_durations(data) == {"a.yaml": 0.5, "b.yaml": 1.25}
    assert sh.parse_durations(data, ["arm64"]) == {"a.yaml": 0.0, "b.yaml": 0.0}
    with pytest.raises(InputError, match="not a rig.durations/1"):
        sh.parse_durations({"files": {}})


def _scenario(index: int, file: str, name: str, outcome: str) -> dict[str, Any]:
    return {"index": index, "name": name, "file": f"scenarios/{file}", "outcome": outcome,
            "reason": "", "steps": []}


def _part(arch: str, scenarios: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    a = {"arch": arch, "target": "sim", "simulated": True, "abi": "2024", "build": f"/{arch}",
         "qemu_s": 1.0, "boots": [{"index": 0}], "scenarios": scenarios, "outcome": "?"}
    return {"schema": "rig.run/1", "rig_version": "0", "wall_s": 2.0, "interrupted": False,
            "arches": [{**a, **kw}]}


def test_merge_joins_shards_in_file_order() -> None:
    p1 = _part("x64", [_scenario(0, "b.yaml", "b1", "PASS"), _scenario(1, "b.yaml", "b2", "FAIL")])
    p2 = _part("x64", [_scenario(0, "a.yaml", "a1", "SKIP")])
    merged = merge_results([p1, p2], sources=["s1", "s2"])
    x64 = merged["arches"][0]
    assert [(s["name"], s["part"]) for s in x64["scenarios"]] == [("a1", 1), ("b1", 0),
                                                                   ("b2", 0)]
    assert {k: v for k, v in x64["counts"].items() if v} == {"PASS": 1, "FAIL": 1, "SKIP": 1}
    assert (x64["outcome"], merged["outcome"], merged["exit_status"]) == ("FAIL", "FAIL", 1)
    assert x64["qemu_s"] == 2.0 and x64["builds"] == ["/x64", "/x64"]
    assert [b["part"] for b in x64["boots"]] == [0, 1]
    assert merged["merged_from"] == ["s1", "s2"]
    assert x64["scenarios"][0]["file"] == "/x64/scenarios/a.yaml"  # in its own part's build
    assert outcomes_by_scenario(merged) == {("x64", "a.yaml", "a1"): "SKIP",
                                            ("x64", "b.yaml", "b1"): "PASS",
                                            ("x64", "b.yaml", "b2"): "FAIL"}


def test_merge_refuses_what_does_not_fit() -> None:
    p1 = _part("x64", [_scenario(0, "a.yaml", "a1", "PASS")])
    with pytest.raises(InputError, match="also run by s1"):
        merge_results([p1, p1], sources=["s1", "s2"])
    other = _part("x64", [_scenario(0, "b.yaml", "b1", "PASS")], abi="2020")
    with pytest.raises(InputError, match="abi '2020'"):
        merge_results([p1, other])
    with pytest.raises(InputError, match="schema"):
        merge_results([{"schema": "x"}])
    with pytest.raises(InputError, match="nothing to merge"):
        merge_results([])


def test_merge_lets_a_rerun_replace_infra() -> None:
    lost = _part("x64", [_scenario(0, "a.yaml", "a1", "INFRA")])
    rerun = _part("x64", [_scenario(0, "a.yaml", "a1", "PASS")])
    merged = merge_results([lost, rerun], replace_infra=True)
    assert outcomes_by_scenario(merged) == {("x64", "a.yaml", "a1"): "PASS"}
    assert merged["exit_status"] == 0
