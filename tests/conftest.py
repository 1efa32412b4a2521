"""Shared test helpers.

`require_tool(name)` skips a test when a required tool is missing, except when
RIG_REQUIRE_TOOLS=1 (set in CI by scripts/run-tests): there a missing tool is a failure, so a CI
machine without QEMU or clang can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline: timing on a loaded 2-core CI machine must not fail a property test.
# In CI the examples are derandomized so a red run reproduces exactly; locally they vary.
settings.register_profile("rig", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("rig-ci", parent=settings.get_profile("rig"), derandomize=True,
                          print_blob=True)
settings.load_profile("rig-ci" if os.environ.get("CI") else "rig")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tools_required() -> bool:
    """True where a missing tool must fail, not skip: CI (scripts/run-tests sets it from CI)."""
    return os.environ.get("RIG_REQUIRE_TOOLS") == "1"


def skip_or_fail(message: str) -> NoReturn:
    """Skip a test for something missing, or fail it where tools are required (CI)."""
    if tools_required():
        pytest.fail(message + "; required in CI")
    pytest.skip(message)


def require_tool(name: str, package: str) -> str:
    """Return the tool's path; skip (or fail in CI) naming what is missing."""
    path = shutil.which(name)
    if path:
        return path
    skip_or_fail(f"missing tool: {name} (apt-get install {package})")


def run_rig(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """The rig's real command line, as a user runs it (stdin /dev/null, output captured)."""
    return subprocess.run([sys.executable, "-m", "rig", *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, env=env, cwd=cwd, timeout=timeout_s,
                          check=False)


def run_qemu_sh(build: Path, timeout_s: float) -> tuple[int, str, str, float]:
    """Run a build's qemu.sh in its own process group, which is killed whatever happens (a
    timeout fails the test); writes build/serial.log. (status, stdout, stderr, seconds)"""
    start = time.monotonic()
    proc = subprocess.Popen([str(build / "qemu.sh")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"qemu.sh did not power off in {timeout_s} s:\n"
                    f"{out.decode(errors='replace')[-3000:]}")
    finally:
        if proc.poll() is None:  # an interrupt or another error: never leave QEMU behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    elapsed = time.monotonic() - start
    text = out.decode(errors="replace")
    (build / "serial.log").write_text(text)
    return proc.returncode, text, err.decode(errors="replace"), elapsed


def our_qemus(marker: str) -> list[str]:
    """QEMU processes whose command line names ``marker`` (a test's own directory)."""
    ps = subprocess.run(["ps", "-ww", "-eo", "pid,args"], capture_output=True, text=True,
                        check=True)
    return [ln for ln in ps.stdout.splitlines() if "qemu-system" in ln and marker in ln]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files under tests/data/ from the current output "
                          "(review the diff before committing)")


def pytest_configure(config: pytest.Config) -> None:
    # Golden-file tests read RIG_UPDATE_GOLDEN, so the flag also works for subprocesses.
    if config.getoption("--update-golden"):
        os.environ["RIG_UPDATE_GOLDEN"] = "1"
