"""The rig as a Python API: one composition function per job (build; check a log).

The CLI, the pytest plugin and remote hosts call these, never each other's command lines.
`build` composes codegen, the toolchain, the command line and image assembly into a build
directory (docs/design.md): program.c, program.elf, scenarios/*.yaml, cmdline.txt, image.zbi
(with a kernel ZBI), qemu.sh, manifest.json.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
import secrets
import shlex
import shutil
import stat
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rig import __version__, resources
from rig.errors import (
    ImageError,
    InputError,
    ScenarioError,
)
from rig.image import assemble as image
from rig.image import boards, cmdline, direct_boot, kernel_formats, zbi
from rig.image.abi_auto import AUTO, ProfileChoice, choose_profile
from rig.image.fuchsia_build import find_build_inputs
from rig.image.sim_kernel import sim_boot_for
from rig.judge.boot import end_boot, find_crash
from rig.judge.builddir import claim_build_dir, finish_build_dir, verify_build_dir
from rig.judge.compare import (
    Outcome,
    RunVerdict,
    ScenarioVerdict,
    combine_outcomes,
    compare_run,
)
from rig.judge.manifest import (
    BuildDirError,
    Manifest,
    ManifestScenario,
    read_manifest,
)
from rig.judge.merge import exit_status
from rig.judge.protocol import ParsedLog, iter_log_lines, parse_log
from rig.judge.signature import scenario_json
from rig.model.predict import validation_problems
from rig.profiles import DEFAULT_PROFILE, get_profile
from rig.program.codegen import construction_problems, render_program
from rig.run import process
from rig.run.runner import (
    KERNEL_TIMEOUTS,
    SIM_TIMEOUTS,
    ArchRun,
    BootNumbers,
    Event,
    Journal,
    merge_slices,
    replace_arch_run,
    run_arch,
    slice_bounds,
    timeout_scale,
)
from rig.run.sim_build import build_sim
from rig.run.toolchain import compile_program, find_toolchain
from rig.scenario.loader import ScenarioFile, load_many

LOG = logging.getLogger(__name__)

DEFAULT_ABI = DEFAULT_PROFILE
QEMU_VERSION_TIMEOUT_S = 20.0
Printer = Callable[[str], None]


def null_printer(_: str) -> None:
    """A printer that prints nothing (library use, tests)."""


def scenario_problems(file: ScenarioFile) -> list[str]:
    """Every check beyond the format, for one parsed file: steps that would block on a page
    request (the model) and scenarios the guest program cannot build (codegen). `rig validate`
    lists them all; every other command refuses the first (load_valid)."""
    return [*validation_problems(file), *construction_problems(file)]


def load_valid(paths: Sequence[str | Path]) -> list[ScenarioFile]:
    """Load scenario files and run the same checks as `rig validate` (warnings aside).

    :raises ScenarioError: the first problem, saying how many more `rig validate` would list.
    """
    files = load_many(paths)
    for f in files:
        problems = scenario_problems(f)
        if problems:
            more = (f" ({len(problems) - 1} more in this file: `rig validate {f.path}` lists "
                    "them)" if len(problems) > 1 else "")
            raise ScenarioError(problems[0] + more)
    return files


@dataclass(frozen=True)
class BuildRequest:
    scenario_paths: tuple[Path, ...]
    arch: str
    target: str
    out_dir: Path
    abi: str = AUTO  # a profile, or auto: from the kernel image (rig.image.abi_auto)
    kernel_zbi: Path | None = None
    boot_shim: Path | None = None
    fuchsia_build_dir: Path | None = None
    kernel_era: str | None = None
    cmdline_extra: tuple[str, ...] = ()
    output: str = "debuglog"
    cache_dir: Path | None = None
    images_dir: Path | None = None


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest: Manifest
    era: cmdline.EraDetection
    bootable: bool
    missing: tuple[str, ...]  # what qemu.sh lacks to boot, for the user


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _resolve_inputs(req: BuildRequest) -> BuildRequest:
    """Fill kernel ZBI and boot shim from --fuchsia-build-dir; check given files exist."""
    if req.fuchsia_build_dir is not None:
        if req.kernel_zbi is not None or req.boot_shim is not None:
            raise InputError("--fuchsia-build-dir finds the kernel ZBI and boot shim itself: "
                             "give it alone, or --kernel-zbi/--boot-shim without it")
        found = find_build_inputs(req.fuchsia_build_dir, req.arch)
        return replace(req, kernel_zbi=found.kernel_zbi, boot_shim=found.boot_shim)
    for flag, path in (("--kernel-zbi", req.kernel_zbi), ("--boot-shim", req.boot_shim)):
        if path is not None and not path.is_file():
            what = "not a regular file" if path.exists() else "no such file"
            raise ImageError(f"{flag} {path}: {what}")
    return req


def _check_boot_shim(board: boards.Board, path: Path | None) -> None:
    """Refuse a --boot-shim QEMU could not boot on this board (its boot.kernel_formats)."""
    if path is None or not board.boot_kernel_formats:
        return
    try:
        with path.open("rb") as f:
            head = f.read(kernel_formats.READ_BYTES)
    except OSError as exc:
        raise ImageError(f"--boot-shim {path}: cannot read: {exc.strerror or exc}") from exc
    found = kernel_formats.detect_format(head)
    if found not in board.boot_kernel_formats:
        raise ImageError(
            f"--boot-shim {path}: {'a ' + found + ' image' if found else 'no format'} QEMU "
            f"boots on {board.name}; wanted {' or '.join(board.boot_kernel_formats)} "
            f"(boot.kernel_formats in {board.path}): pass the Fuchsia build's boot shim")


def _era(req: BuildRequest, kernel_bytes: bytes | None) -> cmdline.EraDetection:
    detected = None
    if kernel_bytes is not None:
        detected = cmdline.detect_era(kernel_bytes, source=str(req.kernel_zbi))
    if req.kernel_era is not None:
        flag = cmdline.era_from_flag(req.kernel_era)
        if detected is None:
            return flag
        # The kernel itself still says whether it has kernel.vdso.always_use_next.
        return cmdline.EraDetection(
            era=flag.era, vdso_next_option=detected.vdso_next_option,
            reason=f"--kernel-era given (detection said {detected.era}: {detected.reason})")
    if detected is not None:
        return detected
    return cmdline.EraDetection(
        era=cmdline.UNKNOWN, vdso_next_option=False,
        reason="no kernel ZBI given, so no era detection: run-everywhere words "
               "(give --kernel-zbi or --kernel-era)")


def _choose_abi(req: BuildRequest, kernel_bytes: bytes | None,
                simulated: bool) -> ProfileChoice:
    """The profile to build for: --abi P, or with auto what the kernel image shows."""
    if req.abi != AUTO:
        get_profile(req.abi)
        return ProfileChoice(req.abi, "--abi given")
    if simulated or kernel_bytes is None:
        return ProfileChoice(DEFAULT_PROFILE, "no kernel image given: the default "
                                              "profile (--abi P chooses another)")
    return choose_profile(kernel_bytes, _era(req, kernel_bytes),
                          source=str(req.kernel_zbi))


def _qemu_version(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        return f"{binary}: not found"
    try:
        proc = process.run([path, "--version"], timeout_s=QEMU_VERSION_TIMEOUT_S)
    except process.ProcessError as exc:
        LOG.warning("%s", exc)
        return f"{binary}: --version failed: {exc}"
    return (proc.stdout.splitlines() or [f"{binary}: no version output"])[0].strip()


def render_qemu_sh(argv: Sequence[str] | None, missing: Sequence[str], *,
                   partial_argv: Sequence[str]) -> str:
    """The text of qemu.sh: the exact command, or a script that says what it lacks."""
    head = ["#!/bin/sh", f"# Written by rig build {__version__}: boots this build directory.",
            "# Extra QEMU arguments may follow on the command line (\"$@\")."]
    if argv is not None:
        return "\n".join(head + [f"exec {shlex.join(argv)} \"$@\" </dev/null", ""])
    lines = head + ["# Cannot boot: " + "; ".join(missing) + ".",
                    f"# The command would be: {shlex.join(partial_argv)}"]
    lines += [f"echo {shlex.quote('qemu.sh: cannot boot: missing ' + m)} >&2" for m in missing]
    lines += ["exit 3", ""]
    return "\n".join(lines)


def _copy_scenarios(paths: Sequence[Path], dest: Path) -> dict[str, str]:
    """Copy scenario files to dest; returns original path -> path relative to the build dir.

    The earlier build's copies are gone already (claim_build_dir removes what it wrote).
    """
    dest.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    used: set[str] = set()
    for i, path in enumerate(paths):
        name = path.name if path.name not in used else f"{i:02d}-{path.name}"
        used.add(name)
        shutil.copyfile(path, dest / name)
        out[str(path)] = f"{dest.name}/{name}"
    return out


def build(req: BuildRequest, *, printer: Printer = null_printer,
          nonce: str | None = None) -> BuildResult:
    """Write a whole build directory for ``req``.

    :raises InputError: bad scenarios, board, era, cmdline words, kernel ZBI or build dir.
    :raises ToolchainError: clang/lld missing or failing.
    """
    known = boards.available_boards(req.images_dir)
    if (req.arch, req.target) not in known:
        raise InputError(f"--arch {req.arch} --target {req.target}: no such board; boards: "
                         f"{', '.join(f'{a}/{t}' for a, t in known)}")
    board = boards.load_board(req.arch, req.target, images_dir=req.images_dir)
    simulated = board.boot_kernel == "sim-kernel"
    if simulated and (req.kernel_zbi or req.boot_shim or req.fuchsia_build_dir):
        raise InputError(f"--target {req.target} boots the rig's own simulated kernel: give no "
                         "--kernel-zbi, --boot-shim or --fuchsia-build-dir (those are for "
                         "--target zircon)")
    if not req.scenario_paths:
        raise InputError("no scenario files: name some, or use the bundled suite "
                         "(rig/scenario/suite/)")
    req = _resolve_inputs(req)
    _check_boot_shim(board, req.boot_shim)
    boot_mode = direct_boot.choose_boot_mode(board, boot_shim=req.boot_shim, out_dir=req.out_dir)
    kernel_bytes = None
    if req.kernel_zbi is not None:
        try:
            kernel_bytes = req.kernel_zbi.read_bytes()
        except OSError as exc:
            raise ImageError(f"{req.kernel_zbi}: cannot read the kernel ZBI: {exc}") from exc
        # Fail on a wrong kernel before spending a compile on it.
        zbi.require_kernel(zbi.read_zbi(kernel_bytes, source=str(req.kernel_zbi)),
                           source=str(req.kernel_zbi), wanted_types=[board.kernel_item_type])
    abi = _choose_abi(req, kernel_bytes, simulated)
    req = replace(req, abi=abi.profile)
    printer(f"ABI profile: {abi.profile} ({abi.reason})")
    toolchain = find_toolchain()
    sim = None
    board_words = board.cmdline
    if simulated:
        # The sim's userboot flavour and semantics follow the profile (guest/sim/profiles.yaml).
        sim = build_sim(req.arch, toolchain, cache_dir=req.cache_dir)
        kernel_bytes = sim.kernel_zbi
        boot = sim_boot_for(resources.guest_dir(), req.abi)
        era = replace(cmdline.era_from_flag(boot.era),
                      reason=f"the sim's userboot flavour for profile {req.abi}")
        board_words = (*board.cmdline, *boot.words)
        printer(f"target {req.target}: SIMULATED kernel (the rig's own sim, not Zircon), "
                f"{'cached' if sim.cached else 'built'} {sim.image}")
    else:
        era = _era(req, kernel_bytes)
    printer(f"kernel era: {era.era} ({era.reason})")
    nonce = nonce or secrets.token_hex(8)
    words = cmdline.build_cmdline(era, cmdline.PROGRAM_PATH, req.cmdline_extra, nonce=nonce,
                                  output=req.output, board_words=board_words)
    cmdline.check_cmdline_size(words, () if kernel_bytes is None else cmdline.kernel_cmdline_words(
        kernel_bytes, source=str(req.kernel_zbi)))

    files = load_valid(req.scenario_paths)
    program = render_program(files, abi=req.abi, arch=req.arch, target=req.target)
    out = req.out_dir
    claim = claim_build_dir(out)  # refuses a directory holding files the rig did not write
    claim.will_write(["program.c", "program.elf", "scenarios/", "cmdline.txt", "image.zbi",
                      "qemu.sh", *direct_boot.FILES])
    elf = compile_program(program.c_source, board.compile_target, out, cache_dir=req.cache_dir,
                          toolchain=toolchain)
    printer(f"program: {elf.path} ({elf.size} bytes{', from cache' if elf.cached else ''}), "
            f"{len(program.scenarios)} scenarios, ABI {req.abi}")
    copies = _copy_scenarios(req.scenario_paths, out / "scenarios")

    (out / "cmdline.txt").write_text(" ".join(words) + "\n")
    image_path = out / "image.zbi"
    image_path.unlink(missing_ok=True)  # never leave a stale image from an earlier build
    direct_boot.remove_outputs(out)
    missing: list[str] = []
    if kernel_bytes is not None:
        assembly = image.assemble_image(
            kernel_bytes, {cmdline.PROGRAM_PATH: elf.path.read_bytes()}, words,
            source=str(req.kernel_zbi or "the sim kernel"),
            kernel_item_type=board.kernel_item_type)
        image_path.write_bytes(assembly.data)
        for note in assembly.notes:
            printer(f"note: {note}")
        printer(f"image: {image_path} ({len(assembly.data)} bytes)")
        if boot_mode == direct_boot.BOOT_DIRECT:  # kernel.bin, data.zbi, trampoline.bin
            split = direct_boot.build_direct_boot(board, assembly.data, source=str(image_path))
            direct_boot.write_direct_boot(out, split)
            printer(split.summary())
    else:
        missing.append("the kernel ZBI (--kernel-zbi or --fuchsia-build-dir), so no image.zbi")
    kernel_arg = str(req.boot_shim.resolve()) if req.boot_shim is not None else "<boot shim>"
    if sim is not None:
        # The build directory keeps the sim it was built with: qemu.sh boots it later as is.
        sim_copy = out / "sim-kernel.bin"
        shutil.copyfile(sim.image, sim_copy)
        kernel_arg = str(sim_copy.resolve())
    elif req.boot_shim is None and boot_mode != direct_boot.BOOT_DIRECT:
        missing.append(direct_boot.shim_required(board))
    accel = board.accel[0]
    if boot_mode == direct_boot.BOOT_DIRECT:
        argv = direct_boot.qemu_argv(board, out, accel=accel)
    else:
        argv = board.qemu_argv(kernel=kernel_arg, initrd=str(image_path.resolve()), accel=accel)
    qemu_sh = out / "qemu.sh"
    qemu_sh.write_text(render_qemu_sh(None if missing else argv, missing, partial_argv=argv))
    qemu_sh.chmod(qemu_sh.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    for m in missing:
        printer(f"missing: {m}; qemu.sh says so and exits 3")

    inputs = {str(p.resolve()): _sha256(p) for p in req.scenario_paths}
    for p in (req.kernel_zbi, req.boot_shim):
        if p is not None:
            inputs[str(p.resolve())] = _sha256(p)
    written = ["program.c", "program.elf", *sorted(copies.values()), "cmdline.txt", "qemu.sh"]
    if image_path.exists():
        written.append("image.zbi")
    written += [name for name in direct_boot.FILES if (out / name).exists()]
    if sim is not None:
        written.append("sim-kernel.bin")
    manifest = Manifest(
        rig_version=__version__,
        program_id=program.program_id,
        nonce=nonce,
        abi=req.abi,
        abi_reason=abi.reason,
        arch=req.arch,
        target=req.target,
        board=board.name,
        kernel_era={"era": era.era, "reason": era.reason},
        scenarios=tuple(ManifestScenario(index=s.index, name=s.name,
                                         file=copies.get(s.file, s.file), steps=s.steps)
                        for s in program.scenarios),
        inputs=inputs,
        outputs={name: _sha256(out / name) for name in sorted(written)},
        tools={**toolchain.versions(), "qemu": _qemu_version(board.qemu_binary)},
        cmdline=" ".join(words),
        output=req.output,
        program_path=cmdline.PROGRAM_PATH,
        qemu_argv=tuple(argv) if not missing else None,
        missing=tuple(missing),
        simulated=simulated,
        boot_mode=boot_mode,
    )
    finish_build_dir(claim, manifest)  # last: the directory is a build only from here on
    printer(f"wrote {out}: {', '.join(sorted(written + ['manifest.json']))}")
    return BuildResult(out_dir=out, manifest=manifest, era=era, bootable=not missing,
                       missing=tuple(missing))


# ---- Judging a serial log captured anywhere (`rig check-log`) ---------------------------


class LogFileError(InputError):
    """The serial log cannot be read."""


def read_scenarios(build_dir: Path, manifest: Manifest | None = None) -> list[ScenarioFile]:
    """The scenario copies of the build: those the manifest names (else every scenarios/*.yaml).

    :raises BuildDirError: no scenarios/ copies; ScenarioError: an invalid copy.
    """
    if manifest is not None:
        paths = [build_dir / f for f in dict.fromkeys(s.file for s in manifest.scenarios)]
    else:
        paths = sorted((build_dir / "scenarios").glob("*.yaml"))
    if not paths:
        raise BuildDirError(f"{build_dir / 'scenarios'}: no scenario files; the build "
                            "directory must hold copies of the files it was built from")
    return load_many(paths)


def parse_log_file(path: Path, nonces: Sequence[str]) -> ParsedLog:
    """Parse a serial log file, streamed: memory stays well below the log's size.

    :raises LogFileError: the log is missing, unreadable or not a regular file (a FIFO would
        block, a device like /dev/zero never ends).
    """
    try:
        # stat before open: opening a FIFO for reading blocks until someone writes to it.
        if not stat.S_ISREG(path.stat().st_mode):
            raise LogFileError(f"{path}: not a regular file; give the serial log as a file "
                               "(capture a pipe or device to a file first)")
        with path.open("rb") as f:
            return parse_log(iter_log_lines(f), nonces=nonces)
    except OSError as exc:
        raise LogFileError(f"{path}: cannot read the serial log: {exc.strerror or exc}") from exc


def check_log(log: Path, build_dir: Path) -> RunVerdict:
    """Parse ``log`` and judge it against the build in ``build_dir``."""
    manifest = read_manifest(build_dir)
    # Refuse a directory that is not what the manifest describes (an edited copy, a program
    # from a half-finished rebuild): judging it would pass steps the program never ran.
    verify_build_dir(build_dir, manifest, also=[s.file for s in manifest.scenarios])
    files = read_scenarios(build_dir, manifest)
    parsed = parse_log_file(log, manifest.nonces)
    verdict = compare_run(manifest, files, parsed)
    # The same crash table as a live run; no hang without live timing, and a log that just
    # stops leaves the scenario running then INCOMPLETE.
    crash, _ = find_crash((n, raw.decode("utf-8", "replace").rstrip("\r")
                           if isinstance(raw, bytes) else str(raw).rstrip("\r"))
                          for n, raw in parsed.other_lines)  # streamed: the lines kept
    start = (parsed.hello.number("start") or 0) if parsed.hello is not None else 0
    return end_boot(verdict, parsed, crash, start=start).verdict


# ---- Build, boot and judge (`rig run`) --------------------------------------------------------

RUN_SCHEMA = "rig.run/1"
TARGET_CHOICES = ("auto", "sim", "zircon")
ACCEL_CHOICES = ("tcg", "kvm", "auto")


@dataclass(frozen=True)
class RunRequest:
    scenario_paths: tuple[Path, ...]
    arches: tuple[str, ...]
    out_dir: Path
    target: str = "auto"
    abi: str = "auto"
    kernel_zbis: tuple[Path, ...] = ()  # each kernel's arch is read from its kernel item
    boot_shims: Mapping[str, Path] = field(default_factory=dict)  # arch -> shim
    fuchsia_build_dir: Path | None = None
    accel: str = "tcg"
    jobs: int | None = None
    timeout_scale: float = 1.0
    max_boots: int = 8
    cmdline_extra: tuple[str, ...] = ()
    cache_dir: Path | None = None
    launcher: Any = None  # starts each guest (rig.run.remote.RemoteLauncher); None: local QEMU


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    result: dict[str, Any]
    exit_status: int


def kernel_arch(path: Path) -> str:
    """The arch whose boards take this kernel ZBI's kernel item.

    :raises ImageError: unreadable, malformed, or a kernel no board takes.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"--kernel-zbi {path}: cannot read: {exc}") from exc
    item = zbi.require_kernel(zbi.read_zbi(data, source=str(path)), source=str(path))
    for arch, target in boards.available_boards():
        board = boards.load_board(arch, target)
        if board.kernel_item_type == item.type and board.boot_kernel == "boot-shim":
            return arch
    raise ImageError(f"--kernel-zbi {path}: kernel item {item.type_name}: no board boots it")


def _plan_arch(req: RunRequest, arch: str, kernels: Mapping[str, Path]) -> tuple[str, str]:
    """(target, why) for one arch; the profile is the build's (--abi auto reads the kernel)."""
    has_kernel = arch in kernels or req.fuchsia_build_dir is not None
    if req.target == "auto":
        target = "zircon" if has_kernel else "sim"
        why = ("a kernel was given for it" if arch in kernels else
               "--fuchsia-build-dir was given" if has_kernel else
               "no kernel given for it: the rig's own SIMULATED kernel")
    else:
        target, why = req.target, "--target given"
    return target, why


def _choose_accel(req: RunRequest, target: str) -> tuple[str, str]:
    if req.accel != "auto":
        return req.accel, "--accel given"
    usable = os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK)
    if not usable:
        return "tcg", "auto: /dev/kvm is not usable"
    if target == "sim":
        # Measured here: a small guest boots faster under TCG than under nested KVM.
        return "tcg", "auto: the sim is a small guest, faster under TCG than nested KVM"
    return "kvm", "auto: /dev/kvm is usable and a real kernel boots faster under KVM"


def _scenario_json(sv: ScenarioVerdict | None, entry: ManifestScenario) -> dict[str, Any]:
    if sv is None:
        return {"name": entry.name, "file": entry.file, "outcome": "INCOMPLETE", "steps": []}
    return scenario_json(sv)


def _arch_json(arch_run: ArchRun, manifest: Manifest) -> dict[str, Any]:
    scenarios = [_scenario_json(sv, entry)
                 for sv, entry in zip(arch_run.scenarios, manifest.scenarios, strict=True)]
    outcomes = [Outcome(s["outcome"]) for s in scenarios]
    return {"arch": arch_run.arch, "target": arch_run.target, "simulated": arch_run.simulated,
            "abi": arch_run.abi, "abi_reason": arch_run.abi_reason, "accel": arch_run.accel,
            "kernel": arch_run.kernel, "build": str(arch_run.build_dir),
            "outcome": combine_outcomes(outcomes).value,
            "counts": {o.value: outcomes.count(o) for o in Outcome},
            "qemu_s": round(arch_run.qemu_s, 3),
            "boots": [b.to_json() for b in arch_run.boots],
            "scenarios": scenarios}


def run(req: RunRequest, *, printer: Printer = null_printer,
        on_event: Event | None = None, stop: threading.Event | None = None) -> RunResult:
    """Build, boot and judge every arch of ``req``; writes the run directory (docs/runner.md).

    :raises InputError: bad scenarios, kernels or options (before anything boots).
    """
    stop = stop or threading.Event()
    on_event = on_event or (lambda *_: None)
    kernels: dict[str, Path] = {}
    for path in req.kernel_zbis:
        arch = kernel_arch(path)
        if arch in kernels:
            raise InputError(f"--kernel-zbi: two kernels for {arch}: {kernels[arch]} and {path}")
        kernels[arch] = path
    out = req.out_dir
    out.mkdir(parents=True, exist_ok=True)
    journal = Journal(out / "journal.jsonl")
    journal.write("start", arches=list(req.arches), argv_target=req.target)
    plans = {}
    for arch in req.arches:
        target, why = _plan_arch(req, arch, kernels)
        accel, accel_why = _choose_accel(req, target)
        printer(f"{arch}: target {target} ({why}); accel {accel} ({accel_why})")
        plans[arch] = (target, req.abi, why, accel)

    def one(arch: str) -> tuple[ArchRun, Manifest]:
        target, abi, why, accel = plans[arch]
        built = build(BuildRequest(
            scenario_paths=req.scenario_paths, arch=arch, target=target,
            out_dir=out / arch / "build", abi=abi, kernel_zbi=kernels.get(arch),
            boot_shim=req.boot_shims.get(arch), fuchsia_build_dir=req.fuchsia_build_dir,
            cmdline_extra=req.cmdline_extra, cache_dir=req.cache_dir),
            printer=lambda text: printer(f"{arch}: {text}"))
        manifest = built.manifest
        files = load_many(sorted((built.out_dir / "scenarios").glob("*.yaml")))
        arch_run = ArchRun(arch=arch, target=target, simulated=manifest.simulated,
                           abi=manifest.abi, abi_reason=f"{manifest.abi_reason}; target "
                           f"{target}: {why}", accel=accel, build_dir=built.out_dir)
        if built.missing:
            arch_run.infra = "cannot boot: " + "; ".join(built.missing)
            arch_run.scenarios = [ScenarioVerdict(e.index, e.name, e.file, Outcome.INFRA,
                                                  arch_run.infra) for e in manifest.scenarios]
            return arch_run, manifest
        board = boards.load_board(arch, target)
        base = SIM_TIMEOUTS if manifest.simulated else KERNEL_TIMEOUTS
        scale = timeout_scale(accel=accel, user_scale=req.timeout_scale,
                              guests=min(jobs, len(req.arches) * slices) * board.smp)
        total = len(manifest.scenarios)
        bounds = slice_bounds(total, slices)
        if len(bounds) == 1:
            run_arch(arch_run, manifest, files, out, timeouts=base.scaled(scale),
                     max_boots=req.max_boots, journal=journal, stop=stop, on_event=on_event,
                     launcher=req.launcher)
            return arch_run, manifest
        # Slices of the suite in guests of their own (-j beyond one guest per arch): each runs
        # [first, last) with rig.start/rig.end and reboots past crashes within its slice.
        numbers = BootNumbers()
        parts = [replace_arch_run(arch_run) for _ in bounds]
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(bounds)) as inner:
            futures = [inner.submit(run_arch, part, manifest, files, out,
                                    timeouts=base.scaled(scale), max_boots=req.max_boots,
                                    journal=journal, stop=stop, on_event=on_event,
                                    launcher=req.launcher, first=a, last=b,
                                    boot_numbers=numbers)
                       for part, (a, b) in zip(parts, bounds, strict=True)]
            for fut in futures:
                fut.result()
        merge_slices(arch_run, parts, bounds)
        return arch_run, manifest

    cores = os.cpu_count() or 1
    widest = max((boards.load_board(a, plans[a][0]).smp for a in req.arches), default=1)
    # Never more guest vCPUs than cores: two 2-CPU TCG guests on 2 cores give false hangs.
    jobs = req.jobs or max(1, cores // widest)
    # An explicit -j beyond one guest per arch cuts each arch's suite into slices that boot in
    # parallel. Never by default: a slice starts in a fresh boot, so its scenarios run after
    # different kernel state than in one boot of the whole suite.
    slices = max(1, req.jobs // max(len(req.arches), 1)) if req.jobs else 1
    results: dict[str, tuple[ArchRun, Manifest]] = {}
    errors: list[BaseException] = []
    started = time.monotonic()
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = {pool.submit(one, arch): arch for arch in req.arches}
        for fut in concurrent.futures.as_completed(futures):
            try:
                results[futures[fut]] = fut.result()
            except Exception as exc:  # noqa: BLE001 - re-raised after the others end
                stop.set()
                errors.append(exc)
    except BaseException:
        stop.set()  # SIGINT/SIGTERM: every worker stops its guest within a poll interval
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        arches = [_arch_json(*results[a]) for a in req.arches if a in results]
        outcome = combine_outcomes([Outcome(a["outcome"]) for a in arches] or [Outcome.INFRA])
        if stop.is_set() and not errors:
            outcome = combine_outcomes([outcome, Outcome.INCOMPLETE])
        result = {"schema": RUN_SCHEMA, "rig_version": __version__,
                  "outcome": outcome.value, "exit_status": exit_status(outcome),
                  "interrupted": stop.is_set() and not errors,
                  "wall_s": round(time.monotonic() - started, 3), "arches": arches}
        (out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        journal.write("end", outcome=outcome.value)
    if errors:
        raise errors[0]
    return RunResult(out, result, exit_status(outcome))
