"""Reports from a rig.run/1 result (rig.reports): JUnit read back by junitparser, the report
JSON validated by jsonschema, KTAP, HTML, cross-arch and run differences; pure, on a run
directory written here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import junitparser
import pytest

from rig.cli.main import main
from rig.reports.collect import excerpt_lines, read_run
from rig.reports.crossarch import Row, cross_arch, diff_runs, render_cross_arch
from rig.reports.html import render_html
from rig.reports.junit import render_junit, xml_text
from rig.reports.ktap import render_ktap
from rig.reports.provenance import REPORT_SCHEMA, render_report_json

NONCE = "0123456789abcdef"


def _step(i: int, op: str, outcome: str = "PASS", diffs: list[dict[str, str]] | None = None,
          reason: str = "") -> dict[str, Any]:
    return {"index": i, "op": op, "outcome": outcome, "where": f"s.yaml:{10 + i}",
            "reason": reason, "diffs": diffs or []}


def _arch(arch: str, run_dir: Path, *, fail: bool) -> dict[str, Any]:
    bad = _step(1, "query", "FAIL", [{"field": "actual", "expected": "1", "actual": "2"}],
                "actual: expected 1 (model), got 2")
    scenarios = [
        {"index": 0, "name": "one", "file": "scenarios/s.yaml", "where": "s.yaml:3",
         "outcome": "FAIL" if fail else "PASS", "reason": "step 1 failed" if fail else "",
         "steps": [_step(0, "write"), bad if fail else _step(1, "query")]},
        {"index": 1, "name": "two", "file": "scenarios/s.yaml", "where": "s.yaml:20",
         "outcome": "CRASH" if fail else "PASS",
         "reason": "ZIRCON KERNEL PANIC; no send record" if fail else "",
         "steps": [_step(0, "supply", "INCOMPLETE" if fail else "PASS")]},
        {"index": 2, "name": "three", "file": "scenarios/s.yaml", "where": "s.yaml:30",
         "outcome": "SKIP", "reason": "zx_pager_query_dirty_ranges is not in the vDSO",
         "steps": [_step(0, "query", "SKIP")]},
    ]
    build = run_dir / arch / "build"
    build.mkdir(parents=True)
    (build / "manifest.json").write_text(json.dumps({
        "board": f"{arch}/sim", "abi_reason": "--abi given", "boot_mode": "shim",
        "kernel_era": {"era": "F", "reason": "sim"}, "tools": {"clang": "clang 19"},
        "outputs": {"image.zbi": "a" * 64, "program.elf": "b" * 64}, "inputs": {},
        "program_id": "c" * 64, "cmdline": "userboot.test.next=bin/rig-test rig.nonce=x"}))
    boot = run_dir / arch / "boot-0"
    boot.mkdir()
    (boot / "qemu-argv.json").write_text(json.dumps(["qemu-system-x", "-m", "64"]))
    (boot / "cmdline.txt").write_text("rig.nonce=x\n")
    serial = [f"@RIG1 {NONCE} 1 sbeg s=0 steps=2 name=one ~0", "noise \x1b[31mred\x00 \x07",
              f"@RIG1 {NONCE} 2 send s=0 steps=2 ~0"]
    if fail:
        serial += [f"@RIG1 {NONCE} 3 sbeg s=1 steps=1 name=two ~0", "", "ZIRCON KERNEL PANIC",
                   "", "UPTIME: 3ms"]
    (boot / "serial.log").write_bytes("\n".join(serial).encode() + b"\n")
    outcome = "CRASH" if fail else "PASS"
    return {"arch": arch, "target": "sim", "simulated": True, "abi": "2024",
            "abi_reason": "--abi given", "accel": "tcg",
            "kernel": {"version": "rig-sim-1", "build_id": "00"}, "build": str(build),
            "outcome": outcome, "counts": {"PASS": 1}, "qemu_s": 0.5,
            "boots": [{"index": 0, "start": 0, "nonce": NONCE, "dir": str(boot),
                       "elapsed_s": 0.5, "exit_status": 0, "end": "crash" if fail else
                       "completed", "reason": "", "crash": "ZIRCON KERNEL PANIC" if fail
                       else None, "in_progress": 1 if fail else None, "registers": None}],
            "scenarios": scenarios}


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "run"
    result = {"schema": "rig.run/1", "rig_version": "0.1", "outcome": "CRASH", "exit_status": 1,
              "interrupted": False, "wall_s": 1.0,
              "arches": [_arch("arm64", d, fail=False), _arch("x64", d, fail=True)]}
    (d / "result.json").write_text(json.dumps(result))
    return d


def test_junit_parses_with_one_testcase_per_scenario_and_arch(run_dir: Path) -> None:
    text = render_junit(read_run(run_dir / "result.json"))
    (run_dir / "junit.xml").write_text(text)
    xml = junitparser.JUnitXml.fromfile(str(run_dir / "junit.xml"))
    suites = {s.name: s for s in xml}
    assert sorted(suites) == ["rig.arm64", "rig.x64"]
    x64 = suites["rig.x64"]
    assert (x64.tests, x64.failures, x64.errors, x64.skipped) == (3, 1, 1, 1)
    cases = {c.name: c for c in x64}
    assert sorted(cases) == ["one [SIMULATED]", "three [SIMULATED]", "two [SIMULATED]"]
    one = cases["one [SIMULATED]"]
    [failure] = one.result
    assert isinstance(failure, junitparser.Failure)
    assert "step 1 query (s.yaml:11)" in failure.text and "expected 1, actual 2" in failure.text
    # The serial lines of the scenario, control characters written as text.
    assert one.system_out.splitlines()[1] == "noise \\x1b[31mred\\x00 \\x07"
    [error] = cases["two [SIMULATED]"].result
    assert isinstance(error, junitparser.Error) and error.type == "CRASH"
    assert "ZIRCON KERNEL PANIC" in error.text
    assert isinstance(cases["three [SIMULATED]"].result[0], junitparser.Skipped)
    assert (suites["rig.arm64"].failures, suites["rig.arm64"].errors) == (0, 0)


def test_xml_text_escapes_what_xml_cannot_hold() -> None:
    assert xml_text("a\x00b\x1bc\td\ufffee") == "a\\x00b\\x1bc\td\\ufffee"


def test_report_json_follows_its_schema_and_carries_provenance(run_dir: Path) -> None:
    doc = render_report_json(read_run(run_dir / "result.json"))
    jsonschema.validate(doc, REPORT_SCHEMA)
    x64 = doc["arches"][1]
    assert (x64["board"], x64["simulated"], x64["tools"], x64["cmdline"]) == (
        "x64/sim", True, {"clang": "clang 19"}, "userboot.test.next=bin/rig-test rig.nonce=x")
    assert x64["images"]["image.zbi"] == "a" * 64
    assert x64["boots"][0]["argv"] == ["qemu-system-x", "-m", "64"]
    assert x64["boots"][0]["cmdline"] == "rig.nonce=x"
    broken = {**doc, "arches": [{**x64, "images": {"image.zbi": "not a hash"}}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, REPORT_SCHEMA)


def test_ktap(run_dir: Path) -> None:
    text = render_ktap(json.loads((run_dir / "result.json").read_text()))
    lines = text.splitlines()
    assert lines[:5] == ["KTAP version 1", "1..2", "    KTAP version 1", "    # Subtest: arm64",
                         "    1..3"]
    assert "    not ok 1 one" in lines and "    not ok 2 two" in lines
    assert "    ok 3 three # SKIP zx_pager_query_dirty_ranges is not in the vDSO" in lines
    assert lines[-1] == "not ok 2 x64" and "ok 1 arm64" in lines


def test_html_is_one_escaped_page(run_dir: Path) -> None:
    page = render_html(read_run(run_dir / "result.json"), base=run_dir)
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert 'href="x64/boot-0/serial.log"' in page
    assert "ZIRCON KERNEL PANIC" in page and "SIMULATED" in page
    assert "\x1b" not in page or "&lt;" in page


def test_cross_arch_rows(run_dir: Path) -> None:
    result = json.loads((run_dir / "result.json").read_text())
    [c] = cross_arch(result)
    assert (c.left, c.right) == ("arm64", "x64")
    assert list(c.between) == [
        Row("s.yaml", "one", -1, "", "PASS", "FAIL"),
        Row("s.yaml", "one", 1, "query", "PASS (as the model)", "FAIL actual=2"),
        Row("s.yaml", "two", -1, "", "PASS", "CRASH: ZIRCON KERNEL PANIC"),
        Row("s.yaml", "two", 0, "supply", "PASS (as the model)", "INCOMPLETE: "),
    ]
    assert c.against_model["arm64"] == ()
    assert [r.step for r in c.against_model["x64"]] == [1, 0]
    assert "cross-arch: 4 difference(s) between arm64 and x64" in render_cross_arch(result)


def test_diff_runs_and_cli(run_dir: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    a = json.loads((run_dir / "result.json").read_text())
    b = {**a, "arches": [a["arches"][0], {**a["arches"][0], "arch": "x64"}]}
    (tmp_path / "b.json").write_text(json.dumps(b))
    diffs = {d.arch: d for d in diff_runs(a, b)}
    assert diffs["arm64"].rows == () and len(diffs["x64"].rows) == 4
    assert main(["diff", str(run_dir / "result.json"), str(tmp_path / "b.json")]) == 1
    assert "x64: 4 difference(s)" in capsys.readouterr().out
    assert main(["diff", str(tmp_path / "b.json"), str(tmp_path / "b.json")]) == 0


def test_report_cli_writes_every_report(run_dir: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["report", str(run_dir / "result.json"), "--junit", str(tmp_path / "j.xml"),
                 "--html", str(tmp_path / "r.html"), "--json", str(tmp_path / "r.json")])
    assert code == 1
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()), REPORT_SCHEMA)
    assert len(list(junitparser.JUnitXml.fromfile(str(tmp_path / "j.xml")))) == 2
    assert "cross-arch" in capsys.readouterr().out
    (tmp_path / "bad.json").write_text('{"schema": "other"}')
    assert main(["report", str(tmp_path / "bad.json")]) == 2


def test_excerpt_stops_at_send_or_after_a_crash() -> None:
    lines = [f"@RIG1 {NONCE} 1 sbeg s=4 steps=1 name=x ~0", "a", f"@RIG1 {NONCE} 2 send s=4 ~0",
             "after"]
    assert excerpt_lines(lines, NONCE, 4) == tuple(lines[:3])
    assert excerpt_lines(lines, NONCE, 5) == ()
