"""A failure's signature: what must stay the same for two failures to be the same bug; pure.

Reproducers compare a rerun's signature with the recorded one, and shrinking keeps a smaller
scenario only while its signature is unchanged. FAIL: the kind of the first failed step and
every field it got wrong, expected against actual (not its index: shrinking moves steps), or
the setup error. CRASH: the crash title (titles carry no addresses, rig.judge.crash). HANG,
INCOMPLETE: the outcome alone. PASS, SKIP and INFRA have none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rig.judge.compare import ScenarioVerdict

FAILING = ("FAIL", "CRASH", "HANG", "INCOMPLETE")


def scenario_json(sv: ScenarioVerdict) -> dict[str, Any]:
    """A verdict in the shape of a `rig.run/1` scenario (expected/actual as repr text)."""
    return {"index": sv.index, "name": sv.name, "file": sv.file, "where": sv.where,
            "outcome": sv.outcome.value, "reason": sv.reason,
            "steps": [{"index": st.index, "op": st.op, "outcome": st.outcome.value,
                       "where": st.where, "reason": st.reason,
                       "diffs": [{"field": d.field, "expected": repr(d.expected),
                                  "actual": repr(d.actual)} for d in st.diffs]}
                      for st in sv.steps]}


def signature(s: Mapping[str, Any]) -> str | None:
    """The signature of a scenario result (a `rig.run/1` scenario dict)."""
    outcome = str(s.get("outcome"))
    if outcome not in FAILING:
        return None
    if outcome == "CRASH":
        return "CRASH " + str(s.get("reason", "")).split(";")[0].strip()
    if outcome == "FAIL":
        for st in s.get("steps", []):
            if st.get("outcome") == "FAIL":
                diffs = sorted(f"{d.get('field')} expected {d.get('expected')} got "
                               f"{d.get('actual')}" for d in st.get("diffs", []))
                return f"FAIL {st.get('op')}: " + "; ".join(diffs)
        return "FAIL setup: " + str(s.get("reason", ""))
    return outcome
