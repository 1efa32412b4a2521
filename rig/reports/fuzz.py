"""`rig fuzz --seed S --count N`: random valid scenarios run on the sim (or a kernel), every
failure bundled and shrunk; the seed reproduces the run.

Generation is model-guided: rig.scenario.generate drafts scenarios and drops every step the
model says would block on a page request or the guest cannot build (`rig validate`'s checks);
only scenarios for the run's profile are kept, and an `expect:` the model disagrees with for
that profile is left out (the generator writes the contract's out-of-range status, which
2020/2022 trim instead), so the model judges every step. What is random depends on the seed
alone: the same seed gives the same scenarios, the same failures and the same shrunk files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig import api, zx
from rig.judge.signature import signature
from rig.model.predict import predict
from rig.profiles import DEFAULT_PROFILE
from rig.reports.bundle import write_bundles
from rig.reports.shrink import ShrinkSpec, shrink_bundles
from rig.scenario.generate import generate_scenarios

Printer = Callable[[str], None]
SEED_STRIDE = 7919  # a further batch of drafts when too few fit the profile


@dataclass(frozen=True)
class FuzzResult:
    out_dir: Path
    report: dict[str, Any]
    exit_status: int


def fuzz_scenarios(seed: int, count: int, profile: str) -> list[dict[str, Any]]:
    """``count`` valid scenarios for ``profile`` from ``seed`` (YAML data), deterministic."""
    out: list[dict[str, Any]] = []
    batch = 0
    while len(out) < count:
        for g in generate_scenarios(seed + batch * SEED_STRIDE, count, api.scenario_problems,
                                    prefix="fuzz"):
            if len(out) >= count or not g.scenario.applies_to(profile):
                continue
            data = yaml.safe_load(g.text)["scenarios"][0]
            pred = predict(g.scenario, profile)
            for step, p in zip(data["steps"], pred.steps, strict=False):
                if isinstance(step, dict) and isinstance(step.get("expect"), dict):
                    want = step["expect"].get("status")
                    if want is not None and _status_value(want) != p.status:
                        del step["expect"]
            out.append(data)
        batch += 1
    return out


def _status_value(status: object) -> int | None:
    if isinstance(status, int):
        return status
    value = getattr(zx, str(status), None)
    return value if isinstance(value, int) else None


def fuzz(seed: int, count: int, spec: ShrinkSpec, out_dir: Path, *, shrink: bool = True,
         max_bundles: int = 20, printer: Printer = api.null_printer) -> FuzzResult:
    """Generate, run, bundle and shrink every failure; write OUT/fuzz.json.

    :raises RigError: bad options, or the build or QEMU failed before any verdict.
    """
    profile = DEFAULT_PROFILE if spec.abi == "auto" else spec.abi
    out_dir.mkdir(parents=True, exist_ok=True)
    scenarios = fuzz_scenarios(seed, count, profile)
    text = (f"# rig fuzz --seed {seed} --count {count}: {count} random valid scenarios for "
            f"profile {profile}\n" + yaml.safe_dump({"scenarios": scenarios}, sort_keys=False))
    path = out_dir / "scenarios.yaml"
    path.write_text(text)
    steps = sum(len(s.get("steps", [])) for s in scenarios)
    printer(f"fuzz: seed {seed}: {count} scenarios, {steps} steps, profile {profile}: {path}")
    req = api.RunRequest(
        scenario_paths=(path,), arches=(spec.arch,), out_dir=out_dir / "run",
        target=spec.target, abi=profile, kernel_zbis=spec.kernel_zbis,
        boot_shims=spec.boot_shims, fuchsia_build_dir=spec.fuchsia_build_dir, accel=spec.accel,
        timeout_scale=spec.timeout_scale, max_boots=count + 8,
        cmdline_extra=spec.cmdline_extra, cache_dir=spec.cache_dir)
    run = api.run(req)
    [arch] = run.result["arches"]
    failing = [s for s in arch["scenarios"] if signature(s) is not None]
    bundles = write_bundles(req, run.result, out_dir / "run", limit=max_bundles,
                            printer=printer) if failing else []
    if shrink and bundles:
        shrink_bundles(bundles, cmdline_extra=spec.cmdline_extra, kernel_zbis=spec.kernel_zbis,
                       boot_shims=spec.boot_shims, fuchsia_build_dir=spec.fuchsia_build_dir,
                       cache_dir=spec.cache_dir, printer=printer)
    by_index = {int(json.loads((b / "expected.json").read_text())["index"]): b for b in bundles}
    failures = []
    for s in failing:
        b = by_index.get(int(s["index"]))
        shrunk = b / "shrunk.yaml" if b is not None else None
        failures.append({
            "index": s["index"], "name": s["name"], "outcome": s["outcome"],
            "signature": signature(s), "bundle": str(b) if b else None,
            "shrunk": str(shrunk) if shrunk and shrunk.is_file() else None,
            "shrunk_steps": len(yaml.safe_load(shrunk.read_text())["scenarios"][0]["steps"])
            if shrunk and shrunk.is_file() else None})
    report = {"schema": "rig.fuzz/1", "seed": seed, "count": count, "arch": spec.arch,
              "target": arch["target"], "simulated": arch["simulated"], "abi": profile,
              "cmdline_extra": list(spec.cmdline_extra), "steps": steps,
              "scenarios_sha256": hashlib.sha256(text.encode()).hexdigest(),
              "outcome": run.result["outcome"], "counts": arch["counts"],
              "failures": failures}
    (out_dir / "fuzz.json").write_text(json.dumps(report, indent=1) + "\n")
    return FuzzResult(out_dir, report, run.exit_status)
