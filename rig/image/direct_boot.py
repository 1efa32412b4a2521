"""Boot a kernel ZBI on QEMU without a boot shim (zircon-facts.md 8): split, trampoline, argv.

`split_image` derives the direct-boot set from the one complete ``image.zbi``:

- ``kernel.bin``: a container header and the kernel item (item 0), byte for byte;
- ``data.zbi``: every other item of the image, byte for byte (our BOOTFS and CMDLINE and the
  kernel image's own items, in the image's order), then the board items (`board_items`);
- ``trampoline.bin``: 32 bytes of AArch64 code that set x0 to the data ZBI's address and
  branch to the kernel's entry point.

QEMU places the three with ``-device loader,file=F,addr=A,force-raw=on`` and starts CPU 0 at
the trampoline with ``-device loader,addr=T,cpu-num=0``: no ``-kernel``, no firmware. Where
they go is board data (``direct_boot.load``). Pure: bytes in, bytes and argv out; writing the
three files is `write_direct_boot`.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

from rig.errors import BoardError, ImageError, InputError
from rig.image import board_items, boards, zbi
from rig.image.board_items import TRAMPOLINE_SIZE, DirectBootBoard

LOG = logging.getLogger(__name__)

KERNEL_FILE = "kernel.bin"
DATA_FILE = "data.zbi"
TRAMPOLINE_FILE = "trampoline.bin"
FILES = (KERNEL_FILE, DATA_FILE, TRAMPOLINE_FILE)
BOOT_DIRECT = "direct"  # the rig loads kernel.bin, data.zbi and the trampoline itself
BOOT_SHIM = "shim"  # QEMU's -kernel gets the board's boot.kernel file, -initrd image.zbi
BOOT_MODES = (BOOT_DIRECT, BOOT_SHIM)

_CONTAINER = struct.Struct("<8I")
# The first byte of kernel.bin that can be code: past both headers and zbi_kernel_t.
_FIRST_CODE = 2 * zbi.HEADER_SIZE + zbi.KERNEL_HEADER_SIZE
# The trampoline (A64, little-endian): two PC-relative literal loads, a register branch, a nop,
# then the two 64-bit literals. x16 (IP0, the veneer register) carries the target, so x1..x3
# keep the zeros QEMU resets them to.
_LDR_X0_LIT16 = 0x58000080  # ldr x0, [pc + 16]  (LDR literal: imm19 = 16/4 = 4, Rt = 0)
_LDR_X16_LIT24 = 0x580000B0  # ldr x16, [pc + 20] at offset 4 -> literal at 24 (imm19 5, Rt 16)
_BR_X16 = 0xD61F0200  # br x16
_NOP = 0xD503201F
_TRAMPOLINE = struct.Struct("<4I2Q")
assert _TRAMPOLINE.size == TRAMPOLINE_SIZE


def encode_trampoline(x0: int, target: int) -> bytes:
    """AArch64 code: x0 = ``x0``; branch to ``target``. Position independent, 32 bytes."""
    return _TRAMPOLINE.pack(_LDR_X0_LIT16, _LDR_X16_LIT24, _BR_X16, _NOP, x0, target)


def decode_trampoline(code: bytes) -> tuple[int, int]:
    """(x0, branch target) of a trampoline `encode_trampoline` wrote.

    :raises ImageError: when ``code`` is not such a trampoline.
    """
    if len(code) != TRAMPOLINE_SIZE:
        raise ImageError(f"trampoline is {len(code)} bytes, wanted {TRAMPOLINE_SIZE}")
    *insns, x0, target = _TRAMPOLINE.unpack(code)
    if insns != [_LDR_X0_LIT16, _LDR_X16_LIT24, _BR_X16, _NOP]:
        raise ImageError("trampoline code is not ldr x0 / ldr x16 / br x16 / nop: "
                         + " ".join(f"{i:08x}" for i in insns))
    return x0, target


@dataclass(frozen=True)
class DirectBootSet:
    kernel_bin: bytes
    data_zbi: bytes
    trampoline: bytes
    entry: int  # zbi_kernel_t.entry: counts from the start of kernel.bin (its container header)
    reserve_memory_size: int
    board: DirectBootBoard
    board_item_count: int

    @property
    def entry_addr(self) -> int:
        return self.board.kernel_addr + self.entry

    @property
    def kernel_end(self) -> int:
        """The end of the kernel's memory: kernel.bin, then reserve_memory_size more."""
        return self.board.kernel_addr + len(self.kernel_bin) + self.reserve_memory_size

    @property
    def data_zbi_end(self) -> int:
        return self.board.data_zbi_addr + len(self.data_zbi)

    def files(self) -> dict[str, bytes]:
        return {KERNEL_FILE: self.kernel_bin, DATA_FILE: self.data_zbi,
                TRAMPOLINE_FILE: self.trampoline}

    def summary(self) -> str:
        b = self.board
        return (f"direct boot: {KERNEL_FILE} at 0x{b.kernel_addr:x} ({len(self.kernel_bin)} "
                f"bytes, entry 0x{self.entry_addr:x}, reserve_memory_size "
                f"0x{self.reserve_memory_size:x}), {DATA_FILE} at 0x{b.data_zbi_addr:x} "
                f"({len(self.data_zbi)} bytes, {self.board_item_count} board items), "
                f"{TRAMPOLINE_FILE} at 0x{b.trampoline_addr:x}; GICv{b.gic_version}, "
                f"{b.cpus} CPUs, {b.ram_bytes >> 20} MiB")


def _container(length: int) -> bytes:
    return _CONTAINER.pack(zbi.TYPE_CONTAINER, length, zbi.CONTAINER_MAGIC, zbi.FLAGS_VERSION,
                           0, 0, zbi.ITEM_MAGIC, zbi.ITEM_NO_CRC32)


def split_image(image: bytes, board: DirectBootBoard, *, source: str = "<image.zbi>",
                kernel_item_type: int | None = None) -> DirectBootSet:
    """The direct-boot set of a complete image, checked against the board's memory layout.

    :raises ImageError: the image is malformed or has no kernel item (of ``kernel_item_type``);
        its entry lies outside kernel.bin; kernel.bin plus reserve_memory_size reaches the data
        ZBI's load address; or the data ZBI does not fit in RAM.
    """
    parsed = zbi.read_zbi(image, source=source)
    wanted = [kernel_item_type] if kernel_item_type is not None else []
    kernel = zbi.require_kernel(parsed, source=source, wanted_types=wanted)
    start = zbi.HEADER_SIZE  # item 0, right after the container header
    rest = start + zbi.HEADER_SIZE + zbi.align(len(kernel.payload))
    kernel_bin = _container(rest - start) + image[start:rest]
    items = board_items.board_items(board)
    theirs = image[rest:]
    ours = zbi.write_zbi(items)[zbi.HEADER_SIZE:]
    data_zbi = _container(len(theirs) + len(ours)) + theirs + ours
    entry, reserve = struct.unpack_from("<QQ", kernel.payload)
    trampoline = encode_trampoline(board.data_zbi_addr, board.kernel_addr + entry)
    out = DirectBootSet(kernel_bin=kernel_bin, data_zbi=data_zbi, trampoline=trampoline,
                        entry=entry, reserve_memory_size=reserve, board=board,
                        board_item_count=len(items))
    _check_fits(out, source)
    return out


def _check_fits(s: DirectBootSet, source: str) -> None:
    b = s.board
    if s.entry % 4 or not _FIRST_CODE <= s.entry < len(s.kernel_bin):
        raise ImageError(
            f"{source}: kernel entry 0x{s.entry:x} is not a 4-byte-aligned offset into the "
            f"kernel's code (kernel.bin is {len(s.kernel_bin)} bytes, the entry counts from its "
            "container header); is item 0 a real kernel?")
    if s.kernel_end > b.data_zbi_addr:
        raise ImageError(
            f"{source}: the kernel does not fit below the data ZBI: {KERNEL_FILE} "
            f"({len(s.kernel_bin)} bytes) at 0x{b.kernel_addr:x} plus reserve_memory_size "
            f"0x{s.reserve_memory_size:x} ends at 0x{s.kernel_end:x}, above "
            f"direct_boot.load.data_zbi 0x{b.data_zbi_addr:x} ({b.path}); move data_zbi up "
            "in the board file, or boot with --boot-shim")
    if s.data_zbi_end > b.usable_ram_end:
        nvram = f" less nvram_bytes 0x{b.nvram_bytes:x}" if b.nvram_bytes else ""
        raise ImageError(
            f"{source}: the data ZBI does not fit in RAM: {DATA_FILE} ({len(s.data_zbi)} "
            f"bytes) at 0x{b.data_zbi_addr:x} ends at 0x{s.data_zbi_end:x}, beyond "
            f"0x{b.usable_ram_end:x} (ram_base 0x{b.ram_base:x} + qemu.memory_mb "
            f"{b.ram_bytes >> 20} MiB{nvram}, {b.path}); raise qemu.memory_mb or use "
            "smaller scenarios")


def choose_boot_mode(board: boards.Board, *, boot_shim: Path | None, out_dir: Path) -> str:
    """``direct`` for a board with direct_boot and no shim given, else ``shim``.

    :raises InputError: a direct boot into a build directory whose path has a ``,`` (QEMU's
        ``-device loader`` option syntax cannot carry it).
    """
    if board.direct_boot is None or boot_shim is not None:
        return BOOT_SHIM
    _check_loader_path(out_dir.resolve() / DATA_FILE)
    return BOOT_DIRECT


def _check_loader_path(path: Path) -> None:
    if "," in str(path):
        raise InputError(
            f"--out {path.parent}: the path has a ',', and a direct boot passes its files to "
            "QEMU as -device loader,file=PATH,... where ',' separates options: use a build "
            "directory without ',' (or boot through --boot-shim)")


def qemu_argv(board: boards.Board, out_dir: Path, *, accel: str) -> list[str]:
    """The whole QEMU command line of a direct boot of the set in ``out_dir``.

    :raises BoardError: the board has no direct_boot, or the accelerator's machine names
        another GIC version than the board items describe.
    :raises InputError: a path with a ``,``.
    """
    db = board.direct_boot
    if db is None:
        raise BoardError(f"{board.path}: no direct_boot section: this board boots only through "
                         f"its boot.kernel ({board.boot_kernel})")
    machine = board.machine_kvm if accel == "kvm" else board.machine
    if board_items.machine_gic_version(machine) != db.gic_version:
        raise BoardError(f"{board.path}: the direct boot describes GICv{db.gic_version} (from "
                         f"qemu.machine), but the {accel} machine is {machine!r}: a direct boot "
                         "needs the GIC version fixed in the machine")
    paths = {name: out_dir.resolve() / name for name in FILES}
    for path in paths.values():
        _check_loader_path(path)
    argv = board.qemu_machine_argv(accel)
    for name, addr in ((KERNEL_FILE, db.kernel_addr), (DATA_FILE, db.data_zbi_addr),
                       (TRAMPOLINE_FILE, db.trampoline_addr)):
        argv += ["-device", f"loader,file={paths[name]},addr=0x{addr:x},force-raw=on"]
    # A loader with an address and a CPU but no file sets that CPU's PC: the trampoline.
    return argv + ["-device", f"loader,addr=0x{db.trampoline_addr:x},cpu-num=0"]


def remove_outputs(out_dir: Path) -> None:
    """Delete the set an earlier build left (a stale data.zbi would boot the wrong program)."""
    for name in FILES:
        (out_dir / name).unlink(missing_ok=True)


def write_direct_boot(out_dir: Path, s: DirectBootSet) -> tuple[str, ...]:
    """Write kernel.bin, data.zbi and trampoline.bin; their names."""
    for name, data in s.files().items():
        (out_dir / name).write_bytes(data)
    return FILES


def build_direct_boot(board: boards.Board, image: bytes, *,
                      source: str = "<image.zbi>") -> DirectBootSet:
    """`split_image` for a board's own direct_boot data and kernel item type.

    :raises BoardError: the board has no direct_boot section.
    :raises ImageError: as `split_image`.
    """
    if board.direct_boot is None:
        raise BoardError(f"{board.path}: no direct_boot section: this board boots only through "
                         f"its boot.kernel ({board.boot_kernel})")
    return split_image(image, board.direct_boot, source=source,
                       kernel_item_type=board.kernel_item_type)


def shim_required(board: boards.Board) -> str:
    """What to tell a user who gave no boot shim for a board without a direct boot."""
    return (f"the boot shim: {boards.BOOT_KERNELS[board.boot_kernel]}; {board.name} has no "
            f"direct boot (no direct_boot section in {board.path}), so {board.arch} kernels "
            "boot only through their shim")


def render_set(files: dict[str, bytes], *, source: str) -> str:
    """What ``rig zbi inspect DIR`` prints for a direct-boot set: the trampoline decoded, and
    where it sends the kernel; the two ZBIs are listed by the caller.

    :raises ImageError: a file is missing or not what the rig wrote.
    """
    for name in FILES:
        if name not in files:
            raise ImageError(f"{source}: no {name}: not a direct-boot set (rig build writes "
                             f"{', '.join(FILES)} for a board with direct_boot and no shim)")
    x0, target = decode_trampoline(files[TRAMPOLINE_FILE])
    kernel = zbi.read_zbi(files[KERNEL_FILE], source=f"{source}/{KERNEL_FILE}",
                          check_crc=False)
    item = zbi.require_kernel(kernel, source=f"{source}/{KERNEL_FILE}")
    entry = struct.unpack_from("<QQ", item.payload)[0]
    return (f"{source}: direct-boot set: {TRAMPOLINE_FILE} sets x0 = 0x{x0:x} (where "
            f"{DATA_FILE} is loaded) and branches to 0x{target:x} = 0x{target - entry:x} (where "
            f"{KERNEL_FILE} is loaded) + entry 0x{entry:x}\n")
