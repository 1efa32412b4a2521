"""Crash signatures: a table of what a dying kernel or program prints, with a stable title each.

Pure: lines in, `Crash` records out. The runner feeds live console lines through a
`CrashScanner`; `rig check-log` feeds a captured log through the same one, so both judge alike.
Titles carry no addresses, koids or timestamps (shrinking compares titles across boots).
Sources: zircon-facts.md section 6 (console strings, tefmocheck's list), section 7 (userboot's
exit line, a user-mode crash), section 9 (panic block, panic shell, reboot, missing program).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass


class CrashKind(enum.Enum):
    KERNEL = "kernel"  # the kernel died (panic, assert, oops, double fault, lockup)
    USER = "user"  # the test program died (fatal exception, non-zero exit status)
    USERBOOT = "userboot"  # userboot could not start the program
    REBOOT = "reboot"  # the machine rebooted or halted under the program


@dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    title: str  # str.format template over the pattern's named groups
    kind: CrashKind
    source: str
    # The boot is over once this is seen; keep reading this long for what follows (a backtrace,
    # the register frame), then stop the guest.
    final: bool = True
    tail_s: float = 1.0


def _sig(name: str, pattern: str, title: str, kind: CrashKind, source: str, *,
         final: bool = True, tail_s: float = 1.0) -> Signature:
    return Signature(name, re.compile(pattern), title, kind, source, final, tail_s)


SIGNATURES: tuple[Signature, ...] = (
    _sig("assert", r"ASSERT FAILED at \((?P<file>[^:)]+):(?P<line>\d+)\): ?(?P<expr>.*)",
         "ASSERT FAILED at {file}:{line}: {expr}", CrashKind.KERNEL,
         "facts 6: assert text before the panic (syzkaller's Fuchsia parser)"),
    _sig("panic", r"ZIRCON KERNEL PANIC", "ZIRCON KERNEL PANIC", CrashKind.KERNEL,
         "facts 6, 9: dlog_bluescreen_init; measured on the 2020 arm64 kernel"),
    _sig("oops", r"ZIRCON KERNEL OOPS", "ZIRCON KERNEL OOPS", CrashKind.KERNEL,
         "facts 6: tefmocheck string_in_log_check.go"),
    _sig("double-fault", r"double fault, halting", "double fault", CrashKind.KERNEL,
         "facts 6: tefmocheck"),
    _sig("lockup", r"lockup_detector: no heartbeat from", "lockup detector: no heartbeat",
         CrashKind.KERNEL, "facts 6: tefmocheck"),
    _sig("panic-shell", r"entering panic shell loop", "ZIRCON KERNEL PANIC (panic shell)",
         CrashKind.KERNEL, "facts 9: kernel.halt-on-panic=true never exits after a panic",
         tail_s=0.2),
    _sig("sanitizer", r"ERROR: (?P<san>AddressSanitizer|LeakSanitizer)|"
         r"WARNING: (?P<tsan>ThreadSanitizer)|SUMMARY: (?P<ubsan>UndefinedBehaviorSanitizer)",
         "sanitizer report", CrashKind.KERNEL, "facts 6: tefmocheck"),
    _sig("user-fatal", r"<== fatal : process (?P<proc>[^\s\[]+)", "fatal exception in {proc}",
         CrashKind.USER, "facts 6: user-mode crash report prefix (tefmocheck driverHostCrash)",
         final=False),
    _sig("user-page-fault", r"KERN: fatal page fault", "fatal page fault in user mode",
         CrashKind.USER, "facts 7: a user-mode crash on the 2020 kernel", final=False),
    _sig("exit-status", r"\*\*\* Exit status (?P<status>-?[1-9]\d*) \*\*\*",
         "test program exited with status {status}", CrashKind.USER,
         "facts 3.1, 7: userboot prints the program's exit status; -1028 after a crash"),
    _sig("userboot-fail", r"userboot: (?P<status>ZX_ERR_[A-Z_]+): (?P<what>[a-z_]+) failed",
         "userboot: {what} failed with {status}", CrashKind.USERBOOT,
         "facts 7, 9: elf_load_map_segments / elf_load_prepare failures"),
    _sig("userboot-not-found", r"userboot: file not found", "userboot: program not found",
         CrashKind.USERBOOT, "facts 9: userboot=bin/nonexistent", final=False),
    _sig("root-job-reboot", r"root-job: taking reboot action", "root job emptied: reboot",
         CrashKind.REBOOT, "facts 9: the root job's reboot after userboot failed"),
    _sig("halt", r"HALT: spinning forever", "kernel halted", CrashKind.REBOOT,
         "facts 7: kernel.root-job.behavior=halt"),
)

# A boot banner: the second one in a boot is an unexpected reboot (syzkaller treats "welcome to
# Zircon" this way; the sim prints its own banner).
BOOT_BANNER = re.compile(r"welcome to Zircon|welcome to the rig sim")
REBOOT_TITLE = "unexpected reboot (a second boot banner)"
TITLE_CHARS = 160


@dataclass(frozen=True)
class Crash:
    title: str
    kind: CrashKind
    signature: str  # Signature.name, or "reboot"
    line: int  # 1-based console line of the trigger
    text: str  # the trigger line
    final: bool
    tail_s: float
    source: str


def _title(sig: Signature, match: re.Match[str]) -> str:
    groups = {k: (v or "").strip() for k, v in match.groupdict().items()}
    title = sig.title.format(**groups) if groups else sig.title
    # No addresses in titles: hex numbers would differ between boots.
    title = re.sub(r"0x[0-9a-fA-F]+", "ADDR", title)
    return title[:TITLE_CHARS]


class CrashScanner:
    """Feed console lines in order; returns a `Crash` for every signature line.

    Never raises on its input (console text is untrusted).
    """

    def __init__(self) -> None:
        self.banners = 0
        self.line_no = 0
        self.crashes: list[Crash] = []

    def feed(self, line: str, line_no: int | None = None) -> Crash | None:
        """``line_no``: the 1-based line in the whole log, when only some lines are fed."""
        self.line_no = self.line_no + 1 if line_no is None else line_no
        crash = None
        if BOOT_BANNER.search(line):
            self.banners += 1
            if self.banners > 1:
                crash = Crash(REBOOT_TITLE, CrashKind.REBOOT, "reboot", self.line_no,
                              line.strip()[:500], final=True, tail_s=0.2,
                              source="facts 6: syzkaller treats a second banner as a reboot")
        if crash is None:
            for sig in SIGNATURES:
                m = sig.pattern.search(line)
                if m:
                    crash = Crash(_title(sig, m), sig.kind, sig.name, self.line_no,
                                  line.strip()[:500], sig.final, sig.tail_s, sig.source)
                    break
        if crash is not None:
            self.crashes.append(crash)
        return crash

    @property
    def first(self) -> Crash | None:
        """The crash that names the run: the first kernel crash, else the first of any kind."""
        kernel = [c for c in self.crashes if c.kind is CrashKind.KERNEL]
        found = kernel or self.crashes
        return found[0] if found else None


def numbered(lines: Iterable[str]) -> Iterable[tuple[int, str]]:
    """(1-based line number, line) pairs, the shape `find_crash` takes."""
    return enumerate(lines, 1)
