"""Board definitions: ``images/<arch>/<target>.yaml`` to one frozen ``Board`` (STYLE section 3).

Everything that differs between arches and targets (QEMU binary, machine, CPU per accelerator,
boot method, exit device, serial, clang triple and flags, kernel command-line words) is data in
those files. Adding a board is adding a file; unknown keys are errors naming the file and key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig import resources
from rig.errors import BoardError
from rig.image import zbi
from rig.image.board_items import DirectBootBoard, parse_direct_boot
from rig.image.kernel_formats import FORMATS
from rig.program.target import CompileTarget

LOG = logging.getLogger(__name__)

ACCELS = ("tcg", "kvm")
# What a board's `boot.kernel` may name: the file QEMU gets as -kernel.
BOOT_KERNELS = {
    "boot-shim": "the Fuchsia QEMU boot shim (--boot-shim or --fuchsia-build-dir)",
    "sim-kernel": "the sim target's kernel (guest/sim)",
}

# Every section and key a board file may have, with the Python type of its value.
_SCHEMA: dict[str, dict[str, type] | type] = {
    "arch": str,
    "target": str,
    "qemu": {"binary": str, "package": str, "machine": str, "machine_kvm": str, "cpu_tcg": str,
             "cpu_kvm": str, "accel": list, "memory_mb": int, "smp": int, "args": list},
    "serial": list,
    "exit": {"args": list},
    "boot": {"kernel": str, "initrd": str, "kernel_item": str, "kernel_formats": list},
    "toolchain": {"triple": str, "runtime_arch_dir": str, "cflags": list, "ldflags": list},
    "cmdline": list,
    # Booting the kernel item without a shim (rig.image.board_items, facts 8); checked there.
    "direct_boot": dict,
}
_OPTIONAL = {("qemu", "machine_kvm"), ("boot", "kernel_formats")}
_OPTIONAL_SECTIONS = {"direct_boot"}


@dataclass(frozen=True)
class Board:
    path: str
    arch: str
    target: str
    qemu_binary: str
    qemu_package: str  # the Debian package that ships qemu_binary (for `rig doctor` fixes)
    machine: str
    machine_kvm: str
    cpu_tcg: str
    cpu_kvm: str
    accel: tuple[str, ...]
    memory_mb: int
    smp: int
    qemu_args: tuple[str, ...]
    serial_args: tuple[str, ...]
    exit_args: tuple[str, ...]
    boot_kernel: str  # a BOOT_KERNELS key
    boot_initrd: str
    kernel_item_type: int
    triple: str
    runtime_arch_dir: str
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...]
    cmdline: tuple[str, ...]
    # How to boot a kernel item without a shim (zircon-facts.md 8); None: only through
    # boot.kernel.
    direct_boot: DirectBootBoard | None = None
    # Formats the -kernel file may have (rig.image.kernel_formats); empty: not checked.
    boot_kernel_formats: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.arch}/{self.target}"

    @property
    def compile_target(self) -> CompileTarget:
        """The toolchain's view of this board (named by arch: both targets run the same ELF)."""
        return CompileTarget(name=self.arch, triple=self.triple,
                             runtime_arch_dir=self.runtime_arch_dir, cflags=self.cflags,
                             ldflags=self.ldflags)

    def qemu_argv(self, *, kernel: str, initrd: str, accel: str = "tcg") -> list[str]:
        """The whole QEMU command line for one boot.

        :raises BoardError: for an accelerator this board does not list.
        """
        return [*self.qemu_machine_argv(accel), "-kernel", kernel, "-initrd", initrd]

    def qemu_machine_argv(self, accel: str = "tcg") -> list[str]:
        """The QEMU command line up to what boots (machine, CPU, memory, serial, exit device).

        :raises BoardError: for an accelerator this board does not list.
        """
        if accel not in self.accel:
            raise BoardError(f"{self.path}: accelerator {accel!r} is not in qemu.accel "
                             f"{list(self.accel)}")
        kvm = accel == "kvm"
        machine = self.machine_kvm if kvm else self.machine
        cpu = self.cpu_kvm if kvm else self.cpu_tcg
        return [self.qemu_binary, "-machine", machine, "-cpu", cpu, "-accel", accel,
                "-m", str(self.memory_mb), "-smp", str(self.smp), *self.qemu_args,
                *self.serial_args, *self.exit_args]


def available_boards(images_dir: Path | None = None) -> list[tuple[str, str]]:
    """(arch, target) of every board file, sorted."""
    images_dir = images_dir or resources.images_dir()
    return sorted((p.parent.name, p.stem) for p in images_dir.glob("*/*.yaml"))


def available_arches(images_dir: Path | None = None) -> tuple[str, ...]:
    """Every arch that has a board, sorted (the names of images/<arch>/)."""
    return tuple(sorted({arch for arch, _ in available_boards(images_dir)}))


def load_board(arch: str, target: str, *, images_dir: Path | None = None) -> Board:
    """Load ``images_dir/<arch>/<target>.yaml``.

    :raises BoardError: when the file is missing, unreadable, or has a bad or unknown key.
    """
    images_dir = images_dir or resources.images_dir()
    path = images_dir / arch / f"{target}.yaml"
    if not path.is_file():
        have = ", ".join(f"{a}/{t}" for a, t in available_boards(images_dir)) or "none"
        raise BoardError(f"{path}: no board for arch {arch!r} target {target!r} (boards: "
                         f"{have}); add a board by adding this file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{path}: cannot read board file: {exc}") from exc
    return parse_board(text, str(path), arch=arch, target=target)


def parse_board(text: str, path: str, *, arch: str, target: str) -> Board:
    """Parse board YAML text; ``arch``/``target`` must match what the file says.

    :raises BoardError: naming ``path`` and the key.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BoardError(f"{path}: not valid YAML: {exc}") from exc
    values = _check(raw, path)
    for key, want in (("arch", arch), ("target", target)):
        if values[key] != want:
            raise BoardError(f"{path}: {key} is {values[key]!r}, wanted {want!r} (the file's "
                             f"place images/<arch>/<target>.yaml)")
    accel = tuple(values["qemu.accel"])
    bad = [a for a in accel if a not in ACCELS]
    if not accel or bad:
        raise BoardError(f"{path}: qemu.accel is {list(accel)}, wanted a non-empty list of "
                         f"{list(ACCELS)}")
    for key in ("qemu.memory_mb", "qemu.smp"):
        if values[key] < 1:
            raise BoardError(f"{path}: {key} is {values[key]}, wanted at least 1")
    if values["boot.kernel"] not in BOOT_KERNELS:
        raise BoardError(f"{path}: boot.kernel is {values['boot.kernel']!r}, wanted one of "
                         f"{sorted(BOOT_KERNELS)}")
    formats = tuple(values.get("boot.kernel_formats") or ())
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise BoardError(f"{path}: boot.kernel_formats names {unknown}, wanted some of "
                         f"{sorted(FORMATS)}")
    kernel_types = {v: k for k, v in zbi.TYPE_NAMES.items() if zbi.is_kernel_type(k)}
    if values["boot.kernel_item"] not in kernel_types:
        raise BoardError(f"{path}: boot.kernel_item is {values['boot.kernel_item']!r}, wanted "
                         f"one of {sorted(kernel_types)}")
    return Board(
        path=path, arch=arch, target=target,
        qemu_binary=values["qemu.binary"], qemu_package=values["qemu.package"],
        machine=values["qemu.machine"],
        machine_kvm=values.get("qemu.machine_kvm") or values["qemu.machine"],
        cpu_tcg=values["qemu.cpu_tcg"], cpu_kvm=values["qemu.cpu_kvm"], accel=accel,
        memory_mb=values["qemu.memory_mb"], smp=values["qemu.smp"],
        qemu_args=tuple(values["qemu.args"]), serial_args=tuple(values["serial"]),
        exit_args=tuple(values["exit.args"]), boot_kernel=values["boot.kernel"],
        boot_initrd=values["boot.initrd"],
        kernel_item_type=kernel_types[values["boot.kernel_item"]],
        triple=values["toolchain.triple"], runtime_arch_dir=values["toolchain.runtime_arch_dir"],
        cflags=tuple(values["toolchain.cflags"]), ldflags=tuple(values["toolchain.ldflags"]),
        cmdline=tuple(values["cmdline"]),
        direct_boot=None if values.get("direct_boot") is None else parse_direct_boot(
            values["direct_boot"], path, machine=values["qemu.machine"],
            memory_mb=values["qemu.memory_mb"], smp=values["qemu.smp"]),
        boot_kernel_formats=formats,
    )


def _typename(t: type) -> str:
    return {str: "a string", int: "an integer", list: "a list of strings", dict: "a mapping"}[t]


def _check(raw: Any, path: str) -> dict[str, Any]:
    """Flatten to ``section.key`` values, refusing unknown, missing and mistyped keys."""
    if not isinstance(raw, dict):
        raise BoardError(f"{path}: the file must be a mapping of {sorted(_SCHEMA)}")
    out: dict[str, Any] = {}
    for key in raw:
        if key not in _SCHEMA:
            raise BoardError(f"{path}: unknown key {key!r}; known keys: {sorted(_SCHEMA)}")
    for key, spec in _SCHEMA.items():
        if key not in raw and key in _OPTIONAL_SECTIONS:
            continue
        if key not in raw:
            raise BoardError(f"{path}: missing key {key!r}")
        value = raw[key]
        if isinstance(spec, dict):
            if not isinstance(value, dict):
                raise BoardError(f"{path}: {key} must be a mapping of {sorted(spec)}")
            for sub in value:
                if sub not in spec:
                    raise BoardError(f"{path}: unknown key {key}.{sub}; known keys under "
                                     f"{key}: {sorted(spec)}")
            for sub, typ in spec.items():
                if sub not in value:
                    if (key, sub) in _OPTIONAL:
                        continue
                    raise BoardError(f"{path}: missing key {key}.{sub}")
                out[f"{key}.{sub}"] = _typed(value[sub], typ, f"{key}.{sub}", path)
        else:
            out[key] = _typed(value, spec, key, path)
    return out


def _typed(value: Any, typ: type, key: str, path: str) -> Any:
    ok = isinstance(value, typ) and not (typ is int and isinstance(value, bool))
    if typ is list and ok:
        ok = all(isinstance(v, str) for v in value)
    if not ok:
        raise BoardError(f"{path}: {key} is {value!r}, wanted {_typename(typ)}")
    return value
