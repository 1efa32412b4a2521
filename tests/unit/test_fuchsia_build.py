"""Finding the kernel ZBI and boot shim through a Fuchsia build dir's images.json/args.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rig.errors import ImageError
from rig.image.fuchsia_build import BuildInputs, find_build_inputs

# The shape the build writes (tools/build/images.go: name, path, type, cpu, label).
IMAGES = [
    {"name": "zircon-a", "type": "zbi", "path": "obj/build/images/fuchsia/fuchsia.zbi",
     "cpu": "x64", "label": "//build/images/fuchsia:fuchsia"},
    {"name": "zircon-a", "type": "vbmeta", "path": "fuchsia.vbmeta", "cpu": "x64"},
    {"name": "qemu-kernel", "type": "kernel", "path": "kernel.phys32/linux-x86-boot-shim.bin",
     "cpu": "x64"},
    {"name": "storage-full", "type": "blk", "path": "fvm.blk"},
]


def _build(tmp_path: Path, images: object = IMAGES, cpu: str | None = "x64",
           make: tuple[str, ...] = ("obj/build/images/fuchsia/fuchsia.zbi",
                                    "kernel.phys32/linux-x86-boot-shim.bin")) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "images.json").write_text(json.dumps(images))
    if cpu is not None:
        (tmp_path / "args.json").write_text(json.dumps({"target_cpu": cpu}))
    for rel in make:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    return tmp_path


def test_finds_both(tmp_path: Path) -> None:
    d = _build(tmp_path)
    assert find_build_inputs(d, "x64") == BuildInputs(
        kernel_zbi=d / "obj/build/images/fuchsia/fuchsia.zbi",
        boot_shim=d / "kernel.phys32/linux-x86-boot-shim.bin", build_cpu="x64")


def test_wrong_cpu(tmp_path: Path) -> None:
    d = _build(tmp_path)
    with pytest.raises(ImageError) as info:
        find_build_inputs(d, "arm64")
    assert str(info.value) == (f"{d}/args.json: target_cpu is 'x64', wanted 'arm64'; use a "
                               "build for --arch arm64 or pass --arch x64")
    d2 = _build(tmp_path / "b", cpu=None)
    with pytest.raises(ImageError, match=r"the 'zircon-a' image \(type 'zbi'\) is for cpu "
                                         r"\['x64'\], wanted 'arm64'"):
        find_build_inputs(d2, "arm64")


def test_missing_entry_and_file(tmp_path: Path) -> None:
    d = _build(tmp_path, images=IMAGES[:2])
    with pytest.raises(ImageError) as info:
        find_build_inputs(d, "x64")
    assert str(info.value) == (
        f"{d}/images.json: no entry with name 'qemu-kernel' and type 'kernel' (entries: "
        "zircon-a/vbmeta, zircon-a/zbi); build a product that makes it, or pass --kernel-zbi "
        "and --boot-shim")
    d2 = _build(tmp_path / "b", make=("obj/build/images/fuchsia/fuchsia.zbi",))
    with pytest.raises(ImageError, match="the 'qemu-kernel' entry names 'kernel.phys32/linux-x86"
                                         "-boot-shim.bin', but .* does not exist; build it"):
        find_build_inputs(d2, "x64")


def test_not_a_build_dir(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="images.json: cannot read: .*is this a Fuchsia build"):
        find_build_inputs(tmp_path, "x64")
    (tmp_path / "images.json").write_text("{")
    with pytest.raises(ImageError, match="images.json: not valid JSON"):
        find_build_inputs(tmp_path, "x64")
    (tmp_path / "images.json").write_text("{}")
    with pytest.raises(ImageError, match="wanted a JSON list of image entries, found dict"):
        find_build_inputs(tmp_path, "x64")
    with pytest.raises(ImageError, match="not a directory"):
        find_build_inputs(tmp_path / "nope", "x64")
