"""The sim target end to end under real QEMU: `rig build --target sim`, boot qemu.sh, judge.

The sim replaces only the kernel: the same image.zbi layout (BOOTFS with bin/rig-test, CMDLINE)
and the same test ELF as for a real kernel. Every profile of the bundled suite must give only
PASS and SKIP, and the output, manifest and verdict say "simulated" (never kernel results).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import require_tool, run_qemu_sh
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

QEMU = {"x64": ("qemu-system-x86_64", "qemu-system-x86"),
        "arm64": ("qemu-system-aarch64", "qemu-system-arm")}
BOOT_TIMEOUT_S = 60


@pytest.mark.parametrize("abi", ["2020", "2022", "2024"])
@pytest.mark.parametrize("arch", ["x64", "arm64"])
def test_bundled_suite_on_the_sim_matches_the_model(tmp_path: Path, arch: str, abi: str) -> None:
    require_tool(*QEMU[arch])
    require_tool("clang-19", "clang-19")
    build = tmp_path / "build"
    made = rig("build", "--arch", arch, "--target", "sim", "--abi", abi, "--out", str(build))
    assert made.returncode == 0, made.stderr
    assert "SIMULATED kernel" in made.stdout
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["simulated"] is True and manifest["target"] == "sim"
    assert manifest["qemu_argv"] and not manifest["missing"]

    status, serial, _, _ = run_qemu_sh(build, BOOT_TIMEOUT_S)
    assert "SIMULATED Zircon, not a real kernel" in serial
    assert "userboot: *** Exit status 0 ***" in serial
    # 2020's userboot (era C) prints the older success string; later eras the newer one.
    assert ("ZBI-test-successful!" if abi == "2020" else "Boot-test-successful!") in serial
    assert status == 0, f"QEMU exit {status}"

    judged = rig("check-log", str(build / "serial.log"), "--build", str(build), "--json",
                 str(tmp_path / "verdict.json"))
    assert judged.returncode == 0, judged.stdout[-4000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    assert verdict["simulated"] is True
    outcomes = {st["outcome"] for sv in verdict["scenarios"] for st in sv["steps"]}
    assert outcomes <= {"PASS", "SKIP"}, outcomes
    assert verdict["counts"]["PASS"] > 0
    if abi == "2020":
        # The 2020 vDSO lacks the dirty-tracking syscalls: their steps are skipped.
        assert "SKIP" in outcomes
