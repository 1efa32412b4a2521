"""Which profile does this kernel behave like? One run's records judged against every profile.

Pure. For each profile the same console output is judged by the model of that profile, with
the scenarios' own `expect:` left out (they hold for one profile; the question here is the
model's). A step agrees when it passes, or when it was skipped because the profile lacks its
syscall; it disagrees when it fails, or when a syscall the profile has was missing. Steps that
never ran (incomplete, a crash) count for no profile. A scenario whose setup failed counts as
one step. Scenarios the model cannot predict on a profile (a step would block there) are left
out for that profile and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from rig.errors import ScenarioError
from rig.judge.boot import judge_boot, merge_scenarios
from rig.judge.compare import Outcome, find_scenarios
from rig.judge.manifest import Manifest
from rig.model.predict import predict
from rig.profiles import PROFILE_NAMES
from rig.scenario.loader import Scenario, ScenarioFile

FIRST_DIFFERENCES = 5  # shown per profile


@dataclass(frozen=True)
class BootLines:
    """One boot's console output and how it was started."""

    lines: Sequence[str]
    nonce: str
    start: int = 0


@dataclass(frozen=True)
class ProfileScore:
    profile: str
    agree: int
    disagree: int
    unpredictable: int  # scenarios left out: a step would block on this profile
    first_differences: tuple[str, ...]

    @property
    def judged(self) -> int:
        return self.agree + self.disagree


def _without_expect(files: Sequence[ScenarioFile]) -> list[ScenarioFile]:
    return [replace(f, scenarios=tuple(
        replace(s, steps=tuple(replace(st, expect=None) for st in s.steps))
        for s in f.scenarios)) for f in files]


def score_profile(manifest: Manifest, files: Sequence[ScenarioFile],
                  boots: Sequence[BootLines], profile: str) -> ProfileScore:
    """How well ``profile``'s model explains the boots' records."""
    files = _without_expect(files)
    scenarios: list[Scenario] = find_scenarios(manifest, files)
    keep = []
    unpredictable = 0
    for entry, scenario in zip(manifest.scenarios, scenarios, strict=True):
        try:
            prediction = predict(scenario, profile)
        except ScenarioError:
            unpredictable += 1
            continue
        keep.append((entry, scenario, prediction))
    m = replace(manifest, abi=profile, scenarios=tuple(e for e, _, _ in keep))
    verdicts = [judge_boot(m, files, b.lines, nonce=b.nonce, start=b.start) for b in boots]
    merged = merge_scenarios(verdicts, len(manifest.scenarios))
    agree = disagree = 0
    firsts: list[str] = []
    for entry, _scenario, prediction in keep:
        sv = merged[entry.index]
        if sv is None:
            continue
        if not sv.steps:  # a setup error (or none of its steps ran)
            if sv.outcome is Outcome.PASS:
                agree += 1
            elif sv.outcome is Outcome.FAIL:
                disagree += 1
                firsts.append(f"{sv.name}: {sv.reason}")
            continue
        for st, pred in zip(sv.steps, prediction.steps, strict=False):
            if st.outcome is Outcome.PASS or (st.outcome is Outcome.SKIP
                                              and pred.unavailable is not None):
                agree += 1
            elif st.outcome in (Outcome.FAIL, Outcome.SKIP):
                disagree += 1
                firsts.append(f"{sv.name} step {st.index} {st.op}: {st.reason}")
    return ProfileScore(profile, agree, disagree, unpredictable,
                        tuple(firsts[:FIRST_DIFFERENCES]))


def score_profiles(manifest: Manifest, files: Sequence[ScenarioFile],
                   boots: Sequence[BootLines],
                   profiles: Sequence[str] = PROFILE_NAMES) -> list[ProfileScore]:
    """Every profile's score, best first (most agreeing steps, then fewest disagreeing)."""
    scores = [score_profile(manifest, files, boots, p) for p in profiles]
    return sorted(scores, key=lambda s: (s.disagree, -s.agree))


def best_profile(scores: Sequence[ProfileScore]) -> str | None:
    """The one profile that explains the records best; None on a tie or with nothing judged."""
    if not scores or scores[0].judged == 0:
        return None
    top = scores[0]
    if len(scores) > 1 and (scores[1].disagree, scores[1].agree) == (top.disagree, top.agree):
        return None
    return top.profile


def render_scores(scores: Sequence[ProfileScore], *, title: str) -> str:
    best = best_profile(scores)
    lines = [f"{title}: behaves like profile {best}" if best else
             f"{title}: no single profile explains the records best"]
    for s in scores:
        extra = f", {s.unpredictable} scenarios left out (blocking there)" \
            if s.unpredictable else ""
        lines.append(f"  {s.profile}: {s.agree} of {s.judged} steps agree{extra}")
        lines += [f"    differs: {d}" for d in s.first_differences]
    return "\n".join(lines) + "\n"
