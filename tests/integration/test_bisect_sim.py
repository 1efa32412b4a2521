"""`rig bisect` under a real `git bisect run` with the sim: the commit that plants the bug is
found; a commit whose build fails is skipped (125); --bundle judges one recorded failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rig.scenario.loader import bundled_suite_paths
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("10-"))
FAULT = "rig.sim.fault=wrong-status@3.1"
RIG = f"{sys.executable} -m rig"


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL, timeout=600, check=True).stdout


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")
    require_tool("git", "git")


def test_git_bisect_run_finds_the_commit_that_plants_the_bug(tmp_path: Path) -> None:
    repo = tmp_path / "kernel"
    repo.mkdir()
    git(repo, "init", "-q")
    # Seven "kernel commits": the fault word is the bug (from c2 on); c4, the first midpoint
    # git bisect tries, does not build.
    history = [("", 0), (FAULT, 0), (FAULT, 0), (FAULT, 1), (FAULT, 0), (FAULT, 0), (FAULT, 0)]
    commits = []
    for k, (fault, build_fails) in enumerate(history, 1):
        (repo / "faults.txt").write_text(fault + "\n")
        (repo / "build.sh").write_text(f"# commit {k}\nexit {build_fails}\n")
        git(repo, "add", "faults.txt", "build.sh")
        git(repo, "commit", "-q", "-m", f"c{k}")
        commits.append(git(repo, "rev-parse", "HEAD").strip())
    script = (f'{RIG} bisect {SUITE} --arch x64 --target sim --abi 2024 '
              f'--cmdline "$(cat faults.txt)" --build-cmd "sh build.sh"')
    git(repo, "bisect", "start", commits[-1], commits[0])
    out = git(repo, "bisect", "run", "sh", "-c", script)
    assert f"{commits[1]} is the first bad commit" in out, out
    assert f"# skip: [{commits[3]}]" in git(repo, "bisect", "log")


def test_bisect_exit_statuses(tmp_path: Path) -> None:
    def bisect(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "rig", "bisect", *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=600, check=False)

    base = ("--arch", "x64", "--target", "sim", "--abi", "2024")
    assert bisect(str(SUITE), *base).returncode == 0
    bad = bisect(str(SUITE), *base, "--cmdline", FAULT)
    assert bad.returncode == 1 and "rig bisect: bad" in bad.stdout
    assert bisect(str(SUITE), *base, "--build-cmd", "false").returncode == 125
    junk = tmp_path / "junk.zbi"
    junk.write_bytes(b"not a zbi")
    skip = bisect(str(SUITE), "--arch", "x64", "--kernel-zbi", str(junk))
    assert skip.returncode == 125, skip.stdout + skip.stderr
    # A bundle: bad when its failure comes back, good when it is gone, skip when it fails
    # another way.
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "rig", "run", str(SUITE), *base, "--out", str(out),
                    "--quiet", "--cmdline", FAULT], capture_output=True, timeout=600,
                   stdin=subprocess.DEVNULL, check=False)
    b = str(out / "bundles" / "x64-003-query-adjacent-writes-merge")
    assert bisect("--bundle", b, *base, "--cmdline", "rig.sim.fault=wrong-status@0.1"
                  ).returncode == 1
    assert bisect("--bundle", b, *base).returncode == 0
    assert bisect("--bundle", b, *base, "--cmdline", "rig.sim.fault=panic@0.0"
                  ).returncode == 125
