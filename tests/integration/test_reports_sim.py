"""Reports of a real run: the sim under real QEMU on both arches with planted faults; the JUnit
read back by junitparser, the report JSON validated by jsonschema, `rig diff` of two runs."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import junitparser
import pytest

from rig.reports.provenance import REPORT_SCHEMA
from rig.scenario.loader import bundled_suite_paths
from tests.conftest import require_tool
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("10-"))
FAULTS = ("--cmdline", "rig.sim.fault=wrong-status@3.1", "--cmdline", "rig.sim.fault=panic@5.0")


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")


def test_run_writes_every_report(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = rig("run", str(SUITE), "--target", "sim", "--abi", "2024", "--out", str(out),
               "--quiet", *FAULTS, "--junit", str(tmp_path / "j.xml"), "--html",
               str(tmp_path / "r.html"), "--report-json", str(tmp_path / "r.json"), "--ktap")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    xml = junitparser.JUnitXml.fromfile(str(tmp_path / "j.xml"))
    for suite in xml:
        assert (suite.tests, suite.failures, suite.errors, suite.skipped) == (24, 1, 1, 0)
        cases = {c.name: c for c in suite}
        [failure] = cases["query-adjacent-writes-merge [SIMULATED]"].result
        assert "status: expected ZX_OK (model), got ZX_ERR_INTERNAL" in failure.text
        assert "sbeg s=3" in cases["query-adjacent-writes-merge [SIMULATED]"].system_out
        [error] = cases["query-window-clips-ranges [SIMULATED]"].result
        assert error.type == "CRASH" and "ZIRCON KERNEL PANIC" in error.text
    doc = json.loads((tmp_path / "r.json").read_text())
    jsonschema.validate(doc, REPORT_SCHEMA)
    for arch in doc["arches"]:
        assert arch["simulated"] is True and arch["kernel"]["version"].startswith("rig-sim")
        assert {"image.zbi", "program.elf", "sim-kernel.bin"} <= set(arch["images"])
        assert arch["boots"][0]["argv"][0].startswith("qemu-system-")
        assert "rig.sim.fault=wrong-status@3.1" in arch["cmdline"]
        assert set(arch["tools"]) >= {"qemu"}
    assert "not ok 4 query-adjacent-writes-merge" in proc.stdout
    assert "cross-arch: arm64 and x64 agree" not in proc.stdout  # both differ from the model
    page = (tmp_path / "r.html").read_text()
    assert "ZIRCON KERNEL PANIC" in page and "query-adjacent-writes-merge" in page

    clean = tmp_path / "clean"
    assert rig("run", str(SUITE), "--target", "sim", "--abi", "2024", "--arch", "x64",
               "--out", str(clean), "--quiet").returncode == 0
    diff = rig("diff", str(out / "result.json"), str(clean / "result.json"))
    assert diff.returncode == 1
    assert "arm64 is only in run A" in diff.stdout
    assert "query-adjacent-writes-merge step 1 write" in diff.stdout
    assert "FAIL status=-1" in diff.stdout
