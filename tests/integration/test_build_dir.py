"""The build directory is the user's to trust: `rig build` never deletes or overwrites a file it
did not write, a failed or interrupted rebuild leaves nothing `check-log` would judge, and
`check-log` refuses a directory whose files are not the ones the manifest records."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from rig import api
from rig.judge.builddir import RECORD_NAME
from tests.conftest import require_tool
from tests.conftest import run_rig as rig

pytestmark = pytest.mark.toolchain

SCENARIO = ("scenarios:\n  - name: {name}\n    vmo: {{pages: 2}}\n    steps:\n"
            "      - supply: [0, 2]\n      - write: [1, 1]\n"
            "      - query_all: {{buffer_entries: 2}}\n")


@pytest.fixture(autouse=True)
def _clang() -> None:
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def write(path: Path, name: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCENARIO.format(name=name))
    return path


def build(out: Path, cache: Path, *files: Path, cwd: Path | None = None
          ) -> subprocess.CompletedProcess[str]:
    return rig("build", *map(str, files), "--arch", "x64", "--target", "zircon", "--out",
               str(out), "--cache-dir", str(cache), cwd=cwd)


def test_build_never_deletes_the_users_scenarios(tmp_path: Path, cache: Path) -> None:
    # The case: `cd p; rig build scenarios/s.yaml ... --out .` deleted s.yaml and its
    # siblings, then a traceback.
    project = tmp_path / "p"
    s = write(project / "scenarios" / "s.yaml", "s")
    sibling = write(project / "scenarios" / "t.yaml", "t")
    before = {p: p.read_bytes() for p in (s, sibling)}
    proc = build(Path("."), cache, Path("scenarios/s.yaml"), cwd=project)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("rig build: error: --out .: the directory is not empty "
                                  "(scenarios) and holds no rig build (no manifest.json)")
    assert "Traceback" not in proc.stderr
    assert {p: p.read_bytes() for p in (s, sibling)} == before
    assert sorted(p.name for p in project.rglob("*")) == ["s.yaml", "scenarios", "t.yaml"]


def test_rebuild_replaces_only_what_it_wrote(tmp_path: Path, cache: Path) -> None:
    a, b = write(tmp_path / "in" / "a.yaml", "a"), write(tmp_path / "in" / "b.yaml", "b")
    out = tmp_path / "out"
    assert build(out, cache, a, b).returncode == 0
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == ["a.yaml", "b.yaml"]
    assert build(out, cache, a).returncode == 0  # b's copy was the build's: it goes
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == ["a.yaml"]
    mine = out / "scenarios" / "notes.yaml"
    mine.write_text("my own notes\n")
    (out / "serial.log").write_text("a log kept beside the build\n")
    proc = build(out, cache, a)
    assert proc.returncode == 2
    assert "scenarios/notes.yaml were not written by rig build" in proc.stderr
    assert mine.read_text() == "my own notes\n"
    mine.unlink()
    # A file the build wrote and the user changed since is the user's now.
    copy = out / "scenarios" / "a.yaml"
    copy.write_text(copy.read_text() + "# edited\n")
    proc = build(out, cache, a)
    assert proc.returncode == 2
    assert "files the earlier build wrote were changed since: scenarios/a.yaml" in proc.stderr
    assert copy.read_text().endswith("# edited\n")
    assert (out / "serial.log").read_text() == "a log kept beside the build\n"


def test_check_log_refuses_an_edited_or_half_built_directory(tmp_path: Path,
                                                            cache: Path) -> None:
    a = write(tmp_path / "in" / "a.yaml", "a")
    out = tmp_path / "out"
    assert build(out, cache, a).returncode == 0
    log = tmp_path / "serial.log"
    log.write_text("nothing\n")
    # The intact build is judged (nothing in the log: not a pass, but no refusal).
    assert rig("check-log", str(log), "--build", str(out)).returncode == 1
    # An edited scenario copy would be judged as if it were the built one: refused.
    copy = out / "scenarios" / "a.yaml"
    original = copy.read_bytes()
    copy.write_bytes(original.replace(b"write: [1, 1]", b"write: [0, 1]"))
    proc = rig("check-log", str(log), "--build", str(out))
    assert proc.returncode == 2
    assert proc.stderr == (f"rig check-log: error: {out}: not the build its manifest.json "
                           "describes: scenarios/a.yaml changed since the build; rebuild with "
                           "`rig build`\n")
    copy.write_bytes(original)
    (out / "program.elf").write_bytes(b"another program")
    proc = rig("check-log", str(log), "--build", str(out))
    assert proc.returncode == 2 and "program.elf changed since the build" in proc.stderr


def test_interrupted_rebuild_leaves_no_manifest_and_can_be_redone(tmp_path: Path,
                                                                  cache: Path) -> None:
    a, b = write(tmp_path / "in" / "a.yaml", "a"), write(tmp_path / "in" / "b.yaml", "b")
    out = tmp_path / "out"
    assert build(out, cache, a).returncode == 0

    def interrupt(line: str) -> None:
        if line.startswith("program:"):  # after the new program.elf, before the manifest
            raise KeyboardInterrupt

    req = api.BuildRequest(scenario_paths=(b,), arch="x64", target="zircon", out_dir=out,
                           cache_dir=cache)
    with pytest.raises(KeyboardInterrupt):
        api.build(req, printer=interrupt)
    assert not (out / "manifest.json").exists() and (out / RECORD_NAME).exists()
    log = tmp_path / "serial.log"
    log.write_text("nothing\n")
    proc = rig("check-log", str(log), "--build", str(out))
    assert proc.returncode == 2 and "no manifest" in proc.stderr
    # The next build knows the directory from the record moved aside.
    assert build(out, cache, b).returncode == 0
    assert not (out / RECORD_NAME).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["name"] for s in manifest["scenarios"]] == ["b"]


def test_same_file_twice_is_refused_same_name_in_two_files_is_not(tmp_path: Path,
                                                                  cache: Path) -> None:
    a = write(tmp_path / "one" / "s.yaml", "same")
    b = write(tmp_path / "two" / "s.yaml", "same")
    proc = build(tmp_path / "out1", cache, a, a)
    assert proc.returncode == 2
    assert proc.stderr == (f"rig build: error: {a}: the same scenario file is given twice (also "
                           f"as {a}); give each file once\n")
    assert build(tmp_path / "out2", cache, a, b).returncode == 0
    manifest = json.loads((tmp_path / "out2" / "manifest.json").read_text())
    assert [(s["name"], s["file"]) for s in manifest["scenarios"]] == [
        ("same", "scenarios/s.yaml"), ("same", "scenarios/01-s.yaml")]
