"""Differences between arches of one run, and between two runs (`rig diff`); pure.

A step's result is what the run recorded: its outcome, and for a failed step every field the
kernel returned against what the model wanted. A PASS means "what the model predicts" for the
arch's profile, so two PASSes agree when both arches (or runs) used the same profile; a row
says so when they did not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

Key = tuple[str, str, int]  # (scenario file name, scenario name, step index; -1 the scenario)


@dataclass(frozen=True)
class Row:
    """One step (or scenario) whose result differs between two sides."""

    file: str
    scenario: str
    step: int  # -1: the scenario as a whole (a crash, a hang, a setup error)
    op: str
    left: str
    right: str

    def where(self) -> str:
        tail = "" if self.step < 0 else f" step {self.step} {self.op}"
        return f"{self.file}: {self.scenario}{tail}"


def step_result(step: Mapping[str, Any]) -> str:
    """A step's result as one comparable string."""
    outcome = str(step.get("outcome"))
    if outcome == "PASS":
        return "PASS (as the model)"
    diffs = ", ".join(f"{d.get('field')}={d.get('actual')}" for d in step.get("diffs", []))
    return f"{outcome} {diffs}".strip() if diffs else f"{outcome}: {step.get('reason', '')}"


def scenario_result(s: Mapping[str, Any]) -> str:
    outcome = str(s.get("outcome"))
    if outcome in ("CRASH", "HANG", "INFRA"):
        return f"{outcome}: {str(s.get('reason', '')).split(';')[0]}"
    return outcome


def _results(scenarios: Sequence[Mapping[str, Any]]) -> dict[Key, tuple[str, str]]:
    out: dict[Key, tuple[str, str]] = {}
    for s in scenarios:
        file = PurePath(str(s.get("file", ""))).name
        name = str(s.get("name"))
        out[(file, name, -1)] = ("", scenario_result(s))
        for st in s.get("steps", []):
            out[(file, name, int(st.get("index", -1)))] = (str(st.get("op", "")),
                                                           step_result(st))
    return out


def compare_scenarios(left: Sequence[Mapping[str, Any]], right: Sequence[Mapping[str, Any]],
                      *, missing: str = "not run") -> list[Row]:
    """Every scenario or step whose result differs between two lists of scenario results."""
    a, b = _results(left), _results(right)
    rows = []
    for key in sorted(set(a) | set(b), key=lambda k: (k[0], k[1], k[2])):
        op = (a.get(key) or b.get(key) or ("", ""))[0]
        la = a[key][1] if key in a else missing
        rb = b[key][1] if key in b else missing
        if la != rb:
            rows.append(Row(key[0], key[1], key[2], op, la, rb))
    return rows


def model_rows(scenarios: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Every step (or scenario) of one arch that differs from the model: the failures."""
    rows = []
    for s in scenarios:
        file, name = PurePath(str(s.get("file", ""))).name, str(s.get("name"))
        steps = [st for st in s.get("steps", []) if st.get("outcome") not in ("PASS", "SKIP")]
        for st in steps:
            rows.append(Row(file, name, int(st.get("index", -1)), str(st.get("op", "")),
                            "as the model", step_result(st)))
        if not steps and s.get("outcome") not in ("PASS", "SKIP"):
            rows.append(Row(file, name, -1, "", "as the model", scenario_result(s)))
    return rows


@dataclass(frozen=True)
class CrossArch:
    left: str
    right: str
    profiles: tuple[str, str]
    between: tuple[Row, ...]  # left against right
    against_model: Mapping[str, tuple[Row, ...]]  # per arch


def cross_arch(result: Mapping[str, Any]) -> list[CrossArch]:
    """For each pair of arches in a run: steps whose results differ, and each against the
    model (empty for a run of one arch)."""
    arches = list(result.get("arches", []))
    out = []
    for i, a in enumerate(arches):
        for b in arches[i + 1:]:
            out.append(CrossArch(
                str(a.get("arch")), str(b.get("arch")), (str(a.get("abi")), str(b.get("abi"))),
                tuple(compare_scenarios(a.get("scenarios", []), b.get("scenarios", []))),
                {str(x.get("arch")): tuple(model_rows(x.get("scenarios", [])))
                 for x in (a, b)}))
    return out


def render_rows(rows: Sequence[Row], left: str, right: str) -> list[str]:
    if not rows:
        return [f"  no differences between {left} and {right}"]
    width = max(len(r.where()) for r in rows)
    lines = [f"  {'step':<{width}}  {left:<28}  {right}"]
    lines += [f"  {r.where():<{width}}  {r.left:<28}  {r.right}" for r in rows]
    return lines


def render_cross_arch(result: Mapping[str, Any]) -> str:
    """The cross-arch table of a run ('' for a run of one arch)."""
    lines: list[str] = []
    for c in cross_arch(result):
        if not c.between and not any(c.against_model.values()):
            lines.append(f"cross-arch: {c.left} and {c.right} agree, and both with the model")
            continue
        lines.append(f"cross-arch: {len(c.between)} difference(s) between {c.left} and "
                     f"{c.right}")
        if c.profiles[0] != c.profiles[1]:
            lines.append(f"  (profiles differ: {c.profiles[0]} and {c.profiles[1]}; a PASS "
                         "means what each profile's model predicts)")
        lines += render_rows(c.between, c.left, c.right)
        for arch, rows in c.against_model.items():
            lines.append(f"{arch} against the model: {len(rows)} difference(s)")
            lines += render_rows(rows, "model", arch) if rows else []
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True)
class RunDiff:
    arch: str
    rows: tuple[Row, ...]
    notes: tuple[str, ...]


def diff_runs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[RunDiff]:
    """Per arch in either run: the steps whose results differ between run A and run B."""
    by_a = {str(x.get("arch")): x for x in a.get("arches", [])}
    by_b = {str(x.get("arch")): x for x in b.get("arches", [])}
    out = []
    for arch in sorted(set(by_a) | set(by_b)):
        x, y = by_a.get(arch), by_b.get(arch)
        if x is None or y is None:
            out.append(RunDiff(arch, (), (f"{arch} is only in run {'B' if x is None else 'A'}",)))
            continue
        notes = []
        for key in ("target", "abi", "accel", "simulated"):
            if x.get(key) != y.get(key):
                notes.append(f"{key}: A {x.get(key)}, B {y.get(key)}")
        kx, ky = x.get("kernel") or {}, y.get("kernel") or {}
        if kx != ky:
            notes.append(f"kernel: A {kx.get('version')} ({kx.get('build_id')}), "
                         f"B {ky.get('version')} ({ky.get('build_id')})")
        rows = compare_scenarios(x.get("scenarios", []), y.get("scenarios", []),
                                 missing="not in this run")
        out.append(RunDiff(arch, tuple(rows), tuple(notes)))
    return out


def render_run_diff(diffs: Sequence[RunDiff], a_name: str, b_name: str) -> str:
    lines = [f"A = {a_name}", f"B = {b_name}"]
    for d in diffs:
        lines.append(f"{d.arch}: {len(d.rows)} difference(s)")
        lines += [f"  note: {n}" for n in d.notes]
        if d.rows:
            lines += render_rows(d.rows, "A", "B")
    return "\n".join(lines) + "\n"
