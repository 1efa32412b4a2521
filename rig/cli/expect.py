"""`rig expect FILE... --abi PROFILE`: print what the reference model predicts for each step.

With `--json` the output is the machine shape of docs/design.md (`rig expect` JSON); by
default a table. A step whose
`expect:` disagrees with the model is reported (file, scenario, step, field, expected against
model) and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rig import api, zx
from rig.errors import EXIT_OK, EXIT_TEST_FAILED, ScenarioError
from rig.model.predict import (
    PROFILES,
    ScenarioPrediction,
    StepPrediction,
    expect_disagreements,
    predict,
)
from rig.scenario.loader import Scenario, ScenarioFile, bundled_suite_paths


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "expect",
        help="print the reference model's prediction for scenario files (exit 1 when an "
        "expect: disagrees)",
        description="Predict every step of every scenario with the reference model for one "
        "ABI profile. Without FILE, the bundled conformance suite is used. Scenarios whose "
        "abi: excludes the profile are skipped.",
    )
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="scenario YAML files (default: the bundled suite)")
    p.add_argument("--abi", required=True, choices=PROFILES,
                   help="ABI profile: 2020 (before dirty tracking), 2022 (tail model), "
                   "2024 (zero intervals, rights checks)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=run)


def step_json(step: StepPrediction) -> dict[str, object]:
    """One step in the issue-3 JSON shape: keys only where they apply, ranges in bytes."""
    out: dict[str, object] = {"index": step.index, "op": step.op,
                              "status": None if step.status is None
                              else zx.status_name(step.status)}
    if step.unavailable is not None:
        out["unavailable"] = step.unavailable
    for key in ("actual", "avail"):
        value = getattr(step, key)
        if value is not None:
            out[key] = value
    if step.ranges is not None:
        out["ranges"] = [list(r) for r in step.ranges]
    for key in ("calls", "modified"):
        value = getattr(step, key)
        if value is not None:
            out[key] = value
    return out


def prediction_json(pred: ScenarioPrediction) -> dict[str, object]:
    out: dict[str, object] = {"name": pred.name}
    if pred.setup_error is not None:
        what, status = pred.setup_error
        out["setup_error"] = {"what": what, "status": zx.status_name(status)}
    out["steps"] = [step_json(s) for s in pred.steps]
    return out


def _range_text(ranges: tuple[tuple[int, int, int], ...]) -> str:
    """Ranges in pages when page-aligned (as scenario files write them), else bytes."""
    parts = []
    for off, length, opt in ranges:
        if off % zx.PAGE_SIZE == 0 and length % zx.PAGE_SIZE == 0:
            parts.append(f"[{off // zx.PAGE_SIZE},{length // zx.PAGE_SIZE},{opt}]")
        else:
            parts.append(f"[{off}B,{length}B,{opt}]")
    return " ".join(parts) if parts else "-"


def render_table(scenario: Scenario, pred: ScenarioPrediction) -> list[str]:
    lines = [f"{scenario.name}  ({scenario.location})"]
    if pred.setup_error is not None:
        what, status = pred.setup_error
        lines.append(f"  setup fails: {what} -> {zx.status_name(status)}; no step runs")
        return lines
    lines.append(f"  {'#':>3}  {'op':<20} {'status':<22} {'actual':>6} {'avail':>6}  "
                 "other / ranges (pages)")
    for s in pred.steps:
        status_text = ("unavailable" if s.status is None else zx.status_name(s.status))
        extra = []
        if s.unavailable:
            extra.append(f"no {s.unavailable} in this profile")
        if s.calls is not None:
            extra.append(f"calls={s.calls}")
        if s.modified is not None:
            extra.append(f"modified={s.modified}")
        if s.ranges is not None:
            extra.append(_range_text(s.ranges))
        actual_text = "" if s.actual is None else str(s.actual)
        avail_text = "" if s.avail is None else str(s.avail)
        row = (f"  {s.index:>3}  {s.op:<20} {status_text:<22} {actual_text:>6} "
               f"{avail_text:>6}  " + " ".join(extra))
        lines.append(row.rstrip())
    return lines


def expect_files(files: Sequence[ScenarioFile], profile: str, *,
                 as_json: bool) -> tuple[str, list[str]]:
    """Render the predictions of ``files`` for ``profile``; return (text, disagreements).

    :raises ScenarioError: when a scenario has a step that would block on a page request.
    """
    disagreements: list[str] = []
    skipped: list[tuple[Scenario, str]] = []
    doc_scenarios: list[dict[str, object]] = []
    lines: list[str] = []
    for f in files:
        for scenario in f.scenarios:
            if not scenario.applies_to(profile):
                skipped.append((scenario, f"abi: {', '.join(scenario.abi)}"))
                continue
            pred = predict(scenario, profile)
            disagreements.extend(expect_disagreements(scenario, pred))
            if as_json:
                doc_scenarios.append(prediction_json(pred))
            else:
                lines.extend(render_table(scenario, pred))
                lines.append("")
    if as_json:
        doc: dict[str, object] = {"abi": profile, "scenarios": doc_scenarios}
        if skipped:
            doc["skipped"] = [{"name": s.name, "reason": why} for s, why in skipped]
        return json.dumps(doc, indent=1) + "\n", disagreements
    for scenario, why in skipped:
        lines.append(f"skipped {scenario.name} ({scenario.location}): not for profile "
                     f"{profile} ({why})")
    ran = sum(len(f.scenarios) for f in files) - len(skipped)
    lines.append(f"profile {profile}: {ran} scenarios predicted, {len(skipped)} skipped, "
                 f"{len(disagreements)} disagreements with expect:")
    return "\n".join(lines) + "\n", disagreements


def run(args: argparse.Namespace) -> int:
    paths: list[str | Path] = list(args.files) or list(bundled_suite_paths())
    if not paths:
        raise ScenarioError("no scenario files given and the bundled suite "
                            "(rig/scenario/suite/*.yaml) is empty; pass FILE arguments")
    files = api.load_valid(paths)
    text, disagreements = expect_files(files, args.abi, as_json=args.json)
    sys.stdout.write(text)
    for message in disagreements:
        print(f"disagreement: {message}", file=sys.stderr)
    if disagreements:
        return EXIT_TEST_FAILED
    return EXIT_OK


__all__ = ["register", "run", "expect_files", "step_json", "prediction_json"]
