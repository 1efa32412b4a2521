"""Shared test helpers.

`require_tool(name)` skips a test when a required tool is missing, except when
RIG_REQUIRE_TOOLS=1 (set in CI by scripts/run-tests): there a missing tool is a failure, so a CI
machine without QEMU or clang can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
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


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite golden files under tests/data/ from the current output "
                          "(review the diff before committing)")


def pytest_configure(config: pytest.Config) -> None:
    # Golden-file tests read RIG_UPDATE_GOLDEN, so the flag also works for subprocesses.
    if config.getoption("--update-golden"):
        os.environ["RIG_UPDATE_GOLDEN"] = "1"
