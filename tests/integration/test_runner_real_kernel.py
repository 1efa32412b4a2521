"""`rig run` and the runner on the real 2020 arm64 Zircon kernel (optional).

The kernel is someone else's binary (zircon-facts.md section 9 says where to fetch it): never
committed. These tests find it through RIG_REAL_ZBI and skip without it, in CI too.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from rig.image import boards, direct_boot
from rig.image.assemble import with_cmdline
from rig.judge.boot import BootEnd, judge_boot
from rig.judge.manifest import read_manifest
from rig.run.runner import KERNEL_TIMEOUTS, boot_once
from rig.scenario.loader import bundled_suite_paths, load_many
from tests.conftest import our_qemus, require_tool
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

REAL = os.environ.get("RIG_REAL_ZBI")
SUITE = next(p for p in bundled_suite_paths() if p.name.startswith("80-"))


@pytest.fixture(scope="module")
def kernel() -> Path:
    if not REAL or not Path(REAL).is_file():
        pytest.skip("RIG_REAL_ZBI not set (the real 2020 arm64 kernel, zircon-facts.md 9)")
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")
    return Path(REAL)


def test_bundled_suite_without_abi_or_shim_gives_only_pass_and_skip(kernel: Path,
                                                                     tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = rig("run", "--kernel-zbi", str(kernel), "--arch", "arm64", "--out", str(out))
    result = json.loads((out / "result.json").read_text())
    arch = result["arches"][0]
    assert (arch["target"], arch["simulated"], arch["abi"]) == ("zircon", False, "2020")
    assert arch["kernel"]["version"].startswith("git-ae2f09ac")
    outcomes = {s["outcome"] for s in arch["scenarios"]}
    assert outcomes == {"PASS", "SKIP"}, proc.stdout[-3000:]
    assert proc.returncode == 0


def _build(kernel: Path, out: Path, *extra: str) -> Path:
    build = out / "build"
    made = rig("build", str(SUITE), "--arch", "arm64", "--target", "zircon", "--kernel-zbi",
               str(kernel), "--out", str(build), *extra)
    assert made.returncode == 0, made.stderr
    return build


def _boot(build: Path, boot_dir: Path, words: list[str],
          script: tuple[tuple[str, str], ...] = ()) -> tuple[BootEnd, str, list[str]]:
    manifest = read_manifest(build)
    boot_dir.mkdir(parents=True)
    image = boot_dir / "image.zbi"
    image.write_bytes(with_cmdline((build / "image.zbi").read_bytes(), words))
    # The direct-boot files of the build, with this boot's data.zbi split from its image.
    board = boards.load_board("arm64", "zircon")
    direct_boot.write_direct_boot(boot_dir, direct_boot.build_direct_boot(
        board, image.read_bytes()))
    argv = direct_boot.qemu_argv(board, boot_dir, accel="tcg")
    got = boot_once(argv, boot_dir, nonce=manifest.nonce, timeouts=KERNEL_TIMEOUTS,
                    stop=threading.Event(), script=script)
    verdict = judge_boot(manifest, load_many(sorted((build / "scenarios").glob("*.yaml"))),
                         got.lines, nonce=manifest.nonce, hang=got.hang, infra=got.infra)
    return verdict.end, verdict.reason, got.lines


def test_a_panic_typed_into_the_kernel_shell_is_a_crash(kernel: Path, tmp_path: Path) -> None:
    build = _build(kernel, tmp_path)
    words = (build / "cmdline.txt").read_text().split() + ["kernel.shell=true"]
    # facts 9: the shell replaces userboot; its `crash` command is a real data-fault panic.
    end, reason, lines = _boot(build, tmp_path / "boot", words,
                               script=(("entering main console loop", "crash\n"),))
    assert end is BootEnd.CRASH, lines[-20:]
    assert "ZIRCON KERNEL PANIC" in reason
    assert our_qemus(str(tmp_path)) == []


def test_a_missing_program_is_never_a_pass(kernel: Path, tmp_path: Path) -> None:
    build = _build(kernel, tmp_path)
    words = [w.replace("bin/rig-test", "bin/nonexistent")
             for w in (build / "cmdline.txt").read_text().split()]
    end, reason, lines = _boot(build, tmp_path / "boot", words)
    assert end is BootEnd.CRASH, lines[-20:]
    assert reason.startswith("userboot:") or "reboot" in reason, reason
    assert our_qemus(str(tmp_path)) == []
