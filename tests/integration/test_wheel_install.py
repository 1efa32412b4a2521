"""A non-editable install works: the wheel carries guest/ and images/ (rig/_data/), and `rig
build` runs from a directory that is not the checkout.

The wheel is built from a copy of the sources (so no build/ appears in the checkout), without
build isolation (no network: setuptools comes from the test extras), and installed with
`--no-deps` into a fresh venv that sees the current venv's site-packages for the dependencies
through a plain path line (which does not run the current venv's editable-install hook).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, require_tool, skip_or_fail

pytestmark = pytest.mark.toolchain

SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "rig", "guest", "images")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
BUILD_TIMEOUT_S = 300


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=BUILD_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import setuptools
    except ImportError:
        skip_or_fail("setuptools is not installed in this venv (pip install -e '.[test]')")
    major, minor = (int(x) for x in setuptools.__version__.split(".")[:2])
    if (major, minor) < (70, 1):
        skip_or_fail(f"setuptools {setuptools.__version__} cannot build a wheel without the "
                     "`wheel` package; the test extras ask for setuptools>=70.1")
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = Path(REPO_ROOT) / name
        if not path.exists():
            continue
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=IGNORE)
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    proc = _run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps",
                 "--no-index", "-q", "-w", str(dist), str(src)], cwd=src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (whl,) = dist.glob("rig-*.whl")
    return whl


def test_wheel_holds_the_data_trees(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for tracked in ("guest/templates/program.c.j2", "guest/include/rig/rig.h",
                    "images/cmdline.yaml", "images/x64/zircon.yaml",
                    "images/arm64/zircon.yaml"):
        assert f"rig/_data/{tracked}" in names, tracked
    assert "rig/scenario/suite/10-query-basics.yaml" in names
    assert not [n for n in names if "__pycache__" in n]


def test_installed_wheel_builds_from_another_directory(wheel: Path, tmp_path: Path) -> None:
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")
    venv = tmp_path / "venv"
    proc = _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv",
                 "--without-pip", str(venv)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; "
                         "print(sysconfig.get_paths()['purelib'])"], cwd=tmp_path).stdout.strip())
    # The dependencies (jinja2, PyYAML, ...) from this venv, as a plain path: the editable
    # install's own .pth hook in there is not run, so `rig` can only come from the wheel.
    (purelib / "rig-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    proc = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                 "--no-deps", "--no-index", str(wheel)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RIG_GUEST_DIR", "RIG_IMAGES_DIR", "PYTHONPATH")}
    where = _run([str(python), "-c", "import rig.resources as r; print(r.guest_dir()); "
                  "print(r.images_dir())"], cwd=elsewhere, env=env)
    assert where.returncode == 0, where.stderr
    assert where.stdout.split() == [str(purelib / "rig" / "_data" / "guest"),
                                    str(purelib / "rig" / "_data" / "images")]

    out = elsewhere / "D"
    proc = _run([str(venv / "bin" / "rig"), "build", "--target", "zircon", "--arch", "x64",
                 "--out", str(out), "--cache-dir", str(tmp_path / "cache")],
                cwd=elsewhere, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (out / "program.elf").stat().st_size > 0
    assert (out / "manifest.json").is_file()
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == sorted(
        p.name for p in (Path(REPO_ROOT) / "rig" / "scenario" / "suite").glob("*.yaml"))
