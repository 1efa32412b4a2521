"""`rig validate FILE...`: check scenario files against the contract without running them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig import api
from rig.errors import EXIT_BAD_INPUT, EXIT_OK, ScenarioError
from rig.scenario.loader import load_scenarios


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check scenario files (exit 2 when any is invalid)",
        description="Parse and validate scenario files in the contract format "
        "(shared/specs/scenario-format.md), with the checks every command runs: steps that "
        "would block on a page request, scenarios the guest program cannot build. Every error "
        "names file, line, scenario and step. Warnings (a range past the VMO without an error "
        "expect:, most likely a typo) do not fail the check unless --strict is given.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    p.add_argument("--strict", action="store_true",
                   help="treat warnings as errors (exit 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    errors = 0
    seen: dict[Path, str] = {}
    for path in args.files:
        key = Path(path).resolve()
        if key in seen:
            print(f"error: {path}: the same scenario file is given twice (also as "
                  f"{seen[key]}); give each file once", file=sys.stderr)
            errors += 1
            continue
        seen[key] = path
        try:
            loaded = load_scenarios(path)
            problems = api.scenario_problems(loaded)
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
            continue
        label = "error" if args.strict else "warning"
        for warning in loaded.warnings:
            print(f"{label}: {warning}", file=sys.stderr)
        if args.strict:
            problems = [*problems, *loaded.warnings]
        for problem in problems:
            if problem not in loaded.warnings:
                print(f"error: {problem}", file=sys.stderr)
        errors += len(problems)
        if not problems:
            steps = sum(len(s.steps) for s in loaded.scenarios)
            warned = f", {len(loaded.warnings)} warnings" if loaded.warnings else ""
            print(f"{path}: ok ({len(loaded.scenarios)} scenarios, {steps} steps{warned})")
    return EXIT_BAD_INPUT if errors else EXIT_OK
