"""`rig validate FILE...`: check scenario files against the contract without running them."""

from __future__ import annotations

import argparse
import sys

from rig.errors import EXIT_BAD_INPUT, EXIT_OK, ScenarioError
from rig.scenario.loader import ScenarioFile, load_many, load_scenarios


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "validate",
        help="check scenario files (exit 2 when any is invalid)",
        description="Parse and validate scenario files in the contract format "
        "(shared/specs/scenario-format.md). Every error names file, line, scenario and step.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario YAML files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    errors = 0
    for path in args.files:
        try:
            loaded = load_scenarios(path)
            problems = _semantic_problems(loaded)
        except ScenarioError as exc:
            print(f"error: {exc}", file=sys.stderr)
            errors += 1
            continue
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        errors += len(problems)
        if not problems:
            steps = sum(len(s.steps) for s in loaded.scenarios)
            print(f"{path}: ok ({len(loaded.scenarios)} scenarios, {steps} steps)")
    try:
        load_many(args.files) if not errors else None
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        errors += 1
    return EXIT_BAD_INPUT if errors else EXIT_OK


def _semantic_problems(loaded: ScenarioFile) -> list[str]:
    """Checks beyond the format: steps that would block (the model) and scenarios the guest
    program cannot build as written (codegen)."""
    from rig.model.predict import validation_problems
    from rig.program.codegen import construction_problems

    return [*validation_problems(loaded), *construction_problems(loaded)]
