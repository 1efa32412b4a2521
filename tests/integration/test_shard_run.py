"""`rig run --shard i/n` and `rig merge` on the bundled suite in the sim, real QEMU: the shards
merged equal an unsharded run, scenario by scenario."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rig.cli.main import main
from rig.judge.merge import outcomes_by_scenario
from rig.scenario.loader import bundled_suite_paths
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


def test_sharded_runs_merged_equal_an_unsharded_run(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")
    common = ["run", "--target", "sim", "--arch", "x64", "--quiet"]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    for i in (1, 2, 3):
        assert main([*common, "--shard", f"{i}/3", "--out", str(tmp_path / f"s{i}")]) == 0
    # More shards than files: an empty shard passes with an empty result.
    assert main([*common, "--shard", "12/12", "--out", str(tmp_path / "empty")]) == 0
    inputs = [str(tmp_path / f"s{i}") for i in (1, 2, 3)] + [str(tmp_path / "empty")]
    assert main(["merge", *inputs, "--out", str(tmp_path / "merged")]) == 0
    whole = json.loads((tmp_path / "whole" / "result.json").read_text())
    merged = json.loads((tmp_path / "merged" / "result.json").read_text())
    assert len(outcomes_by_scenario(whole)) > 100
    assert outcomes_by_scenario(merged) == outcomes_by_scenario(whole)
    assert merged["arches"][0]["counts"] == whole["arches"][0]["counts"]
    files = [json.loads((tmp_path / f"s{i}" / "result.json").read_text())["shard"]["files"]
             for i in (1, 2, 3)]
    assert sorted(sum(files, [])) == sorted(p.name for p in bundled_suite_paths())
    # The merge's durations file balances the next split; it names every file that ran (the
    # 2020-only file has no scenario for profile 2024).
    durations = tmp_path / "merged" / "durations.json"
    ran = {k[1] for k in outcomes_by_scenario(whole)}
    assert set(json.loads(durations.read_text())["files"]) == ran
    # The merged report's console excerpts come from each scenario's own part: every part
    # numbers its scenarios from 0, so an excerpt found by index alone could be another's.
    junit = tmp_path / "merged" / "junit.xml"
    assert main(["report", str(tmp_path / "merged" / "result.json"), "--junit", str(junit)]) == 0
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == len(outcomes_by_scenario(whole))
    for case in cases:
        out = case.find("system-out")
        name = str(case.get("name")).split(" [")[0]
        assert out is not None and f" name={name} " in (out.text or ""), name
    capsys.readouterr()
    assert main([*common, "--shard", "1/2", "--durations", str(durations),
                 "--out", str(tmp_path / "timed")]) == 0
    timed = json.loads((tmp_path / "timed" / "result.json").read_text())["shard"]
    assert timed["durations"] == str(durations) and timed["files"]
