"""The plugin's session state: options, and one build-and-boot per (scenario files, arch),
cached for the session (kept in ``config.stash`` under ``SESSION_KEY``)."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from rig import api
from rig.errors import RigError

DEFAULT_ARCHES = ("x64",)


@dataclass(frozen=True)
class RigOptions:
    """What the --rig-* options asked for."""

    arches: tuple[str, ...]
    target: str
    abi: str
    accel: str
    timeout_scale: float
    max_boots: int
    out: Path | None
    kernel_zbis: tuple[Path, ...]
    active: bool  # a --rig-* option was given: collect scenario YAML files


@dataclass(frozen=True)
class GuestRun:
    """One booted build's results (``result.json`` of ``rig run``, schema rig.run/1), for
    one arch: what items report and what the ``rig_run`` fixture returns."""

    arch: str
    out_dir: Path
    result: dict[str, Any]
    exit_status: int
    error: str | None = None  # a RigError before anything booted (bad scenario, no tool)

    @property
    def arch_result(self) -> dict[str, Any]:
        for a in self.result.get("arches", []):
            if a["arch"] == self.arch:
                return dict(a)
        return {}

    @property
    def outcome(self) -> str:
        return str(self.arch_result.get("outcome", "INFRA"))

    @property
    def simulated(self) -> bool:
        return bool(self.arch_result.get("simulated", False))

    @property
    def scenarios(self) -> dict[str, dict[str, Any]]:
        """Scenario name to its result entry (outcome, reason, steps with their diffs)."""
        return {s["name"]: s for s in self.arch_result.get("scenarios", [])}

    def scenario(self, name: str) -> dict[str, Any]:
        """:raises KeyError: no scenario of that name was in the build."""
        try:
            return self.scenarios[name]
        except KeyError:
            raise KeyError(f"no scenario {name!r} in {self.out_dir} ({self.arch}); there are: "
                           f"{', '.join(self.scenarios) or 'none'}") from None

    @property
    def build_dir(self) -> Path:
        return self.out_dir / self.arch / "build"

    def serial_log(self, boot: int = 0) -> str:
        """The serial console of boot ``boot``, as text."""
        return (self.out_dir / self.arch / f"boot-{boot}" / "serial.log").read_text(
            errors="replace")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[-60:].strip("_") or "run"


@dataclass
class RigSession:
    """Builds and boots on demand, once per (files, arch); thread-safe."""

    options: RigOptions
    base_dir: Path
    _runs: dict[tuple[tuple[str, ...], str], GuestRun] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0

    def run(self, paths: tuple[Path, ...], arch: str) -> GuestRun:
        """Build and boot ``paths`` on ``arch`` (cached: a second call returns the first run)."""
        key = (tuple(str(p.resolve()) for p in paths), arch)
        with self._lock:
            if key in self._runs:
                return self._runs[key]
            self._count += 1
            name = f"{self._count:03d}-{arch}-{_slug(paths[0].stem if paths else 'none')}"
            out = self.base_dir / name
            opts = self.options
            req = api.RunRequest(
                scenario_paths=tuple(paths), arches=(arch,), out_dir=out, target=opts.target,
                abi=opts.abi, kernel_zbis=tuple(k for k in opts.kernel_zbis
                                                if api.kernel_arch(k) == arch),
                accel=opts.accel, timeout_scale=opts.timeout_scale, max_boots=opts.max_boots)
            try:
                res = api.run(req)
                got = GuestRun(arch, out, res.result, res.exit_status)
            except RigError as exc:
                got = GuestRun(arch, out, {}, exc.exit_code, error=str(exc))
            self._runs[key] = got
            return got


SESSION_KEY = pytest.StashKey[RigSession]()
OPTIONS_KEY = pytest.StashKey[RigOptions]()
