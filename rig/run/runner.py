"""The runner: boot a build, drive its console, judge each boot, reboot past a crash or hang.

One boot runs many scenarios. When the guest crashes or hangs in scenario k, k gets CRASH or
HANG, k is run again from a fresh boot (`rig.start=<k>`, a fresh nonce, the same ELF: the
image's command line is all that changes) to tell a bug that needs the earlier scenarios from
one that does not, and that boot goes on with the rest. Boots are bounded; nothing recorded is
lost: every console byte goes to `boot-N/serial.log` as it arrives, and every decided scenario
is appended to the journal at once.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rig.image import boards, direct_boot
from rig.image.assemble import with_cmdline
from rig.image.cmdline import reboot_cmdline
from rig.judge.boot import BootEnd, BootVerdict, judge_boot, merge_scenarios
from rig.judge.compare import Outcome, ScenarioVerdict
from rig.judge.crash import CrashScanner
from rig.judge.manifest import Manifest
from rig.run.console import Console, Eof
from rig.run.qemu import Qemu, QemuError
from rig.scenario.loader import ScenarioFile

LOG = logging.getLogger(__name__)

POLL_S = 0.25  # the longest a read waits before looking at deadlines and the stop flag
EXIT_GRACE_S = 5.0  # after `bye`, how long the guest may take to print its exit and power off
_LIVE_RECORD = re.compile(r"@RIG1 ([0-9a-f]{16}) \d+ (sbeg|send|bye)\b(?:.*? s=(\d+))?")


@dataclass(frozen=True)
class Timeouts:
    """Layered timeouts in seconds, before scaling."""

    first_output_s: float
    silence_s: float
    scenario_s: float
    boot_s: float

    def scaled(self, factor: float) -> Timeouts:
        return Timeouts(self.first_output_s * factor, self.silence_s * factor,
                        self.scenario_s * factor, self.boot_s * factor)


# The sim boots in well under a second; a real kernel takes longer to reach userboot and may
# print for a while before the program starts (facts 8: 0.3 s to userboot on TCG, 2020).
SIM_TIMEOUTS = Timeouts(first_output_s=10, silence_s=10, scenario_s=30, boot_s=300)
KERNEL_TIMEOUTS = Timeouts(first_output_s=30, silence_s=30, scenario_s=60, boot_s=900)


def timeout_scale(*, accel: str, user_scale: float, guests: int) -> float:
    """TCG is slower than KVM; a loaded machine (more guests than cores, or a high load
    average) slows every guest; the user's --timeout-scale multiplies the rest."""
    cores = os.cpu_count() or 1
    load = max(os.getloadavg()[0] / cores, guests / cores, 1.0)
    return (1.0 if accel == "kvm" else 1.5) * load * user_scale


@dataclass
class BootRecord:
    index: int
    start: int
    nonce: str
    dir: Path
    argv: list[str]
    elapsed_s: float = 0.0
    exit_status: int | None = None
    end: str = ""
    reason: str = ""
    crash_title: str | None = None
    in_progress: int | None = None
    registers: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "start": self.start, "nonce": self.nonce,
                "dir": str(self.dir), "elapsed_s": round(self.elapsed_s, 3),
                "exit_status": self.exit_status, "end": self.end, "reason": self.reason,
                "crash": self.crash_title, "in_progress": self.in_progress,
                "registers": self.registers}


@dataclass
class ArchRun:
    arch: str
    target: str
    simulated: bool
    abi: str
    abi_reason: str
    accel: str
    build_dir: Path
    boots: list[BootRecord] = field(default_factory=list)
    verdicts: list[BootVerdict] = field(default_factory=list)
    scenarios: list[ScenarioVerdict | None] = field(default_factory=list)
    notes: dict[int, list[str]] = field(default_factory=dict)
    kernel: dict[str, str | None] = field(default_factory=dict)
    infra: str | None = None
    qemu_s: float = 0.0


Event = Callable[[str, str, int, int], None]  # arch, phase, scenarios done, total


class BootNumbers:
    """Boot directory numbers of one arch, shared by the slices that boot it in parallel."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            n = self._next
            self._next += 1
            return n


def _null_event(_arch: str, _phase: str, _done: int, _total: int) -> None:
    pass


class Journal:
    """Append-only JSON lines: a killed rig still leaves a readable partial result."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, **data: Any) -> None:
        line = json.dumps({"event": event, "t": round(time.time(), 3), **data})
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
            f.flush()


def accel_argv(argv: Sequence[str], board: boards.Board, accel: str) -> list[str]:
    """The build's argv (made for the board's first accelerator) for ``accel``."""
    out = list(argv)
    kvm = accel == "kvm"
    swaps = {"-accel": accel, "-cpu": board.cpu_kvm if kvm else board.cpu_tcg,
             "-machine": board.machine_kvm if kvm else board.machine}
    for i, arg in enumerate(out[:-1]):
        if arg in swaps:
            out[i + 1] = swaps[arg]
    return out


def _replace_paths(argv: Sequence[str], build_dir: Path, boot_dir: Path,
                   names: Sequence[str]) -> list[str]:
    """Point every argument naming one of the build's boot files at this boot's copy."""
    out = list(argv)
    for name in names:
        o, n = str((build_dir / name).resolve()), str((boot_dir / name).resolve())
        out = [a.replace(o, n) for a in out]
    return out


_KERNEL_VERSION = [re.compile(r"version: (?P<v>\S.*)$"),
                   re.compile(r"(?P<v>git-[0-9a-f]{40}\S*)")]
_BUILD_ID = re.compile(r"\{\{\{module:0:kernel:elf:(?P<id>[0-9a-f]+)\}\}\}"
                       r"|build[ -]id[:=] *(?P<id2>[0-9a-f]{16,})", re.IGNORECASE)


def kernel_identity(lines: Sequence[str]) -> dict[str, str | None]:
    """Version and build ID, where the kernel prints them."""
    version = build_id = None
    for ln in lines[:400]:
        if version is None:
            for rx in _KERNEL_VERSION:
                m = rx.search(ln)
                if m:
                    version = m.group("v").strip()[:120]
                    break
        if build_id is None:
            m = _BUILD_ID.search(ln)
            if m:
                build_id = m.group("id") or m.group("id2")
    return {"version": version, "build_id": build_id}


@dataclass
class _BootOutcome:
    lines: list[str]
    hang: str | None = None
    infra: str | None = None
    exit_status: int | None = None
    elapsed_s: float = 0.0
    registers: str | None = None


def boot_once(argv: Sequence[str], boot_dir: Path, *, nonce: str, timeouts: Timeouts,
              stop: threading.Event, on_record: Callable[[str, int], None] | None = None,
              install_hint: str = "",
              script: Sequence[tuple[str, str]] = (),
              launcher: Callable[..., Any] | None = None) -> _BootOutcome:
    """Boot once and read the console until the program ends, the guest dies or hangs.

    ``script``: (regex, text) pairs, in order: when a console line matches the next regex, the
    text is typed into the console (slowly: the PL011 receive FIFO is small). A test types into
    a real kernel's shell this way.
    """
    pending = [(re.compile(rx), text) for rx, text in script]
    lines: list[str] = []
    out = _BootOutcome(lines)
    t0 = time.monotonic()
    try:
        # A launcher starts the guest elsewhere (rig.run.remote); same interface as Qemu.
        qemu = (launcher or Qemu)(argv, boot_dir, install_hint=install_hint)
        qemu.start()
    except QemuError as exc:
        out.infra = str(exc)
        return out
    console = Console(qemu.console.fileno(), boot_dir / "serial.log")  # type: ignore[union-attr]
    scanner = CrashScanner()
    scenario_deadline: float | None = None
    end_after: float | None = None  # read until then, then stop (a crash tail, after bye)
    try:
        while True:
            now = time.monotonic()
            if stop.is_set():
                out.infra = "interrupted"
                break
            deadlines = [(t0 + timeouts.boot_s, f"the whole boot took over "
                                                f"{timeouts.boot_s:.0f} s")]
            if end_after is None:
                if not lines:
                    deadlines.append((t0 + timeouts.first_output_s, "no console output within "
                                      f"{timeouts.first_output_s:.0f} s of launch"))
                else:
                    deadlines.append((console.last_output_at + timeouts.silence_s,
                                      f"no console output for {timeouts.silence_s:.0f} s"))
                if scenario_deadline is not None:
                    deadlines.append((scenario_deadline, "a scenario ran for over "
                                      f"{timeouts.scenario_s:.0f} s"))
            else:
                deadlines.append((end_after, ""))
            when, why = min(deadlines)
            if now >= when:
                if end_after is not None and when == end_after:
                    break
                out.hang = why
                reg_path = boot_dir / "registers.txt"
                qemu.save_registers(reg_path)
                out.registers = str(reg_path)
                break
            try:
                line = console.read_line(min(when - now, POLL_S))
            except Eof:
                break
            if line is None:
                continue
            lines.append(line.text)
            m = _LIVE_RECORD.search(line.text)
            if m and m.group(1) == nonce:
                kind, s = m.group(2), m.group(3)
                if kind == "sbeg" and s is not None:
                    scenario_deadline = time.monotonic() + timeouts.scenario_s
                elif kind == "send":
                    scenario_deadline = None
                if on_record is not None and s is not None:
                    on_record(kind, int(s))
                elif kind == "bye" and end_after is None:
                    end_after = time.monotonic() + EXIT_GRACE_S
            if pending and pending[0][0].search(line.text):
                console.send_slowly(pending.pop(0)[1])
            crash = scanner.feed(line.text)
            if crash is not None and crash.final:
                # Keep what follows (backtrace, register frame) for a moment, then stop.
                tail_end = time.monotonic() + crash.tail_s
                end_after = tail_end if end_after is None else min(end_after, tail_end)
    finally:
        console.close()
        qemu.close()
        out.exit_status = qemu.returncode
        out.elapsed_s = time.monotonic() - t0
    lost = getattr(qemu, "connection_lost", None)
    if lost:  # a remote guest whose SSH connection died: infrastructure, never a verdict
        out.infra = lost
        return out
    if qemu.returncode not in (None, 0) and not lines:
        out.infra = (out.infra or f"QEMU exited with status {qemu.returncode} and printed "
                     f"nothing: {qemu.stderr_tail() or '(no message)'}")
    return out


def run_arch(run: ArchRun, manifest: Manifest, files: Sequence[ScenarioFile], run_dir: Path, *,
             timeouts: Timeouts, max_boots: int, journal: Journal, stop: threading.Event,
             on_event: Event = _null_event,
             launcher: Callable[..., Any] | None = None,
             first: int = 0, last: int | None = None,
             boot_numbers: BootNumbers | None = None) -> ArchRun:
    """Boot until every scenario of [first, last) is decided or ``max_boots`` is reached.

    A slice of the suite (``rig run -j``) passes its bounds and the arch's shared
    ``boot_numbers``, so every boot directory of the arch has its own number.
    """
    total = len(manifest.scenarios)
    last = total if last is None else last
    sliced = (first, last) != (0, total)
    numbers = boot_numbers or BootNumbers()
    board = boards.load_board(run.arch, run.target)
    image = run.build_dir / "image.zbi"
    direct = manifest.boot_mode == direct_boot.BOOT_DIRECT
    if direct:
        # A direct boot has its own argv per accelerator (and refuses the ones it cannot do).
        base_argv = direct_boot.qemu_argv(board, run.build_dir, accel=run.accel)
    else:
        base_argv = accel_argv(manifest.qemu_argv or (), board, run.accel)
    words = manifest.cmdline.split()
    reran: set[int] = set()
    noted: set[int] = set()
    start = first
    run.scenarios = [None] * total
    while start < last and len(run.boots) < max_boots and not stop.is_set():
        index = numbers.next()
        boot_dir = run_dir / run.arch / f"boot-{index}"
        boot_dir.mkdir(parents=True, exist_ok=True)
        if not run.boots and start == 0 and not sliced:
            nonce, argv, cmdline = manifest.nonce, base_argv, words
        else:
            nonce = secrets.token_hex(8)
            cmdline = list(reboot_cmdline(words, old_nonce=manifest.nonce, new_nonce=nonce,
                                          start=start, end=last if sliced else None))
            boot_image = boot_dir / "image.zbi"
            data = with_cmdline(image.read_bytes(), cmdline, source=str(image))
            boot_image.write_bytes(data)
            names = ["image.zbi"]
            if direct:  # kernel.bin, data.zbi, trampoline.bin split from this boot's image
                names += direct_boot.write_direct_boot(
                    boot_dir, direct_boot.build_direct_boot(board, data, source=str(boot_image)))
            argv = _replace_paths(base_argv, run.build_dir, boot_dir, names)
        (boot_dir / "cmdline.txt").write_text(" ".join(cmdline) + "\n")
        (boot_dir / "qemu-argv.json").write_text(json.dumps(argv, indent=1) + "\n")
        record = BootRecord(index, start, nonce, boot_dir, list(argv))
        run.boots.append(record)
        journal.write("boot", arch=run.arch, boot=index, start=start, nonce=nonce)
        on_event(run.arch, f"boot {index}", sum(1 for s in run.scenarios if s), total)

        def live(kind: str, s: int, boot: int = index) -> None:
            # Live: the serial log has the records, the journal says where the guest is.
            journal.write(kind, arch=run.arch, boot=boot, index=s)
            if kind == "sbeg":
                on_event(run.arch, f"boot {boot}: scenario {s}", s, total)

        got = boot_once(argv, boot_dir, nonce=nonce, timeouts=timeouts, stop=stop,
                        on_record=live,
                        install_hint=f"sudo apt-get install -y {board.qemu_package}",
                        launcher=launcher)
        run.qemu_s += got.elapsed_s
        bv = judge_boot(manifest, files, got.lines, nonce=nonce, start=start,
                        end_index=last if sliced else None, hang=got.hang, infra=got.infra)
        run.verdicts.append(bv)
        record.elapsed_s, record.exit_status = got.elapsed_s, got.exit_status
        record.end, record.reason, record.in_progress = bv.end.value, bv.reason, bv.in_progress
        record.crash_title = bv.crash.title if bv.crash else None
        record.registers = got.registers
        (boot_dir / "verdict.json").write_text(json.dumps(record.to_json(), indent=1) + "\n")
        if len(run.boots) == 1:
            run.kernel = kernel_identity(got.lines)
        merged = merge_scenarios(run.verdicts, total)
        for i, sv in enumerate(merged):
            if sv is not None and run.scenarios[i] is None:
                run.scenarios[i] = sv
                journal.write("scenario", arch=run.arch, index=i, name=sv.name,
                              outcome=sv.outcome.value, reason=sv.reason, boot=index)
        journal.write("boot_end", **{"arch": run.arch, **record.to_json()})
        k = bv.in_progress
        if len(run.boots) > 1 and start in reran and start not in noted:
            # This boot began with the scenario that failed before: does it fail alone?
            noted.add(start)
            if k == start and bv.end in (BootEnd.CRASH, BootEnd.HANG):
                run.notes.setdefault(start, []).append(
                    f"failed again when run alone (boot {index}): {bv.reason}")
            elif start in bv.reached:
                run.notes.setdefault(start, []).append(
                    f"did not fail when run alone (boot {index}): it needs the scenarios "
                    "before it")
        if bv.end is BootEnd.COMPLETED:
            break
        if bv.end is BootEnd.INFRA:
            run.infra = bv.reason
            break
        if k is None:
            break  # nothing ran or the damage was outside every scenario: a reboot repeats it
        if k not in reran:
            reran.add(k)
            start = k
        else:
            start = k + 1
    # Scenarios no boot decided: INCOMPLETE (or INFRA when QEMU failed), never PASS.
    for i, sv in enumerate(run.scenarios):
        if sv is None and first <= i < last:
            entry = manifest.scenarios[i]
            why = run.infra or ("not reached: the run stopped before it (boots: "
                                f"{len(run.boots)} of at most {max_boots})")
            run.scenarios[i] = ScenarioVerdict(
                i, entry.name, entry.file,
                Outcome.INFRA if run.infra else Outcome.INCOMPLETE, why)
    for i, notes in run.notes.items():
        sv = run.scenarios[i]
        if sv is not None:
            run.scenarios[i] = replace(sv, reason="; ".join([sv.reason, *notes]).strip("; "))
    on_event(run.arch, "done", total, total)
    return run


def slice_bounds(total: int, slices: int) -> list[tuple[int, int]]:
    """``slices`` contiguous [first, last) ranges covering ``total`` scenarios, none empty."""
    slices = max(1, min(slices, total))
    size, extra = divmod(total, slices)
    out, first = [], 0
    for i in range(slices):
        last = first + size + (1 if i < extra else 0)
        out.append((first, last))
        first = last
    return out


def replace_arch_run(run: ArchRun) -> ArchRun:
    """A fresh ArchRun for one slice, with the arch's identity and none of its results."""
    return ArchRun(arch=run.arch, target=run.target, simulated=run.simulated, abi=run.abi,
                   abi_reason=run.abi_reason, accel=run.accel, build_dir=run.build_dir)


def merge_slices(run: ArchRun, parts: Sequence[ArchRun], bounds: Sequence[tuple[int, int]]
                 ) -> None:
    """Fold the slices' results into ``run``: boots in boot order, each scenario from its
    slice."""
    total = max((b for _, b in bounds), default=0)
    run.scenarios = [None] * total
    for part, (first, last) in zip(parts, bounds, strict=True):
        run.scenarios[first:last] = part.scenarios[first:last]
        run.boots += part.boots
        run.verdicts += part.verdicts
        run.qemu_s += part.qemu_s
        for k, notes in part.notes.items():
            run.notes.setdefault(k, []).extend(notes)
        run.infra = run.infra or part.infra
    run.boots.sort(key=lambda b: b.index)
    first_boot = min(parts, key=lambda p: p.boots[0].index if p.boots else 1 << 30)
    run.kernel = first_boot.kernel

