"""`rig expect` through the real entry point rig.cli.main: exit codes, JSON shape, table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rig.cli.main import main

SCENARIOS = """\
scenarios:
  - name: one-dirty
    vmo: {pages: 4}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {}
        expect: {status: ZX_OK, actual: 1, avail: 1, ranges: [[1, 1, 0]]}
      - stats: {reset: false}
      - query_all: {buffer_entries: 1}
  - name: only-2024
    abi: [2024]
    vmo: {pages: 1}
    steps:
      - query: {vmo: no_rights}
        expect: {status: ZX_ERR_ACCESS_DENIED}
"""


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_json_has_the_issue_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SCENARIOS)
    assert main(["expect", path, "--abi", "2024", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == {"abi": "2024", "scenarios": [
        {"name": "one-dirty", "steps": [
            {"index": 0, "op": "supply", "status": "ZX_OK"},
            {"index": 1, "op": "write", "status": "ZX_OK"},
            {"index": 2, "op": "query", "status": "ZX_OK", "actual": 1, "avail": 1,
             "ranges": [[4096, 4096, 0]]},
            {"index": 3, "op": "stats", "status": "ZX_OK", "modified": 1},
            {"index": 4, "op": "query_all", "status": "ZX_OK", "actual": 1, "avail": 1,
             "ranges": [[4096, 4096, 0]], "calls": 1},
        ]},
        {"name": "only-2024", "steps": [
            {"index": 0, "op": "query", "status": "ZX_ERR_ACCESS_DENIED"}]},
    ]}
    assert out.err == ""


def test_json_lists_skipped_scenarios_and_unavailable_steps(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SCENARIOS)
    assert main(["expect", path, "--abi", "2020", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["skipped"] == [{"name": "only-2024", "reason": "abi: 2024"}]
    assert doc["scenarios"][0]["steps"][2] == {
        "index": 2, "op": "query", "status": None,
        "unavailable": "zx_pager_query_dirty_ranges"}


def test_table_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SCENARIOS)
    assert main(["expect", path, "--abi", "2022"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"one-dirty  ({path}:2)"
    assert lines[4] == "    2  query                ZX_OK                       1      1  [1,1,0]"
    assert lines[-2:] == [
        f"skipped only-2024 ({path}:11): not for profile 2022 (abi: 2024)",
        "profile 2022: 1 scenarios predicted, 1 skipped, 0 disagreements with expect:"]


def test_disagreement_exits_1_and_names_file_scenario_step_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, SCENARIOS.replace("ranges: [[1, 1, 0]]", "ranges: [[2, 1, 0]]"))
    assert main(["expect", path, "--abi", "2024"]) == 1
    err = capsys.readouterr().err
    assert err == (f"disagreement: {path}:7: scenario 'one-dirty': step 2 (query): ranges: "
                   "expected [[2, 1, 0]], model [[1, 1, 0]] (profile 2024; ranges in pages "
                   "when aligned)\n")


def test_blocking_scenario_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "scenarios:\n  - name: b\n    vmo: {pages: 2}\n    steps:\n"
                           "      - read: [0, 1]\n")
    assert main(["expect", path, "--abi", "2024"]) == 2
    assert capsys.readouterr().err == (
        f"rig expect: error: {path}:5: scenario 'b': step 0 (read): would block on profile "
        "2020, 2022, 2024: page 0 not supplied (a READ page request); add `supply: [0, 1]` "
        "before this step, or restrict the scenario with `abi:`\n")


def test_without_files_the_bundled_suite_is_used(capsys: pytest.CaptureFixture[str]) -> None:
    for profile in ("2020", "2022", "2024"):
        assert main(["expect", "--abi", profile, "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["abi"] == profile
        assert len(doc["scenarios"]) + len(doc.get("skipped", [])) >= 80


def test_unknown_profile_is_rejected_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["expect", "--abi", "2023"])
    assert exc.value.code == 2
    assert "invalid choice: '2023'" in capsys.readouterr().err


def test_validate_reports_blocking_steps_through_the_model(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "scenarios:\n  - name: t\n    vmo: {pages: 2, trap_dirty: true}\n"
                           "    steps:\n      - supply: [0, 2]\n      - write: [0, 1]\n")
    assert main(["validate", path]) == 2
    assert capsys.readouterr().err == (
        f"error: {path}:6: scenario 't': step 1 (write): would block on profile 2022, 2024: "
        "page 0 clean in a trap_dirty VMO (a DIRTY page request); add `op_dirty: [0, 1]` "
        "before this step, or restrict the scenario with `abi:`\n")
