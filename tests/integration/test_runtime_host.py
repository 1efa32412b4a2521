"""Run the guest runtime's pure C (vDSO lookup, processargs, relocation) on the host.

The same C files the guest links are compiled for the host with clang-19 (under ASan and UBSan,
so a read past a message or a table is an error, not luck) into tests/data/runtime/host_driver.c.
A real shared object linked by ld.lld stands in for the vDSO (GNU-hash-only and SysV-hash-only,
section headers stripped). Processargs messages are built here per zircon-facts.md 3.2 and 7.
On an x86-64 host the real x86-64 test ELF is also loaded and entered with the stand-in vDSO,
which runs start.S, relocation, entry, output selection and exit end to end.
"""

from __future__ import annotations

import json
import os
import platform
import re
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig import zx
from rig.errors import ToolchainError
from rig.program.target import CompileTarget
from rig.run.toolchain import Toolchain, compile_program, find_toolchain
from tests.conftest import skip_or_fail
from tests.integration.runtime_support import load_compile_targets

pytestmark = pytest.mark.toolchain

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "runtime"
RUNTIME = REPO / "guest" / "runtime"
# The pure runtime files: no syscalls, so they link into a host program.
PURE_SOURCES = ("reloc.c", "vdso.c", "processargs.c", "syscalls.c", "string.c")
HOST_ARCH_DIR = {"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())

# Status codes (zircon-facts.md 1.5) and the runtime's own "not in the vDSO" status.
ZX_ERR_NOT_SUPPORTED = zx.ZX_ERR_NOT_SUPPORTED
ZX_ERR_INVALID_ARGS = zx.ZX_ERR_INVALID_ARGS
ZX_ERR_OUT_OF_RANGE = zx.ZX_ERR_OUT_OF_RANGE
ZX_ERR_BUFFER_TOO_SMALL = zx.STATUS_BY_NAME["ZX_ERR_BUFFER_TOO_SMALL"]
ZX_ERR_ACCESS_DENIED = zx.ZX_ERR_ACCESS_DENIED
RIG_ERR_UNAVAILABLE = -0x7F00  # guest/include/rig/runtime.h

# Processargs (zircon-facts.md 3.2).
PA_PROTOCOL = 0x4150585D
PA_VERSION = 0x0001000
PA_PROC_SELF, PA_THREAD_SELF, PA_JOB_DEFAULT, PA_VMAR_ROOT = 0x01, 0x02, 0x03, 0x04
PA_VMO_VDSO, PA_VMO_BOOTDATA, PA_VMO_BOOTFS, PA_VMO_KERNEL_FILE = 0x11, 0x1A, 0x1B, 0x1C
PA_NS_DIR, PA_FD, PA_RESOURCE, PA_USER0 = 0x20, 0x30, 0x3F, 0xF0
HANDLE_BASE = 0x1000  # host_driver and the fake vDSO number handles 0x1000 + index


def pa_hnd(kind: int, arg: int = 0) -> int:
    return (kind & 0xFF) | ((arg & 0xFFFF) << 16)


def build_procargs(
    infos: Sequence[int],
    *,
    args: Sequence[str] = (),
    environ: Sequence[str] = (),
    names: Sequence[str] = (),
    environ_area: int | None = None,
) -> bytes:
    """A processargs message: header, handle info words, argv, environ, names.

    ``environ_area`` pads the environ strings to a fixed size, as the 2020 userboot does.
    """

    def strings(items: Sequence[str]) -> bytes:
        return b"".join(s.encode() + b"\0" for s in items)

    handle_info_off = 36
    args_off = handle_info_off + 4 * len(infos)
    arg_bytes = strings(args)
    environ_off = args_off + len(arg_bytes)
    env_bytes = strings(environ)
    if environ_area is not None:
        assert len(env_bytes) <= environ_area
        env_bytes = env_bytes.ljust(environ_area, b"\0")
    names_off = environ_off + len(env_bytes)
    header = struct.pack(
        "<9I",
        PA_PROTOCOL,
        PA_VERSION,
        handle_info_off,
        args_off,
        len(args),
        environ_off,
        len(environ),
        names_off,
        len(names),
    )
    body = struct.pack(f"<{len(infos)}I", *infos) + arg_bytes + env_bytes + strings(names)
    return header + body


# The handles the 2020 userboot passed (zircon-facts.md 7): 17 handles, PA_RESOURCE, three
# vDSO variants, seven kernel files, no PA_FD.
INFOS_2020 = (
    [pa_hnd(PA_PROC_SELF), pa_hnd(PA_VMAR_ROOT), pa_hnd(PA_JOB_DEFAULT), pa_hnd(PA_RESOURCE)]
    + [pa_hnd(PA_VMO_BOOTDATA)]
    + [pa_hnd(PA_VMO_VDSO, i) for i in range(3)]
    + [pa_hnd(PA_VMO_KERNEL_FILE, i) for i in range(7)]
    + [pa_hnd(PA_THREAD_SELF), pa_hnd(PA_VMO_BOOTFS)]
)
ENVIRON_2020 = (
    "userboot=bin/rig-test",
    "userboot.shutdown=",
    "kernel.halt-on-panic=true",
    "rig.nonce=0123456789abcdef",
)


def message_2020(environ: Sequence[str] = ENVIRON_2020) -> bytes:
    return build_procargs(INFOS_2020, environ=environ, environ_area=4096)


# A newer userboot (zircon-facts.md 3.2, E2): argv, a debuglog as PA_HND(PA_FD, 0x8000), /svc.
INFOS_NEW = (
    pa_hnd(PA_PROC_SELF),
    pa_hnd(PA_VMAR_ROOT),
    pa_hnd(PA_THREAD_SELF),
    pa_hnd(PA_JOB_DEFAULT),
    pa_hnd(PA_VMO_VDSO, 0),
    pa_hnd(PA_VMO_VDSO, 1),
    pa_hnd(PA_FD, 0x8000),
    pa_hnd(PA_NS_DIR, 0),
    pa_hnd(PA_USER0, 0),
)


@dataclass(frozen=True)
class HostBuild:
    toolchain: Toolchain
    drivers: Mapping[str, Path]  # runtime arch dir -> ASan driver using that dir's rig_arch.h
    run_driver: Path | None  # without sanitizers, to enter a guest image (x86-64 hosts)
    vdso: Mapping[str, Path]  # "gnu"/"sysv" -> stripped stand-in vDSO
    vdso_unstripped: Mapping[str, Path]
    tmp: Path


def _check(argv: Sequence[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        list(argv),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _tools_or_skip() -> Toolchain:
    try:
        return find_toolchain()
    except ToolchainError as exc:
        skip_or_fail(f"needs clang-19 and ld.lld-19: {exc}")


@pytest.fixture(scope="session")
def host(tmp_path_factory: pytest.TempPathFactory) -> HostBuild:
    if HOST_ARCH_DIR is None:
        pytest.skip(f"host runtime tests need an x86_64 or aarch64 host, not {platform.machine()}")
    tools = _tools_or_skip()
    tmp = tmp_path_factory.mktemp("runtime-host")
    clang = str(tools.clang)
    common = [clang, "-g", "-O1", "-Wall", "-Wextra", "-Werror", "-fno-builtin"]
    common += ["-fuse-ld=lld", "-I", str(REPO / "guest" / "include")]
    common += ["-I", str(RUNTIME)]
    sources = [str(DATA / "host_driver.c"), str(DATA / f"host_jump_{HOST_ARCH_DIR}.S")]
    sources += [str(RUNTIME / f) for f in PURE_SOURCES]
    drivers = {}
    for arch_dir in ("x86_64", "arm64"):
        out = tmp / f"driver-{arch_dir}"
        _check(
            [*common, "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
            + ["-I", str(RUNTIME / "arch" / arch_dir), "-o", str(out), *sources, "-ldl"]
        )
        drivers[arch_dir] = out
    run_driver = tmp / "driver-run"
    _check([*common, "-I", str(RUNTIME / "arch" / HOST_ARCH_DIR), "-o", str(run_driver)] + sources)
    vdso, unstripped = {}, {}
    for style in ("gnu", "sysv"):
        so = tmp / f"vdso-{style}.so"
        # -z rodynamic: like the real vDSO, and it stops glibc's ld.so from rewriting the
        # DT_* pointers in place (the runtime must see link-time values, as under Zircon).
        _check(
            [clang, "-shared", "-fPIC", "-O1", "-Wall", "-Wextra", "-Werror", "-fuse-ld=lld"]
            + [f"-Wl,--hash-style={style}", "-Wl,-z,rodynamic"]
            + ["-Wl,-soname,libzircon.so", "-o", str(so), str(DATA / "fake_vdso.c")]
        )
        stripped = tmp / f"vdso-{style}-stripped.so"
        _check(["llvm-objcopy-19", "--strip-sections", str(so), str(stripped)])
        vdso[style], unstripped[style] = stripped, so
    return HostBuild(tools, drivers, run_driver, vdso, unstripped, tmp)


def drive(driver: Path, *args: str, env: Mapping[str, str] | None = None) -> dict[str, object]:
    proc = _check([str(driver), *args], env={**os.environ, **(env or {})})
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, proc.stdout
    result: dict[str, object] = json.loads(lines[0][len("RESULT ") :])
    return result


# ---- vDSO lookup ---------------------------------------------------------------------------------


def _dynamic_tags(path: Path) -> set[str]:
    with path.open("rb") as f:
        elf = ELFFile(f)
        seg = next(s for s in elf.iter_segments() if isinstance(s, DynamicSegment))
        return {str(t.entry.d_tag) for t in seg.iter_tags()}


def _symbol_values(path: Path) -> dict[str, int]:
    with path.open("rb") as f:
        symtab = ELFFile(f).get_section_by_name(".dynsym")
        return {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}


def test_stand_in_vdsos_have_one_hash_table_and_no_section_headers(host: HostBuild) -> None:
    for style, path in host.vdso.items():
        with path.open("rb") as f:
            assert ELFFile(f).header["e_shnum"] == 0
        tags = _dynamic_tags(path)
        assert ("DT_GNU_HASH" in tags, "DT_HASH" in tags) == (style == "gnu", style == "sysv")


@pytest.mark.parametrize(
    ("style", "mode", "method"),
    [("gnu", "auto", "gnu"), ("sysv", "auto", "sysv"), ("gnu", "scan", "scan")],
)
def test_vdso_lookup_finds_exported_symbols_only(
    host: HostBuild, style: str, mode: str, method: str
) -> None:
    values = _symbol_values(host.vdso_unstripped[style])
    fillers = [f"zx_filler_{n}" for n in range(10, 100)]
    present = ["zx_pager_create", "_zx_pager_create", "zx_channel_read", "zx_process_exit"]
    absent = ["zx_pager_query_dirty_ranges", "zx_hidden_helper", "zx_filler_9", "zx_", ""]
    result = drive(host.drivers["x86_64"], "vdso", str(host.vdso[style]), mode,
                   *present, *fillers, *absent)  # fmt: skip
    expected: dict[str, object] = {}
    for name in present:
        expected[name] = {"offset": values[name], "dlsym_offset": values[name]}
    for number, name in enumerate(fillers, start=10):
        expected[name] = {"offset": values[name], "dlsym_offset": values[name], "ret": number}
    for name in absent:
        expected[name] = {"offset": None, "dlsym_offset": None}
    assert result == {"open": 0, "method": method, "syms": expected}
    assert values["zx_pager_create"] == values["_zx_pager_create"]


def _syscalls_def_names() -> list[str]:
    text = (REPO / "guest" / "include" / "rig" / "syscalls.def").read_text()
    text = re.sub(r"^\s*(#|//).*$", "", text, flags=re.M)
    return re.findall(r"RIG_SYSCALL\w*\(\s*(?:[\w ]+,\s*)?(zx_\w+)\s*,", text)


def test_syscall_table_resolves_what_the_vdso_has(host: HostBuild) -> None:
    names = _syscalls_def_names()
    assert len(names) >= 27 and len(set(names)) == len(names)
    exported = {n for n in _symbol_values(host.vdso_unstripped["gnu"]) if n.startswith("zx_")}
    missing = [n for n in names if n not in exported]
    result = drive(host.drivers["x86_64"], "table", str(host.vdso["gnu"]), "auto")
    assert result == {
        "method": "gnu",
        "found": len(names) - len(missing),
        "count": len(names),
        "missing": missing,
        "has_query": 0,
        "has_create": 1,
        "pager_create": [0, 0x3000],
        # Missing from this vDSO: the wrapper answers without entering any kernel.
        "query": RIG_ERR_UNAVAILABLE,
        "page_size": 4096,  # zx_system_get_page_size missing: the 2020 fallback
        "monotonic": 42,
    }
    assert "zx_pager_query_dirty_ranges" in missing and "zx_system_get_page_size" in missing


def test_vdso_open_rejects_memory_that_is_not_an_elf_image(host: HostBuild) -> None:
    assert drive(host.drivers["x86_64"], "garbage") == {
        "zeros": ZX_ERR_INVALID_ARGS,
        "null": ZX_ERR_INVALID_ARGS,
        "sym_after_failed_open": None,
    }


def test_vdso_variant_names(host: HostBuild) -> None:
    names = ["vdso/next", "vdso/stable", "vdso/full", "vdso/test1", "vdso/nextx", "next", ""]
    assert drive(host.drivers["x86_64"], "variant", *names) == {
        "vdso/next": "next",
        "vdso/stable": "stable",
        "vdso/full": "stable",
        "vdso/test1": "unknown",
        "vdso/nextx": "unknown",
        "next": "unknown",
        "": "unknown",
    }


# ---- Processargs ---------------------------------------------------------------------------------


def parse_pa(host: HostBuild, msg: bytes, handles: int, *keys: str) -> dict[str, object]:
    path = host.tmp / "pa.bin"
    path.write_bytes(msg)
    return drive(host.drivers["x86_64"], "pa", str(path), str(handles), *keys)


def _handles(infos: Sequence[int]) -> list[list[int]]:
    return [[i & 0xFF, i >> 16, HANDLE_BASE + n] for n, i in enumerate(infos)]


def test_processargs_2020_message(host: HostBuild) -> None:
    msg = message_2020()
    assert len(msg) == 4200  # measured: 36-byte header, 17 handle infos, 4096-byte environ area
    result = parse_pa(host, msg, 17, "rig.nonce", "userboot.shutdown", "userboot", "rig", "x")
    assert result == {
        "status": 0,
        "handles": _handles(INFOS_2020),
        "args": [],
        "environ": list(ENVIRON_2020),
        "names": [],
        "get": {
            "rig.nonce": "0123456789abcdef",
            "userboot.shutdown": "",  # a word without a value arrives as "key="
            "userboot": "bin/rig-test",
            "rig": None,  # a prefix of "rig.nonce" is not a key
            "x": None,
        },
        "lookup": {"resource": HANDLE_BASE + 3, "stdio_log": 0, "vdso0": HANDLE_BASE + 5,
                   "job": HANDLE_BASE + 2},
    }  # fmt: skip


def test_processargs_newer_message_with_argv_names_and_stdio_debuglog(host: HostBuild) -> None:
    environ = ["rig.output=debug-write", "bare", "rig.nonce=1111", "rig.nonce=2222"]
    msg = build_procargs(INFOS_NEW, args=["bin/rig-test", "--x"], environ=environ, names=["/svc"])
    result = parse_pa(host, msg, len(INFOS_NEW), "rig.output", "bare", "rig.nonce")
    assert result == {
        "status": 0,
        "handles": _handles(INFOS_NEW),
        "args": ["bin/rig-test", "--x"],
        "environ": environ,
        "names": ["/svc"],
        "get": {"rig.output": "debug-write", "bare": "", "rig.nonce": "2222"},  # last word wins
        "lookup": {"resource": 0, "stdio_log": HANDLE_BASE + 6, "vdso0": HANDLE_BASE + 4,
                   "job": HANDLE_BASE + 3},
    }  # fmt: skip


def test_processargs_options_from_argv_win_over_environ(host: HostBuild) -> None:
    # Era D on: `userboot.next=bin/rig-test+rig.nonce=...` arrives as argv words; the 2023+
    # userboot passes no environ (gnoliyil start.cc @85c3f29).
    args = ["bin/rig-test", "rig.nonce=aaaa", "rig.output=debug-write"]
    msg = build_procargs(INFOS_NEW, args=args, environ=["rig.nonce=bbbb", "only.env=1"],
                         names=["/svc"])
    result = parse_pa(host, msg, len(INFOS_NEW), "rig.nonce", "rig.output", "only.env",
                      "bin/rig-test")
    assert result["get"] == {"rig.nonce": "aaaa", "rig.output": "debug-write", "only.env": "1",
                             "bin/rig-test": None}  # argv[0] is the program, never an option


def _patched(msg: bytes, word: int, value: int) -> bytes:
    return msg[: 4 * word] + struct.pack("<I", value) + msg[4 * word + 4 :]


BAD_MESSAGES = {
    "empty": (b"", 0, ZX_ERR_BUFFER_TOO_SMALL),
    "header cut": (message_2020()[:35], 0, ZX_ERR_BUFFER_TOO_SMALL),
    "bad magic": (_patched(message_2020(), 0, 0x4150585E), 17, ZX_ERR_INVALID_ARGS),
    "bad version": (_patched(message_2020(), 1, 0x0002000), 17, ZX_ERR_NOT_SUPPORTED),
    "handle infos past the end": (message_2020()[:80], 17, ZX_ERR_OUT_OF_RANGE),
    "handle info offset in header": (_patched(message_2020(), 2, 8), 17, ZX_ERR_OUT_OF_RANGE),
    "environ cut mid-string": (message_2020()[:120], 17, ZX_ERR_OUT_OF_RANGE),
    "environ offset past the end": (_patched(message_2020(), 5, 5000), 17, ZX_ERR_OUT_OF_RANGE),
    "environ count too big": (_patched(message_2020(), 6, 0xFFFFFFFF), 17, ZX_ERR_OUT_OF_RANGE),
    # Two empty strings fit in the last two bytes of the environ padding; the third does not.
    "argv strings past the end": (
        _patched(_patched(message_2020(), 3, 4198), 4, 3),
        17,
        ZX_ERR_OUT_OF_RANGE,
    ),
    "names offset wraps": (
        _patched(_patched(message_2020(), 8, 1), 7, 0xFFFFFFFF),
        17,
        ZX_ERR_OUT_OF_RANGE,
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_MESSAGES))
def test_processargs_bad_message_gives_an_error_and_an_empty_result(
    host: HostBuild, case: str
) -> None:
    msg, handles, status = BAD_MESSAGES[case]
    assert parse_pa(host, msg, handles, "rig.nonce") == {
        "status": status,
        "handles": [],
        "args": [],
        "environ": [],
        "names": [],
        "get": {"rig.nonce": None},
        "lookup": {"resource": 0, "stdio_log": 0, "vdso0": 0, "job": 0},
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    cut=st.integers(min_value=0, max_value=4200),
    word=st.integers(min_value=2, max_value=8),
    value=st.integers(min_value=0, max_value=0xFFFFFFFF),
    handles=st.integers(min_value=0, max_value=40),
)
def test_processargs_never_reads_outside_a_damaged_message(
    host: HostBuild, cut: int, word: int, value: int, handles: int
) -> None:
    # ASan turns any read outside the message into a failed run; the status must be a known one.
    msg = _patched(message_2020(), word, value)[:cut]
    result = parse_pa(host, msg, handles, "rig.nonce")
    assert result["status"] in {0, ZX_ERR_BUFFER_TOO_SMALL, ZX_ERR_OUT_OF_RANGE}


# ---- Relocation ----------------------------------------------------------------------------------


TARGETS = load_compile_targets()


def _layout(path: Path) -> bytearray:
    """PT_LOAD contents at their link addresses, page-rounded: what a loader maps."""
    with path.open("rb") as f:
        elf = ELFFile(f)
        loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
        end = max(s["p_vaddr"] + s["p_memsz"] for s in loads)
        image = bytearray((end + 0xFFF) & ~0xFFF)
        for s in loads:
            image[s["p_vaddr"] : s["p_vaddr"] + s["p_filesz"]] = s.data()
    return image


def _expected_relocation(path: Path, base: int) -> tuple[bytearray, int]:
    """The image after relocation at ``base``, computed from pyelftools' reading of the tables."""
    image = _layout(path)
    count = 0
    with path.open("rb") as f:
        elf = ELFFile(f)
        seg = next(s for s in elf.iter_segments() if isinstance(s, DynamicSegment))
        for kind, table in seg.get_relocation_tables().items():
            for rel in table.iter_relocations():
                off = rel["r_offset"]
                if kind in ("RELR", "REL"):  # the addend is in place
                    value = struct.unpack_from("<Q", image, off)[0] + base
                else:
                    value = base + rel["r_addend"]
                struct.pack_into("<Q", image, off, value & 0xFFFFFFFFFFFFFFFF)
                count += 1
    return image, count


def _link_reloc_image(host: HostBuild, target: CompileTarget, extra: Sequence[str]) -> Path:
    out = host.tmp / f"reloc-{target.name}-{'-'.join(e.rsplit(',', 1)[-1] for e in extra)}.elf"
    _check(
        [str(host.toolchain.clang), f"--target={target.triple}", *target.cflags, *target.ldflags]
        + [*extra, "-o", str(out), str(DATA / "reloc_image.c")]
    )
    return out


@pytest.mark.parametrize("target_name", sorted(TARGETS))
@pytest.mark.parametrize(
    ("packing", "extra", "tables"),
    [
        # The default: RELR, plus REL (clang passes lld -z rel) for the unaligned pointer.
        ("relr+rel", (), {"RELR", "REL"}),
        ("relr+rela", ("-Wl,-z,rela",), {"RELR", "RELA"}),
        ("rel", ("-Wl,--pack-dyn-relocs=none",), {"REL"}),
        ("rela", ("-Wl,--pack-dyn-relocs=none", "-Wl,-z,rela"), {"RELA"}),
    ],
)
def test_relocation_of_a_linked_image(
    host: HostBuild, target_name: str, packing: str, extra: tuple[str, ...], tables: set[str]
) -> None:
    target = TARGETS[target_name]
    image = _link_reloc_image(host, target, extra)
    with image.open("rb") as f:
        elf = ELFFile(f)
        seg = next(s for s in elf.iter_segments() if isinstance(s, DynamicSegment))
        assert set(seg.get_relocation_tables()) == tables
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".symtab").iter_symbols()}
    dump = host.tmp / f"dump-{target_name}-{packing}.bin"
    result = drive(host.drivers[target.runtime_arch_dir], "reloc", str(image), str(dump))
    base = result["base"]
    assert isinstance(base, int)
    expected, count = _expected_relocation(image, base)
    assert result == {"base": base, "size": len(expected), "unhandled": 0, "dynamic": 1}
    assert count == 150 + 5 + 1 + 1  # dense, sparse, far_pointer, unaligned
    got = dump.read_bytes()
    assert got == bytes(expected)
    # And in the program's own terms: dense[i] == &target_array[i] at the load address.
    for i in (0, 62, 63, 64, 149):
        ptr = struct.unpack_from("<Q", got, symbols["dense"] + 8 * i)[0]
        assert ptr == base + symbols["target_array"] + 4 * i
    assert (
        struct.unpack_from("<Q", got, symbols["unaligned"] + 1)[0] == base + symbols["target_int"]
    )


@pytest.fixture(scope="session")
def program_elves(host: HostBuild) -> dict[str, Path]:
    source = (DATA / "program.c").read_text()
    return {
        name: compile_program(
            source, t, host.tmp / f"prog-{name}", cache_dir=host.tmp / "cache"
        ).path
        for name, t in TARGETS.items()
    }


@pytest.mark.parametrize("target_name", sorted(TARGETS))
def test_relocation_of_the_real_test_program(
    host: HostBuild, program_elves: dict[str, Path], target_name: str
) -> None:
    elf_path = program_elves[target_name]
    dump = host.tmp / f"dump-prog-{target_name}.bin"
    driver = host.drivers[TARGETS[target_name].runtime_arch_dir]
    result = drive(driver, "reloc", str(elf_path), str(dump))
    base = result["base"]
    assert isinstance(base, int)
    expected, count = _expected_relocation(elf_path, base)
    assert count >= 4  # g_words (3) and g_main_ptr at least
    assert result["unhandled"] == 0
    assert dump.read_bytes() == bytes(expected)


# ---- The whole runtime, entered on the host ----------------------------------------------------


@dataclass(frozen=True)
class GuestRun:
    calls: list[str]  # the fake vDSO's log lines, in order
    output: list[str]  # what reached debuglog_write / debug_write


def run_guest(host: HostBuild, elf: Path, msg: bytes | None, handles: int, **env: str) -> GuestRun:
    assert host.run_driver is not None
    fake_env = {f"FAKE_{k.upper()}": v for k, v in env.items()}
    if msg is not None:
        path = host.tmp / "run-pa.bin"
        path.write_bytes(msg)
        fake_env |= {"FAKE_PA_FILE": str(path), "FAKE_PA_HANDLES": str(handles)}
    proc = _check(
        [str(host.run_driver), "run", str(elf), str(host.vdso["gnu"])],
        env={k: v for k, v in os.environ.items() if not k.startswith("FAKE_")} | fake_env,
    )
    calls = proc.stdout.splitlines()
    output = [c.split(": ", 1)[1] for c in calls if c.startswith(("debuglog_write", "debug_write"))]
    return GuestRun(calls=calls, output=output)


needs_x86_64_host = pytest.mark.skipif(
    HOST_ARCH_DIR != "x86_64", reason="entering the x86-64 guest ELF needs an x86-64 host"
)


@needs_x86_64_host
def test_guest_2020_userboot_creates_a_debuglog_from_the_root_resource(
    host: HostBuild, program_elves: dict[str, Path]
) -> None:
    run = run_guest(host, program_elves["x64"], message_2020(), 17, vdso_name="vdso/full")
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
        f"{write} len=18: alpha beta gamma ",
        "pager_create options=0",
        "process_exit code=2",  # the 2020 vDSO has no zx_pager_query_dirty_ranges
    ]


@needs_x86_64_host
def test_guest_uses_the_stdio_debuglog_a_newer_userboot_passes(
    host: HostBuild, program_elves: dict[str, Path]
) -> None:
    environ = ["userboot.next=bin/rig-test", "rig.test.lines=21"]
    msg = build_procargs(INFOS_NEW, args=["bin/rig-test"], environ=environ, names=["/svc"])
    run = run_guest(host, program_elves["x64"], msg, len(INFOS_NEW))
    assert not any(c.startswith("debuglog_create") for c in run.calls)
    assert run.output[0] == (
        f"info out=debuglog vdso=next page=4096 job={HANDLE_BASE + 3} resource=0 "
        f"vmar={HANDLE_BASE + 1} nonce=(none)"
    )
    assert run.output[2:] == [f"line {i}" for i in range(21)]
    # Pacing: one 1 ms sleep after every 10th record (23 records: after the 10th and 20th).
    writes = [c for c in run.calls if c.startswith(("debuglog_write", "nanosleep"))]
    sleeps = [i for i, c in enumerate(writes) if c.startswith("nanosleep")]
    assert sleeps == [10, 21]
    assert writes[10] == "nanosleep deadline=1001000000"  # fake deadline_after: 1e9 + 1 ms
    handle = HANDLE_BASE + INFOS_NEW.index(pa_hnd(PA_FD, 0x8000))
    assert all(c.startswith(f"debuglog_write h={handle:#x} ") for c in writes if "write" in c)


@needs_x86_64_host
def test_guest_debug_write_when_the_command_line_asks(
    host: HostBuild, program_elves: dict[str, Path]
) -> None:
    environ = [*ENVIRON_2020, "rig.output=debug-write", "rig.test.lines=12"]
    run = run_guest(host, program_elves["x64"], message_2020(environ), 17)
    assert not any(c.startswith(("debuglog", "nanosleep")) for c in run.calls)
    assert run.output[0].startswith("info out=debug-write vdso=next ")
    assert len(run.output) == 14 and run.calls[-1] == "process_exit code=2"


@needs_x86_64_host
@pytest.mark.parametrize(
    ("root_status", "invalid_status", "output"),
    [
        (ZX_ERR_ACCESS_DENIED, 0, "debuglog-new"),
        (ZX_ERR_ACCESS_DENIED, ZX_ERR_NOT_SUPPORTED, "debug-write"),
    ],
)
def test_guest_output_fallbacks(
    host: HostBuild,
    program_elves: dict[str, Path],
    root_status: int,
    invalid_status: int,
    output: str,
) -> None:
    run = run_guest(
        host,
        program_elves["x64"],
        message_2020(),
        17,
        debuglog_root=str(root_status),
        debuglog_invalid=str(invalid_status),
    )
    creates = [c for c in run.calls if c.startswith("debuglog_create")]
    assert creates == [
        f"debuglog_create resource={HANDLE_BASE + 3:#x} options=0 -> {root_status}",
        f"debuglog_create resource=0 options=0 -> {invalid_status}",
    ]
    assert run.output[0].startswith(f"info out={output} ")


@needs_x86_64_host
def test_guest_without_a_processargs_message_still_runs(
    host: HostBuild, program_elves: dict[str, Path]
) -> None:
    run = run_guest(host, program_elves["x64"], None, 0)
    assert run.calls[0] == "channel_read h=0x42 cap=16384/64"
    assert run.output[0] == (
        "info out=debuglog-new vdso=unknown page=4096 job=0 resource=0 vmar=0 nonce=(none)"
    )
    assert run.calls[-1] == "process_exit code=2"


@needs_x86_64_host
def test_bundled_suite_runs_on_the_runtime_and_its_records_parse(host: HostBuild) -> None:
    # The real generated program, the real runtime and record.c, on a vDSO that has none of the
    # pager syscalls: every scenario must still report (err/skip), in order, with no gap.
    from rig.judge.protocol import parse_log
    from rig.program.codegen import render_program
    from rig.scenario.loader import bundled_suite_paths, load_many

    program = render_program(
        load_many(bundled_suite_paths()), abi="2020", arch="x64", target="zircon"
    )
    built = compile_program(
        program.c_source, TARGETS["x64"], host.tmp / "suite", cache_dir=host.tmp / "cache"
    )
    nonce = "00112233aabbccdd"
    msg = message_2020([*ENVIRON_2020[:3], f"rig.nonce={nonce}"])
    run = run_guest(host, built.path, msg, 17, vdso_name="vdso/full")
    parsed = parse_log(run.output, nonces=[nonce])
    assert (parsed.nonce, parsed.anomalies, parsed.gaps, parsed.foreign) == (nonce, (), (), 0)
    assert len(parsed.records) == len(run.output)
    hello, bye = parsed.records[0], parsed.records[-1]
    assert (hello.kind, bye.kind) == ("hello", "bye")
    assert dict(hello.fields) == {
        "prog": program.program_id[:16],
        "nonce_src": "cmdline",
        "out": "debuglog-new",
        "page": "4096",
        "scenarios": str(len(program.scenarios)),
        "vdso": "stable",
    }
    begun = [dict(r.fields)["s"] for r in parsed.records if r.kind == "sbeg"]
    ended = [dict(r.fields)["s"] for r in parsed.records if r.kind == "send"]
    assert begun == ended == [str(s.index) for s in program.scenarios]
    # Paced: one 1 ms sleep per 10 debuglog records.
    assert sum(c.startswith("nanosleep") for c in run.calls) == len(run.output) // 10
    assert run.calls[-1].startswith("process_exit code=")


# ---- The real 2020 vDSOs (optional) -------------------------------------------------------------
# zircon-facts.md 9: kern-crates/zCore holds the vDSO of a 2020 Zircon tree for both arches
# (prebuilt/zircon/{x64,arm64}/libzircon.so). Someone else's binaries: never committed; point
# these variables at copies to run the tests, which are skipped (also in CI) without them.
REAL_VDSO_ENV = {"x64": "RIG_REAL_VDSO_X64", "arm64": "RIG_REAL_VDSO_ARM64"}
REAL_VDSO_DRIVER = {"x64": "x86_64", "arm64": "arm64"}
# The runtime's own fallback when the vDSO lacks it (facts 7: 4096 on this kernel).
RUNTIME_FALLBACKS = {"zx_system_get_page_size"}


def _profile_2020_unavailable() -> tuple[set[str], set[str]]:
    """(syscalls the 2020 profile reports unavailable, syscalls its steps make) over every
    step kind (tests/data/scenarios/codegen-all-steps.yaml) and the bundled suite, the
    scenarios that apply to 2020."""
    from rig.model.predict import predict
    from rig.program.codegen import SYSCALL_BY_KIND
    from rig.scenario.loader import bundled_suite_paths, load_many

    files = load_many([REPO / "tests" / "data" / "scenarios" / "codegen-all-steps.yaml",
                       *bundled_suite_paths()])
    unavailable: set[str] = set()
    used: set[str] = set()
    for f in files:
        for scenario in f.scenarios:
            if not scenario.applies_to("2020"):
                continue
            used.update(SYSCALL_BY_KIND[step.kind] for step in scenario.steps)
            unavailable.update(p.unavailable for p in predict(scenario, "2020").steps
                               if p.unavailable is not None)
    return unavailable, used


@pytest.mark.parametrize("arch", sorted(REAL_VDSO_ENV))
def test_real_2020_vdso_lookup_matches_the_2020_profile(host: HostBuild, arch: str) -> None:
    path = os.environ.get(REAL_VDSO_ENV[arch])
    if not path:
        pytest.skip(f"{REAL_VDSO_ENV[arch]} is not set (the real 2020 {arch} libzircon.so, "
                    "zircon-facts.md 9)")
    vdso = Path(path)
    result = drive(host.drivers[REAL_VDSO_DRIVER[arch]], "mapped", str(vdso))
    assert (result["open"], result["method"]) == (0, "gnu")  # DT_GNU_HASH only (facts 9)
    offsets = result["offsets"]
    assert isinstance(offsets, dict)
    with vdso.open("rb") as f:
        elf = ELFFile(f)
        assert elf["e_machine"] == {"x64": "EM_X86_64", "arm64": "EM_AARCH64"}[arch]
        symbols = {s.name: s["st_value"] for s in elf.get_section_by_name(".dynsym")
                   .iter_symbols() if s["st_shndx"] != "SHN_UNDEF"}
    # Every entry found is at the address the ELF says; every one missing really is.
    for name, offset in offsets.items():
        assert offset == symbols.get(name), name
    missing = {name for name, offset in offsets.items() if offset is None}
    unavailable, used = _profile_2020_unavailable()
    # Exactly as the 2020 profile predicts: the steps' syscalls the vDSO lacks are the ones
    # the model reports unavailable, and nothing else the program calls is missing.
    assert missing & used == unavailable
    assert missing <= unavailable | RUNTIME_FALLBACKS
    assert unavailable == {"zx_pager_query_dirty_ranges", "zx_pager_query_vmo_stats"}
    assert result["found"] == len(offsets) - len(missing)
