"""Probe the machine for everything the rig needs, with versions, paths and the fix for each gap.

Probing starts processes (`--version`, a trial compile), so this module is I/O; rendering the
report is `render_report`, which is pure.
"""

from __future__ import annotations

import enum
import importlib.metadata
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rig.errors import ToolchainError
from rig.image import boards
from rig.run import process, toolchain

LOG = logging.getLogger(__name__)

APT_PACKAGES = ("qemu-system-x86", "qemu-system-arm", "clang-19", "lld-19", "llvm-19")
APT_FIX = "sudo apt-get update && sudo apt-get install -y " + " ".join(APT_PACKAGES)
PIP_FIX = "./scripts/bootstrap   (creates .venv and installs the rig with its dependencies)"

# Distribution name -> import name, for the runtime dependencies in pyproject.toml.
PYTHON_PACKAGES = {
    "jinja2": "jinja2",
    "pexpect": "pexpect",
    "paramiko": "paramiko",
    "PyYAML": "yaml",
    "qemu.qmp": "qemu.qmp",
    "pyelftools": "elftools",
    "rich": "rich",
    "zstandard": "zstandard",
}
PROBE_TIMEOUT_S = 30.0


class Status(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # required and absent: doctor fails
    OPTIONAL = "absent"  # optional and absent: reported only


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    status: Status
    version: str = ""
    path: str = ""
    detail: str = ""
    fix: str = ""


Runner = Callable[[Sequence[str]], process.Completed]


def _run(argv: Sequence[str]) -> process.Completed:
    return process.run(argv, timeout_s=PROBE_TIMEOUT_S)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def check_python() -> list[Check]:
    checks = [Check("python", Status.OK if sys.version_info >= (3, 11) else Status.MISSING,
                    version=sys.version.split()[0], path=sys.executable,
                    fix="" if sys.version_info >= (3, 11) else "install Python >= 3.11")]
    for dist, module in PYTHON_PACKAGES.items():
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            checks.append(Check(f"python: {dist}", Status.MISSING, fix=PIP_FIX))
            continue
        checks.append(Check(f"python: {dist}", Status.OK, version=version,
                            detail=f"import {module}"))
    return checks


def check_qemu(run: Runner = _run) -> list[Check]:
    checks = []
    # One probe per QEMU binary the boards name, labelled with its arch (boards are the data).
    qemus: dict[tuple[str, str], str] = {}
    for arch, target in boards.available_boards():
        board = boards.load_board(arch, target)
        qemus.setdefault((board.qemu_binary, board.qemu_package), arch)
    for (binary, package), arch in qemus.items():
        path = shutil.which(binary)
        if path is None:
            checks.append(Check(f"qemu ({arch})", Status.MISSING, detail=f"{binary} not on PATH",
                                fix=f"sudo apt-get install -y {package}"))
            continue
        proc = run([path, "--version"])
        ok = proc.returncode == 0
        checks.append(Check(f"qemu ({arch})", Status.OK if ok else Status.MISSING,
                            version=_first_line(proc.stdout).replace("QEMU emulator version ", ""),
                            path=path, detail="" if ok else proc.stderr.strip(),
                            fix="" if ok else f"sudo apt-get install -y {package}"))
    return checks


def check_toolchain(run: Runner = _run) -> list[Check]:
    """The clang and ld.lld the rig really uses (rig.toolchain.find_toolchain), and a trial
    compile+link with each zircon board's own flags, so a missing Fuchsia target shows here."""
    try:
        tools = toolchain.find_toolchain()
    except ToolchainError as exc:
        return [Check("clang/ld.lld", Status.MISSING, detail=str(exc),
                      fix="sudo apt-get install -y clang-19 lld-19 llvm-19")]
    checks = [Check("clang", Status.OK, version=tools.clang_version, path=str(tools.clang)),
              Check("ld.lld", Status.OK, version=tools.lld_version, path=str(tools.lld))]
    objcopy = shutil.which("llvm-objcopy-19")
    checks.append(Check("llvm-objcopy-19", Status.OK if objcopy else Status.MISSING,
                        path=objcopy or "", detail="" if objcopy else "not on PATH",
                        fix="" if objcopy else "sudo apt-get install -y llvm-19"))
    with tempfile.TemporaryDirectory(prefix="rig-doctor-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("void _start(void);\nvoid _start(void) { for (;;) {} }\n")
        # Every distinct compile target of the boards, with its own flags.
        targets = {boards.load_board(a, t).compile_target
                   for a, t in boards.available_boards()}
        for compile_target in sorted(targets, key=lambda c: (c.name, c.triple)):
            arch = compile_target.name
            out = Path(tmp) / f"probe-{arch}.elf"
            argv = [str(tools.clang), f"--target={compile_target.triple}",
                    *compile_target.cflags, *compile_target.ldflags, "-o", str(out), str(src)]
            try:
                proc = run(argv)
            except process.ProcessError as exc:
                proc = process.Completed(tuple(argv), -1, "", str(exc), 0.0)
            ok = proc.returncode == 0 and out.exists()
            checks.append(Check(f"target {compile_target.triple}",
                                Status.OK if ok else Status.MISSING,
                                detail="compile+link ok" if ok else _first_line(proc.stderr),
                                fix="" if ok else "sudo apt-get install -y clang-19 lld-19"))
    return checks


def check_kvm() -> list[Check]:
    """KVM is optional: TCG is the default and faster for small guests on nested machines."""
    exists = os.path.exists("/dev/kvm")
    usable = exists and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if usable:
        return [Check("kvm", Status.OK, path="/dev/kvm", detail="usable (optional; TCG default)")]
    detail = "no /dev/kvm" if not exists else "/dev/kvm not accessible"
    return [Check("kvm", Status.OPTIONAL, detail=f"{detail} (optional; TCG is used)",
                  fix="" if not exists else "add yourself to the kvm group")]


def check_sshd() -> list[Check]:
    """sshd is optional: only the remote-host tests and `--remote` need one."""
    path = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else "")
    if path:
        return [Check("sshd", Status.OK, path=path, detail="for remote-host tests (optional)")]
    return [Check("sshd", Status.OPTIONAL, detail="for remote-host tests (optional)",
                  fix="sudo apt-get install -y openssh-server")]


def run_checks(run: Runner = _run) -> list[Check]:
    """Every probe, in report order."""
    return [*check_python(), *check_qemu(run), *check_toolchain(run), *check_kvm(),
            *check_sshd()]


def render_report(checks: Sequence[Check]) -> str:
    """Plain-text table, then the fixes for what is missing."""
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        info = " ".join(x for x in (c.version, f"({c.path})" if c.path else "", c.detail) if x)
        lines.append(f"{c.status.value:>7}  {c.name:<{width}}  {info}".rstrip())
    missing = [c for c in checks if c.status is Status.MISSING]
    fixes = list(dict.fromkeys(c.fix for c in missing if c.fix))
    if missing:
        lines.append("")
        lines.append(f"{len(missing)} required item(s) missing. To fix:")
        lines.extend(f"  {fix}" for fix in fixes)
    else:
        lines.append("")
        lines.append("everything required is present")
    return "\n".join(lines) + "\n"


def has_missing(checks: Sequence[Check]) -> bool:
    return any(c.status is Status.MISSING for c in checks)
