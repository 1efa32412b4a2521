"""`rig doctor` on this machine: real probes of QEMU, clang/lld and Python packages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_tool


def doctor(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rig", "doctor", *args], capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=env, check=False)


def test_doctor_reports_everything_present_here() -> None:
    for tool, pkg in (("qemu-system-x86_64", "qemu-system-x86"),
                      ("qemu-system-aarch64", "qemu-system-arm"),
                      ("clang-19", "clang-19"), ("ld.lld-19", "lld-19")):
        require_tool(tool, pkg)
    proc = doctor("--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    required = ["python", "python: jinja2", "python: pexpect", "python: paramiko",
                "python: PyYAML", "python: qemu.qmp", "python: pyelftools", "python: rich",
                "python: zstandard", "qemu (x64)", "qemu (arm64)", "clang", "ld.lld",
                "target x86_64-unknown-fuchsia", "target aarch64-unknown-fuchsia"]
    assert {name: checks[name]["status"] for name in required} == {n: "ok" for n in required}
    assert checks["qemu (x64)"]["version"].startswith(("7.", "8.", "9."))
    assert "clang version 19." in checks["clang"]["version"]
    assert checks["ld.lld"]["path"].endswith("ld.lld")


def test_doctor_fails_and_names_the_fix_when_tools_are_missing(tmp_path: Path) -> None:
    # A PATH holding only python: QEMU and clang are really not found by the real probes.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "python3").symlink_to(sys.executable)
    env = {**os.environ, "PATH": str(bindir)}
    proc = doctor(env=env)
    assert proc.returncode == 3
    assert "missing  qemu (x64)" in proc.stdout
    assert "missing  clang/ld.lld" in proc.stdout
    assert "sudo apt-get install -y qemu-system-x86" in proc.stdout
    assert "sudo apt-get install -y clang-19 lld-19 llvm-19" in proc.stdout
