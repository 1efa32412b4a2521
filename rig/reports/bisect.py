"""`rig bisect`: one commit's verdict as `git bisect run` reads exit statuses.

0 good (every scenario passed or was skipped, or with a bundle: its scenario passes); 1 bad (a
scenario failed, crashed, hung or lost records; with a bundle: the recorded failure came back,
same signature); 125 skip (this commit cannot be judged: the build command failed, the kernel
image is missing or malformed, the toolchain or QEMU failed, or with a bundle the scenario
failed another way); 128 abort the bisection (the scenarios themselves are bad: every commit
would say the same).
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rig import api
from rig.errors import RigError, ScenarioError
from rig.judge.signature import signature
from rig.reports.bundle import read_expected
from rig.run import process

GOOD, BAD, SKIP, ABORT = 0, 1, 125, 128
BUILD_TIMEOUT_S = 4 * 3600.0
Printer = Callable[[str], None]


@dataclass(frozen=True)
class BisectVerdict:
    exit_status: int
    why: str


def run_build_command(command: str, *, cwd: Path | None, timeout_s: float) -> str | None:
    """Run the user's build command (a shell-free argv); None when it succeeded, else why not."""
    try:
        process.run(shlex.split(command), timeout_s=timeout_s, cwd=cwd, check=True)
    except process.ProcessError as exc:
        return str(exc)
    return None


def bisect_verdict(req: api.RunRequest, *, bundle: Path | None = None,
                   build_command: str | None = None, build_cwd: Path | None = None,
                   printer: Printer = api.null_printer) -> BisectVerdict:
    """Build (optional), run, and map the result to git bisect's exit statuses."""
    if build_command:
        failed = run_build_command(build_command, cwd=build_cwd, timeout_s=BUILD_TIMEOUT_S)
        if failed is not None:
            return BisectVerdict(SKIP, f"the build command failed: {failed}")
    want = None
    if bundle is not None:
        expected = read_expected(bundle)
        want = expected["signature"]
        req = replace(req, scenario_paths=(bundle / "scenario.yaml",),
                      arches=(str(expected["arch"]),), abi=str(expected["abi"])
                      if req.abi == "auto" and req.target == "sim" else req.abi)
    try:
        result = api.run(req, printer=printer)
    except ScenarioError as exc:
        return BisectVerdict(ABORT, f"the scenarios are bad on every commit: {exc}")
    except RigError as exc:
        return BisectVerdict(SKIP, f"cannot build or boot this commit's image: {exc}")
    outcome = result.result["outcome"]
    if outcome == "INFRA":
        return BisectVerdict(SKIP, "QEMU or the toolchain failed (INFRA): cannot judge")
    scenarios = [s for a in result.result["arches"] for s in a["scenarios"]]
    if want is None:
        if result.exit_status == 0:
            return BisectVerdict(GOOD, f"{outcome}: every scenario passed or was skipped")
        bad = [f"{s['name']}: {signature(s)}" for s in scenarios if signature(s)]
        return BisectVerdict(BAD, f"{outcome}: " + "; ".join(bad[:5]))
    got = [signature(s) for s in scenarios]
    if want in got:
        return BisectVerdict(BAD, f"the recorded failure came back: {want}")
    if all(g is None for g in got):
        return BisectVerdict(GOOD, f"the bundle's scenario passes ({outcome})")
    return BisectVerdict(SKIP, f"the scenario failed another way ({'; '.join(map(str, got))}), "
                         f"not as recorded ({want}): cannot tell")


def words(texts: Sequence[str]) -> tuple[str, ...]:
    return tuple(w for t in texts for w in t.split())
