"""Unit tests of rig.toolchain that need no compiler: argv, cache keys, tool discovery errors
and the ELF rules on small ELF files written here byte by byte."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

from rig.errors import ToolchainError
from rig.run.toolchain import (
    APT_HINT,
    CompileTarget,
    Toolchain,
    build_argv,
    cache_key,
    check_elf,
    clang_major,
    default_cache_dir,
    default_guest_dir,
    elf_problems,
    find_toolchain,
)

REPO = Path(__file__).resolve().parents[2]
GUEST = REPO / "guest"

TOOLS = Toolchain(
    clang=Path("/opt/llvm/bin/clang-19"),
    lld=Path("/opt/llvm/bin/ld.lld"),
    clang_version="clang version 19.1.7",
    lld_version="LLD 19.1.7 (compatible with GNU linkers)",
)
TARGET = CompileTarget(
    name="x64",
    triple="x86_64-unknown-fuchsia",
    runtime_arch_dir="x86_64",
    cflags=("-ffreestanding", "-O2"),
    ldflags=("-fuse-ld=lld", "-Wl,--no-execute-only"),
)


@pytest.mark.parametrize(
    ("line", "major"),
    [
        ("Debian clang version 19.1.7 (3~deb12u1)", 19),
        ("clang version 20.0.0git (https://github.com/llvm/llvm-project abc)", 20),
        ("Ubuntu clang version 14.0.0-1ubuntu1.1", 14),
        ("Apple LLVM version 10.0.0 (clang-1000.11.45.5)", None),
        ("", None),
    ],
)
def test_clang_major(line: str, major: int | None) -> None:
    assert clang_major(line) == major


def test_default_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("RIG_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / ".cache" / "rig" / "build"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "rig" / "build"
    monkeypatch.setenv("RIG_CACHE_DIR", str(tmp_path / "rig"))
    assert default_cache_dir() == tmp_path / "rig" / "build"

    monkeypatch.delenv("RIG_GUEST_DIR", raising=False)
    assert default_guest_dir() == GUEST
    monkeypatch.setenv("RIG_GUEST_DIR", str(tmp_path))
    assert default_guest_dir() == tmp_path


def test_build_argv_compiles_program_and_every_runtime_file_in_one_clang_call() -> None:
    argv = build_argv(TOOLS, TARGET, GUEST, Path("/b/program.c"), Path("/b/program.elf"))
    prefix = [
        "/opt/llvm/bin/clang-19",
        "--target=x86_64-unknown-fuchsia",
        "-ffreestanding",
        "-O2",
        "-fuse-ld=lld",
        "-Wl,--no-execute-only",
        "-I",
        f"{GUEST}/include",
        "-I",
        f"{GUEST}/runtime/arch/x86_64",
        "-o",
        "/b/program.elf",
        "/b/program.c",
    ]
    sources = sorted(str(p) for p in (GUEST / "runtime").glob("*.c"))
    sources += [str(p) for p in sorted((GUEST / "runtime" / "arch" / "x86_64").glob("*.S"))]
    assert argv == prefix + sources
    mine = {"entry.c", "reloc.c", "vdso.c", "processargs.c", "output.c", "string.c"}
    mine |= {"syscalls.c", "libc_symbols.c"}
    assert mine <= {Path(s).name for s in sources}
    assert argv[-1] == f"{GUEST}/runtime/arch/x86_64/start.S"

    with_sysroot = build_argv(TOOLS, TARGET, GUEST, Path("p.c"), Path("p.elf"), sysroot=Path("/s"))
    assert with_sysroot[10:13] == ["--sysroot=/s", "-o", "p.elf"]


def test_cache_key_changes_with_every_input() -> None:
    source = "int rig_program_main(void) { return 0; }\n"
    base = cache_key(TOOLS, TARGET, source, GUEST, None)
    assert base == cache_key(TOOLS, TARGET, source, GUEST, None)
    variants = [
        cache_key(TOOLS, TARGET, source + " ", GUEST, None),
        cache_key(
            replace(TOOLS, clang_version="clang version 19.1.8"), TARGET, source, GUEST, None
        ),
        cache_key(replace(TOOLS, lld_version="LLD 19.1.8"), TARGET, source, GUEST, None),
        cache_key(TOOLS, replace(TARGET, cflags=("-O1",)), source, GUEST, None),
        cache_key(TOOLS, replace(TARGET, ldflags=()), source, GUEST, None),
        cache_key(TOOLS, replace(TARGET, triple="aarch64-unknown-fuchsia"), source, GUEST, None),
        cache_key(TOOLS, replace(TARGET, runtime_arch_dir="arm64"), source, GUEST, None),
        cache_key(TOOLS, TARGET, source, GUEST, Path("/sdk/sysroot")),
    ]
    assert len({base, *variants}) == 1 + len(variants)
    # The tool paths are not part of the key: the same versions build the same ELF.
    assert (
        cache_key(replace(TOOLS, clang=Path("/usr/bin/clang")), TARGET, source, GUEST, None) == base
    )


def test_runtime_sources_error_names_the_known_arch_dirs() -> None:
    with pytest.raises(ToolchainError) as info:
        build_argv(TOOLS, replace(TARGET, runtime_arch_dir="mips"), GUEST, Path("p"), Path("e"))
    assert str(info.value) == (
        f"target x64: runtime_arch_dir 'mips' not found under {GUEST}/runtime/arch; "
        "wanted one of ['arm64', 'x86_64']"
    )


# ---- find_toolchain errors -------------------------------------------------------------------


def _fake_tool(directory: Path, name: str, version: str, prog_name: str) -> Path:
    # A fault injector: a shell script that answers like a clang we cannot install here (too
    # old, or without its own ld.lld). It only answers --version and -print-prog-name.
    path = directory / name
    path.write_text(
        "#!/bin/sh\n"
        f'case "$1" in --version) echo "{version}";; -print-prog-name=*) echo "{prog_name}";; '
        "*) exit 1;; esac\n"
    )
    path.chmod(0o755)
    return path


def test_find_toolchain_without_clang_names_the_packages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RIG_CLANG", raising=False)
    with pytest.raises(ToolchainError) as info:
        find_toolchain(path=str(tmp_path))
    assert str(info.value) == (
        "clang: not found (looked for clang-19, clang on PATH), wanted clang 19 or newer; "
        "install the Debian/Ubuntu packages: apt-get install clang-19 lld-19 llvm-19"
    )


def test_find_toolchain_rejects_an_old_clang(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("RIG_CLANG", raising=False)
    clang = _fake_tool(tmp_path, "clang", "Ubuntu clang version 14.0.0-1ubuntu1", "/x/ld.lld")
    with pytest.raises(ToolchainError) as info:
        find_toolchain(path=str(tmp_path))
    assert str(info.value) == (
        f"{clang}: found 'Ubuntu clang version 14.0.0-1ubuntu1', wanted clang 19 or newer (the "
        f"flags in docs/runtime.md were measured with clang 19); {APT_HINT}"
    )


def test_find_toolchain_needs_the_lld_clang_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    clang = _fake_tool(tmp_path, "clang-19", "clang version 19.1.0", "ld.lld")
    monkeypatch.setenv("RIG_CLANG", str(clang))
    with pytest.raises(ToolchainError) as info:
        find_toolchain(path="")
    assert str(info.value) == (
        f"{clang}: `-print-prog-name=ld.lld` names no ld.lld next to clang "
        f"(clang version 19.1.0), wanted the lld of the same LLVM; {APT_HINT}"
    )


# ---- ELF rules on hand-written ELF files ---------------------------------------------------------

PT_LOAD, PT_INTERP = 1, 3
PF_X, PF_W, PF_R = 1, 2, 4
ET_EXEC, ET_DYN = 2, 3
EM_X86_64 = 62


def write_elf(
    path: Path,
    *,
    e_type: int,
    entry: int,
    segments: list[tuple[int, int, int, int]],  # (p_type, p_flags, vaddr, memsz)
    interp: bytes = b"",
) -> Path:
    """A section-less ELF64 with the given program headers; PT_INTERP points at ``interp``."""
    phoff, phnum = 64, len(segments)
    data_off = phoff + 56 * phnum
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    ehdr = ident + struct.pack(
        "<HHIQQQIHHHHHH", e_type, EM_X86_64, 1, entry, phoff, 0, 0, 64, 56, phnum, 0, 0, 0
    )
    phdrs = b""
    for p_type, flags, vaddr, memsz in segments:
        if p_type == PT_INTERP:
            offset, filesz = data_off, len(interp)
        else:
            offset, filesz = 0, 0
        phdrs += struct.pack("<IIQQQQQQ", p_type, flags, offset, vaddr, vaddr, filesz, memsz, 8)
    path.write_bytes(ehdr + phdrs + interp)
    return path


def test_elf_rules_on_a_bad_hand_written_elf(tmp_path: Path) -> None:
    path = write_elf(
        tmp_path / "bad.elf",
        e_type=ET_EXEC,
        entry=0x5000,
        segments=[
            (PT_INTERP, PF_R, 0x300, 11),
            (PT_LOAD, PF_X, 0x1000, 0x1000),
            (PT_LOAD, PF_R | PF_W, 0x4000, 0x2000),  # the entry is here: not executable
        ],
        interp=b"/lib/ld.so\0",
    )
    assert elf_problems(path, TARGET) == [
        "e_type is ET_EXEC, wanted ET_DYN (a static PIE: link with -Wl,-pie)",
        "program header 0 is PT_INTERP ('/lib/ld.so'), wanted none (link with "
        "-Wl,--no-dynamic-linker: userboot would load it as a loader)",
        "PT_LOAD 1 at vaddr 0x1000 is execute-only (flags --X), wanted R+X: userboot refuses it "
        "(link with -Wl,--no-execute-only)",
        "entry point 0x5000 is not inside an executable PT_LOAD (link with -Wl,-e,_start and "
        "keep the arch start.S)",
    ]
    with pytest.raises(ToolchainError) as info:
        check_elf(path, TARGET)
    assert str(info.value).startswith(f"{path}: 4 ELF check(s) failed for x64:\n  - e_type is ")


def test_elf_rules_pass_a_minimal_good_elf_and_know_only_two_triples(tmp_path: Path) -> None:
    path = write_elf(
        tmp_path / "good.elf",
        e_type=ET_DYN,
        entry=0x1010,
        segments=[(PT_LOAD, PF_R, 0, 0x1000), (PT_LOAD, PF_R | PF_X, 0x1000, 0x1000)],
    )
    assert elf_problems(path, TARGET) == []
    check_elf(path, TARGET)
    # The end of a segment is outside it.
    edge = write_elf(
        tmp_path / "edge.elf",
        e_type=ET_DYN,
        entry=0x2000,
        segments=[(PT_LOAD, PF_R | PF_X, 0x1000, 0x1000)],
    )
    assert len(elf_problems(edge, TARGET)) == 1
    with pytest.raises(ToolchainError) as info:
        elf_problems(path, replace(TARGET, triple="riscv64-unknown-fuchsia"))
    assert str(info.value) == (
        "target x64: triple 'riscv64-unknown-fuchsia' has no known ELF machine; wanted one of "
        "['aarch64', 'x86_64'] as its first component"
    )
