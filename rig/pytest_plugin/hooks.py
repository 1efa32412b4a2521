"""pytest hooks of the rig plugin (the ``pytest11`` entry point): --rig-* options, markers,
scenario YAML files collected as one item per scenario and arch.

Inert unless asked: scenario YAML files are collected only when a --rig-* option is given or
the YAML file itself is named on the command line, so the project's own test run (which has
scenario YAML under tests/data/) collects none of them.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rig.errors import EXIT_BAD_INPUT
from rig.image import boards
from rig.profiles import PROFILE_NAMES
from rig.pytest_plugin.session import (
    DEFAULT_ARCHES,
    OPTIONS_KEY,
    SESSION_KEY,
    GuestRun,
    RigOptions,
    RigSession,
)
from rig.scenario.loader import Scenario, load_scenarios

# Fixtures are a plugin module of their own (STYLE 10: hooks split from fixtures).
pytest_plugins = ("rig.pytest_plugin.fixtures",)

PASSING = ("PASS", "SKIP")
_SCENARIO_FILE = re.compile(rb"^scenarios\s*:", re.MULTILINE)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("rig", "rig: scenario YAML files built and booted under QEMU")
    group.addoption("--rig-arch", metavar="ARCHES",
                    help="comma list of arches to boot each scenario file on "
                    f"(default {','.join(DEFAULT_ARCHES)}); collects scenario YAML files")
    group.addoption("--rig-target", choices=("auto", "sim", "zircon"), default=None,
                    help="auto (default: zircon with a kernel, else the SIMULATED sim), sim or "
                    "zircon; collects scenario YAML files")
    group.addoption("--rig-abi", default=None, choices=("auto", *PROFILE_NAMES),
                    help="ABI profile (default auto: the build picks it)")
    group.addoption("--rig-kernel-zbi", action="append", default=[], metavar="PATH",
                    help="a kernel ZBI (repeatable; its arch is read from its kernel item)")
    group.addoption("--rig-accel", choices=("tcg", "kvm", "auto"), default=None,
                    help="QEMU accelerator (default tcg)")
    group.addoption("--rig-timeout-scale", type=float, default=None, metavar="F",
                    help="multiply every boot timeout")
    group.addoption("--rig-max-boots", type=int, default=None, metavar="N",
                    help="boots per file and arch at most, counting reboots (default 8)")
    group.addoption("--rig-out", default=None, metavar="DIR",
                    help="keep run directories here (default: pytest's tmp_path_factory)")


def _options(config: pytest.Config) -> RigOptions:
    given = [config.getoption(n) for n in ("rig_arch", "rig_target", "rig_abi", "rig_accel",
                                           "rig_timeout_scale", "rig_max_boots", "rig_out")]
    kernels = tuple(Path(p) for p in config.getoption("rig_kernel_zbi") or ())
    arch_text = config.getoption("rig_arch")
    arches = tuple(a for a in (arch_text or ",".join(DEFAULT_ARCHES)).split(",") if a)
    known = boards.available_arches()
    bad = [a for a in arches if a not in known]
    if bad or not arches:
        raise pytest.UsageError(f"--rig-arch {arch_text!r}: wanted a comma list of "
                                f"{', '.join(known)}")
    out = config.getoption("rig_out")
    return RigOptions(
        arches=arches, target=config.getoption("rig_target") or "auto",
        abi=config.getoption("rig_abi") or "auto", accel=config.getoption("rig_accel") or "tcg",
        timeout_scale=config.getoption("rig_timeout_scale") or 1.0,
        max_boots=config.getoption("rig_max_boots") or 8,
        out=Path(out) if out else None, kernel_zbis=kernels,
        active=any(v is not None for v in given) or bool(kernels))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rig_scenario(arch, file, scenario): an item made from a scenario of a rig "
        "YAML file, booted on arch (set by the rig plugin)")
    config.stash[OPTIONS_KEY] = _options(config)


def rig_session(config: pytest.Config) -> RigSession:
    """The session's cache of builds and boots, made on first use."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        options = config.stash[OPTIONS_KEY]
        worker = os.environ.get("PYTEST_XDIST_WORKER", "")
        if options.out is not None:
            base = options.out / worker if worker else options.out
            base.mkdir(parents=True, exist_ok=True)
        else:
            # Hack: items are not fixtures, so they reach tmp_path_factory through the config
            # attribute pytest's tmp_path plugin sets (per xdist worker, old ones pruned).
            factory = getattr(config, "_tmp_path_factory", None)
            base = (factory.mktemp("rig", numbered=True) if factory is not None
                    else Path(tempfile.mkdtemp(prefix="rig-pytest-")))
        session = RigSession(options, base)
        config.stash[SESSION_KEY] = session
    return session


def _named_on_command_line(config: pytest.Config, path: Path) -> bool:
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        return False
    root = config.invocation_params.dir
    for arg in config.args:
        given = Path(arg.split("::")[0])
        if (given if given.is_absolute() else root / given).resolve() == path.resolve():
            return True
    return False


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    config = parent.config
    if not (config.stash[OPTIONS_KEY].active or _named_on_command_line(config, file_path)):
        return None
    try:
        head = file_path.read_bytes()
    except OSError:
        return None
    if not _SCENARIO_FILE.search(head):
        return None  # some other YAML (CI workflows, boards): not ours
    file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return file


class ScenarioFile(pytest.File):
    """A scenario YAML file: one item per scenario and arch."""

    def collect(self) -> Iterator[pytest.Item]:
        loaded = load_scenarios(self.path)  # a ScenarioError is a collection error, with line
        for arch in self.config.stash[OPTIONS_KEY].arches:
            for scenario in loaded.scenarios:
                yield ScenarioItem.from_parent(self, name=f"{scenario.name}[{arch}]",
                                               scenario=scenario, arch=arch)


class ScenarioFailed(Exception):
    """A scenario's outcome was not PASS or SKIP (a verdict, reported by repr_failure)."""

    def __init__(self, run: GuestRun, entry: dict[str, Any] | None, text: str) -> None:
        super().__init__(text)
        self.run, self.entry, self.text = run, entry, text


def describe(run: GuestRun, entry: dict[str, Any], where: str) -> str:
    """A failed scenario in words: outcome, reason, each step's difference, where the logs are."""
    sim = " SIMULATED" if run.simulated else ""
    lines = [f"{entry['outcome']}{sim} {entry['name']} on {run.arch} ({where}): "
             f"{entry.get('reason', '')}".rstrip()]
    for step in entry.get("steps", []):
        if step["outcome"] in PASSING:
            continue
        lines.append(f"  step {step['index']} {step['op']}: {step['outcome']} "
                     f"{step.get('reason', '')}".rstrip())
        for d in step.get("diffs", []):
            lines.append(f"    {d['field']}: expected {d['expected']}, got {d['actual']}")
    lines.append(f"  run directory: {run.out_dir} (result.json, {run.arch}/boot-N/serial.log)")
    return "\n".join(lines)


class ScenarioItem(pytest.Item):
    """One scenario on one arch; its file is built and booted once per session and arch."""

    def __init__(self, *, scenario: Scenario, arch: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.arch = arch
        self.add_marker(pytest.mark.rig_scenario(arch=arch, file=str(self.path),
                                                 scenario=scenario.name))

    def runtest(self) -> None:
        run = rig_session(self.config).run((self.path,), self.arch)
        self.user_properties += [("rig.arch", self.arch), ("rig.run", str(run.out_dir))]
        if run.error is not None:
            what = "ERROR (bad input)" if run.exit_status == EXIT_BAD_INPUT else "INFRA"
            raise ScenarioFailed(run, None, f"{what} {self.scenario.name} on {self.arch}: "
                                 f"{run.error}")
        abi = str(run.arch_result.get("abi"))
        entry = run.scenarios.get(self.scenario.name)
        if entry is None and not self.scenario.applies_to(abi):
            pytest.skip(f"{self.scenario.name} on {self.arch}: not for ABI profile {abi} "
                        f"(abi: {', '.join(self.scenario.abi)})")
        if entry is None:
            raise ScenarioFailed(run, None, f"INCOMPLETE {self.scenario.name} on {self.arch}: "
                                 f"not in the build of {run.out_dir}")
        self.user_properties += [("rig.outcome", entry["outcome"]),
                                 ("rig.target", str(run.arch_result.get("target"))),
                                 ("rig.simulated", str(run.simulated).lower()),
                                 ("rig.abi", abi)]
        if entry["outcome"] == "SKIP":
            pytest.skip(f"{entry['name']} on {self.arch}: {entry.get('reason') or 'skipped'}")
        if entry["outcome"] != "PASS":
            where = f"{self.path}:{self.scenario.location.line}"
            raise ScenarioFailed(run, entry, describe(run, entry, where))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        if isinstance(excinfo.value, ScenarioFailed):
            return excinfo.value.text
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.scenario.location.line - 1, f"{self.scenario.name} [{self.arch}]"
