"""CLI exit codes and messages, through the real entry point (`python -m rig`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_rig as rig

GOOD = "scenarios:\n  - name: ok\n    vmo: {pages: 2}\n    steps:\n      - supply: [0, 2]\n"
BAD = "scenarios:\n  - name: bad\n    vmo: {pages: 2}\n    steps:\n      - explode: [0, 1]\n"


def test_validate_good_file_exits_0(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    proc = rig("validate", str(tmp_path / "good.yaml"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"{tmp_path}/good.yaml: ok (1 scenarios, 1 steps)\n", "")


def test_validate_bad_file_exits_2_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bad.yaml").write_text(BAD)
    proc = rig("validate", str(tmp_path / "good.yaml"), str(tmp_path / "bad.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {tmp_path}/bad.yaml:5: scenario 'bad': step 0: "
                                  "unknown step 'explode'")
    assert "Traceback" not in proc.stderr


def test_validate_missing_file_exits_2(tmp_path: Path) -> None:
    proc = rig("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert "cannot read scenario file" in proc.stderr


def test_usage_error_exits_2() -> None:
    proc = rig("no-such-command")
    assert proc.returncode == 2
    assert "invalid choice" in proc.stderr


def test_help_documents_exit_codes() -> None:
    proc = rig("--help")
    assert proc.returncode == 0
    assert "2 bad input" in proc.stdout and "3 environment" in proc.stdout


def test_validate_reports_a_pager_used_after_no_rights(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "scenarios:\n  - name: a\n    vmo: {pages: 1}\n    steps:\n"
        "      - query: {pager: no_rights}\n      - query: {}\n")
    proc = rig("validate", str(tmp_path / "s.yaml"))
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: {tmp_path}/s.yaml:6: scenario 'a': step 1 (query): uses the scenario's pager "
        "after step 0 passed 'pager: no_rights', which replaces that handle (pagers cannot be "
        "duplicated); move the no_rights step after the last use of the pager\n")


def test_validate_reports_a_blocking_step(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "scenarios:\n  - name: a\n    vmo: {pages: 2}\n    steps:\n      - read: [1, 1]\n")
    proc = rig("validate", str(tmp_path / "s.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {tmp_path}/s.yaml:5: scenario 'a': step 0 (read)")
    assert "page 1" in proc.stderr


OOR = ("scenarios:\n  - name: oor\n    vmo: {pages: 2}\n    steps:\n      - supply: [0, 3]\n"
       "      - supply: [0, 2]\n")
OOR_WARNING = ("s.yaml:5: scenario 'oor': step 0 (supply): pages 0..2 reach past the VMO "
               "(2 pages at most); the model predicts what the kernel returns (e.g. "
               "ZX_ERR_OUT_OF_RANGE); if that is the test, say so with expect: {status: ...}\n")


def test_validate_warns_about_out_of_range_without_expect(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(OOR)
    proc = rig("validate", str(tmp_path / "s.yaml"))
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, f"{tmp_path}/s.yaml: ok (1 scenarios, 2 steps, 1 warnings)\n",
        f"warning: {tmp_path}/{OOR_WARNING}")
    strict = rig("validate", "--strict", str(tmp_path / "s.yaml"))
    assert (strict.returncode, strict.stdout, strict.stderr) == (
        2, "", f"error: {tmp_path}/{OOR_WARNING}")


def test_expect_predicts_out_of_range_without_expect(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(OOR)
    proc = rig("expect", str(tmp_path / "s.yaml"), "--abi", "2024", "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"ZX_ERR_OUT_OF_RANGE"' in proc.stdout and "Traceback" not in proc.stderr


def test_build_runs_the_checks_validate_runs(tmp_path: Path) -> None:
    # A write to a page never supplied would hang the guest: build refuses it as validate does
    # (before any compile, so no clang is needed here).
    (tmp_path / "s.yaml").write_text(
        "scenarios:\n  - name: a\n    vmo: {pages: 2}\n    steps:\n      - write: [1, 1]\n")
    proc = rig("build", str(tmp_path / "s.yaml"), "--arch", "x64", "--target", "zircon",
               "--out", str(tmp_path / "out"))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(
        f"rig build: error: {tmp_path}/s.yaml:5: scenario 'a': step 0 (write): would block")
    assert not (tmp_path / "out").exists()


GOLDEN_BUILD = Path(__file__).resolve().parents[1] / "data" / "logs" / "checklog-build"


def test_check_log_refuses_logs_that_are_not_regular_files(tmp_path: Path) -> None:
    # A FIFO used to hang check-log, /dev/zero to end in MemoryError.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for log in (fifo, Path("/dev/zero")):
        proc = subprocess.run([sys.executable, "-m", "rig", "check-log", str(log), "--build",
                               str(GOLDEN_BUILD)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=60, check=False)
        assert (proc.returncode, proc.stderr) == (
            2, f"rig check-log: error: {log}: not a regular file; give the serial log as a "
               "file (capture a pipe or device to a file first)\n")


def test_zbi_extract_only_into_a_new_or_empty_directory(tmp_path: Path) -> None:
    from rig.image import zbi

    image = tmp_path / "i.zbi"
    image.write_bytes(zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_X64, bytes(16)),
                                     zbi.cmdline_item("a=1")]))
    a_file = tmp_path / "file"
    a_file.write_text("mine\n")
    full = tmp_path / "full"
    full.mkdir()
    (full / "00-KERNEL_X64.bin").symlink_to(a_file)  # a symlink already in DIR
    for dest, why in ((a_file, "exists and is not a directory"), (full, "not empty")):
        proc = rig("zbi", "extract", str(image), str(dest))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith(f"rig zbi: error: {dest}: {why}"), proc.stderr
        assert "Traceback" not in proc.stderr
    assert a_file.read_text() == "mine\n"
    proc = rig("zbi", "extract", str(image), str(tmp_path / "new"))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "new").iterdir()) == [
        "00-KERNEL_X64.bin", "01-CMDLINE.txt"]
