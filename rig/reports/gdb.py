"""`rig repro BUNDLE --gdb`: boot a bundle with QEMU's gdb stub and the program held at its start.

The program option `rig.gdb=1` (guest/runtime/record.c) makes the test program print
`rig.gdb: load=0x... hold=0x...` after its hello record and spin until a debugger clears the
hold flag: load addresses change every boot, so the gdb commands are printed only once the
program has said where it is. QEMU's gdb stub listens on 127.0.0.1:PORT (`-gdb`).
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rig.errors import BootError
from rig.image import boards, direct_boot
from rig.image.assemble import with_cmdline
from rig.judge.manifest import read_manifest
from rig.reports.bundle import Replay, judge_replay, read_expected
from rig.run.console import Console, Eof
from rig.run.qemu import Qemu, QemuError

GDB_OPTION = "rig.gdb=1"
READY = re.compile(r"rig\.gdb: load=0x(?P<load>[0-9a-f]+) hold=0x(?P<hold>[0-9a-f]+)")
READY_TIMEOUT_S = 60.0
_END = re.compile(r"@RIG1 [0-9a-f]{16} \d+ bye\b|\*\*\* Exit status|entering panic shell loop")


def with_program_option(words: Sequence[str], nonce: str, option: str) -> tuple[str, ...]:
    """The command line with one more option for the program, passed the way rig.nonce is in
    the build's era: inside the userboot program word as a `+` argument (eras D on), and as a
    plain word (the environ of eras A-C); rig_env_get reads either."""
    out = [f"{w}+{option}" if f"+rig.nonce={nonce}" in w else w for w in words]
    return (*out, option)


@dataclass(frozen=True)
class GdbSession:
    port: int
    load: int
    hold: int
    commands: tuple[str, ...]


def gdb_commands(bundle: Path, *, port: int, load: int, hold: int, step: int,
                 gdb: str) -> tuple[str, ...]:
    """The gdb command lines that attach, load the ELF's symbols at ``load``, stop before the
    failing step's syscall (the record of the step before it, or the scenario's sbeg for step
    0) and release the program."""
    elf = (bundle / "build" / "program.elf").resolve()
    brk = ["break rig_record_sbeg"] if step <= 0 else \
        ["break rig_record_step", *([f"ignore 1 {step - 1}"] if step > 1 else [])]
    return (f"{gdb} -q -ex 'set pagination off' -ex 'target remote 127.0.0.1:{port}'",
            f"(gdb) add-symbol-file {elf} -o {load:#x}", *(f"(gdb) {b}" for b in brk),
            f"(gdb) set var *(volatile unsigned int *){hold:#x} = 0",
            "(gdb) continue")


def run_gdb(bundle: Path, *, port: int, on_ready: Callable[[GdbSession], None],
            stop: threading.Event | None = None, wait_s: float = 3600.0) -> Replay:
    """Boot the bundle held for a debugger; call ``on_ready`` with the commands once the program
    printed its load address, then read the console until the program ends (or ``wait_s``).

    :raises BootError: QEMU failed, or the program never said where it is loaded.
    """
    stop = stop or threading.Event()
    expected = read_expected(bundle)
    build = bundle / "build"
    manifest = read_manifest(build)
    board = boards.load_board(manifest.arch, manifest.target)
    gdb_dir = bundle / "gdb"
    gdb_dir.mkdir(parents=True, exist_ok=True)
    words = with_program_option(manifest.cmdline.split(), manifest.nonce, GDB_OPTION)
    image = build / "image.zbi"
    data = with_cmdline(image.read_bytes(), words, source=str(image))
    (gdb_dir / "image.zbi").write_bytes(data)
    names = ["image.zbi"]
    if manifest.boot_mode == direct_boot.BOOT_DIRECT:
        names += direct_boot.write_direct_boot(
            gdb_dir, direct_boot.build_direct_boot(board, data, source=str(image)))
    argv = [str(a) for a in expected["argv"]]
    for name in names:
        o, n = str((build / name).resolve()), str((gdb_dir / name).resolve())
        argv = [a.replace(o, n) for a in argv]
    argv += ["-gdb", f"tcp:127.0.0.1:{port}"]
    (gdb_dir / "qemu-argv.json").write_text(json.dumps(argv, indent=1) + "\n")
    step = min((int(s.get("index", 0)) for s in expected.get("failed_steps", [])), default=0)
    gdb = "gdb-multiarch" if shutil.which("gdb-multiarch") else "gdb"
    lines: list[str] = []
    qemu = Qemu(argv, gdb_dir, install_hint=f"sudo apt-get install -y {board.qemu_package}")
    try:
        qemu.start()
    except QemuError as exc:
        raise BootError(f"rig repro --gdb: {exc}") from exc
    console = Console(qemu.console.fileno(), gdb_dir / "serial.log")  # type: ignore[union-attr]
    ready = None
    t0 = time.monotonic()
    try:
        while not stop.is_set():
            limit = READY_TIMEOUT_S if ready is None else wait_s
            if time.monotonic() - t0 > limit:
                break
            try:
                line = console.read_line(0.25)
            except Eof:
                break
            if line is None:
                continue
            lines.append(line.text)
            m = READY.search(line.text)
            if m and ready is None:
                load, hold = int(m.group("load"), 16), int(m.group("hold"), 16)
                ready = GdbSession(port, load, hold, gdb_commands(
                    bundle, port=port, load=load, hold=hold, step=step, gdb=gdb))
                on_ready(ready)
            elif _END.search(line.text) and ready is not None:
                end = time.monotonic() + 1.0  # the exit line and power-off follow
                while time.monotonic() < end:
                    try:
                        more = console.read_line(0.25)
                    except Eof:
                        break
                    if more is not None:
                        lines.append(more.text)
                break
    finally:
        console.close()
        qemu.close()
    if ready is None:
        raise BootError(f"rig repro --gdb: the program never printed `rig.gdb: load=...` "
                        f"within {READY_TIMEOUT_S:.0f} s; see {gdb_dir / 'serial.log'}")
    return judge_replay(bundle, lines, log=gdb_dir / "serial.log")
