"""Verdicts: a parsed serial log against the reference model and the scenarios' ``expect:``.

Pure: the build manifest, the scenario files and a :class:`rig.protocol.ParsedLog` in, a
:class:`RunVerdict` out, plus text and JSON renderings of it. ``rig check-log`` and the live
runner both use exactly this code. A test failure is a verdict here, never an exception.
"""

from __future__ import annotations

import enum
import logging
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Any

from rig import zx
from rig.errors import InputError
from rig.judge.manifest import Manifest
from rig.judge.protocol import AnomalyKind, ParsedLog, Record, ranges_text
from rig.model.predict import ScenarioPrediction, StepPrediction, predict
from rig.scenario.loader import Scenario, ScenarioFile, Step

LOG = logging.getLogger(__name__)

# Syscalls only the next vDSO has on some kernels (zircon-facts.md section 1.1).
NEXT_VDSO_SYSCALLS = frozenset({"zx_pager_query_dirty_ranges", "zx_pager_query_vmo_stats"})
NEXT_VDSO_HINT = "boot with kernel.vdso.always_use_next=true"
FIELDS = ("status", "actual", "avail", "ranges", "calls", "modified")


class Outcome(enum.Enum):
    PASS = "PASS"
    FAIL = "FAIL"  # a result differs from the model (or the scenario's expect:)
    SKIP = "SKIP"  # the syscall is not in this kernel's vDSO
    INCOMPLETE = "INCOMPLETE"  # records missing or damaged, or a log that just stops
    CRASH = "CRASH"  # a crash signature (rig.judge.crash) while the scenario ran
    HANG = "HANG"  # live timing only: the guest went silent while the scenario ran
    INFRA = "INFRA"  # QEMU or the toolchain failed: no verdict about the kernel


# Most severe first: a combination takes the first outcome present. A kernel finding (crash,
# hang, wrong result, lost records) outranks our own trouble (INFRA), which outranks a skip.
_PRECEDENCE = (Outcome.CRASH, Outcome.HANG, Outcome.FAIL, Outcome.INCOMPLETE, Outcome.INFRA,
               Outcome.SKIP, Outcome.PASS)


def combine_outcomes(outcomes: Iterable[Outcome]) -> Outcome:
    """The one place outcome precedence lives: CRASH > HANG > FAIL > INCOMPLETE > INFRA > SKIP
    > PASS.

    A scenario with any failed step failed; else one with any record missing is incomplete
    (never a pass); else one with a skipped step is skipped (its query never ran); else it
    passed. The same rule combines scenarios (and run-level problems) into the run's outcome.
    Nothing to combine is a PASS.
    """
    present = set(outcomes)
    return next((o for o in _PRECEDENCE if o in present), Outcome.PASS)


# ---------------------------------------------------------------------------------------------
# Verdict shapes


@dataclass(frozen=True)
class FieldDiff:
    """One field that differs: what the model and/or ``expect:`` wanted, what came back."""

    field: str
    expected: object
    actual: object
    source: str  # "model", "expect" or "model+expect"


@dataclass(frozen=True)
class Observed:
    """What the guest reported for one step (None: field not printed)."""

    status: int | None = None
    actual: int | None = None
    avail: int | None = None
    ranges: tuple[tuple[int, int, int], ...] | None = None
    calls: int | None = None
    modified: int | None = None
    skipped: str | None = None  # the syscall a `skip` record named
    stop: str | None = None  # query_all: why the loop ended early (`stop=` of the record)


@dataclass(frozen=True)
class StepVerdict:
    index: int
    op: str
    where: str  # file:line of the step
    outcome: Outcome
    reason: str = ""
    diffs: tuple[FieldDiff, ...] = ()
    observed: Observed | None = None


@dataclass(frozen=True)
class ScenarioVerdict:
    index: int
    name: str
    file: str
    outcome: Outcome
    reason: str = ""
    steps: tuple[StepVerdict, ...] = ()
    where: str = ""  # file:line of the scenario


@dataclass(frozen=True)
class RunVerdict:
    outcome: Outcome
    manifest: Manifest
    scenarios: tuple[ScenarioVerdict, ...]
    problems: tuple[tuple[Outcome, str], ...] = ()  # run-level: no bye, a wrong program, ...
    warnings: tuple[str, ...] = ()  # anomalies that change no verdict by themselves
    records: int = 0
    nonce: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    dropped: int = 0  # records lost in sequence gaps

    @property
    def ok(self) -> bool:
        """Exit 0: every scenario passed or was skipped for a stated reason."""
        return self.outcome in (Outcome.PASS, Outcome.SKIP)


# ---------------------------------------------------------------------------------------------
# Grouping records by scenario


@dataclass
class _ScenarioRecords:
    sbeg: Record | None = None
    err: Record | None = None
    send: Record | None = None
    steps: dict[int, Record] = field(default_factory=dict)  # step or skip, by t
    rng: dict[int, list[Record]] = field(default_factory=dict)
    extra: list[str] = field(default_factory=list)  # protocol problems inside the scenario
    first_seq: int | None = None
    last_seq: int | None = None


def _group(parsed: ParsedLog) -> tuple[dict[int, _ScenarioRecords], list[str]]:
    groups: dict[int, _ScenarioRecords] = {}
    loose: list[str] = []
    for record in parsed.records:
        if record.kind in ("hello", "bye"):
            continue
        s = record.number("s")
        if s is None or s < 0:
            loose.append(f"seq {record.seq} ({record.kind}) has no scenario number")
            continue
        g = groups.setdefault(s, _ScenarioRecords())
        g.first_seq = record.seq if g.first_seq is None else min(g.first_seq, record.seq)
        g.last_seq = record.seq if g.last_seq is None else max(g.last_seq, record.seq)
        if record.kind in ("sbeg", "err", "send"):
            if getattr(g, record.kind) is not None:
                g.extra.append(f"second {record.kind} record (seq {record.seq})")
            else:
                setattr(g, record.kind, record)
            continue
        t = record.number("t")
        if t is None or t < 0:
            g.extra.append(f"seq {record.seq} ({record.kind}) has no step number")
            continue
        if record.kind == "rng":
            g.rng.setdefault(t, []).append(record)
        elif t in g.steps:
            g.extra.append(f"step {t} reported twice (seq {g.steps[t].seq} and {record.seq})")
        else:
            g.steps[t] = record
    return groups, loose


def _observe(record: Record, rngs: Sequence[Record]) -> tuple[Observed, str]:
    """The step's result, and what is missing from it ('' when complete)."""
    if record.kind == "skip":
        return Observed(skipped=record.get("sys") or "?"), ""
    nr = record.number("nr")
    ranges: tuple[tuple[int, int, int], ...] | None = None
    missing = ""
    if nr is not None:
        slots: dict[int, tuple[int, int, int]] = {}
        for rng in rngs:
            at = rng.number("at")
            if at is None:
                continue
            for k, r in enumerate(rng.ranges):
                slots.setdefault(at + k, r)
        # nr is the guest's word (untrusted): the work here follows the records, not nr.
        if nr > len(slots) or any(k not in slots for k in range(nr)):
            first = next(k for k in range(len(slots) + 1) if k not in slots)
            last = nr - 1
            while last in slots:
                last -= 1
            missing = f"ranges {first}..{last} of {nr} lost (rng records missing)"
        else:
            ranges = tuple(slots[k] for k in range(nr))
        if any(k >= nr for k in slots):
            missing = missing or f"rng records carry more than nr={nr} ranges"
    observed = Observed(status=record.number("st"), actual=record.number("actual"),
                        avail=record.number("avail"), ranges=ranges,
                        calls=record.number("calls"), modified=record.number("modified"),
                        stop=record.get("stop"))
    return observed, missing


# ---------------------------------------------------------------------------------------------
# Comparing


def _show(key: str, value: object) -> str:
    if value is None:
        return "not reported"
    if key == "status" and isinstance(value, int):
        return zx.status_name(value)
    if key == "ranges" and isinstance(value, tuple):
        ps = zx.PAGE_SIZE
        return "[" + ", ".join(
            f"[{o // ps}, {n // ps}, {x}]" if o % ps == 0 and n % ps == 0 else f"[{o}B, {n}B, {x}]"
            for o, n, x in value) + "]"
    return str(value)


def _skip_reason(sys: str, pred: StepPrediction, profile: str) -> str:
    if pred.unavailable is not None:
        return f"{sys} is not in the vDSO (predicted: profile {profile} lacks it)"
    hint = f"; {NEXT_VDSO_HINT}" if sys in NEXT_VDSO_SYSCALLS else ""
    return f"{sys} missing from the vDSO this program got{hint}"


# query_all's `stop=`: the guest ended the documented loop before actual == avail.
_STOP_TEXT = {
    "bound": "the loop made {calls} calls, the rig's bound, without actual == avail",
    "noprogress": "the loop stopped at call {calls}: its last range ended at or before the "
                  "offset it asked from",
}


def _compare_step(step: Step, pred: StepPrediction, observed: Observed, profile: str,
                  where: str) -> StepVerdict:
    base = StepVerdict(step.index, step.op, where, Outcome.PASS, observed=observed)
    if observed.skipped is not None:
        sys = observed.skipped
        if pred.unavailable is None and sys not in NEXT_VDSO_SYSCALLS:
            # Only the @next syscalls can be missing from a vDSO the profile runs on; any
            # other "missing" one means the runtime's vDSO lookup went wrong, and a SKIP
            # (exit 0) would hide that.
            diff = FieldDiff("syscall", f"{sys} in the vDSO", f"{sys} not found", "model")
            return replace(base, outcome=Outcome.FAIL, diffs=(diff,),
                           reason=f"the program found no {sys} in its vDSO, which every "
                                  f"kernel of profile {profile} has: a vDSO symbol lookup "
                                  "problem in the guest runtime (see hello vdso=)")
        return replace(base, outcome=Outcome.SKIP, reason=_skip_reason(sys, pred, profile))
    if pred.unavailable is not None:
        diff = FieldDiff("syscall", f"{pred.unavailable} unavailable", "the kernel ran it",
                         "model")
        return replace(base, outcome=Outcome.FAIL, diffs=(diff,),
                       reason=f"profile {profile} has no {pred.unavailable}, but the kernel "
                              "ran it: is the build's ABI profile right?")
    diffs: list[FieldDiff] = []
    expect = step.expect
    for key in FIELDS:
        got = getattr(observed, key)
        wants: dict[object, list[str]] = {}
        model_value = getattr(pred, key)
        if model_value is not None:
            wants.setdefault(model_value, []).append("model")
        if expect is not None and getattr(expect, key) is not None:
            wants.setdefault(getattr(expect, key), []).append("expect")
        for want, sources in wants.items():
            if want != got:
                diffs.append(FieldDiff(key, want, got, "+".join(sources)))
    if diffs:
        reason = "; ".join(f"{d.field}: expected {_show(d.field, d.expected)} ({d.source}), "
                           f"got {_show(d.field, d.actual)}" for d in diffs)
        if observed.stop in _STOP_TEXT:
            reason += f" ({_STOP_TEXT[observed.stop].format(calls=observed.calls)})"
        return replace(base, outcome=Outcome.FAIL, reason=reason, diffs=tuple(diffs))
    return base


def _span_gaps(g: _ScenarioRecords, parsed: ParsedLog,
               next_first: int | None) -> list[tuple[int, int]]:
    """Lost sequence numbers inside this scenario's records (sbeg .. send), as ranges."""
    if g.first_seq is None:
        return []
    end = g.send.seq if g.send is not None else (next_first if next_first is not None
                                                  else (g.last_seq or 0) + 1)
    return [(max(a, g.first_seq + 1), min(b, end - 1)) for a, b in parsed.gaps
            if a < end and b > g.first_seq]


def compare_scenario(scenario: Scenario, prediction: ScenarioPrediction, index: int, file: str,
                     g: _ScenarioRecords | None, gaps: Sequence[tuple[int, int]], *,
                     log_complete: bool) -> ScenarioVerdict:
    """Verdict of one scenario from its records (None: the log has none of them)."""
    head = ScenarioVerdict(index, scenario.name, file, Outcome.PASS,
                           where=str(scenario.location))
    where = {s.index: str(s.location) for s in scenario.steps}
    if g is None or (g.sbeg is None and not g.steps and g.err is None and g.send is None):
        why = ("no records of this scenario (log ended before it)" if not log_complete
               else "no records of this scenario (lost)")
        return replace(head, outcome=Outcome.INCOMPLETE, reason=why)
    problems = list(g.extra)
    if g.sbeg is None:
        problems.append("sbeg record lost")
    elif g.sbeg.get("name") != scenario.name:
        return replace(head, outcome=Outcome.FAIL,
                       reason=f"records of scenario {index} name '{g.sbeg.get('name')}', the "
                              f"build has '{scenario.name}': wrong build directory?")
    if gaps:
        lost = sum(b - a + 1 for a, b in gaps)
        problems.append(f"{lost} records lost inside the scenario (seq {ranges_text(gaps)})")
    if g.send is None:
        problems.append("no send record (" + ("lost" if log_complete else "log ended early")
                        + ")")
    # Setup.
    expected_err = prediction.setup_error
    if g.err is not None or expected_err is not None:
        got = (g.err.get("what"), g.err.number("st")) if g.err is not None else None
        if got == expected_err:
            outcome = Outcome.INCOMPLETE if problems else Outcome.PASS
            shown = f"setup failed as predicted: {got[0]} {zx.status_name(got[1] or 0)}" \
                if got else ""
            return replace(head, outcome=outcome, reason="; ".join(problems) or shown)
        if g.err is None and not g.steps and problems:
            # The predicted err may be among the lost records: nothing shows setup succeeded.
            return replace(head, outcome=Outcome.INCOMPLETE, reason="; ".join(problems))
        want = (f"err what={expected_err[0]} st={zx.status_name(expected_err[1])}"
                if expected_err else "setup succeeds")
        have = (f"err what={got[0]} st={zx.status_name(got[1] or 0)}" if got
                else "setup succeeded")
        return replace(head, outcome=Outcome.FAIL, reason=f"setup: expected {want}, got {have}")
    steps: list[StepVerdict] = []
    for step, pred in zip(scenario.steps, prediction.steps, strict=False):
        record = g.steps.get(step.index)
        if record is None:
            steps.append(StepVerdict(step.index, step.op, where[step.index], Outcome.INCOMPLETE,
                                     "no record of this step (lost, or the log ended)"))
            continue
        observed, missing = _observe(record, g.rng.get(step.index, ()))
        if missing:
            steps.append(StepVerdict(step.index, step.op, where[step.index], Outcome.INCOMPLETE,
                                     missing, observed=observed))
            continue
        steps.append(_compare_step(step, pred, observed, prediction.profile, where[step.index]))
    unknown = sorted(t for t in {*g.steps, *g.rng} if t >= len(scenario.steps))
    if unknown:
        problems.append(f"records for step{'s' if len(unknown) > 1 else ''} "
                        f"{', '.join(map(str, unknown))}, which the scenario does not have "
                        f"(it has {len(scenario.steps)}): wrong build directory?")
    if g.send is not None and g.send.number("steps") != len(scenario.steps):
        problems.append(f"send says {g.send.get('steps')} steps, the scenario has "
                        f"{len(scenario.steps)}")
    outcomes = [s.outcome for s in steps] + ([Outcome.INCOMPLETE] if problems else [])
    outcome = combine_outcomes(outcomes)
    reasons = list(problems)
    for label, which in (("failed", Outcome.FAIL), ("incomplete", Outcome.INCOMPLETE),
                         ("skipped", Outcome.SKIP)):
        idx = [str(s.index) for s in steps if s.outcome is which]
        if idx:
            reasons.append(f"step{'s' if len(idx) > 1 else ''} {', '.join(idx)} {label}")
    skips = sorted({s.reason for s in steps if s.outcome is Outcome.SKIP})
    reasons.extend(skips)
    return replace(head, outcome=outcome, reason="; ".join(reasons), steps=tuple(steps))


def find_scenarios(manifest: Manifest, files: Sequence[ScenarioFile]) -> list[Scenario]:
    """The scenario behind each manifest entry, by file and name (names are unique only within
    a file, as the contract asks; the copies in DIR/scenarios/ have distinct file names).

    :raises InputError: a scenario of the manifest is in none of the files, or has another
        number of steps than the build had.
    """
    by_key = {(PurePath(f.path).name, s.name): s for f in files for s in f.scenarios}
    out = []
    for entry in manifest.scenarios:
        scenario = by_key.get((PurePath(entry.file).name, entry.name))
        if scenario is None:
            raise InputError(f"manifest scenario {entry.index} '{entry.name}' (from "
                             f"{entry.file}) is in none of the scenario files given; the "
                             "build directory's scenarios/ must hold the files it was built from")
        if len(scenario.steps) != entry.steps:
            raise InputError(f"{scenario.location}: scenario '{entry.name}' has "
                             f"{len(scenario.steps)} steps, the build had {entry.steps}: the "
                             "scenario file changed since the build; rebuild")
        out.append(scenario)
    return out


def compare_run(manifest: Manifest, scenario_files: Sequence[ScenarioFile],
                parsed: ParsedLog) -> RunVerdict:
    """Verdict of a whole run.

    :raises InputError: the scenario files do not match the manifest (see find_scenarios).
    """
    scenarios = find_scenarios(manifest, scenario_files)
    predictions = [predict(s, manifest.abi) for s in scenarios]
    groups, loose = _group(parsed)
    bye = parsed.bye
    hello = parsed.hello
    log_complete = bye is not None
    problems: list[tuple[Outcome, str]] = []
    warnings = [str(a) for a in parsed.anomalies if a.kind is not AnomalyKind.GAP]
    warnings.extend(loose)
    if parsed.nonce is None:
        problems.append((Outcome.INCOMPLETE, "no record of this build in the log (nonce "
                         f"{' or '.join(manifest.nonces)})"))
    elif parsed.nonce != manifest.nonce:
        warnings.insert(0, f"records carry the program's built-in id {parsed.nonce}, not the "
                        f"build's nonce {manifest.nonce}: the image was booted without the "
                        "build's command line")
    if hello is None and parsed.nonce is not None:
        problems.append((Outcome.INCOMPLETE, "hello record lost"))
    if hello is not None:
        if hello.get("prog") != manifest.builtin_nonce:
            problems.append((Outcome.FAIL, f"hello says program {hello.get('prog')}, the "
                             f"build is {manifest.builtin_nonce}: another program printed "
                             "records with this build's nonce"))
        page = hello.number("page")
        if page is not None and page != zx.PAGE_SIZE:
            problems.append((Outcome.FAIL, f"the kernel's page size is {page}; scenarios and "
                             f"the model count pages of {zx.PAGE_SIZE} bytes"))
        if hello.number("scenarios") != len(manifest.scenarios):
            problems.append((Outcome.FAIL, f"hello says {hello.get('scenarios')} scenarios, "
                             f"the build has {len(manifest.scenarios)}"))
    if parsed.nonce is not None and bye is None:
        last = parsed.records[-1].seq if parsed.records else None
        problems.append((Outcome.INCOMPLETE, "no bye record: the log ended early (hang, crash "
                         f"or power-off) after seq {last}"))
    if bye is not None:
        if bye.number("records") != bye.seq:
            problems.append((Outcome.INCOMPLETE, f"bye says records={bye.get('records')} but "
                             f"is seq {bye.seq}"))
    firsts = {s: g.first_seq for s, g in groups.items()}
    verdicts = []
    for entry, scenario, prediction in zip(manifest.scenarios, scenarios, predictions,
                                           strict=True):
        g = groups.get(entry.index)
        later = [v for s, v in firsts.items() if s > entry.index and v is not None]
        gaps = _span_gaps(g, parsed, min(later) if later else None) if g else []
        verdicts.append(compare_scenario(scenario, prediction, entry.index, entry.file, g, gaps,
                                         log_complete=log_complete))
    extra = sorted(s for s in groups if s >= len(manifest.scenarios))
    if extra:
        problems.append((Outcome.FAIL, f"records of scenarios {extra} the build does not have"))
    if parsed.gaps:
        warnings.append(f"{parsed.dropped} records dropped in total (seq gaps)")
    outcome = combine_outcomes([v.outcome for v in verdicts] + [o for o, _ in problems])
    counts = {o.value: sum(1 for v in verdicts if v.outcome is o) for o in Outcome}
    return RunVerdict(outcome=outcome, manifest=manifest, scenarios=tuple(verdicts),
                      problems=tuple(problems), warnings=tuple(warnings),
                      records=len(parsed.records), nonce=parsed.nonce, counts=counts,
                      dropped=parsed.dropped)


# ---------------------------------------------------------------------------------------------
# Rendering


def _base(where: str) -> str:
    return where.replace("\\", "/").rsplit("/", 1)[-1]


def _observed_text(obs: Observed) -> str:
    """Everything the guest reported for a step, in the units of the scenario files."""
    parts = [f"{key} {_show(key, getattr(obs, key))}" for key in FIELDS
             if getattr(obs, key) is not None]
    return ", ".join(parts) or "nothing"


def reproduce_lines(verdict: RunVerdict, build_dir: str) -> list[str]:
    """Commands that re-run the build in ``build_dir`` and show what the model predicts for the
    scenario files that did not pass (empty for a run that is ok)."""
    if verdict.ok:
        return []
    build = shlex.quote(build_dir.rstrip("/") or ".")
    # The build directory's scenarios/ holds the files under their own names.
    files = sorted({_base(sv.file) for sv in verdict.scenarios
                    if sv.outcome is not Outcome.PASS and sv.outcome is not Outcome.SKIP})
    lines = ["to reproduce (boots the same image, then judges the new log):",
             f"  sh {build}/qemu.sh > serial.log 2>&1; rig check-log serial.log --build {build}"]
    if files:
        lines.append("what the model predicts, step by step, for the scenarios that did not "
                     "pass:")
        lines.extend(f"  rig expect {build}/scenarios/{shlex.quote(f)} --abi "
                     f"{verdict.manifest.abi}" for f in files)
    if verdict.dropped:
        lines.append(f"{verdict.dropped} records were lost on the console (the debuglog drops "
                     "records under load): rebuild with `rig build --output debug-write` for "
                     "lossless output")
    return lines


def render_text(verdict: RunVerdict, *, verbose: bool = True,
                build_dir: str | None = None) -> str:
    """A table per scenario and step, then the summary; ``verbose=False`` leaves out the
    steps that passed. With ``build_dir``, a run that is not ok ends with the commands that
    reproduce it (:func:`reproduce_lines`)."""
    m = verdict.manifest
    lines = [f"program {m.builtin_nonce}  profile {m.abi}  {m.arch}/{m.target}  "
             f"nonce {verdict.nonce or '-'}  records {verdict.records}"]
    if m.simulated:
        lines.append("  SIMULATED: the rig's own sim kernel ran this, not Zircon; these are "
                     "not kernel results")
    for outcome, text in verdict.problems:
        lines.append(f"  {outcome.value}: {text}")
    for text in verdict.warnings:
        lines.append(f"  warning: {text}")
    lines.append("")
    lines.append(f"{'#':>3}  {'scenario / step':<44} {'outcome':<10} detail")
    for sv in verdict.scenarios:
        label = f"{sv.name} ({_base(sv.where)})" if sv.where else sv.name
        lines.append(f"{sv.index:>3}  {label:<44} {sv.outcome.value:<10} {sv.reason}")
        for st in sv.steps:
            if st.outcome is Outcome.PASS and not verbose:
                continue
            label = f"  step {st.index} {st.op} ({_base(st.where)})"
            lines.append(f"{'':>3}  {label:<44} {st.outcome.value:<10} {st.reason}")
            if st.outcome is Outcome.FAIL and st.observed is not None:
                lines.append(f"{'':>3}  {'':<44} {'':<10} kernel returned: "
                             f"{_observed_text(st.observed)}")
    c = verdict.counts
    lines.append("")
    lines.append(f"{verdict.outcome.value}: {len(verdict.scenarios)} scenarios: "
                 f"{c.get('PASS', 0)} passed, {c.get('FAIL', 0)} failed, "
                 f"{c.get('SKIP', 0)} skipped, {c.get('INCOMPLETE', 0)} incomplete")
    if build_dir is not None and not verdict.ok:
        lines.append("")
        lines.extend(reproduce_lines(verdict, build_dir))
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _json_value(key: str, value: object) -> Any:
    if key == "ranges" and isinstance(value, tuple):
        return [list(r) for r in value]
    return value


def verdict_to_json(verdict: RunVerdict) -> dict[str, Any]:
    """The same content as :func:`render_text`, every step included, as JSON-ready data."""
    m = verdict.manifest

    def step(st: StepVerdict) -> dict[str, Any]:
        obs = st.observed
        return {
            "index": st.index, "op": st.op, "where": st.where, "outcome": st.outcome.value,
            "reason": st.reason,
            "diffs": [{"field": d.field, "expected": _json_value(d.field, d.expected),
                       "actual": _json_value(d.field, d.actual), "source": d.source}
                      for d in st.diffs],
            "observed": None if obs is None else {
                k: _json_value(k, getattr(obs, k)) for k in (*FIELDS, "skipped", "stop")},
        }

    return {
        "outcome": verdict.outcome.value,
        "ok": verdict.ok,
        "program_id": m.program_id, "nonce": verdict.nonce, "abi": m.abi, "arch": m.arch,
        "target": m.target, "simulated": m.simulated, "records": verdict.records,
        "counts": dict(verdict.counts),
        "problems": [{"outcome": o.value, "text": t} for o, t in verdict.problems],
        "warnings": list(verdict.warnings),
        "dropped": verdict.dropped,
        "scenarios": [{"index": sv.index, "name": sv.name, "file": sv.file,
                       "where": sv.where, "outcome": sv.outcome.value, "reason": sv.reason,
                       "steps": [step(st) for st in sv.steps]} for sv in verdict.scenarios],
    }
