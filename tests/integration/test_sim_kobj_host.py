"""The sim's kernel objects (guest/sim/common/kobj*.c, pager*.c) on the host, against the model.

guest/sim/tests/host_driver.c links the sim's kobj half with the real guest/runtime/fixture.c
and runs scenario steps making exactly the syscalls the generated test program makes (setup,
handle variants, the query_all loop). Compiled for the host with clang-19 (or gcc) under ASan
and UBSan. Two checks, every step against ``rig.model.predict``:

* the bundled suite, for every profile each scenario applies to;
* a differential test of random valid scenarios from ``rig.scenario.generate`` (fixed seeds;
  RIG_DIFF_COUNT scenarios per profile, 500 by default; RIG_DIFF_SEED moves the seeds).

The C is a per-page specification, the model a run-length one: a difference is a bug in one of
them, printed with the scenario's YAML.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from rig import zx
from rig.api import scenario_problems
from rig.model import PROFILES, predict
from rig.scenario import (
    Handle,
    Scenario,
    ScenarioFile,
    Step,
    StepKind,
    bundled_suite_paths,
    load_scenarios,
)
from rig.scenario.generate import GeneratedScenario, generate_scenarios
from tests.conftest import require_tool
from tests.integration.runtime_support import load_compile_targets

pytestmark = pytest.mark.toolchain

REPO = Path(__file__).resolve().parents[2]
SIM_COMMON = REPO / "guest" / "sim" / "common"
KOBJ_SOURCES = ("kobj.c", "kobj_vmo.c", "pager.c", "pager_pages.c")
DRIVER = REPO / "guest" / "sim" / "tests" / "host_driver.c"
SELFTEST = REPO / "guest" / "sim" / "tests" / "host_selftest.c"

DIFF_COUNT = int(os.environ.get("RIG_DIFF_COUNT", "500"))
DIFF_SEED = int(os.environ.get("RIG_DIFF_SEED", "0"))

# Fixture needs (guest/include/rig/fixture.h) per handle variant, as codegen sets them.
_PAGER_NEED = {Handle.CLOSED: 0x01, Handle.OTHER_PAGER: 0x02}
_VMO_NEED = {Handle.CLOSED: 0x01, Handle.OTHER_PAGER: 0x04, Handle.PLAIN_VMO: 0x08,
             Handle.CLONE: 0x10, Handle.SLICE: 0x20, Handle.NO_RIGHTS: 0x80}
_PAGER_OPS = {StepKind.OP_FAIL: 1, StepKind.OP_DIRTY: 2, StepKind.WRITEBACK_BEGIN: 3,
              StepKind.WRITEBACK_BEGIN_ZERO: 3, StepKind.WRITEBACK_END: 4}
_VMO_OPS = {StepKind.COMMIT: 1, StepKind.OP_ZERO: 10}
_U64 = 1 << 64

# Model/C disagreements decided against the model (see the report in the commit history):
# {(scenario name, profile): reason}. Empty: none found so far.
MODEL_BUGS: dict[tuple[str, str], str] = {}


# ---------------------------------------------------------------------------------------------
# Building and running the driver


def _compiler() -> str:
    for name in ("clang-19", "gcc", "cc"):
        path = shutil.which(name)
        if path:
            return path
    return require_tool("clang-19", "clang-19")


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = _compiler()
    out = tmp_path_factory.mktemp("sim-kobj") / "host_driver"
    argv = [cc, "-std=c11", "-O1", "-g", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all", "-Wall", "-Wextra", "-Werror",
            f"-I{REPO / 'guest' / 'include'}", f"-I{SIM_COMMON}", str(DRIVER), str(SELFTEST),
            str(REPO / "guest" / "runtime" / "fixture.c"),
            *(str(SIM_COMMON / f) for f in KOBJ_SOURCES), "-o", str(out)]
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stderr}"
    return out


def _handle(variant: Handle) -> str:
    return variant.value


def _max_ranges(scenario: Scenario) -> int:
    """codegen's max_ranges: room for every range the scenario's VMO can report."""
    pages = scenario.vmo.pages
    for step in scenario.steps:
        if step.kind is StepKind.RESIZE and step.new_size_bytes is not None:
            pages = max(pages, step.new_size_bytes // zx.PAGE_SIZE)
    return max(1, min(pages, 1 + 2 * len(scenario.steps)))


def _step_line(step: Step, aux: dict[str, int], most: int) -> str:
    kind, t = step.kind, step.index
    off, length = step.offset_bytes, step.length_bytes
    if kind in (StepKind.SUPPLY, StepKind.SUPPLY_ZERO):
        slot = "aux" if kind is StepKind.SUPPLY else "aux_zero"
        aux_off = aux[slot]
        aux[slot] += -(-length // zx.PAGE_SIZE) * zx.PAGE_SIZE
        return (f"step {t} {kind.value} {_handle(step.pager)} {_handle(step.vmo)} "
                f"{off} {length} {aux_off}")
    if kind in (StepKind.WRITE, StepKind.WRITE_BYTES):
        return f"step {t} write {off} {length}"
    if kind is StepKind.READ:
        return f"step {t} read {off} {length}"
    if kind in _PAGER_OPS:
        data = (step.data if step.data is not None else 0) % _U64
        return (f"step {t} op {_handle(step.pager)} {_handle(step.vmo)} {_PAGER_OPS[kind]} "
                f"{off} {length} {data}")
    if kind in _VMO_OPS:
        return f"step {t} vmo_op {_VMO_OPS[kind]} {off} {length}"
    if kind is StepKind.RESIZE:
        return f"step {t} resize {step.new_size_bytes}"
    if kind is StepKind.DETACH:
        return f"step {t} detach {_handle(step.pager)} {_handle(step.vmo)}"
    if kind is StepKind.STATS:
        return f"step {t} stats {_handle(step.pager)} {_handle(step.vmo)} {int(step.reset)}"
    if kind is StepKind.QUERY:
        q = step.query
        assert q is not None
        q_off = q.offset_bytes if q.offset_bytes is not None else 0
        q_len = "-" if q.length_bytes is None else str(q.length_bytes)
        size = q.buffer_size if q.buffer_size is not None else most * zx.DIRTY_RANGE_SIZE
        return (f"step {t} query {_handle(step.pager)} {_handle(step.vmo)} {q_off} {q_len} "
                f"{size} {int(q.buffer_null)} {int(not q.actual_null)} "
                f"{int(not q.avail_null)}")
    assert kind is StepKind.QUERY_ALL
    return f"step {t} query_all {step.buffer_entries or 1}"


def encode(scenario: Scenario, profile: str) -> str:
    """The driver's input for one scenario on one profile (as codegen would build it)."""
    need = 0
    aux = {"aux": 0, "aux_zero": 0}
    most = _max_ranges(scenario)
    lines = [_step_line(step, aux, most) for step in scenario.steps]
    for step in scenario.steps:
        need |= _PAGER_NEED.get(step.pager, 0) | _VMO_NEED.get(step.vmo, 0)
    for slot, kind in (("aux", StepKind.SUPPLY), ("aux_zero", StepKind.SUPPLY_ZERO)):
        if aux[slot] == 0 and any(step.kind is kind for step in scenario.steps):
            aux[slot] = zx.PAGE_SIZE
    options = (zx.ZX_VMO_TRAP_DIRTY if scenario.vmo.trap_dirty else 0) | (
        zx.ZX_VMO_RESIZABLE if scenario.vmo.resizable else 0)
    head = (f"scenario {scenario.name} {profile} {scenario.vmo.size_bytes} {options} "
            f"{aux['aux']} {aux['aux_zero']} {need} {most}")
    return "\n".join([head, *lines, "end"]) + "\n"


@dataclass
class SimResult:
    name: str
    setup_error: tuple[str, int] | None
    steps: dict[int, dict[str, str]]
    live: str = ""  # objects/handles/page entries alive after teardown


def parse_output(text: str) -> list[SimResult]:
    out: list[SimResult] = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        if words[0] == "sbeg":
            out.append(SimResult(words[1], None, {}))
        elif words[0] == "err":
            out[-1].setup_error = (words[1], int(words[2]))
        elif words[0] == "skip":
            out[-1].steps[int(words[1])] = {"skip": words[2]}
        elif words[0] == "send":
            out[-1].live = words[2].removeprefix("live=") if len(words) > 2 else "?"
        elif words[0] == "step":
            fields = dict(w.split("=", 1) for w in words[2:])
            out[-1].steps[int(words[1])] = fields
    return out


def run_driver(driver: Path, cases: Sequence[tuple[Scenario, str]]) -> list[SimResult]:
    text = "".join(encode(s, p) for s, p in cases)
    proc = subprocess.run([str(driver)], input=text, capture_output=True, text=True,
                          check=False, timeout=600)
    assert proc.returncode == 0, f"host_driver failed ({proc.returncode}):\n{proc.stderr[-4000:]}"
    results = parse_output(proc.stdout)
    assert len(results) == len(cases), proc.stderr[-4000:]
    return results


def _ranges(text: str) -> tuple[tuple[int, int, int], ...]:
    if not text:
        return ()
    return tuple(tuple(int(x, 16) for x in r.split(":")) for r in text.split(","))  # type: ignore[misc]


def differences(scenario: Scenario, profile: str, sim: SimResult) -> list[str]:
    """Every field where the sim and the model disagree, one message each."""
    pred = predict(scenario, profile)
    if pred.setup_error is not None or sim.setup_error is not None:
        if pred.setup_error != sim.setup_error:
            return [f"setup: model {pred.setup_error}, sim {sim.setup_error}"]
        return []
    out = []
    for p in pred.steps:
        got = sim.steps.get(p.index)
        where = f"step {p.index} ({p.op})"
        if got is None:
            out.append(f"{where}: no result from the sim")
            continue
        if p.unavailable is not None:
            if got.get("skip") != p.unavailable:
                out.append(f"{where}: model: {p.unavailable} unavailable; sim {got}")
            continue
        if "skip" in got:
            out.append(f"{where}: sim skipped {got['skip']}; model status {p.status}")
            continue
        status = int(got["st"])
        if status != p.status:
            blocked = f" (blocked {got['blocked']})" if "blocked" in got else ""
            out.append(f"{where}: status: model {p.status}, sim {status}{blocked}")
            continue
        for key in ("actual", "avail", "calls", "modified"):
            want = getattr(p, key)
            have = int(got[key]) if key in got else None
            if key == "calls" and p.op != "query_all":
                continue
            if want != have:
                out.append(f"{where}: {key}: model {want}, sim {have}")
        if p.ranges is not None and _ranges(got.get("ranges", "")) != p.ranges:
            out.append(f"{where}: ranges: model {list(p.ranges)}, sim "
                       f"{list(_ranges(got.get('ranges', '')))}")
        if "stop" in got:
            out.append(f"{where}: query_all stopped early: {got['stop']}")
    return out


def _check(driver: Path, cases: Sequence[tuple[Scenario, str, str]]) -> list[str]:
    """Run (scenario, profile, text) cases; one failure message per disagreeing case."""
    results = run_driver(driver, [(s, p) for s, p, _ in cases])
    failures = []
    # Every scenario must leave the sim as it found it (one boot runs them all).
    leaks = {r.live for r in results}
    if len(leaks) != 1 or next(iter(leaks)).split("/")[2] != "0":
        failures.append("objects/handles/page entries alive after each scenario differ: "
                        + ", ".join(f"{r.name}: {r.live}" for r in results[:50]))
    for (scenario, profile, text), sim in zip(cases, results, strict=True):
        found = differences(scenario, profile, sim)
        if not found:
            continue
        known = MODEL_BUGS.get((scenario.name, profile))
        label = f"[known model bug: {known}] " if known else ""
        failures.append(f"{label}scenario {scenario.name} on profile {profile}:\n  "
                        + "\n  ".join(found) + f"\n{text}")
    return failures


def _profiles(scenario: Scenario) -> Iterable[str]:
    return (p for p in PROFILES if scenario.applies_to(p))


# ---------------------------------------------------------------------------------------------
# Tests


def test_driver_smoke(driver: Path) -> None:
    scenario = load_scenarios(bundled_suite_paths()[0]).scenarios[0]
    results = run_driver(driver, [(scenario, "2024")])
    assert results[0].name == scenario.name
    assert differences(scenario, "2024", results[0]) == []


def test_selftest(driver: Path) -> None:
    """Packets, port_wait, the bootstrap channel, names, handle rules, a full page table."""
    proc = subprocess.run([str(driver), "--selftest"], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("selftest ok")


@pytest.mark.parametrize("path", bundled_suite_paths(), ids=lambda p: p.name)
def test_bundled_suite_matches_model(driver: Path, path: Path) -> None:
    loaded = load_scenarios(path)
    cases = [(s, p, f"  (the scenario at {path.name}:{s.location.line})")
             for s in loaded.scenarios for p in _profiles(s)]
    failures = _check(driver, cases)
    assert not failures, "sim and model disagree:\n" + "\n".join(failures)


# Huge VMOs whose zero tails and zero ranges span billions of pages: the C keeps them as the
# VMO's zero boundary (no entry per page), the model as runs; both must stay exact and fast.
DIRECTED = """\
scenarios:
  - name: huge-resize-up-write-shrink-detach
    abi: [2022, 2024]
    vmo: {pages: 68719476736, resizable: true}
    steps:
      - supply: [0, 2]
      - write: [1, 1]
      - resize: 1099511627776
      - query: {}
      - query: {offset: 68719476735, length: 3, buffer_entries: 1}
      - query_all: {buffer_entries: 1}
      - write: [68719476740, 1]
      - query: {}
      - stats: {reset: true}
      - resize: 68719476738
      - query: {}
      - detach
      - query: {}
      - stats
  - name: huge-op-zero-unsupplied
    abi: [2024]
    vmo: {pages: 68719476736}
    steps:
      - op_zero: [0, 68719476736]
      - query: {}
      - supply: [5, 1]
      - write: [5, 1]
      - query: {}
      - writeback_begin_zero: [0, 3]
      - writeback_end: [0, 3]
      - query: {}
      - writeback_begin: [0, 68719476736]
      - writeback_end: [0, 68719476736]
      - query: {}
  - name: huge-tail-writeback-e1
    abi: [2022]
    vmo: {pages: 4, resizable: true}
    steps:
      - supply: [0, 4]
      - write: [2, 1]
      - resize: 68719476736
      - query: {}
      - writeback_begin: [0, 68719476736]
      - query: {}
      - writeback_end: [0, 68719476736]
      - query: {}
      - resize: 68719476740
      - query: {}
  - name: huge-tail-cleaned-partly-e2
    abi: [2024]
    vmo: {pages: 4, resizable: true}
    steps:
      - resize: 68719476736
      - writeback_begin_zero: [4, 8]
      - writeback_end: [4, 4]
      - query: {offset: 0, length: 16}
      - writeback_end: [8, 4]
      - query: {offset: 0, length: 16}
"""


def test_directed_huge_scenarios_match_model(driver: Path) -> None:
    from rig.scenario import parse_scenarios

    loaded = parse_scenarios(DIRECTED, "<directed>")
    assert not _problems(loaded)
    cases = [(s, p, DIRECTED) for s in loaded.scenarios for p in _profiles(s)]
    failures = _check(driver, cases)
    assert not failures, "sim and model disagree:\n" + "\n".join(f[:3000] for f in failures)


def _problems(file: ScenarioFile) -> list[str]:
    """What `rig validate` checks beyond the format (blocking steps, construction)."""
    return scenario_problems(file)


@pytest.mark.parametrize("profile", PROFILES)
def test_random_scenarios_match_model(driver: Path, profile: str) -> None:
    seed = DIFF_SEED * 1000 + int(profile)
    generated: list[GeneratedScenario] = []
    batch = 0
    # Scenarios restricted to other profiles do not count: draw until DIFF_COUNT apply.
    while len(generated) < DIFF_COUNT:
        for g in generate_scenarios(seed + batch * 7919, DIFF_COUNT, _problems,
                                    prefix=f"gen{profile}b{batch}"):
            if g.scenario.applies_to(profile) and len(generated) < DIFF_COUNT:
                generated.append(g)
        batch += 1
    cases = [(g.scenario, profile, g.text) for g in generated]
    failures = _check(driver, cases)
    unexpected = [f for f in failures if not f.startswith("[known model bug")]
    assert not unexpected, (f"{len(unexpected)} of {len(cases)} random scenarios disagree "
                            f"on profile {profile}:\n" + "\n".join(unexpected[:10]))


def test_random_generator_is_deterministic() -> None:
    a = [g.text for g in generate_scenarios(7, 20, _problems)]
    b = [g.text for g in generate_scenarios(7, 20, _problems)]
    assert a == b
    assert len(a) == 20


def _sim_cflags(target: str) -> tuple[str, list[str]]:
    """Triple and C flags the sim's own build uses (guest/sim/build.yaml), else the test
    program's (tests/data/runtime/compile_targets.yaml)."""
    build = REPO / "guest" / "sim" / "build.yaml"
    if build.exists():
        data = yaml.safe_load(build.read_text())
        arch = data["arches"][target]
        return arch["triple"], [*data["common"]["cflags"], *arch["cflags"]]
    t = load_compile_targets()[target]
    return t.triple, list(t.cflags)


@pytest.mark.parametrize("target", ["x64", "arm64"])
def test_kobj_compiles_freestanding(target: str, tmp_path: Path) -> None:
    """The kobj half builds with the sim's flags for both arches and needs nothing from the
    platform but sim_user_ok (and the mem* functions a compiler may emit)."""
    clang = require_tool("clang-19", "clang-19")
    triple, cflags = _sim_cflags(target)
    undefined: set[str] = set()
    defined: set[str] = set()
    nm = shutil.which("llvm-nm-19") or shutil.which("llvm-nm") or shutil.which("nm")
    for src in KOBJ_SOURCES:
        obj = tmp_path / (src + ".o")
        argv = [clang, f"--target={triple}", *cflags, f"-I{REPO / 'guest' / 'include'}",
                f"-I{SIM_COMMON}", "-c", str(SIM_COMMON / src), "-o", str(obj)]
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              check=False)
        assert proc.returncode == 0, f"{' '.join(argv)}\n{proc.stderr}"
        if nm:
            for flag, into in (("-u", undefined), ("--defined-only", defined)):
                lines = subprocess.run([nm, flag, str(obj)], capture_output=True, text=True,
                                       check=True).stdout.splitlines()
                into |= {line.split()[-1] for line in lines if line.strip()}
    assert undefined - defined <= {"sim_user_ok", "memcpy", "memset", "memmove"}
