"""Seeded random scenarios for differential tests (the sim against the model); pure.

``generate_scenarios(seed, count, problems)`` returns ``count`` scenarios, each as the YAML text
of a one-scenario file and the parsed ``Scenario``. The same seed always gives the same
scenarios. Every scenario mixes the step kinds of the contract (every handle variant, query
option and ``data`` value the suite knows, out-of-range and unaligned ranges, resizes, detach),
on small VMOs and now and then a 2^36-page one, with or without ``trap_dirty``/``resizable``.

A scenario must also pass ``rig validate``: no step may block on a page request, and the guest
must be able to build it. Those checks live above this module (the model, codegen), so the
caller passes them in as ``problems`` (``validation_problems`` + ``construction_problems``); a
step they name is dropped and the scenario checked again. The generator steers towards valid
scenarios (it supplies before it writes, dirties before it writes a trap_dirty VMO), so few
steps are dropped.

Every other step whose range reaches past the VMO carries ``expect: {status:
ZX_ERR_OUT_OF_RANGE}``; the rest have no ``expect:`` (the contract lets the model decide; the
loader only warns). On 2020/2022 a COMMIT or OP_ZERO that only partly fits is trimmed and
succeeds, so ``rig expect`` may disagree with such a line: the differential tests compare the
sim with the model and ignore ``expect:``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rig.errors import ScenarioError
from rig.scenario.loader import Scenario, ScenarioFile, parse_scenarios

Problems = Callable[[ScenarioFile], Sequence[str]]

HUGE_PAGES = 1 << 36
_STEP_RE = re.compile(r"step (\d+) \(")

_FAIL_DATA = ("ZX_ERR_IO_DATA_INTEGRITY", "ZX_ERR_BAD_STATE", "ZX_ERR_NO_SPACE",
              "ZX_ERR_BUFFER_TOO_SMALL", "ZX_ERR_INTERNAL", "100", "0x11ffffffff")
_PAGER_VARIANTS = ("invalid", "closed", "wrong_type", "other_pager")
_VMO_VARIANTS = ("invalid", "closed", "wrong_type", "other_pager", "plain_vmo", "clone", "slice",
                 "no_rights")
_KINDS = (  # (kind, weight)
    ("supply", 12), ("supply_zero", 5), ("write", 12), ("write_bytes", 4), ("read", 4),
    ("op_dirty", 6), ("op_fail", 3), ("writeback_begin", 8), ("writeback_begin_zero", 4),
    ("writeback_end", 8), ("op_zero", 7), ("commit", 4), ("resize", 5), ("detach", 1),
    ("stats", 4), ("query", 10), ("query_all", 3),
)
_ABIS = (None, None, None, None, "[2022, 2024]", "[2024]", "[2022]", "[2020]")


@dataclass(frozen=True)
class GeneratedScenario:
    """One generated scenario: the YAML text of a file holding only it, and the parsed form."""

    text: str
    scenario: Scenario


class _Gen:
    """Builds the steps of one scenario, keeping a rough idea of the VMO to steer them."""

    def __init__(self, rng: random.Random, pages: int, trap_dirty: bool, resizable: bool) -> None:
        self.rng = rng
        self.size = pages
        self.max_size = pages
        self.trap_dirty = trap_dirty
        self.resizable = resizable
        self.supplied: set[int] = set()  # small VMOs only: pages supplied (roughly)
        self.steps: list[str] = []

    # -- ranges ---------------------------------------------------------------------------
    def _start(self) -> int:
        size = self.size
        if size <= 0:
            return 0
        if size > 4096:
            return self.rng.choice((0, 1, size // 2, size - 2, size - 1, self.rng.randrange(size)))
        if self.supplied and self.rng.random() < 0.6:
            return self.rng.choice(sorted(self.supplied))
        return self.rng.randrange(size)

    def pair(self, *, allow_empty: bool = True, out_of_range: float = 0.04) -> tuple[str, bool]:
        """A `[a, n]` page range and whether it reaches past the VMO."""
        rng = self.rng
        if rng.random() < out_of_range or self.size == 0:
            a = self.max_size + rng.randrange(0, 3)
            return f"[{a}, {rng.randrange(1, 3)}]", True
        a = self._start()
        room = max(self.size - a, 0)
        if allow_empty and rng.random() < 0.05:
            n = 0
        else:
            n = rng.randint(1, max(1, min(room, 4 if rng.random() < 0.8 else 16)))
        n = min(n, room)
        return f"[{a}, {n}]", False

    def bytes_range(self) -> str:
        """A range in bytes inside the VMO, often unaligned."""
        rng = self.rng
        total = self.size * 4096
        if total == 0:
            return "{offset_bytes: 0, length_bytes: 0}"
        start = self._start() * 4096 + rng.choice((0, 0, 1, 100, 2048, 4095))
        start = min(start, total - 1)
        length = rng.choice((1, 10, 100, 4096, 4097, 8191, 8192, 5000))
        length = min(length, total - start)
        return f"{{offset_bytes: {start}, length_bytes: {length}}}"

    # -- steps ----------------------------------------------------------------------------
    def add(self, body: str, *, oor: bool = False) -> None:
        # Alternate (without drawing from rng, so a seed keeps its scenarios): out-of-range
        # steps with and without a declared expect.
        if oor and len(self.steps) % 2 == 0:
            body += "\n        expect: {status: ZX_ERR_OUT_OF_RANGE}"
        self.steps.append(body)

    def step_text(self, text: str) -> None:
        self.steps.append(text)

    def _handles(self) -> str:
        rng = self.rng
        if rng.random() >= 0.1:
            return ""
        if rng.random() < 0.4:
            return f"\n        pager: {rng.choice(_PAGER_VARIANTS)}"
        variants = [v for v in _VMO_VARIANTS if not (v == "slice" and self.resizable)]
        return f"\n        vmo: {rng.choice(variants)}"

    def _mark_supplied(self, pair: str) -> None:
        a, n = (int(x) for x in pair.strip("[]").split(","))
        if self.size <= 4096:
            self.supplied.update(range(a, min(a + n, self.size)))

    def step(self, kind: str) -> None:
        rng = self.rng
        if kind in ("supply", "supply_zero"):
            if rng.random() < 0.05:
                self.add(f"- {kind}: {self.bytes_range()}{self._handles()}")
                return
            if self.size <= 4096 and rng.random() < 0.5:
                a = rng.randrange(max(self.size, 1))
                pair = f"[{a}, {min(rng.randint(1, 6), max(self.size - a, 0))}]"
                oor = self.size == 0
            else:
                pair, oor = self.pair()
            if not oor:
                self._mark_supplied(pair)
            self.add(f"- {kind}: {pair}{self._handles()}", oor=oor)
        elif kind in ("write", "read"):
            pair, oor = self.pair()
            if kind == "write" and self.trap_dirty and not oor and rng.random() < 0.8:
                self.add(f"- op_dirty: {pair}")
            self.add(f"- {kind}: {pair}", oor=oor)
        elif kind == "write_bytes":
            total = self.size * 4096
            if total == 0:
                return
            rb = self.bytes_range()
            off, length = re.findall(r"\d+", rb)
            if self.trap_dirty and rng.random() < 0.8:
                first = int(off) // 4096
                last = (int(off) + int(length) + 4095) // 4096
                self.add(f"- op_dirty: [{first}, {max(last - first, 0)}]")
            self.add(f"- write_bytes: [{off}, {length}]")
        elif kind in ("op_dirty", "op_fail", "writeback_begin", "writeback_begin_zero",
                      "writeback_end"):
            if rng.random() < 0.05:
                self.add(f"- {kind}: {self.bytes_range()}{self._handles()}")
                return
            pair, oor = self.pair()
            extra = ""
            if rng.random() < 0.12:
                extra = "\n        data: " + {
                    "op_fail": rng.choice(_FAIL_DATA),
                    "op_dirty": "1",
                    "writeback_begin": rng.choice(("2", "ZX_VMO_DIRTY_RANGE_IS_ZERO")),
                    "writeback_begin_zero": "0",
                    "writeback_end": "1",
                }[kind]
            self.add(f"- {kind}: {pair}{extra}{self._handles()}", oor=oor)
        elif kind in ("op_zero", "commit"):
            if rng.random() < 0.3:
                self.add(f"- {kind}: {self.bytes_range()}")
                return
            pair, oor = self.pair()
            self.add(f"- {kind}: {pair}", oor=oor)
        elif kind == "resize":
            if self.size > 4096:
                new = self.size + rng.choice((-2, -1, 0, 1, 3))
            else:
                new = rng.randint(0, self.size + 4)
            new = max(new, 0)
            self.add(f"- resize: {new}")
            if self.resizable:
                self.size = new
                self.max_size = max(self.max_size, new)
                self.supplied = {p for p in self.supplied if p < new}
        elif kind == "detach":
            handles = self._handles()
            self.add(f"- detach:{handles}" if handles else "- detach")
        elif kind == "stats":
            reset = rng.choice(("true", "false"))
            handles = self._handles()
            self.add(f"- stats: {{reset: {reset}}}{handles}")
        elif kind == "query":
            self.add(f"- query: {self.query_options()}")
        elif kind == "query_all":
            self.add(f"- query_all: {{buffer_entries: {rng.randint(1, 3)}}}")

    def query_options(self) -> str:
        rng = self.rng
        opts: list[str] = []
        r = rng.random()
        if r < 0.3 and self.size > 0:
            a = self._start()
            opts.append(f"offset: {a}")
            if rng.random() < 0.7:
                opts.append(f"length: {rng.randint(0, max(self.size - a, 0))}")
        elif r < 0.4 and self.size > 0:
            total = self.size * 4096
            off = rng.randrange(total)
            opts.append(f"offset_bytes: {off}")
            opts.append(f"length_bytes: {rng.randint(0, total - off)}")
        r = rng.random()
        if r < 0.15:
            opts.append(f"buffer_entries: {rng.randint(0, 3)}")
        elif r < 0.25:
            opts.append(f"buffer_bytes: {rng.choice((0, 1, 23, 25, 30, 47, 48, 71, 72))}")
        elif r < 0.3:
            opts.append("buffer: null")
            if rng.random() < 0.5:
                opts.append(f"buffer_bytes: {rng.choice((0, 24, 48))}")
        if rng.random() < 0.1:
            opts.append("actual: false")
        if rng.random() < 0.1:
            opts.append("avail: false")
        if rng.random() < 0.08:
            if rng.random() < 0.4:
                opts.append(f"pager: {rng.choice(_PAGER_VARIANTS)}")
            else:
                variants = [v for v in _VMO_VARIANTS if not (v == "slice" and self.resizable)]
                opts.append(f"vmo: {rng.choice(variants)}")
        return "{" + ", ".join(opts) + "}"


def _render(name: str, header: Sequence[str], steps: Sequence[str]) -> str:
    lines = ["scenarios:", f"  - name: {name}", *header, "    steps:"]
    for step in steps:
        lines.append("      " + step)
    if not steps:
        lines[-1] = "    steps: []"
    return "\n".join(lines) + "\n"


def _draft(rng: random.Random, name: str) -> tuple[list[str], list[str]]:
    """Header lines and step texts of one random scenario (not yet checked)."""
    r = rng.random()
    dense = False  # a few pages and many steps: the most interactions per page
    if r < 0.05:
        pages = HUGE_PAGES
    elif r < 0.1:
        pages = rng.randint(0, 1)
    elif r < 0.3:
        pages = rng.randint(1, 4)
        dense = True
    else:
        pages = rng.randint(1, 12)
    trap_dirty = rng.random() < 0.35
    resizable = rng.random() < 0.35
    header = [f"    vmo: {{pages: {pages}, trap_dirty: {str(trap_dirty).lower()}, "
              f"resizable: {str(resizable).lower()}}}"]
    abi = rng.choice(_ABIS)
    if abi is not None:
        header.insert(0, f"    abi: {abi}")
    gen = _Gen(rng, pages, trap_dirty, resizable)
    # Most scenarios start by supplying something, so later steps have pages to work on.
    if pages and rng.random() < 0.8:
        n = min(pages, rng.randint(1, 12))
        a = rng.randrange(0, pages - n + 1) if pages <= 4096 else rng.choice((0, pages - n))
        gen.step("supply")
        gen.steps[-1] = f"- supply: [{a}, {n}]"
        gen.supplied = set(range(a, a + n)) if pages <= 4096 else set()
    kinds = [k for k, _ in _KINDS]
    weights = [w for _, w in _KINDS]
    for _ in range(rng.randint(20, 45) if dense else rng.randint(2, 24)):
        kind = rng.choices(kinds, weights)[0]
        gen.step(kind)
        # A whole-VMO query after a change shows its effect before the next step hides it.
        if kind not in ("query", "query_all", "stats", "read") and rng.random() < 0.3:
            gen.step_text("- query: {}")
    if rng.random() < 0.8:
        gen.step_text("- query: {}")
    if rng.random() < 0.05:
        # The reduced pager handle replaces the real one, so only as the last pager syscall.
        gen.add("- query: {pager: no_rights}" if rng.random() < 0.5
                else "- op_fail: [0, 0]\n        pager: no_rights")
    return header, gen.steps


def generate_scenarios(seed: int, count: int, problems: Problems | None = None,
                       *, prefix: str = "gen") -> list[GeneratedScenario]:
    """``count`` random scenarios that ``problems`` finds nothing wrong with (deterministic).

    Steps that ``problems`` names (``step N (...)``) are dropped until none is left; a scenario
    that still has problems after that is replaced by a new draft.
    """
    rng = random.Random(seed)
    out: list[GeneratedScenario] = []
    serial = 0
    while len(out) < count:
        name = f"{prefix}-{seed}-{serial}"
        serial += 1
        header, steps = _draft(rng, name)
        for _attempt in range(40):
            text = _render(name, header, steps)
            try:
                file = parse_scenarios(text, f"<{name}>")
            except ScenarioError:
                break
            found = list(problems(file)) if problems is not None else []
            if not found:
                out.append(GeneratedScenario(text, file.scenarios[0]))
                break
            drop = sorted({int(m.group(1)) for p in found for m in [_STEP_RE.search(p)] if m},
                          reverse=True)
            if not drop:
                break
            for index in drop:
                del steps[index]
    return out
