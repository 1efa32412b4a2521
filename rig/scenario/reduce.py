"""Candidates for shrinking a scenario (delta debugging over steps, then numeric arguments); pure.

A scenario here is its YAML data (a dict: name, vmo, steps, ...), so a candidate is written back
as a file exactly as a person would write it. Steps are removed in the ddmin manner (Zeller and
Hildebrandt, "Simplifying and Isolating Failure-Inducing Input"): split into n chunks, try each
chunk alone and each complement, and refine n. Numeric arguments (step ranges, sizes, the VMO's
pages) are lowered towards 0. `expect:` and `data:` are never touched: they are what the
failure is judged by. Whether a candidate still fails is the caller's question (an oracle).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

Scenario = dict[str, Any]
KEEP_KEYS = ("expect", "data")  # step keys never shrunk


def with_steps(scenario: Scenario, keep: Sequence[int]) -> Scenario:
    """A copy of ``scenario`` with only the steps at indexes ``keep`` (in order)."""
    out = copy.deepcopy(scenario)
    steps = scenario.get("steps", [])
    out["steps"] = [copy.deepcopy(steps[i]) for i in keep]
    return out


def chunks(items: Sequence[int], n: int) -> list[list[int]]:
    """``items`` split into ``n`` nearly equal consecutive chunks (fewer when items are few)."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    out, at = [], 0
    for k in range(n):
        take = size + (1 if k < extra else 0)
        out.append(list(items[at:at + take]))
        at += take
    return [c for c in out if c]


def ddmin_candidates(kept: Sequence[int], n: int) -> list[list[int]]:
    """One ddmin round's candidates for the step indexes ``kept`` at granularity ``n``: each
    chunk alone, then each complement (the order ddmin prefers them)."""
    parts = chunks(kept, n)
    subsets = [p for p in parts if len(p) < len(kept)]
    complements = [[i for i in kept if i not in p] for p in parts] if len(parts) > 2 else []
    seen: set[tuple[int, ...]] = set()
    out = []
    for c in [*subsets, *complements]:
        if c and tuple(c) not in seen and len(c) < len(kept):
            seen.add(tuple(c))
            out.append(c)
    return out


@dataclass(frozen=True)
class Number:
    """Where one shrinkable number is: path of keys/indexes from the scenario root."""

    path: tuple[str | int, ...]
    value: int


def numbers(scenario: Scenario) -> list[Number]:
    """Every shrinkable number: the VMO's pages and each step's numeric arguments."""
    out = []
    vmo = scenario.get("vmo")
    if isinstance(vmo, dict) and isinstance(vmo.get("pages"), int):
        out.append(Number(("vmo", "pages"), vmo["pages"]))
    for i, step in enumerate(scenario.get("steps", [])):
        if not isinstance(step, dict):
            continue
        for key, arg in step.items():
            if key in KEEP_KEYS:
                continue
            if isinstance(arg, bool):
                continue
            if isinstance(arg, int):
                out.append(Number(("steps", i, key), arg))
            elif isinstance(arg, list):
                out += [Number(("steps", i, key, k), v) for k, v in enumerate(arg)
                        if isinstance(v, int) and not isinstance(v, bool)]
            elif isinstance(arg, dict):
                out += [Number(("steps", i, key, k), v) for k, v in arg.items()
                        if isinstance(v, int) and not isinstance(v, bool)]
    return [n for n in out if n.value > 0]


def smaller_values(value: int) -> list[int]:
    """Values to try instead of ``value``, smallest first (a binary search's steps)."""
    return sorted({v for v in (0, 1, value // 4, value // 2, value * 3 // 4, value - 1)
                   if 0 <= v < value})


def set_number(scenario: Scenario, path: Sequence[str | int], value: int) -> Scenario:
    out = copy.deepcopy(scenario)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def number_candidates(scenario: Scenario) -> Iterator[tuple[Number, int, Scenario]]:
    """Every scenario with one number lowered."""
    for num in numbers(scenario):
        for v in smaller_values(num.value):
            yield num, v, set_number(scenario, num.path, v)
