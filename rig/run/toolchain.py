"""Compile the guest test program with clang/lld, check the ELF, and cache builds by content.

One clang invocation compiles the program C together with the freestanding runtime
(``guest/runtime/*.c`` and ``guest/runtime/arch/<dir>/*.S``) into a static PIE that a Zircon
userboot can start (docs/runtime.md). :func:`check_elf` then enforces the loader's rules with
pyelftools; a cache keyed by every input, the flags and the tool versions skips repeat builds.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import shlex
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from rig import resources
from rig.errors import ToolchainError
from rig.program.target import CompileTarget
from rig.run import process

LOG = logging.getLogger(__name__)

# Bump when the cache key or the layout of a cache entry changes.
_CACHE_FORMAT = "rig-build-1"
COMPILE_TIMEOUT_S = 120.0
VERSION_TIMEOUT_S = 20.0
# clang 19 is what the flags were measured with (zircon-facts.md section 7): DT_RELR output,
# execute-only arm64 text by default, no compiler-rt builtins for the Fuchsia triples.
MIN_CLANG_MAJOR = 19
APT_HINT = "install the Debian/Ubuntu packages: apt-get install clang-19 lld-19 llvm-19"

# Data, not branches: what check_elf expects per triple architecture.
_E_MACHINE_BY_TRIPLE_ARCH: Mapping[str, str] = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}
# The only dynamic relocation type a self-relocating static PIE may carry besides DT_RELR.
_RELATIVE_TYPE_BY_MACHINE: Mapping[str, int] = {
    "EM_X86_64": 8,  # R_X86_64_RELATIVE
    "EM_AARCH64": 1027,  # R_AARCH64_RELATIVE
}

_PF_X = 0x1
_PF_R = 0x4


@dataclass(frozen=True)
class Toolchain:
    """The clang and ld.lld found on this machine, with their version lines."""

    clang: Path
    lld: Path
    clang_version: str  # first line of `clang --version`
    lld_version: str  # first line of `ld.lld --version`

    def versions(self) -> dict[str, str]:
        """Tool versions for a build manifest (``"tools"``)."""
        return {"clang": self.clang_version, "lld": self.lld_version}


@dataclass(frozen=True)
class BuiltElf:
    """A checked test ELF."""

    path: Path
    sha256: str
    size: int
    cached: bool  # True when copied from the build cache instead of compiled
    argv: tuple[str, ...]  # the clang command that builds it (logged with shlex.join)


class ToolchainCommandError(ToolchainError):
    """A compiler or linker command failed; carries its argv, exit code and stderr."""

    def __init__(
        self, message: str, *, argv: Sequence[str], returncode: int | None, stderr: str
    ) -> None:
        super().__init__(message)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.stderr = stderr


def default_guest_dir() -> Path:
    """The guest tree (`rig.resources.guest_dir`)."""
    return resources.guest_dir()


def default_cache_dir() -> Path:
    """``$RIG_CACHE_DIR/build``, else ``$XDG_CACHE_HOME/rig/build``, else ``~/.cache/rig/build``."""
    env = os.environ.get("RIG_CACHE_DIR")
    if env:
        return Path(env) / "build"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "rig" / "build"


# ---- Finding the tools -----------------------------------------------------------------------


def _run_version(tool: Path) -> str:
    argv = [str(tool), "--version"]
    try:
        proc = process.run(argv, timeout_s=VERSION_TIMEOUT_S)
    except process.ProcessError as exc:
        raise ToolchainCommandError(
            f"{tool}: could not run `{shlex.join(argv)}`: {exc}; {APT_HINT}",
            argv=argv,
            returncode=None,
            stderr=exc.output_tail,
        ) from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolchainCommandError(
            f"{tool}: `{shlex.join(argv)}` exited {proc.returncode}: {proc.stderr.strip()}",
            argv=argv,
            returncode=proc.returncode,
            stderr=proc.stderr,
        )
    return proc.stdout.strip().splitlines()[0]


@functools.lru_cache(maxsize=16)
def _cached_version(tool: str, mtime_ns: int) -> str:
    del mtime_ns  # part of the cache key only: a reinstalled tool is asked again
    return _run_version(Path(tool))


def _tool_version(tool: Path) -> str:
    return _cached_version(str(tool), tool.stat().st_mtime_ns)


def _which(names: Iterable[str], path: str | None) -> Path | None:
    for name in names:
        found = shutil.which(name, path=path)
        if found:
            return Path(found)
    return None


def clang_major(version_line: str) -> int | None:
    """Major version from a ``clang --version`` first line, or None."""
    m = re.search(r"clang version (\d+)\.", version_line)
    return int(m.group(1)) if m else None


def _clang_lld(clang: Path) -> Path | None:
    """The ld.lld that ``clang -fuse-ld=lld`` runs (``-print-prog-name``), or None."""
    return _cached_clang_lld(str(clang), clang.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _cached_clang_lld(clang: str, mtime_ns: int) -> Path | None:
    del mtime_ns  # part of the cache key only
    argv = [clang, "-print-prog-name=ld.lld"]
    try:
        proc = process.run(argv, timeout_s=VERSION_TIMEOUT_S)
    except process.ProcessError:
        return None
    found = Path(proc.stdout.strip())
    # clang prints the bare name when it has no ld.lld of its own.
    return found if proc.returncode == 0 and found.is_absolute() and found.exists() else None


def find_toolchain(*, path: str | None = None) -> Toolchain:
    """Find clang 19 (``$RIG_CLANG``, else ``clang-19`` or ``clang`` on ``path``) and its ld.lld.

    The linker is the one ``clang -fuse-ld=lld`` runs (clang's Fuchsia driver adds its lld-only
    defaults only then), so ``lld`` is what ``clang -print-prog-name=ld.lld`` names.

    :raises ToolchainError: a tool is missing or too old (names the apt packages to install).
    """
    clang_env = os.environ.get("RIG_CLANG")
    clang = Path(clang_env) if clang_env else _which(("clang-19", "clang"), path)
    if clang is None or not clang.exists():
        raise ToolchainError(
            f"clang: not found (looked for {clang_env or 'clang-19, clang'} on PATH), "
            f"wanted clang {MIN_CLANG_MAJOR} or newer; {APT_HINT}"
        )
    clang_version = _tool_version(clang)
    major = clang_major(clang_version)
    if major is None or major < MIN_CLANG_MAJOR:
        raise ToolchainError(
            f"{clang}: found {clang_version!r}, wanted clang {MIN_CLANG_MAJOR} or newer "
            f"(the flags in docs/runtime.md were measured with clang 19); {APT_HINT}"
        )
    lld = _clang_lld(clang)
    if lld is None:
        raise ToolchainError(
            f"{clang}: `-print-prog-name=ld.lld` names no ld.lld next to clang "
            f"({clang_version}), wanted the lld of the same LLVM; {APT_HINT}"
        )
    toolchain = Toolchain(
        clang=clang, lld=lld, clang_version=clang_version, lld_version=_tool_version(lld)
    )
    LOG.debug("toolchain: %s (%s), %s (%s)", clang, clang_version, lld, toolchain.lld_version)
    return toolchain


# ---- Building --------------------------------------------------------------------------------


def runtime_sources(guest_dir: Path, target: CompileTarget) -> tuple[Path, ...]:
    """The runtime files compiled with every program: ``guest/runtime/*.c`` and the arch ``*.S``.

    :raises ToolchainError: the arch directory or the runtime sources are missing.
    """
    runtime = guest_dir / "runtime"
    arch = runtime / "arch" / target.runtime_arch_dir
    if not arch.is_dir():
        known = sorted(p.name for p in (runtime / "arch").glob("*") if p.is_dir())
        raise ToolchainError(
            f"target {target.name}: runtime_arch_dir {target.runtime_arch_dir!r} not found under "
            f"{runtime / 'arch'}; wanted one of {known}"
        )
    c_files = sorted(runtime.glob("*.c"))
    s_files = sorted(arch.glob("*.S"))
    if not c_files or not s_files:
        raise ToolchainError(
            f"{runtime}: found {len(c_files)} .c and {len(s_files)} arch .S files, wanted at least "
            "one of each; is RIG_GUEST_DIR pointing at the repository's guest/ directory?"
        )
    return (*c_files, *s_files)


def _header_files(guest_dir: Path, target: CompileTarget) -> tuple[Path, ...]:
    runtime = guest_dir / "runtime"
    found = [
        *(guest_dir / "include").rglob("*"),
        *runtime.glob("*.h"),
        *(runtime / "arch" / target.runtime_arch_dir).glob("*"),
    ]
    return tuple(sorted(p for p in found if p.is_file() and p.suffix != ".S"))


def build_argv(
    toolchain: Toolchain,
    target: CompileTarget,
    guest_dir: Path,
    program_c: Path,
    out_elf: Path,
    *,
    sysroot: Path | None = None,
) -> list[str]:
    """The clang command that compiles and links the program with the runtime."""
    argv = [
        str(toolchain.clang),
        f"--target={target.triple}",
        *target.cflags,
        # No --ld-path: with it clang's Fuchsia driver no longer knows the linker is lld and
        # drops its lld-only defaults (--pack-dyn-relocs=relr, -z rodynamic, -z rel, ...).
        # -fuse-ld=lld (in ldflags) finds the ld.lld that find_toolchain reports.
        *target.ldflags,
        "-I",
        str(guest_dir / "include"),
        "-I",
        str(guest_dir / "runtime" / "arch" / target.runtime_arch_dir),
    ]
    if sysroot is not None:
        argv.append(f"--sysroot={sysroot}")
    argv += ["-o", str(out_elf), str(program_c)]
    argv += [str(p) for p in runtime_sources(guest_dir, target)]
    return argv


def cache_key(
    toolchain: Toolchain,
    target: CompileTarget,
    c_source: str,
    guest_dir: Path,
    sysroot: Path | None,
) -> str:
    """sha256 over the program, every runtime source and header, the flags and tool versions."""
    h = hashlib.sha256()

    def put(label: str, data: bytes) -> None:
        h.update(f"{label}\0{len(data)}\0".encode())
        h.update(data)

    put("format", _CACHE_FORMAT.encode())
    put("clang", toolchain.clang_version.encode())
    put("lld", toolchain.lld_version.encode())
    put("target", repr(target).encode())
    put("sysroot", str(sysroot or "").encode())
    put("program.c", c_source.encode())
    for path in (*runtime_sources(guest_dir, target), *_header_files(guest_dir, target)):
        put(path.relative_to(guest_dir).as_posix(), path.read_bytes())
    return h.hexdigest()


def _store_in_cache(elf: Path, cache_dir: Path, key: str) -> None:
    """Copy a checked ELF into the cache; a cache we cannot write only costs speed."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        # Copy then rename, so a concurrent build never sees half a cache entry.
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=f".{key}.", suffix=".tmp")
        os.close(fd)
        shutil.copyfile(elf, tmp)
        os.replace(tmp, cache_dir / f"{key}.elf")
    except OSError as exc:
        LOG.warning("build cache %s not written (%s); builds will not be reused", cache_dir, exc)


def compile_program(
    c_source: str,
    target: CompileTarget,
    out_dir: Path,
    *,
    cache_dir: Path | None = None,
    sysroot: Path | None = None,
    toolchain: Toolchain | None = None,
    guest_dir: Path | None = None,
) -> BuiltElf:
    """Compile ``c_source`` with the runtime into ``out_dir/program.elf`` and check it.

    Writes ``out_dir/program.c`` (the file clang compiles) and ``out_dir/program.elf``. A build
    with the same inputs, flags and tool versions is copied from ``cache_dir`` instead
    (default :func:`default_cache_dir`).

    :raises ToolchainError: clang/lld missing or failing (:class:`ToolchainCommandError` with
        argv, exit code and stderr), a bad sysroot, or an ELF that breaks a loader rule.
    """
    toolchain = toolchain or find_toolchain()
    guest_dir = guest_dir or default_guest_dir()
    cache_dir = cache_dir or default_cache_dir()
    if sysroot is not None and not sysroot.is_dir():
        raise ToolchainError(
            f"--sysroot {sysroot}: not a directory; wanted the sysroot of a Fuchsia SDK "
            "(e.g. <sdk>/arch/<arch>/sysroot), or leave it out: the runtime needs no libc"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    program_c = out_dir / "program.c"
    out_elf = out_dir / "program.elf"
    if not program_c.exists() or program_c.read_text() != c_source:
        program_c.write_text(c_source)
    argv = build_argv(toolchain, target, guest_dir, program_c, out_elf, sysroot=sysroot)

    key = cache_key(toolchain, target, c_source, guest_dir, sysroot)
    cached_elf = cache_dir / f"{key}.elf"
    if cached_elf.is_file():
        shutil.copyfile(cached_elf, out_elf)
        LOG.info("build cache hit %s -> %s", cached_elf, out_elf)
        data = out_elf.read_bytes()
        return BuiltElf(
            path=out_elf,
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            cached=True,
            argv=tuple(argv),
        )

    out_elf.unlink(missing_ok=True)  # never leave an older ELF behind a failed build
    try:
        proc = process.run(argv, timeout_s=COMPILE_TIMEOUT_S, what=f"{target.name}: clang")
    except process.ProcessError as exc:
        # A timeout killed clang's whole process group (ld.lld included).
        raise ToolchainCommandError(f"{exc}; {APT_HINT}", argv=argv, returncode=None,
                                    stderr=exc.output_tail) from exc
    if proc.returncode != 0:
        raise ToolchainCommandError(
            f"{target.name}: clang exited {proc.returncode} compiling {program_c}; "
            f"rerun with: {shlex.join(argv)}\n{proc.stderr.strip()}",
            argv=argv,
            returncode=proc.returncode,
            stderr=proc.stderr,
        )

    try:
        check_elf(out_elf, target)
    except ToolchainError:
        # Keep the rejected ELF for inspection, but not under the name the image build uses.
        out_elf.replace(out_elf.with_suffix(".elf.rejected"))
        raise
    _store_in_cache(out_elf, cache_dir, key)
    data = out_elf.read_bytes()
    return BuiltElf(
        path=out_elf,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        cached=False,
        argv=tuple(argv),
    )


# ---- Checking the ELF ------------------------------------------------------------------------


def _triple_arch(triple: str) -> str:
    return triple.split("-", 1)[0]


def elf_problems(path: Path, target: CompileTarget) -> list[str]:
    """Every loader rule the ELF at ``path`` breaks, one message each (empty when it is fine).

    Rules: ET_DYN; e_machine of the target triple; no PT_INTERP; no PT_TLS; no execute-only
    PT_LOAD (userboot refuses it); the entry point inside an executable PT_LOAD; no undefined
    symbols; only relative dynamic relocations (DT_RELR or R_*_RELATIVE), no PLT relocations.

    :raises ToolchainError: the file is not an ELF or the triple is unknown.
    """
    want_machine = _E_MACHINE_BY_TRIPLE_ARCH.get(_triple_arch(target.triple))
    if want_machine is None:
        raise ToolchainError(
            f"target {target.name}: triple {target.triple!r} has no known ELF machine; wanted "
            f"one of {sorted(_E_MACHINE_BY_TRIPLE_ARCH)} as its first component"
        )
    problems: list[str] = []
    try:
        with path.open("rb") as f:
            elf = ELFFile(f)
            header = elf.header
            if header["e_type"] != "ET_DYN":
                problems.append(
                    f"e_type is {header['e_type']}, wanted ET_DYN "
                    "(a static PIE: link with -Wl,-pie)"
                )
            if header["e_machine"] != want_machine:
                problems.append(
                    f"e_machine is {header['e_machine']}, wanted {want_machine} for {target.triple}"
                )
            loads = []
            dynamic: DynamicSegment | None = None
            for i, seg in enumerate(elf.iter_segments()):
                ptype = seg["p_type"]
                if ptype == "PT_INTERP":
                    interp = getattr(seg, "get_interp_name", lambda: "?")()
                    problems.append(
                        f"program header {i} is PT_INTERP ({interp!r}), wanted none "
                        "(link with -Wl,--no-dynamic-linker: userboot would load it as a loader)"
                    )
                elif ptype == "PT_LOAD":
                    loads.append(seg)
                    flags = seg["p_flags"]
                    if flags & _PF_X and not flags & _PF_R:
                        problems.append(
                            f"PT_LOAD {i} at vaddr {seg['p_vaddr']:#x} is execute-only "
                            f"(flags {_flag_text(flags)}), wanted R+X: userboot refuses it "
                            "(link with -Wl,--no-execute-only)"
                        )
                elif ptype == "PT_TLS":
                    problems.append(
                        f"program header {i} is PT_TLS ({seg['p_memsz']} bytes), wanted none: "
                        "the runtime sets up no thread pointer (drop _Thread_local variables)"
                    )
                elif ptype == "PT_DYNAMIC" and isinstance(seg, DynamicSegment):
                    dynamic = seg
            entry = header["e_entry"]
            if not any(
                s["p_flags"] & _PF_X and s["p_vaddr"] <= entry < s["p_vaddr"] + s["p_memsz"]
                for s in loads
            ):
                problems.append(
                    f"entry point {entry:#x} is not inside an executable PT_LOAD "
                    "(link with -Wl,-e,_start and keep the arch start.S)"
                )
            problems += _undefined_symbol_problems(elf, dynamic)
            problems += _relocation_problems(dynamic, want_machine)
    except (ELFError, OSError, ValueError) as exc:
        raise ToolchainError(f"{path}: not a readable ELF file ({exc}); rebuild it") from exc
    return problems


def _flag_text(flags: int) -> str:
    return "".join(c if flags & bit else "-" for c, bit in (("R", 4), ("W", 2), ("X", 1)))


def _undefined_symbol_problems(elf: ELFFile, dynamic: DynamicSegment | None) -> list[str]:
    names: set[str] = set()
    tables = [s for s in elf.iter_sections() if isinstance(s, SymbolTableSection)]
    # Without section headers (stripped), the dynamic segment still has the symbol table.
    symbol_sources: list[Iterable[object]] = [t.iter_symbols() for t in tables]
    if not tables and dynamic is not None:
        symbol_sources.append(dynamic.iter_symbols())
    for source in symbol_sources:
        for sym in source:
            name = getattr(sym, "name", "")
            # pyelftools ships no types: a Symbol is subscriptable at run time.
            if name and sym["st_shndx"] == "SHN_UNDEF":  # type: ignore[index]
                names.add(name)
    return [
        f"undefined symbol {name!r}: the runtime has no libc; define it in guest/runtime/ or "
        "stop using it"
        for name in sorted(names)
    ]


def _relocation_problems(dynamic: DynamicSegment | None, machine: str) -> list[str]:
    if dynamic is None:
        return []
    relative = _RELATIVE_TYPE_BY_MACHINE[machine]
    problems: list[str] = []
    for kind, table in sorted(dynamic.get_relocation_tables().items()):
        if kind == "RELR":
            continue  # DT_RELR holds relative relocations only
        bad: dict[int, int] = {}
        # get_relocation_tables() is typed as returning sections without iter_relocations, but
        # every table it returns is a RelocationTable (untyped pyelftools).
        for rel in table.iter_relocations():  # type: ignore[attr-defined]
            rtype = rel["r_info_type"]
            if kind == "JMPREL" or rtype != relative:
                bad[rtype] = bad.get(rtype, 0) + 1
        for rtype, count in sorted(bad.items()):
            problems.append(
                f"{count} DT_{kind} relocation(s) of type {rtype}, wanted only relative "
                f"relocations (type {relative} or DT_RELR): the runtime cannot apply them"
            )
    return problems


def check_elf(path: Path, target: CompileTarget) -> None:
    """Check the ELF at ``path`` against the loader rules (see :func:`elf_problems`).

    :raises ToolchainError: listing every rule the ELF breaks.
    """
    problems = elf_problems(path, target)
    if problems:
        listing = "\n".join(f"  - {p}" for p in problems)
        raise ToolchainError(
            f"{path}: {len(problems)} ELF check(s) failed for {target.name}:\n{listing}"
        )
    LOG.debug("%s: ELF checks passed for %s", path, target.name)
