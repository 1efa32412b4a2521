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

from rig import api
from rig.errors import EXIT_OK, EXIT_TEST_FAILED, InputError
from rig.judge.compare import (
    render_text,
    verdict_to_json,
)
from rig.judge.placement import render_scores
from rig.reports.placement import place_log

LOG = logging.getLogger(__name__)


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
    p.add_argument("--abi", choices=("all",),
                   help="all: also judge the log against every profile's model (expect: left "
                   "out) and say which profile it behaves like, with each profile's agreeing "
                   "steps and first differences (docs/reports.md)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    verdict = api.check_log(args.log, args.build)
    sys.stdout.write(render_text(verdict, verbose=not args.brief, build_dir=str(args.build)))
    if args.abi == "all":
        sys.stdout.write(render_scores(place_log(args.log, args.build),
                                       title=f"{args.log} against every profile"))
    if args.json is not None:
        try:
            args.json.write_text(json.dumps(verdict_to_json(verdict), indent=2) + "\n")
        except OSError as exc:
            raise InputError(f"{args.json}: cannot write the JSON report: {exc}") from exc
    return EXIT_OK if verdict.ok else EXIT_TEST_FAILED
