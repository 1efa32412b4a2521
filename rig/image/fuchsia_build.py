"""Find the kernel ZBI and QEMU boot shim in a Fuchsia build directory from its own metadata.

The build writes ``images.json`` (the "images" build API module, ``tools/build/images.go``): a
list of ``{name, path, type, cpu?, label?}`` entries, paths relative to the build directory. The
QEMU boot shim is the entry named ``qemu-kernel`` of type ``kernel``; the bootable image is
``zircon-a`` of type ``zbi`` (the pair botanist and fint boot on emulators). ``args.json`` holds
``target_cpu`` (``x64``/``arm64``, the same names as ours).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rig.errors import ImageError

LOG = logging.getLogger(__name__)

IMAGES_JSON = "images.json"
ARGS_JSON = "args.json"
SHIM = ("qemu-kernel", "kernel")  # (name, type) in images.json
KERNEL_ZBI = ("zircon-a", "zbi")


@dataclass(frozen=True)
class BuildInputs:
    kernel_zbi: Path
    boot_shim: Path
    build_cpu: str | None  # target_cpu the build says, when it says


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImageError(f"{path}: cannot read: {exc}; is this a Fuchsia build directory (the "
                         "out/ dir `fx set` made, after `fx build`)?") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImageError(f"{path}: not valid JSON: {exc}") from exc


def _entry(images: list[Any], path: Path, name: str, typ: str, cpu: str) -> dict[str, Any]:
    matches = [e for e in images if isinstance(e, dict) and e.get("name") == name
               and e.get("type") == typ]
    with_cpu = [e for e in matches if e.get("cpu") in (None, cpu)]
    if not with_cpu:
        if matches:
            cpus = sorted({str(e.get("cpu")) for e in matches})
            raise ImageError(f"{path}: the {name!r} image (type {typ!r}) is for cpu {cpus}, "
                             f"wanted {cpu!r}; use a build for --arch {cpu}")
        have = sorted({f"{e.get('name')}/{e.get('type')}" for e in images if isinstance(e, dict)})
        raise ImageError(f"{path}: no entry with name {name!r} and type {typ!r} (entries: "
                         f"{', '.join(have) or 'none'}); build a product that makes it, or pass "
                         "--kernel-zbi and --boot-shim")
    entry = with_cpu[0]
    if not isinstance(entry.get("path"), str):
        raise ImageError(f"{path}: the {name!r} entry has no string 'path': {entry!r}")
    return entry


def find_build_inputs(build_dir: Path, arch: str) -> BuildInputs:
    """The kernel ZBI and boot shim for ``arch`` named by ``build_dir/images.json``.

    :raises ImageError: naming the file, entry or path that is missing or wrong.
    """
    if not build_dir.is_dir():
        raise ImageError(f"--fuchsia-build-dir {build_dir}: not a directory")
    images_path = build_dir / IMAGES_JSON
    images = _load_json(images_path)
    if not isinstance(images, list):
        raise ImageError(f"{images_path}: wanted a JSON list of image entries, found "
                         f"{type(images).__name__}")
    build_cpu: str | None = None
    args_path = build_dir / ARGS_JSON
    if args_path.is_file():
        args = _load_json(args_path)
        if isinstance(args, dict) and isinstance(args.get("target_cpu"), str):
            build_cpu = args["target_cpu"]
            if build_cpu != arch:
                raise ImageError(f"{args_path}: target_cpu is {build_cpu!r}, wanted {arch!r}; "
                                 f"use a build for --arch {arch} or pass --arch {build_cpu}")
    found = {}
    for name, typ in (KERNEL_ZBI, SHIM):
        entry = _entry(images, images_path, name, typ, arch)
        file = build_dir / entry["path"]
        if not file.is_file():
            raise ImageError(f"{images_path}: the {name!r} entry names {entry['path']!r}, but "
                             f"{file} does not exist; build it first (fx build)")
        found[name] = file
    LOG.info("fuchsia build %s: kernel ZBI %s, boot shim %s", build_dir,
             found[KERNEL_ZBI[0]], found[SHIM[0]])
    return BuildInputs(kernel_zbi=found[KERNEL_ZBI[0]], boot_shim=found[SHIM[0]],
                       build_cpu=build_cpu)
