"""Compile the test program with the real clang-19/lld for both triples and check the ELFs.

The negative cases break one loader rule each by changing one link flag (or the program) and
assert the exact list of problems check_elf reports.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile

from rig.errors import ToolchainError
from rig.run.toolchain import (
    BuiltElf,
    CompileTarget,
    Toolchain,
    ToolchainCommandError,
    build_argv,
    check_elf,
    compile_program,
    elf_problems,
    find_toolchain,
)
from tests.conftest import skip_or_fail
from tests.integration.runtime_support import load_compile_targets

pytestmark = pytest.mark.toolchain

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "runtime"
PROGRAM = (DATA / "program.c").read_text()


TARGETS = load_compile_targets()
E_MACHINE = {"x64": "EM_X86_64", "arm64": "EM_AARCH64"}


@pytest.fixture(scope="session")
def tools() -> Toolchain:
    try:
        return find_toolchain()
    except ToolchainError as exc:
        skip_or_fail(f"needs clang-19 and ld.lld-19: {exc}")


def without(flags: tuple[str, ...], flag: str) -> tuple[str, ...]:
    assert flag in flags
    return tuple(f for f in flags if f != flag)


def test_find_toolchain_reports_clang_19_and_its_lld(tools: Toolchain) -> None:
    assert re.search(r"clang version 19\.", tools.clang_version)
    assert re.search(r"LLD 19\.", tools.lld_version)
    assert tools.lld.name == "ld.lld" and tools.lld.is_absolute()
    assert tools.versions() == {"clang": tools.clang_version, "lld": tools.lld_version}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_compile_both_triples_then_hit_the_cache(
    tools: Toolchain, tmp_path: Path, name: str
) -> None:
    target = TARGETS[name]
    cache = tmp_path / "cache"
    built = compile_program(PROGRAM, target, tmp_path / "out", cache_dir=cache, toolchain=tools)
    data = built.path.read_bytes()
    argv = build_argv(tools, target, REPO / "guest", tmp_path / "out" / "program.c", built.path)
    assert built == BuiltElf(
        path=tmp_path / "out" / "program.elf",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        cached=False,
        argv=tuple(argv),
    )
    assert (tmp_path / "out" / "program.c").read_text() == PROGRAM
    assert [p.suffix for p in cache.iterdir()] == [".elf"]
    check_elf(built.path, target)

    again = compile_program(PROGRAM, target, tmp_path / "out2", cache_dir=cache, toolchain=tools)
    assert again == replace(built, path=tmp_path / "out2" / "program.elf", cached=True,
                            argv=tuple(build_argv(tools, target, REPO / "guest",
                                                  tmp_path / "out2" / "program.c",
                                                  tmp_path / "out2" / "program.elf")))  # fmt: skip
    assert again.path.read_bytes() == data


def _segments(path: Path) -> list[tuple[str, str]]:
    with path.open("rb") as f:
        return [
            (
                s["p_type"],
                "".join(c if s["p_flags"] & b else "-" for c, b in (("R", 4), ("W", 2), ("X", 1))),
            )
            for s in ELFFile(f).iter_segments()
        ]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_elf_has_the_entry_segments_and_relocations_userboot_needs(
    tools: Toolchain, tmp_path: Path, name: str
) -> None:
    target = TARGETS[name]
    built = compile_program(PROGRAM, target, tmp_path, cache_dir=tmp_path / "c", toolchain=tools)
    with built.path.open("rb") as f:
        elf = ELFFile(f)
        symbols = {s.name: s for s in elf.get_section_by_name(".symtab").iter_symbols()}
        assert (elf.header["e_type"], elf.header["e_machine"]) == ("ET_DYN", E_MACHINE[name])
        assert elf.header["e_entry"] == symbols["_start"]["st_value"]
        dynamic = next(s for s in elf.iter_segments() if isinstance(s, DynamicSegment))
        tables = dynamic.get_relocation_tables()
        tags = {str(t.entry.d_tag) for t in dynamic.iter_tags()}
        # Only DT_RELR: clang's Fuchsia defaults pack every relative relocation (facts 7).
        assert set(tables) == {"RELR"}
        relocated = {r["r_offset"] for r in tables["RELR"].iter_relocations()}
    assert {symbols["g_main_ptr"]["st_value"], symbols["g_words"]["st_value"]} <= relocated
    assert "DT_NEEDED" not in tags and "DT_TEXTREL" not in tags
    assert _segments(built.path) == [
        ("PT_PHDR", "R--"),
        ("PT_LOAD", "R--"),
        ("PT_LOAD", "R-X"),  # readable text: --no-execute-only
        ("PT_LOAD", "RW-"),
        ("PT_DYNAMIC", "R--"),  # -z rodynamic
        ("PT_GNU_STACK", "RW-"),
        ("PT_NOTE", "R--"),
    ]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_start_relocates_before_it_enters_c(tools: Toolchain, tmp_path: Path, name: str) -> None:
    built = compile_program(
        PROGRAM, TARGETS[name], tmp_path, cache_dir=tmp_path / "c", toolchain=tools
    )
    disasm = subprocess.run(
        ["llvm-objdump-19", "-d", "--disassemble-symbols=_start", str(built.path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    calls = re.findall(r"\b(?:callq?|bl)\s+0x[0-9a-f]+ <(\w+)>", disasm)
    assert calls == ["rig_apply_relocs", "rig_start_c"]


def test_cache_misses_when_any_input_changes(tools: Toolchain, tmp_path: Path) -> None:
    target = TARGETS["x64"]
    guest = tmp_path / "guest"
    shutil.copytree(REPO / "guest", guest)
    cache = tmp_path / "cache"

    def build(source: str, t: CompileTarget = target) -> bool:
        return compile_program(
            source, t, tmp_path / "out", cache_dir=cache, toolchain=tools, guest_dir=guest
        ).cached

    assert build(PROGRAM) is False
    assert build(PROGRAM) is True
    assert build(PROGRAM + "\n// changed\n") is False
    assert build(PROGRAM, replace(target, cflags=(*target.cflags, "-DRIG_X=1"))) is False
    header = guest / "include" / "rig" / "zircon.h"
    header.write_text(header.read_text() + "\n// changed\n")
    assert build(PROGRAM) is False
    start = guest / "runtime" / "arch" / "x86_64" / "start.S"
    start.write_text(start.read_text() + "\n// changed\n")
    assert build(PROGRAM) is False
    assert build(PROGRAM) is True
    assert len(list(cache.glob("*.elf"))) == 5


def test_compile_error_carries_argv_exit_code_and_stderr(tools: Toolchain, tmp_path: Path) -> None:
    source = PROGRAM + "\nint rig_broken(void) { return undeclared_thing; }\n"
    with pytest.raises(ToolchainCommandError) as info:
        compile_program(source, TARGETS["arm64"], tmp_path, cache_dir=tmp_path / "c",
                        toolchain=tools)  # fmt: skip
    err = info.value
    assert err.argv == tuple(
        build_argv(tools, TARGETS["arm64"], REPO / "guest", tmp_path / "program.c",
                   tmp_path / "program.elf")
    )  # fmt: skip
    assert err.returncode == 1
    assert "use of undeclared identifier 'undeclared_thing'" in err.stderr
    assert str(err).startswith(f"arm64: clang exited 1 compiling {tmp_path / 'program.c'}; ")
    assert "rerun with: " in str(err) and "undeclared_thing" in str(err)
    assert not (tmp_path / "program.elf").exists()
    assert not (tmp_path / "c").exists() or not list((tmp_path / "c").iterdir())


def _rejected(tmp_path: Path, target: CompileTarget, source: str, tools: Toolchain) -> str:
    with pytest.raises(ToolchainError) as info:
        compile_program(source, target, tmp_path, cache_dir=tmp_path / "c", toolchain=tools)
    assert not isinstance(info.value, ToolchainCommandError)
    assert not (tmp_path / "program.elf").exists()
    assert (tmp_path / "program.elf.rejected").exists()
    assert not list((tmp_path / "c").glob("*.elf")) if (tmp_path / "c").exists() else True
    return str(info.value)


def test_execute_only_text_is_rejected(tools: Toolchain, tmp_path: Path) -> None:
    arm = TARGETS["arm64"]
    target = replace(arm, ldflags=without(arm.ldflags, "-Wl,--no-execute-only"))
    message = _rejected(tmp_path, target, PROGRAM, tools)
    assert message == (
        f"{tmp_path / 'program.elf'}: 1 ELF check(s) failed for arm64:\n"
        "  - PT_LOAD 2 at vaddr 0x1000 is execute-only (flags --X), wanted R+X: userboot "
        "refuses it (link with -Wl,--no-execute-only)"
    )


def test_undefined_symbol_and_its_plt_relocation_are_rejected(
    tools: Toolchain, tmp_path: Path
) -> None:
    x64 = TARGETS["x64"]
    target = replace(x64, ldflags=(*x64.ldflags, "-Wl,--unresolved-symbols=ignore-all"))
    source = PROGRAM + (
        "\nextern int rig_not_defined(void);\n"
        "int rig_use(void) { return rig_not_defined(); }\n"
        "int (*volatile rig_keep)(void) = rig_use;\n"
    )
    assert _rejected(tmp_path, target, source, tools) == (
        f"{tmp_path / 'program.elf'}: 2 ELF check(s) failed for x64:\n"
        "  - undefined symbol 'rig_not_defined': the runtime has no libc; define it in "
        "guest/runtime/ or stop using it\n"
        "  - 1 DT_JMPREL relocation(s) of type 7, wanted only relative relocations (type 8 or "
        "DT_RELR): the runtime cannot apply them"
    )


def test_interpreter_is_rejected(tools: Toolchain, tmp_path: Path) -> None:
    x64 = TARGETS["x64"]
    target = replace(x64, ldflags=without(x64.ldflags, "-Wl,--no-dynamic-linker"))
    assert _rejected(tmp_path, target, PROGRAM, tools) == (
        f"{tmp_path / 'program.elf'}: 1 ELF check(s) failed for x64:\n"
        "  - program header 1 is PT_INTERP ('ld.so.1'), wanted none (link with "
        "-Wl,--no-dynamic-linker: userboot would load it as a loader)"
    )


def test_thread_local_storage_is_rejected(tools: Toolchain, tmp_path: Path) -> None:
    source = PROGRAM + (
        "\n_Thread_local int rig_tls_counter;\n"
        "int rig_bump(void) { return ++rig_tls_counter; }\n"
        "int (*volatile rig_keep)(void) = rig_bump;\n"
    )
    assert _rejected(tmp_path, TARGETS["arm64"], source, tools) == (
        f"{tmp_path / 'program.elf'}: 1 ELF check(s) failed for arm64:\n"
        "  - program header 4 is PT_TLS (4 bytes), wanted none: the runtime sets up no thread "
        "pointer (drop _Thread_local variables)"
    )


def test_entry_outside_the_text_is_rejected(tools: Toolchain, tmp_path: Path) -> None:
    x64 = TARGETS["x64"]
    target = replace(x64, ldflags=(*without(x64.ldflags, "-Wl,-e,_start"), "-Wl,-e,g_words"))
    message = _rejected(tmp_path, target, PROGRAM, tools)
    with (tmp_path / "program.elf.rejected").open("rb") as f:
        elf = ELFFile(f)
        entry = elf.header["e_entry"]
        g_words = elf.get_section_by_name(".symtab").get_symbol_by_name("g_words")[0]
    assert entry == g_words["st_value"]
    assert message == (
        f"{tmp_path / 'program.elf'}: 1 ELF check(s) failed for x64:\n"
        f"  - entry point {entry:#x} is not inside an executable PT_LOAD (link with "
        "-Wl,-e,_start and keep the arch start.S)"
    )


def test_wrong_machine_and_fixed_address_executable_are_reported(
    tools: Toolchain, tmp_path: Path
) -> None:
    built = compile_program(
        PROGRAM, TARGETS["x64"], tmp_path, cache_dir=tmp_path / "c", toolchain=tools
    )
    assert elf_problems(built.path, TARGETS["arm64"]) == [
        "e_machine is EM_X86_64, wanted EM_AARCH64 for aarch64-unknown-fuchsia"
    ]
    # A fixed-address executable (our start.S needs _DYNAMIC, so link the data-only image).
    x64 = TARGETS["x64"]
    exe = tmp_path / "exec.elf"
    subprocess.run(
        [str(tools.clang), f"--target={x64.triple}"]
        + [f for f in x64.cflags if f != "-fPIE"]
        + ["-fno-pie", *without(x64.ldflags, "-Wl,-pie"), "-Wl,-no-pie"]
        + ["-o", str(exe), str(DATA / "reloc_image.c")],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=True,
    )
    problems = elf_problems(exe, x64)
    assert problems[0] == "e_type is ET_EXEC, wanted ET_DYN (a static PIE: link with -Wl,-pie)"
    assert problems[1:] == []


def test_not_an_elf_file(tmp_path: Path) -> None:
    path = tmp_path / "program.elf"
    path.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(ToolchainError, match=r"program\.elf: not a readable ELF file"):
        check_elf(path, TARGETS["x64"])


def test_bad_sysroot_and_unknown_arch_dir(tools: Toolchain, tmp_path: Path) -> None:
    with pytest.raises(ToolchainError, match=r"--sysroot .*nope: not a directory"):
        compile_program(PROGRAM, TARGETS["x64"], tmp_path, sysroot=tmp_path / "nope",
                        cache_dir=tmp_path / "c", toolchain=tools)  # fmt: skip
    bad = replace(TARGETS["x64"], runtime_arch_dir="riscv64")
    with pytest.raises(ToolchainError) as info:
        compile_program(PROGRAM, bad, tmp_path, cache_dir=tmp_path / "c", toolchain=tools)
    assert str(info.value) == (
        f"target x64: runtime_arch_dir 'riscv64' not found under "
        f"{REPO / 'guest' / 'runtime' / 'arch'}; wanted one of ['arm64', 'x86_64']"
    )


def test_empty_sysroot_is_passed_to_clang(tools: Toolchain, tmp_path: Path) -> None:
    # The runtime needs nothing from a sysroot, so an empty one links the same program.
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    built = compile_program(PROGRAM, TARGETS["arm64"], tmp_path / "out", sysroot=sysroot,
                            cache_dir=tmp_path / "c", toolchain=tools)  # fmt: skip
    assert f"--sysroot={sysroot}" in built.argv
    check_elf(built.path, TARGETS["arm64"])


def test_unwritable_cache_only_costs_speed(
    tools: Toolchain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache directory should be")
    built = compile_program(PROGRAM, TARGETS["x64"], tmp_path / "out", cache_dir=blocker,
                            toolchain=tools)  # fmt: skip
    assert built.cached is False and built.path.is_file()
    assert [r.getMessage().split(" (")[0] for r in caplog.records if r.levelname == "WARNING"] == [
        f"build cache {blocker} not written"
    ]
