"""`rig check-log LOG --build DIR [--json F]`: verdicts for a serial log of a built program.

Thin: reads the files, then rig.protocol (parse), rig.compare (verdicts, text, JSON) do the
work, exactly as the live runner does.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rig.errors import EXIT_OK, EXIT_TEST_FAILED, InputError
from rig.judge.compare import (
    RunVerdict,
    compare_run,
    render_text,
    verdict_to_json,
)
from rig.judge.manifest import BuildDirError, read_manifest
from rig.judge.protocol import parse_log
from rig.scenario.loader import ScenarioFile, load_many

LOG = logging.getLogger(__name__)


class LogFileError(InputError):
    """The serial log cannot be read."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "check-log",
        help="check a serial log against the build's scenarios (exit 1 when a scenario fails)",
        description="Find the records of the program built in DIR in a serial log captured "
        "anywhere, compare every step with the reference model for the build's ABI profile "
        "and with the scenario's expect:, and print PASS, FAIL (expected vs actual), SKIP "
        "(with the reason) or INCOMPLETE (records lost, log ended early) per step and scenario.",
    )
    p.add_argument("log", metavar="LOG", type=Path, help="serial console log (any line ends)")
    p.add_argument("--build", metavar="DIR", type=Path, required=True,
                   help="build directory of `rig build` (manifest.json, scenarios/)")
    p.add_argument("--json", metavar="F", type=Path, help="also write the verdicts as JSON to F")
    p.add_argument("--brief", action="store_true",
                   help="list only the steps that did not pass (every scenario is still listed)")
    p.set_defaults(func=run)


def read_scenarios(build_dir: Path) -> list[ScenarioFile]:
    """:raises BuildDirError: no scenarios/ copies; ScenarioError: an invalid copy."""
    paths = sorted((build_dir / "scenarios").glob("*.yaml"))
    if not paths:
        raise BuildDirError(f"{build_dir / 'scenarios'}: no scenario files; the build "
                            "directory must hold copies of the files it was built from")
    return load_many(paths)


def read_log_lines(path: Path) -> list[bytes]:
    """:raises LogFileError: the log is missing or unreadable."""
    try:
        return path.read_bytes().split(b"\n")
    except OSError as exc:
        raise LogFileError(f"{path}: cannot read the serial log: {exc.strerror or exc}") from exc


def check_log(log: Path, build_dir: Path) -> RunVerdict:
    """Parse ``log`` and judge it against the build in ``build_dir``."""
    manifest = read_manifest(build_dir)
    files = read_scenarios(build_dir)
    lines = read_log_lines(log)
    parsed = parse_log(lines, nonces=manifest.nonces)
    return compare_run(manifest, files, parsed)


def run(args: argparse.Namespace) -> int:
    verdict = check_log(args.log, args.build)
    sys.stdout.write(render_text(verdict, verbose=not args.brief, build_dir=str(args.build)))
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(verdict_to_json(verdict), indent=2) + "\n")
        except OSError as exc:
            raise InputError(f"{args.json}: cannot write the JSON report: {exc}") from exc
    return EXIT_OK if verdict.ok else EXIT_TEST_FAILED
