"""Fixtures of the rig plugin, for Python tests against a booted guest's results.

``rig_run(paths, arch=...)`` builds and boots scenario files (once per session and arch) and
returns a ``GuestRun`` (outcome, per-scenario results with step differences, the serial log);
``rig_arch`` parametrizes a test over the --rig-arch list; ``rig_options`` are the options.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from rig.pytest_plugin.hooks import rig_session
from rig.pytest_plugin.session import OPTIONS_KEY, GuestRun, RigOptions

RunFactory = Callable[..., GuestRun]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "rig_arch" in metafunc.fixturenames:
        metafunc.parametrize("rig_arch", metafunc.config.stash[OPTIONS_KEY].arches,
                             scope="session")


@pytest.fixture(scope="session")
def rig_options(pytestconfig: pytest.Config) -> RigOptions:
    """The --rig-* options (arches, target, abi, accel, ...)."""
    return pytestconfig.stash[OPTIONS_KEY]


@pytest.fixture
def rig_run(pytestconfig: pytest.Config) -> RunFactory:
    """``rig_run(path_or_paths, arch=None)``: build and boot once per session, return the
    ``GuestRun``; ``arch`` defaults to the first of --rig-arch."""
    session = rig_session(pytestconfig)

    def run(paths: str | Path | Sequence[str | Path], arch: str | None = None) -> GuestRun:
        seq = [paths] if isinstance(paths, str | Path) else list(paths)
        return session.run(tuple(Path(p) for p in seq), arch or session.options.arches[0])

    return run
