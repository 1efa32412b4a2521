"""`rig run` under real QEMU with the sim: the bundled suite, every fault word, INFRA, SIGINT.

The sim's fault words (guest/sim/faults.yaml: one table shared with the sim) make a real QEMU
guest hang, panic, reboot, crash its program, lose or damage records, or return a planted wrong
result; each must give the outcome the table names, and the run must finish the other
scenarios in fresh boots.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from rig import resources
from rig.scenario.loader import StepKind, bundled_suite_paths, load_scenarios
from tests.conftest import our_qemus, require_tool
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

FAULTS = yaml.safe_load((resources.guest_dir() / "sim" / "faults.yaml").read_text())["faults"]
# A short suite keeps each fault run to a few seconds: one file of the bundled suite.
SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("10-"))
FAULT_AT = (3, 1)  # scenario 3, step 1: every kind has a step to act on there
# Every word on x64; on arm64 the ones whose path differs by arch (exception vectors, exits).
ARM64_FAULTS = ("hang", "panic", "reboot", "usercrash", "kfault", "wrong-status")
CASES = [(f, "x64") for f in FAULTS] + [(f, "arm64") for f in FAULTS
                                         if f["kind"] in ARM64_FAULTS]


def result_of(out: Path) -> dict[str, Any]:
    return json.loads((out / "result.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")


def test_bundled_suite_passes_on_both_arches(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = rig("run", "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = result_of(out)
    assert (result["schema"], result["outcome"], result["exit_status"]) == ("rig.run/1", "PASS", 0)
    assert [a["arch"] for a in result["arches"]] == ["arm64", "x64"]
    for arch in result["arches"]:
        assert (arch["target"], arch["simulated"], arch["abi"]) == ("sim", True, "2024")
        assert "SIMULATED" in arch["abi_reason"]
        assert len(arch["boots"]) == 1 and arch["boots"][0]["end"] == "completed"
        assert {s["outcome"] for s in arch["scenarios"]} == {"PASS"}
        assert len(arch["scenarios"]) == 151
        assert arch["kernel"]["version"].startswith("rig-sim")
        boot = out / arch["arch"] / "boot-0"
        for name in ("serial.log", "qemu-argv.json", "cmdline.txt"):
            assert (boot / name).is_file(), name
        assert (out / arch["arch"] / "build" / "image.zbi").is_file()
        assert json.loads((boot / "qemu-argv.json").read_text())[0].startswith("qemu-system-")
    events = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "end",
                                                             "outcome": "PASS"}
    assert sum(1 for e in events if e["event"] == "scenario") == 2 * 151
    assert "PASS SIMULATED" in proc.stdout


@pytest.mark.parametrize(("fault", "arch"), CASES, ids=[f"{a}-{f['kind']}" for f, a in CASES])
def test_every_fault_word_gives_its_outcome(tmp_path: Path, fault: dict[str, Any],
                                            arch: str) -> None:
    out = tmp_path / "run"
    s, t = FAULT_AT
    if fault["kind"] == "wrong-range":
        # The planted range bug acts on a query: the first query step of scenario s.
        steps = load_scenarios(SUITE).scenarios[s].steps
        t = next(st.index for st in steps if st.kind is StepKind.QUERY)
    word = f"rig.sim.fault={fault['kind']}@{s}.{t}"
    proc = rig("run", str(SUITE), "--arch", arch, "--out", str(out), "--quiet",
               "--cmdline", word, "--timeout-scale", "0.25")
    want = fault["runner"]
    result = result_of(out)
    ran = result["arches"][0]
    scenarios = ran["scenarios"]
    got = scenarios[s]
    assert got["outcome"] == want["scenario"], (word, got, proc.stdout[-2000:])
    if "title" in want:
        assert want["title"] in got["reason"], got["reason"]
    if "step" in want:
        assert {st["index"]: st["outcome"] for st in got["steps"]}[t] == want["step"]
    # Every other scenario finished, in this boot or a fresh one.
    others = {sc["outcome"] for i, sc in enumerate(scenarios) if i != s}
    assert others == {want["later"]}, [(i, sc["outcome"]) for i, sc in enumerate(scenarios)
                                       if sc["outcome"] != want["later"]]
    assert result["outcome"] == want["scenario"]
    assert proc.returncode == 1
    if want["scenario"] in ("CRASH", "HANG"):
        # The scenario ran again alone in a fresh boot (rig.start=<s>) and the rest followed.
        starts = [b["start"] for b in ran["boots"]]
        assert starts[:3] == [0, s, s + 1], starts
        assert "again when run alone" in got["reason"]
        boot1 = (out / arch / "boot-1" / "cmdline.txt").read_text()
        assert f"rig.start={s}" in boot1
    if want["scenario"] == "HANG":
        registers = (out / arch / "boot-0" / "registers.txt").read_text()
        assert ("RIP=" if arch == "x64" else "PC=") in registers, registers[:500]
    # check-log judges the first boot's captured log alike, less the live timing.
    judged = rig("check-log", str(out / arch / "boot-0" / "serial.log"), "--build",
                 str(out / arch / "build"), "--json", str(tmp_path / "v.json"))
    verdict = json.loads((tmp_path / "v.json").read_text())
    log_outcome = verdict["scenarios"][s]["outcome"]
    expected_log = {"HANG": "INCOMPLETE"}.get(want["scenario"], want["scenario"])
    assert log_outcome == expected_log, judged.stdout[-2000:]


def test_missing_qemu_is_infra_with_the_fix(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("clang-19", "ld.lld-19", "llvm-objcopy-19"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    env = {**os.environ, "PATH": str(bin_dir)}
    out = tmp_path / "run"
    proc = rig("run", str(SUITE), "--arch", "x64", "--out", str(out), "--quiet", env=env)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    result = result_of(out)
    assert result["outcome"] == "INFRA"
    reason = result["arches"][0]["scenarios"][0]["reason"]
    assert "sudo apt-get install -y qemu-system-x86" in reason, reason


def test_sigint_leaves_no_qemu_and_a_partial_result(tmp_path: Path) -> None:
    out = tmp_path / "run"
    # A hang at scenario 3 with long timeouts: the guest sits there until we interrupt.
    proc = subprocess.Popen(
        [sys.executable, "-m", "rig", "run", str(SUITE), "--arch", "x64", "--out", str(out),
         "--quiet", "--cmdline", "rig.sim.fault=hang@3.0", "--timeout-scale", "20"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    journal = out / "journal.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if journal.exists() and '"sbeg"' in journal.read_text() and our_qemus(str(out)):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        out_text, err_text = proc.communicate()
        ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True).stdout
        pytest.fail(f"the run never started a guest: {out_text[-2000:]!r} {err_text[-2000:]!r}"
                    f" {journal.read_text() if journal.exists() else 'no journal'}"
                    f" {[ln for ln in ps.splitlines() if 'qemu' in ln]}")
    time.sleep(0.5)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert b"interrupted" in err
    assert our_qemus(str(out)) == []
    result = result_of(out)
    assert result["interrupted"] is True
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert any(e["event"] == "sbeg" for e in events)
    assert (out / "x64" / "boot-0" / "serial.log").stat().st_size > 0


def test_slices_of_a_suite_boot_in_parallel_and_reboot_within_their_slice(
        tmp_path: Path) -> None:
    out = tmp_path / "run"
    # 24 scenarios in 3 slices of 8: a panic in scenario 10 (the second slice).
    proc = rig("run", str(SUITE), "--arch", "x64", "-j", "3", "--out", str(out), "--quiet",
               "--cmdline", "rig.sim.fault=panic@10.0", "--timeout-scale", "0.25")
    result = result_of(out)
    ran = result["arches"][0]
    outcomes = [s["outcome"] for s in ran["scenarios"]]
    assert outcomes == ["PASS"] * 10 + ["CRASH"] + ["PASS"] * (len(outcomes) - 11), outcomes
    starts = sorted(b["start"] for b in ran["boots"])
    assert starts == [0, 8, 10, 11, 16], starts  # slices, then 10 alone, then the rest
    assert sorted(b["index"] for b in ran["boots"]) == list(range(5))
    second = next(b for b in ran["boots"] if b["start"] == 8)
    assert "rig.end=16" in (Path(second["dir"]) / "cmdline.txt").read_text()
    assert proc.returncode == 1
