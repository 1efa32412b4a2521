"""Join the result.json of several runs (the shards of one suite, or the parts of a run spread
over hosts) into one rig.run/1 result. Pure: dictionaries in, a dictionary out.

Per arch, the parts' scenarios are joined in file-name order (each part's own order within a
file), counts and outcomes recomputed with the one precedence rule (rig.judge.compare), boots
listed with the part they came from, QEMU time summed. Parts must agree on what they ran (target,
profile, simulated); a scenario decided by two parts is an error, unless ``replace_infra`` lets a
later part's verdict replace an INFRA one (a part rerun on another host). Each scenario keeps
its index in its part's program and gains ``part``; its ``file`` names the copy in its part's
build directory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

from rig.errors import EXIT_ENVIRONMENT, EXIT_OK, EXIT_TEST_FAILED, InputError
from rig.judge.compare import Outcome, combine_outcomes
from rig.judge.shard import file_key

RUN_SCHEMA = "rig.run/1"
_MUST_AGREE = ("target", "simulated", "abi")


def exit_status(outcome: Outcome) -> int:
    if outcome in (Outcome.PASS, Outcome.SKIP):
        return EXIT_OK
    if outcome is Outcome.INFRA:
        return EXIT_ENVIRONMENT
    return EXIT_TEST_FAILED


def scenario_key(arch: str, s: Mapping[str, Any]) -> tuple[str, str, str]:
    """What identifies a scenario across parts: arch, file name, scenario name."""
    return (arch, file_key(s.get("file", "")), str(s.get("name")))


def merge_results(parts: Sequence[Mapping[str, Any]], *, sources: Sequence[str] = (),
                  replace_infra: bool = False) -> dict[str, Any]:
    """One result from ``parts`` (``sources`` names them in messages and in the result).

    :raises InputError: not rig.run/1 results, parts that disagree, a scenario run twice.
    """
    names = list(sources) or [f"part {i + 1}" for i in range(len(parts))]
    if not parts:
        raise InputError("rig merge: nothing to merge: give the result.json of each shard")
    arches: dict[str, dict[str, Any]] = {}
    chosen: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = {}
    for k, (part, name) in enumerate(zip(parts, names, strict=True)):
        if part.get("schema") != RUN_SCHEMA:
            raise InputError(f"{name}: schema {part.get('schema')!r}, wanted {RUN_SCHEMA}")
        for a in part.get("arches", []):
            arch = str(a["arch"])
            into = arches.get(arch)
            if into is None:
                into = {key: v for key, v in a.items() if key not in ("scenarios", "boots")}
                into.update(builds=[], boots=[], qemu_s=0.0)
                arches[arch] = into
            for key in _MUST_AGREE:
                if into.get(key) != a.get(key):
                    raise InputError(f"{name}: {arch} ran with {key} {a.get(key)!r} but an "
                                     f"earlier part with {into.get(key)!r}: merge runs of one "
                                     "suite, target and profile")
            into["builds"].append(a.get("build"))
            into["qemu_s"] = round(into["qemu_s"] + float(a.get("qemu_s", 0.0)), 3)
            into["boots"] += [{**b, "part": k} for b in a.get("boots", [])]
            build = a.get("build")
            for s in a.get("scenarios", []):
                skey = scenario_key(arch, s)
                entry = {**s, "part": k}
                file = str(s.get("file", ""))
                if build and file and not PurePath(file).is_absolute():
                    # The parts have builds of their own: name the scenario's copy in its own
                    # (a consumer joining the arch's "build" with it still lands there).
                    entry["file"] = str(PurePath(str(build)) / file)
                if skey in chosen:
                    earlier = chosen[skey][1]
                    if not (replace_infra and earlier.get("outcome") == "INFRA"):
                        raise InputError(f"{name}: {arch} scenario {skey[2]!r} of {skey[1]} was "
                                         f"also run by {names[chosen[skey][0]]}: shards must not "
                                         "overlap")
                chosen[skey] = (k, entry)
    out_arches = []
    for arch, into in arches.items():
        entries = [e for (a, _, _), (_, e) in chosen.items() if a == arch]
        # Stable: file name, then each part's own order.
        entries.sort(key=lambda e: (file_key(e.get("file", "")), e.get("part", 0),
                                    e.get("index", 0)))
        outcomes = [Outcome(e["outcome"]) for e in entries]
        into["scenarios"] = entries
        into["counts"] = {o.value: outcomes.count(o) for o in Outcome}
        into["outcome"] = combine_outcomes(outcomes).value
        into["build"] = into["builds"][0] if into["builds"] else None
        out_arches.append(into)
    outcome = combine_outcomes([Outcome(a["outcome"]) for a in out_arches] or [Outcome.INFRA])
    interrupted = any(bool(p.get("interrupted")) for p in parts)
    if interrupted:
        outcome = combine_outcomes([outcome, Outcome.INCOMPLETE])
    return {"schema": RUN_SCHEMA, "rig_version": parts[0].get("rig_version"),
            "outcome": outcome.value, "exit_status": exit_status(outcome),
            "interrupted": interrupted,
            "wall_s": max(float(p.get("wall_s", 0.0)) for p in parts),
            "merged_from": names, "arches": out_arches}


def outcomes_by_scenario(result: Mapping[str, Any]) -> dict[tuple[str, str, str], str]:
    """(arch, file name, scenario name) -> outcome: what a merged and an unsharded run of one
    suite must agree on."""
    return {scenario_key(a["arch"], s): s["outcome"]
            for a in result.get("arches", []) for s in a.get("scenarios", [])}
