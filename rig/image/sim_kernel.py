"""The sim kernel as data: its build plan from guest/sim/build.yaml, and its kernel ZBI (pure).

`plan_sim_build` turns the declarative build description into the exact argv of every step
for one arch; `rig.run.sim_build` runs them. `sim_kernel_zbi` wraps the built image as the
kernel item of a ZBI, so `rig build --target sim` assembles image.zbi exactly as for a real
kernel (BOOTFS and CMDLINE appended), and the arm64 sim boots through the same direct-boot path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig.errors import BoardError
from rig.image import zbi

BUILD_FILE = Path("sim") / "build.yaml"


@dataclass(frozen=True)
class SimStep:
    argv: tuple[str, ...]
    output: str  # file name inside the output directory


@dataclass(frozen=True)
class SimPlan:
    arch: str
    steps: tuple[SimStep, ...]
    image: str  # the file QEMU boots and the kernel item's payload
    elf: str
    kernel_item_type: int
    payload_offset: int  # the kernel item's payload is image[payload_offset:]
    inputs: tuple[Path, ...]  # every file the build reads (for the cache key)


def load_build_description(guest_dir: Path) -> dict[str, Any]:
    """:raises BoardError: the file is missing or not a mapping."""
    path = guest_dir / BUILD_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BoardError(f"{path}: cannot read the sim build description: {exc}") from exc
    if not isinstance(data, dict) or "arches" not in data:
        raise BoardError(f"{path}: wanted a mapping with toolchain, common, vdso, arches")
    return data


def _list(data: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BoardError(f"{where}: {key} must be a list of strings, found {value!r}")
    return list(value)


def plan_sim_build(desc: Mapping[str, Any], arch: str, *, guest_dir: Path, out_dir: Path,
                   clang: str, lld: str, objcopy: str) -> SimPlan:
    """Every command that builds the sim for ``arch``, in order.

    :raises BoardError: the description lacks the arch or a key.
    """
    where = str(guest_dir / BUILD_FILE)
    arches = desc["arches"]
    if arch not in arches:
        raise BoardError(f"{where}: no sim for arch {arch!r}; arches: {sorted(arches)}")
    a = arches[arch]
    common = desc["common"]
    vdso = desc["vdso"]
    triple = a["triple"]
    includes = [f"-I{guest_dir / d}" for d in _list(common, "include_dirs", where)]
    includes += [f"-I{guest_dir / a['arch_dir']}", f"-I{out_dir}"]
    inputs: list[Path] = [guest_dir / BUILD_FILE]
    steps: list[SimStep] = []

    vdso_src = guest_dir / vdso["source"]
    inputs.append(vdso_src)
    for variant in vdso["variants"]:
        obj = f"{variant['name']}.o"
        defines = [f"-D{d}" for d in variant.get("defines", [])]
        steps.append(SimStep((clang, f"--target={triple}", *_list(vdso, "cflags", where),
                              *includes, *defines, "-c", str(vdso_src), "-o",
                              str(out_dir / obj)), obj))
        steps.append(SimStep((lld, *_list(vdso, "ldflags", where), str(out_dir / obj), "-o",
                              str(out_dir / variant["output"])), variant["output"]))

    sources = [guest_dir / s for s in _list(common, "sources", where)]
    for pattern in _list(common, "source_globs", where):
        sources += sorted(guest_dir.glob(pattern))
    sources += [guest_dir / s for s in _list(a, "sources", where)]
    objects = []
    for src in sources:
        obj = f"{src.stem}{'-S' if src.suffix == '.S' else ''}.o"
        objects.append(str(out_dir / obj))
        steps.append(SimStep((clang, f"--target={triple}", *_list(common, "cflags", where),
                              *_list(a, "cflags", where), *includes, "-c", str(src), "-o",
                              str(out_dir / obj)), obj))
    inputs += sources
    script = guest_dir / a["linker_script"]
    inputs.append(script)
    elf = a["outputs"]["elf"]
    steps.append(SimStep((lld, *_list(common, "ldflags", where), "-T", str(script), *objects,
                          "-o", str(out_dir / elf)), elf))
    image = a["outputs"]["image"]
    steps.append(SimStep((objcopy, *_list(a, "objcopy", where), str(out_dir / elf),
                          str(out_dir / image)), image))
    for inc in _list(common, "include_dirs", where) + [a["arch_dir"]]:
        inputs += sorted(p for p in (guest_dir / inc).rglob("*") if p.is_file())
    kernel_types = {v: k for k, v in zbi.TYPE_NAMES.items() if zbi.is_kernel_type(k)}
    item = a["kernel_item"]["type"]
    if item not in kernel_types:
        raise BoardError(f"{where}: arches.{arch}.kernel_item.type {item!r}: wanted one of "
                         f"{sorted(kernel_types)}")
    offset = a["kernel_item"].get("payload_offset", 0)
    if not isinstance(offset, int) or offset < 0:
        raise BoardError(f"{where}: arches.{arch}.kernel_item.payload_offset must be a "
                         f"non-negative integer, found {offset!r}")
    return SimPlan(arch=arch, steps=tuple(steps), image=image, elf=elf,
                   kernel_item_type=kernel_types[item], payload_offset=offset,
                   inputs=tuple(dict.fromkeys(inputs)))


def sim_kernel_zbi(image: bytes, kernel_item_type: int, payload_offset: int = 0) -> bytes:
    """A kernel ZBI holding only the sim: ``image[payload_offset:]`` is the kernel item's
    payload, starting with zbi_kernel_t (written by the sim's linker script; on arm64 a Linux
    Image header comes first in the file QEMU's -kernel boots)."""
    return zbi.write_zbi([zbi.make_item(kernel_item_type, image[payload_offset:])])


PROFILES_FILE = Path("sim") / "profiles.yaml"


@dataclass(frozen=True)
class SimBoot:
    era: str  # the userboot era whose words the rig writes
    words: tuple[str, ...]  # the sim's own words (semantics and userboot flavour)


def sim_boot_for(guest_dir: Path, profile: str) -> SimBoot:
    """How the sim boots for ``profile`` (guest/sim/profiles.yaml).

    :raises BoardError: the file is missing or has no entry for the profile.
    """
    path = guest_dir / PROFILES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        entry = data["profiles"][profile]
        return SimBoot(era=str(entry["era"]), words=tuple(str(w) for w in entry["words"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise BoardError(f"{path}: no usable entry for profile {profile!r}: {exc}") from exc
