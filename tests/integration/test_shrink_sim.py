"""Shrinking under real QEMU and the sim: a planted failure of 32 steps (a wrong expectation)
shrinks to the four steps it needs; `rig run --shrink` shrinks the sim's planted kernel bug."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rig.reports.shrink import Oracle, ShrinkSpec, load_scenario, shrink
from rig.scenario.loader import bundled_suite_paths
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
PLANTED = DATA / "shrink-planted.yaml"
SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("10-"))


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")


def _op(step: object) -> str:
    return step if isinstance(step, str) else next(k for k in step if k != "expect")  # type: ignore[union-attr]


def test_planted_failure_shrinks_to_its_minimal_steps(tmp_path: Path) -> None:
    original = load_scenario(PLANTED, "planted-wrong-expect")
    assert len(original["steps"]) >= 30
    oracle = Oracle(ShrinkSpec(arch="x64", abi="2024"), tmp_path / "work")
    result = shrink(original, oracle)
    assert result.signature == "FAIL query: actual expected 1 got 2"
    steps = result.shrunk["steps"]
    # The minimal step set: supply, two writes to pages not next to each other, the query.
    assert [_op(s) for s in steps] == ["supply", "write", "write", "query"]
    assert steps[3] == {"query": {}, "expect": {"status": "ZX_OK", "actual": 1}}
    (a, n1), (b, n2) = steps[1]["write"], steps[2]["write"]
    assert n1 == n2 == 1 and abs(a - b) >= 2
    assert result.shrunk["vmo"]["pages"] <= 16 and steps[0]["supply"][1] <= 16
    # No single step can go, and the file still fails the same way when run by itself.
    out = tmp_path / "shrunk.yaml"
    out.write_text(result.text())
    proc = subprocess.run([sys.executable, "-m", "rig", "run", str(out), "--arch", "x64",
                           "--target", "sim", "--abi", "2024", "--out", str(tmp_path / "run"),
                           "--quiet", "--max-bundles", "0"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300, check=False)
    assert proc.returncode == 1 and "actual: expected 1 (expect), got 2" in \
        (tmp_path / "run" / "result.json").read_text()
    for k in range(4):
        fewer = {**result.shrunk, "steps": [s for i, s in enumerate(steps) if i != k]}
        assert oracle.signatures([fewer]) != [result.signature]


def test_run_shrink_shrinks_the_sims_planted_kernel_bug(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "rig", "run", str(SUITE), "--arch", "x64",
                           "--target", "sim", "--abi", "2024", "--out", str(out), "--quiet",
                           "--cmdline", "rig.sim.fault=wrong-status@3.1", "--shrink"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=600,
                          check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    shrunk = out / "bundles" / "x64-003-query-adjacent-writes-merge" / "shrunk.yaml"
    text = shrunk.read_text()
    assert "#   FAIL write: status expected 0 got -1" in text
    [scenario] = yaml.safe_load(text)["scenarios"]
    # The fault hits step 1 whatever it is: a supply and the write it lets run.
    assert [_op(s) for s in scenario["steps"]] == ["supply", "write"]


def test_a_crash_shrinks_keeping_its_title(tmp_path: Path) -> None:
    # The sim panics at the start of step 3 (after the record of step 2): any three steps
    # that run crash the same way, fewer never reach it.
    original = load_scenario(SUITE, "query-runs-split-by-clean-pages")
    oracle = Oracle(ShrinkSpec(arch="x64", abi="2024",
                               cmdline_extra=("rig.sim.fault=panic@0.3",)), tmp_path / "work")
    result = shrink(original, oracle)
    assert result.signature == "CRASH ZIRCON KERNEL PANIC"
    assert (result.steps_before, result.steps_after) == (5, 3)
