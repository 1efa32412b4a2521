"""`rig fuzz` under real QEMU and the sim: a fixed seed gives the same scenarios, the same
failures (the sim's planted wrong-status bug) and the same shrunk scenarios, run after run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rig.reports.fuzz import fuzz_scenarios
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


def fuzz(out: Path, seed: int) -> tuple[dict[str, Any], str]:
    proc = subprocess.run([sys.executable, "-m", "rig", "fuzz", "--seed", str(seed), "--count",
                           "10", "--out", str(out), "--cmdline",
                           "rig.sim.fault=wrong-status@2.1"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600, check=False)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "fuzz.json").read_text())
    [failure] = report["failures"]
    return report, Path(failure["shrunk"]).read_text()


def _stable(report: dict[str, Any]) -> dict[str, Any]:
    return {**report, "failures": [{k: v for k, v in f.items() if k not in ("bundle", "shrunk")}
                                   for f in report["failures"]]}


def test_fuzz_with_a_fixed_seed_is_deterministic(tmp_path: Path) -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")
    a, shrunk_a = fuzz(tmp_path / "a", 11)
    b, shrunk_b = fuzz(tmp_path / "b", 11)
    assert _stable(a) == _stable(b)
    assert shrunk_a == shrunk_b
    assert (tmp_path / "a" / "scenarios.yaml").read_text() == \
        (tmp_path / "b" / "scenarios.yaml").read_text()
    [failure] = a["failures"]
    assert failure["index"] == 2 and failure["signature"].endswith("expected 0 got -1")
    assert failure["shrunk_steps"] <= 3
    # The bundle of the failure reproduces it.
    repro = subprocess.run(["sh", str(Path(failure["bundle"]) / "repro.sh")],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
                           check=False)
    assert repro.returncode == 1, repro.stdout + repro.stderr


def test_generation_depends_on_the_seed_alone() -> None:
    assert fuzz_scenarios(5, 8, "2024") == fuzz_scenarios(5, 8, "2024")
    assert fuzz_scenarios(5, 8, "2024") != fuzz_scenarios(6, 8, "2024")
    assert all("2020" not in str(s.get("abi", "")) or "2024" in str(s.get("abi"))
               for s in fuzz_scenarios(5, 30, "2024"))
