"""`rig check-log` end to end: a real build directory, logs assembled from records spliced into
the real Zircon serial log (debuglog prefixes, CR LF), the real CLI.

The build directory is made by :func:`make_build_dir` (codegen + manifest + scenario copies; the
ELF only when asked), standing in for `rig build` until it exists. The guest's records are
assembled with rig.protocol.encode_record from what a kernel matching the model prints; the
round trip of the C writer itself is tests/integration/test_record_host.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from rig.cli.main import main
from rig.judge.protocol import encode_record, encode_step_records
from rig.model.predict import predict
from rig.program.codegen import RenderedProgram, render_program
from rig.scenario.loader import StepKind, bundled_suite_paths, load_many
from tests.conftest import require_tool

pytestmark = pytest.mark.toolchain

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SCENARIOS = DATA / "scenarios" / "checklog.yaml"
FIXTURE_LOG = (Path(__file__).resolve().parents[1] / "data" / "logs" / "real"
               / "zircon-arm64-2020-core-tests.serial.log")
NONCE = "5eed5eed5eed5eed"
QUERY_KINDS = (StepKind.QUERY, StepKind.QUERY_ALL)


def make_build_dir(out: Path, scenario_paths: Sequence[Path], *, abi: str, arch: str = "arm64",
                   target: str = "zircon", nonce: str = NONCE,
                   compile_elf: bool = False) -> RenderedProgram:
    """A build directory as `rig build --out` leaves it (the parts check-log reads)."""
    files = load_many(scenario_paths)
    program = render_program(files, abi=abi, arch=arch, target=target)
    (out / "scenarios").mkdir(parents=True, exist_ok=True)
    for path in scenario_paths:
        shutil.copyfile(path, out / "scenarios" / Path(path).name)
    (out / "program.c").write_text(program.c_source)
    if compile_elf:
        from rig.image.boards import load_board
        from rig.run.toolchain import compile_program
        compile_program(program.c_source, load_board(arch, target).compile_target, out)
    # check-log verifies every output the manifest records, the scenario copies included.
    written = ["program.c", *(f"scenarios/{Path(p).name}" for p in scenario_paths)]
    if compile_elf:
        written.append("program.elf")
    manifest = {
        "rig_version": "test", "program_id": program.program_id, "nonce": nonce, "abi": abi,
        "arch": arch, "target": target,
        "scenarios": [{"index": s.index, "name": s.name,
                       "file": f"scenarios/{Path(s.file).name}", "steps": s.steps}
                      for s in program.scenarios],
        "outputs": {rel: hashlib.sha256((out / rel).read_bytes()).hexdigest()
                    for rel in written},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return program


def model_records(program: RenderedProgram, scenario_paths: Sequence[Path], *,
                  nonce: str = NONCE, vdso_lacks: Sequence[str] = ()) -> list[str]:
    """Every record a kernel behaving exactly like the model makes the program print."""
    files = load_many(scenario_paths)
    by_name = {s.name: s for f in files for s in f.scenarios}
    out: list[str] = []

    def add(kind: str, fields: list[tuple[str, str | int]]) -> None:
        out.append(encode_record(nonce, len(out), kind, fields))

    add("hello", [("prog", program.builtin_nonce), ("nonce_src", "cmdline"),
                  ("out", "debuglog"), ("page", 4096),
                  ("scenarios", len(program.scenarios)), ("vdso", "next")])
    for placed in program.scenarios:
        scenario = by_name[placed.name]
        pred = predict(scenario, program.abi)
        add("sbeg", [("s", placed.index), ("steps", placed.steps), ("name", placed.name)])
        if pred.setup_error is not None:
            add("err", [("s", placed.index), ("what", pred.setup_error[0]),
                        ("st", pred.setup_error[1])])
            add("send", [("s", placed.index), ("steps", 0)])
            continue
        for step, sp in zip(scenario.steps, pred.steps, strict=True):
            sys = sp.unavailable or next((n for n in vdso_lacks if step.kind in QUERY_KINDS
                                          and n == "zx_pager_query_dirty_ranges"), None)
            if sys is not None:
                add("skip", [("s", placed.index), ("t", step.index), ("why", "unavailable"),
                             ("sys", sys)])
                continue
            assert sp.status is not None
            is_query = step.kind in QUERY_KINDS
            out.extend(encode_step_records(
                nonce, len(out), placed.index, step.index, sp.status, actual=sp.actual,
                avail=sp.avail, calls=sp.calls, modified=sp.modified,
                ranges=(sp.ranges or ()) if is_query else None))
        add("send", [("s", placed.index), ("steps", placed.steps)])
    add("bye", [("scenarios", len(program.scenarios)), ("records", len(out))])
    return out


def splice(records: Sequence[str], every: int = 7) -> bytes:
    """The real Zircon log with a record after every ``every`` lines, as the debuglog prints
    them (prefix, CR LF); records left over go at the end, before nothing."""
    kernel = FIXTURE_LOG.read_bytes().split(b"\r\n")
    out: list[bytes] = []
    pending = list(records)
    for i, line in enumerate(kernel):
        out.append(line)
        if i % every == every - 1 and pending:
            ms = 43000 + i
            out.append(f"[{ms // 1000:05d}.{ms % 1000:03d}] 01053:01056> {pending.pop(0)}"
                       .encode())
    out.extend(f"[00099.000] 01053:01056> {r}".encode() for r in pending)
    return b"\r\n".join(out) + b"\r\n"


def run_check_log(tmp_path: Path, build: Path, log_bytes: bytes,
                  capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any], str]:
    log = tmp_path / "serial.log"
    log.write_bytes(log_bytes)
    report = tmp_path / "verdict.json"
    code = main(["check-log", str(log), "--build", str(build), "--json", str(report)])
    text = capsys.readouterr().out
    return code, json.loads(report.read_text()), text


def outcomes(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [(s["name"], s["outcome"]) for s in report["scenarios"]]


@pytest.fixture
def build_2024(tmp_path: Path) -> tuple[Path, RenderedProgram]:
    build = tmp_path / "build"
    return build, make_build_dir(build, [SCENARIOS], abi="2024")


def test_passing_run(tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
                     capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS])
    code, report, text = run_check_log(tmp_path, build, splice(records), capsys)
    assert code == 0
    assert {k: report[k] for k in ("outcome", "ok", "nonce", "records", "counts", "problems",
                                   "warnings")} == {
        "outcome": "PASS", "ok": True, "nonce": NONCE, "records": len(records),
        "counts": {"PASS": 3, "FAIL": 0, "SKIP": 0, "INCOMPLETE": 0, "CRASH": 0, "HANG": 0,
                   "INFRA": 0},
        "problems": [], "warnings": [],
    }
    assert [(s["name"], s["outcome"], s["reason"], [st["outcome"] for st in s["steps"]])
            for s in report["scenarios"]] == [
        ("cl-five-ranges", "PASS", "", ["PASS"] * 7),
        ("cl-query-all", "PASS", "", ["PASS"] * 6),
        ("cl-trap-dirty", "PASS", "", ["PASS"] * 3),
    ]
    query = report["scenarios"][0]["steps"][6]
    assert query["observed"] == {
        "status": 0, "actual": 5, "avail": 5, "calls": None, "modified": None, "skipped": None,
        "stop": None,
        "ranges": [[0, 4096, 0], [8192, 4096, 0], [16384, 4096, 0], [24576, 4096, 0],
                   [32768, 8192, 0]],
    }
    assert text.splitlines()[-1] == ("PASS: 3 scenarios: 3 passed, 0 failed, 0 skipped, "
                                     "0 incomplete")


def test_wrong_result_fails_with_expected_and_actual(
        tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
        capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS])
    # The kernel reports only 4 of the 5 ranges of scenario 0's query (step 6).
    i = next(i for i, r in enumerate(records) if " step s=0 t=6 " in r)
    records[i] = records[i].split(" step ")[0]  # rebuilt below with a consistent CRC
    seq = int(records[i].split()[2])
    records[i] = encode_record(NONCE, seq, "step", [("s", 0), ("t", 6), ("st", 0),
                                                    ("actual", 4), ("avail", 5), ("nr", 5)])
    code, report, text = run_check_log(tmp_path, build, splice(records), capsys)
    assert code == 1
    assert outcomes(report) == [("cl-five-ranges", "FAIL"), ("cl-query-all", "PASS"),
                                ("cl-trap-dirty", "PASS")]
    step = report["scenarios"][0]["steps"][6]
    assert (step["outcome"], step["diffs"], step["reason"]) == (
        "FAIL",
        [{"field": "actual", "expected": 5, "actual": 4, "source": "model+expect"}],
        "actual: expected 5 (model+expect), got 4",
    )
    assert report["scenarios"][0]["reason"] == "step 6 failed"
    assert "  step 6 query (checklog.yaml:14)" in text


def test_record_missing_is_incomplete(tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS])
    # Drop the second rng record of scenario 0's query: range 4 of 5 is lost.
    lost = next(i for i, r in enumerate(records) if " rng s=0 t=6 at=4 " in r)
    lost_seq = int(records[lost].split()[2])
    del records[lost]
    code, report, _ = run_check_log(tmp_path, build, splice(records), capsys)
    assert code == 1
    assert report["outcome"] == "INCOMPLETE"
    assert outcomes(report) == [("cl-five-ranges", "INCOMPLETE"), ("cl-query-all", "PASS"),
                                ("cl-trap-dirty", "PASS")]
    s0 = report["scenarios"][0]
    assert s0["reason"] == f"1 records lost inside the scenario (seq {lost_seq}); step 6 incomplete"
    assert (s0["steps"][6]["outcome"], s0["steps"][6]["reason"]) == (
        "INCOMPLETE", "ranges 4..4 of 5 lost (rng records missing)")
    assert report["warnings"] == ["1 records dropped in total (seq gaps)"]


def test_log_that_stops_early(tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
                              capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS])
    # The guest hangs in scenario 1 after its third step record.
    cut = next(i for i, r in enumerate(records) if " step s=1 t=2 " in r) + 1
    code, report, _ = run_check_log(tmp_path, build, splice(records[:cut]), capsys)
    assert code == 1
    assert [(s["name"], s["outcome"], s["reason"]) for s in report["scenarios"]] == [
        ("cl-five-ranges", "PASS", ""),
        ("cl-query-all", "INCOMPLETE", "no send record (log ended early); steps 3, 4, 5 "
                                       "incomplete"),
        ("cl-trap-dirty", "INCOMPLETE", "no records of this scenario (log ended before it)"),
    ]
    assert report["problems"] == [
        {"outcome": "INCOMPLETE",
         "text": f"no bye record: the log ended early (hang, crash or power-off) after seq "
                 f"{cut - 1}"},
    ]


def test_2020_kernel_skips_with_reason_and_setup_error_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build = tmp_path / "build"
    program = make_build_dir(build, [SCENARIOS], abi="2020")
    records = model_records(program, [SCENARIOS])
    code, report, _ = run_check_log(tmp_path, build, splice(records), capsys)
    assert code == 0
    assert [(s["name"], s["outcome"], s["reason"]) for s in report["scenarios"]] == [
        ("cl-five-ranges", "SKIP", "step 6 skipped; zx_pager_query_dirty_ranges is not in the "
                                   "vDSO (predicted: profile 2020 lacks it)"),
        ("cl-query-all", "SKIP", "steps 4, 5 skipped; zx_pager_query_dirty_ranges is not in "
                                 "the vDSO (predicted: profile 2020 lacks it); "
                                 "zx_pager_query_vmo_stats is not in the vDSO (predicted: "
                                 "profile 2020 lacks it)"),
        ("cl-trap-dirty", "PASS", "setup failed as predicted: create_vmo ZX_ERR_INVALID_ARGS"),
    ]


@pytest.mark.parametrize("abi", ["2020", "2022", "2024"])
def test_bundled_suite_judged_against_a_model_kernel(
        tmp_path: Path, abi: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every scenario of the bundled suite, as a kernel exactly like the model prints it: no
    step kind, handle variant or buffer shape trips the comparison."""
    build = tmp_path / "build"
    paths = bundled_suite_paths()
    program = make_build_dir(build, paths, abi=abi)
    code, report, _ = run_check_log(tmp_path, build, splice(model_records(program, paths)),
                                    capsys)
    assert code == 0, [(s["name"], s["reason"]) for s in report["scenarios"]
                       if s["outcome"] not in ("PASS", "SKIP")]
    assert report["outcome"] == ("SKIP" if abi == "2020" else "PASS")
    assert len(report["scenarios"]) == len(program.scenarios)


def test_query_missing_from_stable_vdso_says_how_to_boot(
        tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
        capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS], vdso_lacks=["zx_pager_query_dirty_ranges"])
    code, report, _ = run_check_log(tmp_path, build, splice(records), capsys)
    assert code == 0
    assert report["outcome"] == "SKIP"
    assert report["scenarios"][0]["steps"][6]["reason"] == (
        "zx_pager_query_dirty_ranges missing from the vDSO this program got; boot with "
        "kernel.vdso.always_use_next=true")


def test_builtin_nonce_is_accepted_with_a_warning(
        tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
        capsys: pytest.CaptureFixture[str]) -> None:
    build, program = build_2024
    records = model_records(program, [SCENARIOS], nonce=program.builtin_nonce)
    stale = model_records(program, [SCENARIOS], nonce="0123456789abcdef")[:5]
    code, report, _ = run_check_log(tmp_path, build, splice(stale + records), capsys)
    assert code == 0
    assert report["nonce"] == program.builtin_nonce
    assert report["warnings"] == [
        f"records carry the program's built-in id {program.builtin_nonce}, not the build's "
        f"nonce {NONCE}: the image was booted without the build's command line",
        "foreign: 5 records with another nonce ignored: 0123456789abcdef (5)",
    ]


def test_bad_input_exits_2(tmp_path: Path, build_2024: tuple[Path, RenderedProgram],
                           capsys: pytest.CaptureFixture[str]) -> None:
    build, _ = build_2024
    assert main(["check-log", str(tmp_path / "absent.log"), "--build", str(build)]) == 2
    assert "absent.log: cannot read the serial log" in capsys.readouterr().err
    log = tmp_path / "serial.log"
    log.write_bytes(b"")
    assert main(["check-log", str(log), "--build", str(tmp_path / "nobuild")]) == 2
    assert "no manifest" in capsys.readouterr().err
    (build / "manifest.json").write_text('{"program_id": 3}')
    assert main(["check-log", str(log), "--build", str(build)]) == 2
    assert "key 'scenarios' must be a list" in capsys.readouterr().err


@pytest.mark.parametrize("abi", ["2020", "2022", "2024"])
@pytest.mark.parametrize("arch", ["x64", "arm64"])
def test_bundled_suite_compiles(tmp_path: Path, arch: str, abi: str) -> None:
    """The bundled suite plus our scenario files, rendered and compiled by the real toolchain
    (clang-19, lld), and the ELF checked against the loader's rules."""
    require_tool("clang-19", "clang-19")
    from rig.image.boards import load_board
    from rig.run.toolchain import check_elf, compile_program
    paths = [*bundled_suite_paths(), *sorted((DATA / "scenarios").glob("*.yaml"))]
    program = render_program(load_many(paths), abi=abi, arch=arch, target="zircon")
    target = load_board(arch, "zircon").compile_target
    elf = compile_program(program.c_source, target, tmp_path / "out",
                          cache_dir=tmp_path / "cache")
    assert not elf.cached
    check_elf(elf.path, target)
    assert (tmp_path / "out" / "program.c").read_text() == program.c_source


def test_build_dir_holds_the_elf_when_asked(tmp_path: Path) -> None:
    require_tool("clang-19", "clang-19")
    build = tmp_path / "build"
    make_build_dir(build, [SCENARIOS], abi="2024", compile_elf=True)
    assert (build / "program.elf").read_bytes()[:4] == b"\x7fELF"


def test_check_log_reads_what_rig_build_writes(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """The real `rig build` (no kernel given: program, manifest and scenario copies only) and
    check-log agree on the build directory."""
    require_tool("clang-19", "clang-19")
    build = tmp_path / "build"
    assert main(["build", "--arch", "x64", "--target", "zircon", "--abi", "2024",
                 "--kernel-era", "A", "--out", str(build), str(SCENARIOS)]) == 0
    capsys.readouterr()
    manifest = json.loads((build / "manifest.json").read_text())
    program = render_program(load_many([SCENARIOS]), abi="2024", arch="x64", target="zircon")
    assert (build / "program.c").read_text() == program.c_source
    assert manifest["program_id"] == program.program_id
    records = model_records(program, [SCENARIOS], nonce=manifest["nonce"])
    code, report, _ = run_check_log(tmp_path, build, splice(records), capsys)
    assert (code, report["outcome"], report["nonce"]) == (0, "PASS", manifest["nonce"])
    assert outcomes(report) == [("cl-five-ranges", "PASS"), ("cl-query-all", "PASS"),
                                ("cl-trap-dirty", "PASS")]
