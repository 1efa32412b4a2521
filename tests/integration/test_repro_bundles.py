"""Reproducer bundles under real QEMU and the sim: a planted kernel bug (the sim's wrong-status
fault), a kernel panic and a deliberately wrong expectation each give a bundle whose repro.sh
(live and --raw, both arches) reproduces the failure; `rig repro --reps` counts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.reports.bundle import one_scenario_yaml, remap_fault_words
from rig.scenario.loader import bundled_suite_paths
from tests.conftest import require_tool
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("10-"))


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")


def sh(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RIG": f"{sys.executable} -m rig", "REPRO_TIMEOUT_S": "20"}
    return subprocess.run(["sh", str(script), *args], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=300, check=False)


def test_failures_give_bundles_that_reproduce(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = rig("run", str(SUITE), str(DATA / "wrong-expect.yaml"), "--target", "sim", "--abi",
               "2024", "--out", str(out), "--quiet", "--cmdline",
               "rig.sim.fault=wrong-status@3.1", "--cmdline", "rig.sim.fault=panic@5.0",
               "--junit", str(tmp_path / "j.xml"))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    bundles = sorted(p.name for p in (out / "bundles").iterdir())
    assert bundles == ["arm64-003-query-adjacent-writes-merge",
                       "arm64-005-query-window-clips-ranges", "arm64-025-wrong-expect",
                       "x64-003-query-adjacent-writes-merge", "x64-005-query-window-clips-ranges",
                       "x64-025-wrong-expect"]
    signatures = {}
    for name in bundles:
        b = out / "bundles" / name
        for f in ("scenario.yaml", "build/program.c", "build/program.elf", "build/image.zbi",
                  "build/cmdline.txt", "build/manifest.json", "README.txt", "repro.sh"):
            assert (b / f).is_file(), (name, f)
        expected = json.loads((b / "expected.json").read_text())
        signatures[name.split("-", 2)[2]] = expected["signature"]
        # The fault word now names the bundle's only scenario.
        cmdline = (b / "build" / "cmdline.txt").read_text()
        assert "rig.sim.fault=" not in cmdline or "@0." in cmdline
        live = sh(b / "repro.sh")
        assert live.returncode == 1, (name, live.stdout, live.stderr)
        assert "REPRODUCED" in live.stdout
    assert signatures == {
        "query-adjacent-writes-merge": "FAIL write: status expected 0 got -1",
        "query-window-clips-ranges": "CRASH ZIRCON KERNEL PANIC",
        "wrong-expect": "FAIL query: actual expected 1 got 2"}
    # The exact QEMU command, killed by its timeout when the guest halts in the panic shell.
    for name in ("x64-003-query-adjacent-writes-merge", "arm64-025-wrong-expect"):
        raw = sh(out / "bundles" / name / "repro.sh", "--raw")
        assert raw.returncode == 1 and "REPRODUCED" in raw.stdout, raw.stdout + raw.stderr
    reps = rig("repro", str(out / "bundles" / "x64-005-query-window-clips-ranges"), "--reps",
               "2")
    assert reps.returncode == 1, reps.stdout + reps.stderr
    assert "failed the recorded way 2 of 2 times: deterministic" in reps.stdout
    assert "reproducer bundle: " in (tmp_path / "j.xml").read_text()


def test_a_fixed_bug_does_not_reproduce(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert rig("run", str(DATA / "wrong-expect.yaml"), "--arch", "x64", "--target", "sim",
               "--abi", "2024", "--out", str(out), "--quiet").returncode == 1
    b = out / "bundles" / "x64-001-wrong-expect"
    # "Fix" it: the recorded failure no longer happens, the script says so and exits 0.
    expected = json.loads((b / "expected.json").read_text())
    (b / "expected.json").write_text(json.dumps({**expected, "signature": "FAIL other"}))
    proc = sh(b / "repro.sh")
    assert proc.returncode == 2 and "not reproduced" in proc.stdout


def test_remap_fault_words_and_one_scenario_yaml() -> None:
    words = ("a=1", "rig.sim.fault=panic@5.0", "rig.sim.fault=hang@2.1",
             "rig.sim.fault=wrong-status@5.3")
    assert remap_fault_words(words, 5) == ("a=1", "rig.sim.fault=panic@0.0",
                                           "rig.sim.fault=wrong-status@0.3")
    text = one_scenario_yaml(DATA / "wrong-expect.yaml", "wrong-expect")
    assert "name: wrong-expect" in text and "name: passes" not in text
