"""Enter the real arm64 guest ELF under qemu-aarch64 (user mode), on any host.

test_runtime_host.py enters the x86-64 guest ELF natively. This file does the same for arm64,
which runs the arm64 ``_start`` (guest/runtime/arch/arm64/start.S), the R_AARCH64_RELATIVE and
DT_RELR paths of reloc.c on a real load, and the arm64 code clang generates for the runtime, the
record writer and the generated program. The same host driver (tests/data/runtime/host_driver.c)
and stand-in vDSO (fake_vdso.c) are cross-compiled for aarch64-linux-gnu with clang-19 against
the Debian cross libc (clang finds /usr/aarch64-linux-gnu and /usr/lib/gcc-cross by itself),
the driver enters the guest with host_jump_arm64.S (x0 = bootstrap channel, x1 = vDSO base,
fresh stack, x30 = 0) and ``qemu-aarch64 -L /usr/aarch64-linux-gnu`` runs it all.

A second stand-in vDSO adds fake_vdso_pager.c: every syscall the generated program calls, so the
rendered bundled suite for the 2024 ABI gets past fixture setup and runs every step.

Needs: qemu-user, libc6-dev-arm64-cross, libgcc-12-dev-arm64-cross (and clang-19, lld-19, llvm-19).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import signal
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile

from rig.errors import ToolchainError
from rig.judge.protocol import parse_log
from rig.program.codegen import RenderedProgram, render_program
from rig.run.toolchain import Toolchain, compile_program, find_toolchain
from rig.scenario.loader import bundled_suite_paths, load_many
from tests.conftest import require_tool, skip_or_fail
from tests.integration.runtime_support import require_file
from tests.integration.test_runtime_host import (
    ENVIRON_2020,
    HANDLE_BASE,
    INFOS_NEW,
    PA_FD,
    TARGETS,
    ZX_ERR_ACCESS_DENIED,
    ZX_ERR_NOT_SUPPORTED,
    build_procargs,
    message_2020,
    pa_hnd,
)

pytestmark = pytest.mark.toolchain

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "runtime"
RUNTIME = REPO / "guest" / "runtime"
PURE_SOURCES = ("reloc.c", "vdso.c", "processargs.c", "syscalls.c", "string.c")
CROSS_TRIPLE = "aarch64-linux-gnu"
CROSS_SYSROOT = Path("/usr/aarch64-linux-gnu")
# One run takes well under a second under TCG; a hung guest must not hang the suite.
RUN_TIMEOUT_S = 60
ARM64 = TARGETS["arm64"]
RIG_ERR_UNAVAILABLE = -0x7F00


@dataclass(frozen=True)
class Arm64Host:
    toolchain: Toolchain
    qemu: str
    driver: Path  # host_driver.c for aarch64-linux-gnu, no sanitizers
    vdso: Path  # fake_vdso.c: the 2020 shape, no dirty tracking
    vdso_pager: Path  # fake_vdso.c + fake_vdso_pager.c: every syscall the program calls
    tmp: Path


@dataclass(frozen=True)
class GuestRun:
    calls: list[str]  # the stand-in vDSO's log lines, in order
    output: list[str]  # what reached debuglog_write / debug_write


def _run(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
         timeout_s: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout_s, check=False, env=env, cwd=cwd, start_new_session=True,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"$ {shlex.join(argv)} timed out after {timeout_s} s:\n{exc.stdout!r}")


def _check(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
           timeout_s: float = 120, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = _run(argv, env=env, timeout_s=timeout_s, cwd=cwd)
    assert proc.returncode == 0, (
        f"$ {shlex.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    )
    return proc


def _toolchain_or_skip() -> Toolchain:
    try:
        return find_toolchain()
    except ToolchainError as exc:
        skip_or_fail(f"needs clang-19 and ld.lld-19: {exc}")


@pytest.fixture(scope="module")
def arm64(tmp_path_factory: pytest.TempPathFactory) -> Arm64Host:
    qemu = require_tool("qemu-aarch64", "qemu-user")
    require_file(str(CROSS_SYSROOT / "lib" / "ld-linux-aarch64.so.1"), "libc6-dev-arm64-cross")
    require_file(str(CROSS_SYSROOT / "lib" / "Scrt1.o"), "libc6-dev-arm64-cross")
    require_file(f"/usr/lib/gcc-cross/{CROSS_TRIPLE}/*/crtbeginS.o", "libgcc-12-dev-arm64-cross")
    objcopy = require_tool("llvm-objcopy-19", "llvm-19")
    tools = _toolchain_or_skip()
    tmp = tmp_path_factory.mktemp("runtime-arm64")
    clang = [str(tools.clang), f"--target={CROSS_TRIPLE}", "-fuse-ld=lld"]
    warn = ["-Wall", "-Wextra", "-Werror"]
    driver = tmp / "driver"
    _check(
        [*clang, "-g", "-O1", *warn, "-fno-builtin", "-I", str(REPO / "guest" / "include")]
        + ["-I", str(RUNTIME), "-I", str(RUNTIME / "arch" / "arm64"), "-o", str(driver)]
        + [str(DATA / "host_driver.c"), str(DATA / "host_jump_arm64.S")]
        + [str(RUNTIME / f) for f in PURE_SOURCES]
    )
    vdsos = {}
    for name, sources in (("vdso", ["fake_vdso.c"]),
                          ("vdso_pager", ["fake_vdso.c", "fake_vdso_pager.c"])):
        so = tmp / f"{name}.so"
        # As in test_runtime_host.py: GNU hash only and -z rodynamic like the real vDSO, then
        # no section headers at all.
        _check(
            [*clang, "-shared", "-fPIC", "-O1", *warn, "-Wl,--hash-style=gnu", "-Wl,-z,rodynamic"]
            + ["-Wl,-soname,libzircon.so", "-o", str(so)] + [str(DATA / s) for s in sources]
        )
        stripped = tmp / f"{name}-stripped.so"
        _check([objcopy, "--strip-sections", str(so), str(stripped)])
        vdsos[name] = stripped
    return Arm64Host(tools, qemu, driver, vdsos["vdso"], vdsos["vdso_pager"], tmp)


@pytest.fixture(scope="module")
def program_elf(arm64: Arm64Host) -> Path:
    source = (DATA / "program.c").read_text()
    return compile_program(source, ARM64, arm64.tmp / "prog", cache_dir=arm64.tmp / "cache").path


def _guest_argv_env(arm64: Arm64Host, elf: Path, msg: bytes | None, handles: int,
                    vdso: Path | None, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    fake_env = {f"FAKE_{k.upper()}": v for k, v in env.items()}
    if msg is not None:
        path = arm64.tmp / "run-pa.bin"
        path.write_bytes(msg)
        fake_env |= {"FAKE_PA_FILE": str(path), "FAKE_PA_HANDLES": str(handles)}
    argv = [arm64.qemu, "-L", str(CROSS_SYSROOT), str(arm64.driver), "run", str(elf),
            str(vdso or arm64.vdso)]  # fmt: skip
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("FAKE_", "QEMU_"))}
    return argv, keep | fake_env


def run_guest(arm64: Arm64Host, elf: Path, msg: bytes | None, handles: int, *,
              vdso: Path | None = None, **env: str) -> GuestRun:
    """Enter ``elf`` under qemu-aarch64 with ``msg`` on the bootstrap channel; FAKE_<env> set."""
    argv, full_env = _guest_argv_env(arm64, elf, msg, handles, vdso, env)
    # cwd: a crashing guest makes qemu write a core file there.
    proc = _check(argv, env=full_env, timeout_s=RUN_TIMEOUT_S, cwd=arm64.tmp)
    calls = proc.stdout.splitlines()
    # The stand-in zx_process_exit is the only way out with status 0: a guest that returned
    # from _start (x30 = 0), trapped (brk) or faulted would have killed qemu with a signal.
    assert calls and calls[-1].startswith("process_exit code="), proc.stdout
    output = [c.split(": ", 1)[1] for c in calls if c.startswith(("debuglog_write", "debug_write"))]
    return GuestRun(calls=calls, output=output)


def _machine(path: Path) -> str:
    with path.open("rb") as f:
        return str(ELFFile(f).header["e_machine"])


def test_the_driver_the_vdsos_and_the_program_are_aarch64(
    arm64: Arm64Host, program_elf: Path
) -> None:
    # Otherwise a host-arch build slipping in would "pass" without running any arm64 code.
    paths = [arm64.driver, arm64.vdso, arm64.vdso_pager, program_elf]
    assert [_machine(p) for p in paths] == ["EM_AARCH64"] * 4


# ---- The test program (tests/data/runtime/program.c) -------------------------------------------


def test_arm64_2020_userboot_creates_a_debuglog_from_the_root_resource(
    arm64: Arm64Host, program_elf: Path
) -> None:
    run = run_guest(arm64, program_elf, message_2020(), 17, vdso_name="vdso/full")
    log = 0x2000 | (HANDLE_BASE + 3)
    write = f"debuglog_write h={log:#x} options=0"
    info = (
        f"info out=debuglog-new vdso=stable page=4096 job={HANDLE_BASE + 2} "
        f"resource={HANDLE_BASE + 3} vmar={HANDLE_BASE + 1} nonce=0123456789abcdef"
    )
    assert run.calls == [
        "channel_read h=0x42 cap=16384/64",
        "handle_close h=0x42",
        f"get_property h={HANDLE_BASE + 5:#x} prop=3 size=32",
        f"debuglog_create resource={HANDLE_BASE + 3:#x} options=0 -> 0",
        f"{write} len={len(info) + 1}: {info}",  # + the record's "\n"
        f"{write} len=18: alpha beta gamma ",  # g_words: three relocated pointers
        "pager_create options=0",
        "process_exit code=2",  # relocated g_main_ptr matched; no zx_pager_query_dirty_ranges
    ]


def test_arm64_stdio_debuglog_a_newer_userboot_passes_and_pacing(
    arm64: Arm64Host, program_elf: Path
) -> None:
    # Era D on: options arrive as argv words and win over environ words.
    args = ["bin/rig-test", "rig.nonce=aaaaaaaaaaaaaaaa", "rig.test.lines=21"]
    environ = ["rig.nonce=bbbbbbbbbbbbbbbb", "rig.test.lines=3"]
    msg = build_procargs(INFOS_NEW, args=args, environ=environ, names=["/svc"])
    run = run_guest(arm64, program_elf, msg, len(INFOS_NEW))
    assert not any(c.startswith("debuglog_create") for c in run.calls)
    assert run.output[0] == (
        f"info out=debuglog vdso=next page=4096 job={HANDLE_BASE + 3} resource=0 "
        f"vmar={HANDLE_BASE + 1} nonce=aaaaaaaaaaaaaaaa"
    )
    assert run.output[1:] == ["alpha beta gamma ", *(f"line {i}" for i in range(21))]
    # Pacing: one 1 ms sleep after every 10th record (23 records: after the 10th and 20th).
    writes = [c for c in run.calls if c.startswith(("debuglog_write", "nanosleep"))]
    sleeps = [i for i, c in enumerate(writes) if c.startswith("nanosleep")]
    assert sleeps == [10, 21]
    assert writes[10] == "nanosleep deadline=1001000000"  # fake deadline_after: 1e9 + 1 ms
    handle = HANDLE_BASE + INFOS_NEW.index(pa_hnd(PA_FD, 0x8000))
    assert all(c.startswith(f"debuglog_write h={handle:#x} ") for c in writes if "write" in c)
    assert run.calls[-1] == "process_exit code=2"


# "argv": rig.cmdline passes the word in argv from era D on (the 2023+ userboot passes no
# environ); output.c used to read only the environ and silently kept the debuglog.
@pytest.mark.parametrize("where", ["environ", "argv"])
def test_arm64_debug_write_when_the_command_line_asks(
    arm64: Arm64Host, program_elf: Path, where: str
) -> None:
    words = ["rig.output=debug-write", "rig.test.lines=12"]
    if where == "environ":
        msg, handles = message_2020([*ENVIRON_2020, *words]), 17
    else:
        msg = build_procargs(INFOS_NEW, args=["bin/rig-test", *words], names=["/svc"])
        handles = len(INFOS_NEW)
    run = run_guest(arm64, program_elf, msg, handles)
    assert not any(c.startswith(("debuglog", "nanosleep")) for c in run.calls)
    assert [c.split(":", 1)[0] for c in run.calls if c.startswith("debug_write")] == [
        f"debug_write len={len(line) + 1}" for line in run.output
    ]
    assert run.output[0].startswith("info out=debug-write vdso=next ")
    assert len(run.output) == 14 and run.calls[-1] == "process_exit code=2"


@pytest.mark.parametrize(
    ("root_status", "invalid_status", "output"),
    [
        (ZX_ERR_ACCESS_DENIED, 0, "debuglog-new"),
        (ZX_ERR_ACCESS_DENIED, ZX_ERR_NOT_SUPPORTED, "debug-write"),
    ],
)
def test_arm64_output_fallbacks(
    arm64: Arm64Host, program_elf: Path, root_status: int, invalid_status: int, output: str
) -> None:
    run = run_guest(arm64, program_elf, message_2020(), 17,
                    debuglog_root=str(root_status), debuglog_invalid=str(invalid_status))
    creates = [c for c in run.calls if c.startswith("debuglog_create")]
    assert creates == [
        f"debuglog_create resource={HANDLE_BASE + 3:#x} options=0 -> {root_status}",
        f"debuglog_create resource=0 options=0 -> {invalid_status}",
    ]
    assert run.output[0].startswith(f"info out={output} ")
    assert run.output[0].endswith(" nonce=0123456789abcdef")


def test_arm64_without_a_processargs_message_still_runs(
    arm64: Arm64Host, program_elf: Path
) -> None:
    run = run_guest(arm64, program_elf, None, 0)
    assert run.calls[0] == "channel_read h=0x42 cap=16384/64"
    assert run.output[0] == (
        "info out=debuglog-new vdso=unknown page=4096 job=0 resource=0 vmar=0 nonce=(none)"
    )
    assert run.calls[-1] == "process_exit code=2"


@pytest.mark.parametrize(
    ("packing", "extra", "tables"),
    [
        ("relr", (), {"RELR"}),  # the default, what a real userboot got (facts 7)
        ("rel", ("-Wl,--pack-dyn-relocs=none",), {"REL"}),
        ("rela", ("-Wl,--pack-dyn-relocs=none", "-Wl,-z,rela"), {"RELA"}),
    ],
)
def test_arm64_start_relocates_itself_with_each_table(
    arm64: Arm64Host, packing: str, extra: tuple[str, ...], tables: set[str]
) -> None:
    # start.S finds __ehdr_start and _DYNAMIC PC-relatively and applies the table before any
    # global pointer is read: g_words (printed) and g_main_ptr (compared, else exit 3) prove it.
    target = dataclasses.replace(ARM64, name=f"arm64-{packing}",
                                 ldflags=(*ARM64.ldflags, *extra))
    built = compile_program((DATA / "program.c").read_text(), target, arm64.tmp / packing,
                            cache_dir=arm64.tmp / "cache")
    with built.path.open("rb") as f:
        seg = next(s for s in ELFFile(f).iter_segments() if isinstance(s, DynamicSegment))
        assert set(seg.get_relocation_tables()) == tables
    run = run_guest(arm64, built.path, message_2020(), 17)
    assert run.output[1] == "alpha beta gamma "
    assert run.calls[-1] == "process_exit code=2"


def test_arm64_start_traps_before_any_syscall_on_a_relocation_it_cannot_apply(
    arm64: Arm64Host,
) -> None:
    # The one path of start.S the runs above never take: rig_apply_relocs counts a relocation
    # it does not know and _start must stop at `brk` before anything reads a global pointer or
    # makes a syscall. check_elf rejects such an ELF at build time, so patch one in: the first
    # REL entry's type R_AARCH64_RELATIVE (1027) becomes R_AARCH64_ABS64 (257).
    target = dataclasses.replace(ARM64, name="arm64-rel",
                                 ldflags=(*ARM64.ldflags, "-Wl,--pack-dyn-relocs=none"))
    built = compile_program((DATA / "program.c").read_text(), target, arm64.tmp / "rel",
                            cache_dir=arm64.tmp / "cache")
    image = bytearray(built.path.read_bytes())
    with built.path.open("rb") as f:
        rel = ELFFile(f).get_section_by_name(".rel.dyn")
        assert rel is not None and rel["sh_size"] >= 16
        info_at = rel["sh_offset"] + 8  # Elf64_Rel: r_offset, then r_info (type in the low word)
    assert struct.unpack_from("<I", image, info_at)[0] == 1027
    struct.pack_into("<I", image, info_at, 257)
    bad = arm64.tmp / "bad-reloc.elf"
    bad.write_bytes(bytes(image))
    argv, env = _guest_argv_env(arm64, bad, message_2020(), 17, None, {})
    proc = _run(argv, env=env, timeout_s=RUN_TIMEOUT_S, cwd=arm64.tmp)
    assert (proc.returncode, proc.stdout) == (-signal.SIGTRAP, ""), proc.stderr


# ---- The rendered bundled suite ------------------------------------------------------------------


@dataclass(frozen=True)
class SuiteBuild:
    program: RenderedProgram
    elf: Path


@pytest.fixture(scope="module")
def suite(arm64: Arm64Host) -> SuiteBuild:
    """The bundled suite rendered for the 2024 ABI on arm64, compiled."""
    program = render_program(
        load_many(bundled_suite_paths()), abi="2024", arch="arm64", target="zircon"
    )
    built = compile_program(program.c_source, ARM64, arm64.tmp / "suite",
                            cache_dir=arm64.tmp / "cache")
    return SuiteBuild(program, built.path)


@pytest.mark.parametrize("vdso_kind", ["2020", "pager"])
def test_arm64_bundled_suite_runs_end_to_end_and_its_records_parse(
    arm64: Arm64Host, suite: SuiteBuild, vdso_kind: str
) -> None:
    # The real generated program for the 2024 ABI, the real runtime, record.c and fixture.c.
    # On the 2020-shaped stand-in every fixture setup fails at create_port (it has
    # zx_pager_create but no zx_port_create); on the pager stand-in every step runs and
    # reports. The results are made up either way: the point is an intact record stream from
    # an arm64 program that ran to its end.
    program = suite.program
    nonce = "00112233aabbccdd"
    if vdso_kind == "2020":
        msg = message_2020([*ENVIRON_2020[:3], f"rig.nonce={nonce}"])
        run = run_guest(arm64, suite.elf, msg, 17, vdso_name="vdso/full")
        out, variant = "debuglog-new", "stable"
    else:
        msg = build_procargs(INFOS_NEW, args=["bin/rig-test", f"rig.nonce={nonce}"],
                             names=["/svc"])
        run = run_guest(arm64, suite.elf, msg, len(INFOS_NEW), vdso=arm64.vdso_pager)
        out, variant = "debuglog", "next"
    parsed = parse_log(run.output, nonces=[nonce])
    assert (parsed.nonce, parsed.anomalies, parsed.gaps, parsed.foreign) == (nonce, (), (), 0)
    assert len(parsed.records) == len(run.output)
    records = [(r.kind, dict(r.fields)) for r in parsed.records]
    count = len(program.scenarios)
    assert records[0] == ("hello", {
        "prog": program.program_id[:16],
        "nonce_src": "cmdline",
        "out": out,
        "page": "4096",
        "scenarios": str(count),
        "vdso": variant,
    })  # fmt: skip
    assert records[-1] == ("bye", {"scenarios": str(count), "records": str(len(records) - 1)})
    assert [k for k, _ in records].count("hello") == 1
    assert [k for k, _ in records].count("bye") == 1
    begun = [f["s"] for k, f in records if k == "sbeg"]
    sent = {f["s"]: f["steps"] for k, f in records if k == "send"}
    assert begun == [str(s.index) for s in program.scenarios]
    errs = [f for k, f in records if k == "err"]
    steps = [f for k, f in records if k in ("step", "skip")]
    if vdso_kind == "2020":
        assert errs == [{"s": str(s.index), "what": "create_port", "st": str(RIG_ERR_UNAVAILABLE)}
                        for s in program.scenarios]  # fmt: skip
        assert sent == {str(s.index): "0" for s in program.scenarios}
        assert steps == []
    else:
        # Every syscall is there: every step of every scenario reports a step record.
        assert errs == []
        assert sent == {str(s.index): str(s.steps) for s in program.scenarios}
        assert [(f["s"], f["t"]) for f in steps] == [
            (str(s.index), str(t)) for s in program.scenarios for t in range(s.steps)
        ]
        assert all(k != "skip" for k, _ in records)
        assert any(k == "rng" for k, _ in records)
    # Paced: one 1 ms sleep per 10 debuglog records.
    assert sum(c.startswith("nanosleep") for c in run.calls) == len(run.output) // 10
    assert run.calls[-1] == "process_exit code=0"


def test_arm64_code_touches_neither_the_thread_pointer_nor_x18(
    arm64: Arm64Host, program_elf: Path, suite: SuiteBuild
) -> None:
    # What qemu-user cannot show: here tpidr_el0 is glibc's valid TLS pointer, but a Zircon
    # userboot child starts without one (and the runtime sets none up), so a read of it (the
    # safe-stack unsafe stack pointer, a stack-protector canary) faults only on the real
    # kernel. x18 is Fuchsia's shadow-call-stack register, which nobody set up either.
    objdump = require_tool("llvm-objdump-19", "llvm-19")
    forbidden = re.compile(r"\btpidr_el0\b|\b[xw]18\b", re.IGNORECASE)
    for elf in (program_elf, suite.elf):
        text = _check([objdump, "-d", "--no-show-raw-insn", str(elf)]).stdout
        assert "<_start>:" in text and "<rig_start_c>:" in text
        assert [ln.strip() for ln in text.splitlines() if forbidden.search(ln)] == [], elf
