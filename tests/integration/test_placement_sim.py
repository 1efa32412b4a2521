"""`--abi all` under real QEMU: the sim built for profile P behaves like P and no other."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rig.judge.placement import ProfileScore, best_profile
from tests.conftest import require_tool
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")


@pytest.mark.parametrize("profile", ["2020", "2022"])
def test_check_log_abi_all_picks_the_profile_the_sim_ran(tmp_path: Path, profile: str) -> None:
    build = tmp_path / "build"
    made = rig("build", "--arch", "x64", "--target", "sim", "--abi", profile, "--out",
               str(build))
    assert made.returncode == 0, made.stdout[-2000:] + made.stderr[-2000:]
    # Boot the build's own qemu.sh (the sim powers off by itself) and keep the serial log.
    log = tmp_path / "serial.log"
    with log.open("wb") as f:
        subprocess.run(["sh", str(build / "qemu.sh")], stdout=f, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=120, check=False)
    proc = rig("check-log", str(log), "--build", str(build), "--abi", "all", "--brief")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"against every profile: behaves like profile {profile}" in proc.stdout
    lines = proc.stdout.splitlines()
    mine = next(ln for ln in lines if ln.startswith(f"  {profile}: "))
    agree, _, judged = mine.split(": ")[1].split(" steps")[0].partition(" of ")
    assert agree == judged and int(judged) > 100  # every step agrees with its own profile


def test_run_abi_all_picks_the_default_profile(tmp_path: Path) -> None:
    proc = rig("run", "--arch", "x64", "--target", "sim", "--abi", "all", "--out",
               str(tmp_path / "run"), "--quiet")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "x64: behaves like profile 2024" in proc.stdout


def test_a_tie_places_nothing() -> None:
    a, b = ProfileScore("2022", 69, 0, 0, ()), ProfileScore("2024", 69, 0, 0, ())
    assert best_profile([a, b]) is None
    assert best_profile([a, ProfileScore("2024", 60, 9, 0, ("x",))]) == "2022"
    assert best_profile([ProfileScore("2024", 0, 0, 3, ())]) is None
