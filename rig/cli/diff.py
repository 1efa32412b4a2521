"""`rig diff A.json B.json`: every step whose result differs between two runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig.errors import EXIT_OK, EXIT_TEST_FAILED
from rig.reports.collect import load_result
from rig.reports.crossarch import diff_runs, render_run_diff


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "diff", help="compare two runs' result.json, step by step",
        description="Compare two runs of `rig run` (two kernels, two commits, KVM against TCG): "
        "per arch, every scenario and step whose outcome or returned values differ, and what "
        "differs in their setup (target, profile, accelerator, kernel). Exit status: 0 no "
        "difference, 1 differences.")
    p.add_argument("a", type=Path, metavar="A.json", help="result.json of run A")
    p.add_argument("b", type=Path, metavar="B.json", help="result.json of run B")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    diffs = diff_runs(load_result(args.a), load_result(args.b))
    sys.stdout.write(render_run_diff(diffs, str(args.a), str(args.b)))
    return EXIT_TEST_FAILED if any(d.rows or d.notes for d in diffs) else EXIT_OK
