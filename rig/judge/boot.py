"""Judge one boot: the records (rig.judge.compare) plus how the boot ended (crash, hang, infra).

Pure. The runner calls it with what it saw live (a crash signature, a timeout); `rig
check-log` calls it with the crash scanner run over a captured log and no timing, so a
captured log is judged as a live run would be, less the hang. A boot started with
`rig.start=<k>` ran only scenarios k and later: the earlier ones are not part of its verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from rig.judge.compare import Outcome, RunVerdict, ScenarioVerdict, combine_outcomes, compare_run
from rig.judge.crash import Crash, CrashKind, CrashScanner, numbered
from rig.judge.manifest import Manifest
from rig.judge.protocol import ParsedLog, parse_log
from rig.scenario.loader import ScenarioFile


class BootEnd(enum.Enum):
    COMPLETED = "completed"  # the program printed `bye`
    CRASH = "crash"  # a final crash signature
    HANG = "hang"  # a timeout fired (live only)
    STOPPED = "stopped"  # the output ended without bye or crash (power-off, a cut log)
    INFRA = "infra"  # QEMU failed


@dataclass(frozen=True)
class BootVerdict:
    verdict: RunVerdict  # of this boot's scenarios only
    start: int
    end: BootEnd
    crash: Crash | None
    in_progress: int | None  # the scenario running when the boot ended badly
    reached: frozenset[int]  # scenarios whose sbeg this boot printed
    reason: str = ""


def scenario_at(parsed: ParsedLog, line: int | None) -> int | None:
    """The scenario that had begun and not ended at console line ``line`` (or at the end)."""
    current = None
    for rec in parsed.records:
        if line is not None and rec.line > line:
            break
        s = rec.number("s")
        if rec.kind == "sbeg" and s is not None:
            current = s
        elif rec.kind == "send" and s == current:
            current = None
    return current


def find_crash(lines: Iterable[tuple[int, str]]) -> tuple[Crash | None, CrashScanner]:
    """The crash that ended the output (the first final signature), or the first non-final one.

    A user-mode crash takes the title of its fault report, which comes before userboot's exit
    status ("fatal exception in bin/rig-test" names it better than "exited with status -1028").
    """
    scanner = CrashScanner()
    crash = None
    for line_no, ln in lines:
        found = scanner.feed(ln, line_no)
        if found is not None and found.final:
            crash = found
            break
    if crash is None:
        return scanner.first, scanner
    if crash.kind is CrashKind.USER:
        users = [c for c in scanner.crashes if c.kind is CrashKind.USER]
        # The report that names the process wins, then the first fault line.
        report = next((c for c in users if c.signature == "user-fatal"), users[0])
        crash = replace(crash, title=report.title, signature=report.signature)
    return crash, scanner


def judge_boot(manifest: Manifest, files: Sequence[ScenarioFile], lines: Sequence[str], *,
               nonce: str, start: int = 0, end_index: int | None = None, hang: str | None = None,
               infra: str | None = None) -> BootVerdict:
    """The verdict of one boot's console output.

    ``hang`` is the live timeout that fired (None when the guest was not hung); ``infra`` what
    went wrong with QEMU, if anything.
    """
    text = [ln.rstrip("\r") for ln in lines]
    boot_manifest = replace(manifest, nonce=nonce)
    parsed = parse_log(text, nonces=boot_manifest.nonces)
    verdict = compare_run(boot_manifest, files, parsed)
    crash, _ = find_crash(numbered(text))
    return end_boot(verdict, parsed, crash, start=start, end_index=end_index, hang=hang,
                    infra=infra)


def end_boot(verdict: RunVerdict, parsed: ParsedLog, crash: Crash | None, *, start: int = 0,
             end_index: int | None = None, hang: str | None = None,
             infra: str | None = None) -> BootVerdict:
    """Fold how the boot ended into the records' verdict: the scenario running when the guest
    crashed, hung or lost QEMU gets CRASH, HANG or INFRA; scenarios before ``start`` (and from
    ``end_index`` on, for a slice of the suite) are not part of this boot."""
    reached = frozenset(s for r in parsed.records if r.kind == "sbeg"
                        for s in [r.number("s")] if s is not None)
    in_progress = None
    if infra is not None:
        end, reason = BootEnd.INFRA, infra
        in_progress = scenario_at(parsed, None)
    elif parsed.bye is not None and (crash is None or crash.line > parsed.bye.line):
        end, reason = BootEnd.COMPLETED, ""
        if crash is not None and crash.kind in (CrashKind.KERNEL, CrashKind.REBOOT):
            # The program finished, then the kernel died: the run still is not a pass.
            end, reason = BootEnd.CRASH, crash.title
    elif crash is not None:
        end, reason = BootEnd.CRASH, crash.title
        in_progress = scenario_at(parsed, crash.line)
    elif hang is not None:
        end, reason = BootEnd.HANG, hang
        in_progress = scenario_at(parsed, None)
    else:
        end, reason = BootEnd.STOPPED, "the output ended without the bye record"
        in_progress = scenario_at(parsed, None)

    scenarios = []
    for sv in verdict.scenarios:
        if sv.index < start or (end_index is not None and sv.index >= end_index):
            continue  # not run in this boot
        if sv.index == in_progress and end in (BootEnd.CRASH, BootEnd.HANG, BootEnd.INFRA):
            outcome = {BootEnd.CRASH: Outcome.CRASH, BootEnd.HANG: Outcome.HANG,
                       BootEnd.INFRA: Outcome.INFRA}[end]
            sv = replace(sv, outcome=outcome, reason=f"{reason}; {sv.reason}".rstrip("; "))
        scenarios.append(sv)
    problems = list(verdict.problems)
    if end is BootEnd.CRASH and (in_progress is None or parsed.bye is not None):
        problems.append((Outcome.CRASH, f"{reason} (outside any scenario)"))
    elif end is BootEnd.HANG and in_progress is None:
        problems.append((Outcome.HANG, reason))
    elif end is BootEnd.INFRA:
        problems.append((Outcome.INFRA, reason))
    outcome = combine_outcomes([s.outcome for s in scenarios] + [o for o, _ in problems])
    counts = {o.value: sum(1 for s in scenarios if s.outcome is o) for o in Outcome}
    judged = replace(verdict, outcome=outcome, scenarios=tuple(scenarios),
                     problems=tuple(problems), counts=counts)
    return BootVerdict(judged, start, end, crash, in_progress, reached, reason)


def merge_scenarios(boots: Sequence[BootVerdict], count: int) -> list[ScenarioVerdict | None]:
    """Per scenario index, the verdict that counts across boots: the first boot that decided it
    (ran it to its end, or crashed or hung in it); None for a scenario no boot reached."""
    out: list[ScenarioVerdict | None] = [None] * count
    for boot in boots:
        for sv in boot.verdict.scenarios:
            if not 0 <= sv.index < count or out[sv.index] is not None:
                continue
            decided = sv.index in boot.reached and (
                sv.outcome is not Outcome.INCOMPLETE or boot.end is BootEnd.COMPLETED
                or sv.index != boot.in_progress)
            if decided:
                out[sv.index] = sv
    return out
