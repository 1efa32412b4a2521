"""Helpers for the tests that enter the guest runtime on the host (test_runtime_*.py)."""

from __future__ import annotations

import glob
from pathlib import Path

import yaml

from rig.program.target import CompileTarget
from tests.conftest import skip_or_fail

RUNTIME_DATA = Path(__file__).resolve().parent.parent / "data" / "runtime"


def require_file(pattern: str, package: str) -> Path:
    """Return the first file matching the glob ``pattern``; skip (or fail in CI) naming the package.

    The file counterpart of ``tests.conftest.require_tool``, for things that are not programs on
    PATH: a cross sysroot's libc, a cross compiler's crt files.
    """
    found = sorted(glob.glob(pattern))
    if found:
        return Path(found[-1])
    skip_or_fail(f"missing file: {pattern} (apt-get install {package})")


def load_compile_targets() -> dict[str, CompileTarget]:
    """The test compile targets, kept in one place: tests/data/runtime/compile_targets.yaml."""
    data = yaml.safe_load((RUNTIME_DATA / "compile_targets.yaml").read_text())
    return {
        name: CompileTarget(
            name=name,
            triple=t["triple"],
            runtime_arch_dir=t["runtime_arch_dir"],
            cflags=tuple(t["cflags"]),
            ldflags=tuple(t["ldflags"]),
        )
        for name, t in data["targets"].items()
    }
