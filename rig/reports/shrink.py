"""Shrinking: the smallest scenario that still fails with the same signature (`rig shrink`,
`rig run --shrink`, `rig fuzz`).

Candidates come from rig.scenario.reduce (ddmin over steps, then numbers lowered); each round's
candidates run together in one program, one scenario each (one boot, reboots past crashes), so
a round costs one build and one boot, not one per candidate. A candidate the checks refuse
(`rig validate`: a step would block, the guest cannot build it) counts as not failing and never
boots. Results are cached by content: the candidate's YAML text (with arch, profile and
command line) maps to its signature, and the program ELF and sim kernel come from the build
cache (rig.run.toolchain, rig.run.sim_build), so a candidate seen before costs nothing.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rig import api
from rig.errors import InputError, RigError
from rig.judge.signature import signature
from rig.scenario import reduce
from rig.scenario.loader import parse_scenarios

Printer = Callable[[str], None]
MAX_BATCH = 128  # candidates per program
MAX_FAULT_BATCH = 16  # the sim keeps at most 16 fault words (guest/sim/common/fault.c)
_FAULT = re.compile(r"^rig\.sim\.fault=(?P<kind>[a-z-]+)@(?P<s>\d+)\.(?P<t>\d+)$")


@dataclass(frozen=True)
class ShrinkSpec:
    """Where candidates run: as `rig run` would run the scenario on one arch."""

    arch: str
    target: str = "sim"
    abi: str = "auto"
    kernel_zbis: tuple[Path, ...] = ()
    boot_shims: Mapping[str, Path] = field(default_factory=dict)
    fuchsia_build_dir: Path | None = None
    accel: str = "tcg"
    cmdline_extra: tuple[str, ...] = ()  # sim fault words name scenario 0: the one shrunk
    timeout_scale: float = 1.0
    cache_dir: Path | None = None


def scenario_text(scenario: Mapping[str, Any]) -> str:
    return yaml.safe_dump({"scenarios": [dict(scenario)]}, sort_keys=False)


def _fault_words(words: Sequence[str], count: int) -> tuple[tuple[str, ...], bool]:
    """Other words as given; each fault word naming scenario 0 once per candidate."""
    out, faults = [], []
    for w in words:
        m = _FAULT.match(w)
        if m is None:
            out.append(w)
        elif int(m.group("s")) == 0:
            faults.append((m.group("kind"), m.group("t")))
    for k in range(count):
        out += [f"rig.sim.fault={kind}@{k}.{t}" for kind, t in faults]
    return tuple(out), bool(faults)


class Oracle:
    """Signatures of candidate scenarios, run in batches, cached by content."""

    def __init__(self, spec: ShrinkSpec, work: Path, printer: Printer = api.null_printer):
        self.spec = spec
        self.work = work
        self.printer = printer
        self.memo: dict[str, str | None] = {}
        self.rounds = 0
        self.booted = 0
        self.cached = 0
        self.refused = 0

    def _key(self, text: str) -> str:
        head = f"{self.spec.arch} {self.spec.target} {self.spec.abi} {self.spec.cmdline_extra}"
        return hashlib.sha256((head + "\n" + text).encode()).hexdigest()

    def _valid(self, text: str) -> bool:
        try:
            f = parse_scenarios(text, "candidate.yaml")
        except RigError:
            return False
        return not api.scenario_problems(f)

    def signatures(self, candidates: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """The signature of each candidate (None: it passes, or the checks refuse it).

        :raises RigError: the build or QEMU failed (INFRA), not a verdict about a candidate.
        """
        texts = [scenario_text({**c, "name": "candidate"}) for c in candidates]
        keys = [self._key(t) for t in texts]
        todo: dict[str, Mapping[str, Any]] = {}
        for key, text, c in zip(keys, texts, candidates, strict=True):
            if key in self.memo or key in todo:
                self.cached += 1
            elif not self._valid(text):
                self.memo[key] = None
                self.refused += 1
            else:
                todo[key] = c
        items = list(todo.items())
        _, faults = _fault_words(self.spec.cmdline_extra, 0)
        size = MAX_FAULT_BATCH if faults else MAX_BATCH
        for at in range(0, len(items), size):
            batch = items[at:at + size]
            for key, sig in zip([k for k, _ in batch], self._run([c for _, c in batch]),
                                strict=True):
                self.memo[key] = sig
        return [self.memo[k] for k in keys]

    def _run(self, batch: Sequence[Mapping[str, Any]]) -> list[str | None]:
        self.rounds += 1
        self.booted += len(batch)
        d = self.work / f"round-{self.rounds:03d}"
        d.mkdir(parents=True, exist_ok=True)
        path = d / "candidates.yaml"
        path.write_text(yaml.safe_dump({"scenarios": [
            {**c, "name": f"candidate-{k}"} for k, c in enumerate(batch)]}, sort_keys=False))
        words, _ = _fault_words(self.spec.cmdline_extra, len(batch))
        s = self.spec
        res = api.run(api.RunRequest(
            scenario_paths=(path,), arches=(s.arch,), out_dir=d / "run", target=s.target,
            abi=s.abi, kernel_zbis=s.kernel_zbis, boot_shims=s.boot_shims,
            fuchsia_build_dir=s.fuchsia_build_dir, accel=s.accel,
            timeout_scale=s.timeout_scale, max_boots=len(batch) * 2 + 2, cmdline_extra=words,
            cache_dir=s.cache_dir))
        [arch] = res.result["arches"]
        by_name = {sc["name"]: sc for sc in arch["scenarios"]}
        out = []
        for k in range(len(batch)):
            sc = by_name.get(f"candidate-{k}")
            if sc is None or sc.get("outcome") == "INFRA":
                raise InputError(f"shrink: candidate {k} of {path} could not be judged "
                                 f"({sc.get('reason') if sc else 'missing'}); see {d / 'run'}")
            out.append(signature(sc))
        return out


@dataclass(frozen=True)
class ShrinkResult:
    original: dict[str, Any]
    shrunk: dict[str, Any]
    signature: str
    steps_before: int
    steps_after: int
    rounds: int
    candidates: int
    cached: int
    refused: int
    elapsed_s: float

    def text(self) -> str:
        return (f"# Shrunk by rig from '{self.original.get('name')}' "
                f"({self.steps_before} steps) to {self.steps_after} steps; the failure keeps "
                f"its signature:\n#   {self.signature}\n" + scenario_text(self.shrunk))


def shrink(scenario: Mapping[str, Any], oracle: Oracle, *, want: str | None = None,
           printer: Printer = api.null_printer) -> ShrinkResult:
    """Shrink ``scenario`` (YAML data) while its signature stays ``want`` (default: what it
    has now).

    :raises InputError: the scenario does not fail (nothing to keep).
    """
    t0 = time.monotonic()
    original = dict(scenario)
    [sig] = oracle.signatures([original])
    want = want or sig
    if want is None or sig != want:
        raise InputError(f"scenario '{original.get('name')}' "
                         + ("does not fail" if sig is None else f"fails as {sig!r}, not {want!r}")
                         + f" on {oracle.spec.arch}/{oracle.spec.target}: nothing to shrink")
    printer(f"shrink: '{original.get('name')}': {len(original.get('steps', []))} steps, "
            f"signature {want}")
    kept = list(range(len(original.get("steps", []))))
    n = 2
    while len(kept) > 1:
        # A round costs one build and boot whatever its size, so it tries ddmin's candidates
        # at granularity n and at 2n, 4n, ... up to single steps at once, and keeps the
        # smallest that still fails.
        cands: list[list[int]] = []
        g = n
        while True:
            cands += [c for c in reduce.ddmin_candidates(kept, g) if c not in cands]
            if g >= len(kept):
                break
            g = min(g * 2, len(kept))
        sigs = oracle.signatures([reduce.with_steps(original, c) for c in cands])
        hits = [c for c, sg in zip(cands, sigs, strict=True) if sg == want]
        if not hits:
            break
        best = min(hits, key=len)
        # Every step some hit left out, left out at once: when the failure needs few steps
        # and they do not interact, one more round gets there.
        union = [i for i in kept if all(i in h for h in hits)]
        if len(union) < len(best) and oracle.signatures(
                [reduce.with_steps(original, union)])[0] == want:
            best = union
        kept = best
        n = 2
        printer(f"shrink: {len(kept)} steps")
    current = reduce.with_steps(original, kept)
    # Numbers, lowest first: per round every single lowering, and all the lowest ones at once.
    while True:
        lowered = list(reduce.number_candidates(current))
        if not lowered:
            break
        sigs = oracle.signatures([c for _, _, c in lowered])
        lowest: dict[tuple[str | int, ...], tuple[int, dict[str, Any]]] = {}
        for (num, value, cand), s in zip(lowered, sigs, strict=True):
            if s == want and (num.path not in lowest or value < lowest[num.path][0]):
                lowest[num.path] = (value, cand)
        if not lowest:
            break
        combined = current
        for path, (value, _cand) in lowest.items():
            combined = reduce.set_number(combined, path, value)
        if len(lowest) > 1 and oracle.signatures([combined])[0] == want:
            current = combined
        else:
            current = next(iter(lowest.values()))[1]
        printer(f"shrink: lowered {len(lowest)} number(s)")
    return ShrinkResult(original, current, want, len(original.get("steps", [])),
                        len(current.get("steps", [])), oracle.rounds, oracle.booted,
                        oracle.cached, oracle.refused, time.monotonic() - t0)


def load_scenario(path: Path, name: str) -> dict[str, Any]:
    """Scenario ``name`` of a file, as YAML data.

    :raises InputError: unreadable, or no such scenario.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: cannot read the scenario file: {exc}") from exc
    for s in (data or {}).get("scenarios", []):
        if isinstance(s, dict) and s.get("name") == name:
            return s
    names = [s.get("name") for s in (data or {}).get("scenarios", []) if isinstance(s, dict)]
    raise InputError(f"{path}: no scenario named {name!r}; it has {', '.join(map(str, names))}")


def shrink_bundles(bundles: Sequence[Path], *, cmdline_extra: Sequence[str] = (),
                   kernel_zbis: Sequence[Path] = (), boot_shims: Mapping[str, Path] | None = None,
                   fuchsia_build_dir: Path | None = None, cache_dir: Path | None = None,
                   printer: Printer = api.null_printer) -> list[Path]:
    """`rig run --shrink`: shrink each bundle's scenario with its recorded signature; write
    BUNDLE/shrunk.yaml. A bundle that cannot be shrunk is reported and left as it is."""
    # Late import: bundle imports nothing from here, but keep the dependency one way.
    from rig.reports.bundle import read_expected, remap_fault_words

    out = []
    for b in bundles:
        expected = read_expected(b)
        if expected.get("signature") is None:
            continue
        spec = ShrinkSpec(
            arch=str(expected["arch"]), target=str(expected["target"]),
            abi=str(expected["abi"]), accel=str(expected["accel"]),
            kernel_zbis=tuple(kernel_zbis), boot_shims=dict(boot_shims or {}),
            fuchsia_build_dir=fuchsia_build_dir,
            cmdline_extra=remap_fault_words(cmdline_extra, int(expected["index"])),
            cache_dir=cache_dir)
        scenario = load_scenario(b / "scenario.yaml", str(expected["name"]))
        try:
            result = shrink(scenario, Oracle(spec, b / "shrink"), want=expected["signature"])
        except RigError as exc:
            printer(f"shrink {b.name}: {exc}")
            continue
        (b / "shrunk.yaml").write_text(result.text())
        printer(f"shrink {b.name}: {result.steps_before} -> {result.steps_after} steps in "
                f"{result.elapsed_s:.1f} s: {b / 'shrunk.yaml'}")
        out.append(b / "shrunk.yaml")
    return out
