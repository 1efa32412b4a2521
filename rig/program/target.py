"""The compile target of the test program: what a board says about building for its arch."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompileTarget:
    """How to compile for one guest architecture (filled from images/<arch>/<target>.yaml)."""

    name: str  # the board's arch, e.g. "x64"
    triple: str  # e.g. "x86_64-unknown-fuchsia"
    runtime_arch_dir: str  # guest/runtime/arch/<dir>
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
