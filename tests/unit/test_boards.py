"""Board files: the shipped ones load into the expected Board; bad files name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rig import resources
from rig.errors import BoardError
from rig.image import boards, zbi

CFLAGS = ("-ffreestanding", "-nostdlib", "-fno-stack-protector", "-fPIE", "-fvisibility=hidden",
          "-fno-builtin", "-fno-sanitize=safe-stack,shadow-call-stack", "-O2", "-Wall", "-Wextra",
          "-Werror")
LDFLAGS = ("-fuse-ld=lld", "-Wl,--no-dynamic-linker", "-Wl,-pie", "-Wl,-e,_start",
           "-Wl,--no-execute-only")


def test_shipped_boards() -> None:
    assert boards.available_boards() == [("arm64", "sim"), ("arm64", "zircon"), ("x64", "sim"),
                                         ("x64", "zircon")]
    for arch, target in boards.available_boards():
        boards.load_board(arch, target)


def test_x64_zircon_board() -> None:
    b = boards.load_board("x64", "zircon")
    assert b == boards.Board(
        path=str(resources.images_dir() / "x64" / "zircon.yaml"), arch="x64", target="zircon",
        qemu_binary="qemu-system-x86_64", qemu_package="qemu-system-x86", machine="q35",
        machine_kvm="q35",
        cpu_tcg="Haswell,+smap,-check,-fsgsbase", cpu_kvm="host,migratable=no,+invtsc",
        accel=("tcg", "kvm"), memory_mb=2048, smp=2,
        qemu_args=("-nodefaults", "-display", "none", "-no-reboot"),
        serial_args=("-serial", "stdio"),
        exit_args=("-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"),
        boot_kernel="boot-shim", boot_initrd="image.zbi", kernel_item_type=zbi.TYPE_KERNEL_X64,
        triple="x86_64-unknown-fuchsia", runtime_arch_dir="x86_64", cflags=CFLAGS,
        ldflags=LDFLAGS, cmdline=("kernel.serial=legacy",),
        boot_kernel_formats=("linux-x86", "multiboot", "elf"))
    assert b.qemu_argv(kernel="shim.bin", initrd="image.zbi") == [
        "qemu-system-x86_64", "-machine", "q35", "-cpu", "Haswell,+smap,-check,-fsgsbase",
        "-accel", "tcg", "-m", "2048", "-smp", "2", "-nodefaults", "-display", "none",
        "-no-reboot", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
        "-kernel", "shim.bin", "-initrd", "image.zbi"]


def test_arm64_zircon_board_kvm_argv() -> None:
    b = boards.load_board("arm64", "zircon")
    assert (b.kernel_item_type, b.triple, b.runtime_arch_dir, b.cmdline, b.exit_args,
            b.boot_kernel_formats) == (
        zbi.TYPE_KERNEL_ARM64, "aarch64-unknown-fuchsia", "arm64", (), (), ("linux-arm64", "elf"))
    assert b.qemu_argv(kernel="k", initrd="i", accel="kvm")[:8] == [
        "qemu-system-aarch64", "-machine", "virt,gic-version=host", "-cpu", "host", "-accel",
        "kvm", "-m"]
    with pytest.raises(BoardError, match=r"accelerator 'hvf' is not in qemu.accel"):
        b.qemu_argv(kernel="k", initrd="i", accel="hvf")


def test_sim_boards_are_ready() -> None:
    x64 = boards.load_board("x64", "sim")
    arm = boards.load_board("arm64", "sim")
    assert (x64.boot_kernel, x64.exit_args[-1], arm.boot_kernel, arm.exit_args) == (
        "sim-kernel", "isa-debug-exit,iobase=0xf4,iosize=0x04", "sim-kernel", ("-semihosting",))


def _write(tmp_path: Path, mutate: object) -> Path:
    raw = yaml.safe_load((resources.images_dir() / "x64" / "zircon.yaml").read_text())
    mutate(raw)  # type: ignore[operator]
    (tmp_path / "x64").mkdir()
    path = tmp_path / "x64" / "zircon.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r.__setitem__("colour", "red"), "unknown key 'colour'; known keys: "),
    (lambda r: r["qemu"].__setitem__("cpu_tgc", "x"), "unknown key qemu.cpu_tgc; known keys "
     "under qemu: ['accel', 'args', 'binary', 'cpu_kvm', 'cpu_tcg', 'machine', 'machine_kvm', "
     "'memory_mb', 'package', 'smp']"),
    (lambda r: r["qemu"].pop("binary"), "missing key qemu.binary"),
    (lambda r: r["qemu"].__setitem__("smp", "two"), "qemu.smp is 'two', wanted an integer"),
    (lambda r: r["qemu"].__setitem__("accel", ["hvf"]), "qemu.accel is ['hvf'], wanted a "
     "non-empty list of ['tcg', 'kvm']"),
    (lambda r: r["boot"].__setitem__("kernel", "bzImage"), "boot.kernel is 'bzImage', wanted "
     "one of ['boot-shim', 'sim-kernel']"),
    (lambda r: r["boot"].__setitem__("kernel_item", "CMDLINE"), "boot.kernel_item is "
     "'CMDLINE', wanted one of ['KERNEL_ARM64', 'KERNEL_RISCV64', 'KERNEL_X64']"),
    (lambda r: r.__setitem__("arch", "arm64"), "arch is 'arm64', wanted 'x64'"),
    (lambda r: r.__setitem__("cmdline", [1]), "cmdline is [1], wanted a list of strings"),
])
def test_bad_board_files(tmp_path: Path, mutate: object, message: str) -> None:
    path = _write(tmp_path, mutate)
    with pytest.raises(BoardError) as info:
        boards.load_board("x64", "zircon", images_dir=tmp_path)
    assert str(info.value).startswith(f"{path}: {message}")


def test_missing_board_lists_the_others(tmp_path: Path) -> None:
    with pytest.raises(BoardError) as info:
        boards.load_board("riscv64", "zircon")
    assert str(info.value) == (
        f"{resources.images_dir()}/riscv64/zircon.yaml: no board for arch 'riscv64' target "
        "'zircon' "
        "(boards: arm64/sim, arm64/zircon, x64/sim, x64/zircon); add a board by adding this file")


def test_compile_targets_match_the_toolchain_tests_data() -> None:
    from rig.program.target import CompileTarget

    data = yaml.safe_load((Path(__file__).parent.parent / "data" / "runtime" /
                           "compile_targets.yaml").read_text())
    for target in ("zircon", "sim"):
        got = {arch: boards.load_board(arch, target).compile_target for arch in ("x64", "arm64")}
        assert got == {
            arch: CompileTarget(name=arch, triple=t["triple"],
                                runtime_arch_dir=t["runtime_arch_dir"],
                                cflags=tuple(t["cflags"]), ldflags=tuple(t["ldflags"]))
            for arch, t in data["targets"].items()}
