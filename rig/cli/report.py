"""`rig report RESULT.json`: JUnit XML, the provenance JSON, HTML and KTAP from a run's result;
also the report options `rig run` takes (--junit, --html, --report-json, --ktap)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig.errors import InputError
from rig.reports.collect import RunInfo, read_run
from rig.reports.crossarch import render_cross_arch
from rig.reports.html import write_html
from rig.reports.junit import write_junit
from rig.reports.ktap import render_ktap
from rig.reports.provenance import write_report_json


def add_report_options(p: argparse.ArgumentParser, *, json_flag: str) -> None:
    """The report options shared by `rig report` and `rig run`."""
    p.add_argument("--junit", type=Path, metavar="F",
                   help="write JUnit XML to F (one testcase per scenario and arch)")
    p.add_argument("--html", type=Path, metavar="F",
                   help="write a one-page HTML report to F (no server needed)")
    p.add_argument(json_flag, dest="report_json", type=Path, metavar="F",
                   help="write the report JSON (schema rig.report/1: verdicts with full "
                   "provenance) to F")
    p.add_argument("--ktap", action="store_true", help="print KTAP on stdout")


def write_reports(args: argparse.Namespace, result_path: Path) -> RunInfo | None:
    """Write the reports the options ask for; None when none was asked.

    :raises InputError: a report file cannot be written.
    """
    if not (args.junit or args.html or args.report_json or args.ktap):
        return None
    run = read_run(result_path)
    for path, write in ((args.junit, write_junit), (args.html, write_html),
                        (args.report_json, write_report_json)):
        if path is not None:
            try:
                write(run, path)
            except OSError as exc:
                raise InputError(f"{path}: cannot write the report: {exc}") from exc
    if args.ktap:
        sys.stdout.write(render_ktap(run.result))
    return run


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report", help="JUnit XML, provenance JSON, HTML or KTAP from a run's result.json",
        description="Read the result.json of `rig run` (schema rig.run/1) and the run directory "
        "around it (build manifests, boot argv, serial logs, bundles) and write the reports "
        "asked for. Without options: the cross-arch differences and a one-line summary. Exit "
        "status: the run's own (0 passed, 1 failed, 3 infrastructure).")
    p.add_argument("result", type=Path, metavar="RESULT.json", help="a run's result.json")
    add_report_options(p, json_flag="--json")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    info = write_reports(args, args.result) or read_run(args.result)
    if not args.ktap:
        sys.stdout.write(render_cross_arch(info.result))
        print(f"{info.result.get('outcome')}: {args.result}")
    return int(info.result.get("exit_status", 1))
