"""`rig repro --gdb` under real QEMU and the sim: the program prints its load address and waits;
a real gdb attaches with the printed commands, stops before the failing step and releases it;
the failure then reproduces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rig.reports.gdb import GdbSession, run_gdb, with_program_option
from tests.conftest import require_tool

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
PORT = 34571


def test_gdb_attaches_at_the_printed_address_and_breaks_before_the_failing_step(
        tmp_path: Path) -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")
    require_tool("gdb", "gdb")
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "rig", "run", str(DATA / "wrong-expect.yaml"),
                    "--arch", "x64", "--target", "sim", "--abi", "2024", "--out", str(out),
                    "--quiet"], capture_output=True, stdin=subprocess.DEVNULL, timeout=300,
                   check=False)
    bundle = out / "bundles" / "x64-001-wrong-expect"
    seen: list[GdbSession] = []
    gdb_out: list[str] = []

    def attach(session: GdbSession) -> None:
        seen.append(session)
        # The printed commands, run by a real gdb in batch mode, plus a look at where it stopped.
        cmds = [c.removeprefix("(gdb) ") for c in session.commands[1:]]
        argv = ["gdb", "-q", "-batch", "-ex", "set pagination off", "-ex",
                f"target remote 127.0.0.1:{session.port}"]
        for c in [*cmds, "info symbol $pc", "delete", "detach"]:
            argv += ["-ex", c]
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=60, check=False)
        gdb_out.append(proc.stdout + proc.stderr)

    replay = run_gdb(bundle, port=PORT, on_ready=attach, wait_s=60)
    [session] = seen
    assert session.load != 0 and session.hold != 0  # the flag may be on the stack
    assert session.commands[0].startswith("gdb") and f"127.0.0.1:{PORT}" in session.commands[0]
    assert session.commands[1:4] == (
        f"(gdb) add-symbol-file {(bundle / 'build' / 'program.elf').resolve()} "
        f"-o {session.load:#x}", "(gdb) break rig_record_step", "(gdb) ignore 1 2")
    assert "Breakpoint 1, " in gdb_out[0] and "rig_record_step" in gdb_out[0], gdb_out[0]
    assert replay.reproduced, replay


def test_with_program_option() -> None:
    words = ("kernel.x=1", "userboot.next=bin/rig-test+rig.nonce=0123456789abcdef", "a")
    assert with_program_option(words, "0123456789abcdef", "rig.gdb=1") == (
        "kernel.x=1", "userboot.next=bin/rig-test+rig.nonce=0123456789abcdef+rig.gdb=1", "a",
        "rig.gdb=1")
