"""KTAP (kernel TAP, version 1) of a run: one subtest per arch, one test per scenario; pure.

SKIP is `ok N name # SKIP reason`; every other outcome but PASS is `not ok`, with the outcome,
the reason and each failed step as `#` diagnostic lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rig.reports.collect import step_difference


def _name(text: object) -> str:
    # A KTAP test name ends at '#', and a line at a newline.
    return " ".join(str(text).replace("#", "_").split())


def _diag(text: object) -> str:
    return " ".join(str(text).split())


def render_ktap(result: Mapping[str, Any]) -> str:
    """The KTAP text of a `rig.run/1` result."""
    arches = result.get("arches", [])
    lines = ["KTAP version 1", f"1..{len(arches)}"]
    for n, a in enumerate(arches, 1):
        scenarios = a.get("scenarios", [])
        lines += ["    KTAP version 1", f"    # Subtest: {_name(a.get('arch'))}",
                  f"    1..{len(scenarios)}"]
        if a.get("simulated"):
            lines.append("    # SIMULATED: the rig's own sim kernel ran these, not Zircon")
        for k, s in enumerate(scenarios, 1):
            outcome, name, reason = s.get("outcome"), _name(s.get("name")), s.get("reason")
            if outcome == "PASS":
                lines.append(f"    ok {k} {name}")
            elif outcome == "SKIP":
                lines.append(f"    ok {k} {name} # SKIP {_diag(reason)}")
            else:
                lines.append(f"    # {outcome}: {_diag(reason)}")
                for st in s.get("steps", []):
                    if st.get("outcome") not in ("PASS", "SKIP"):
                        lines.append(f"    # {st.get('outcome')} {_diag(step_difference(st))}")
                lines.append(f"    not ok {k} {name}")
        ok = a.get("outcome") in ("PASS", "SKIP")
        lines.append(f"{'ok' if ok else 'not ok'} {n} {_name(a.get('arch'))}")
    return "\n".join(lines) + "\n"
