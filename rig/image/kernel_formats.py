"""What QEMU can boot as -kernel: recognise a boot shim's format from its first bytes.

A board lists the formats its shim may have (`boot.kernel_formats` in images/<arch>/<target>.yaml);
`rig build` refuses a --boot-shim in none of them instead of writing a qemu.sh that cannot boot.
The formats are QEMU's own loaders' (hw/i386/multiboot.c, hw/i386/x86.c for Linux bzImage,
hw/arm/boot.c for the arm64 Image header) and ELF.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

MULTIBOOT_MAGIC = 0x1BADB002  # in the first 8 KiB, 4-byte aligned (Multiboot 1)
MULTIBOOT_SEARCH_BYTES = 8192
READ_BYTES = MULTIBOOT_SEARCH_BYTES  # what the checks need of a file


def _elf(head: bytes) -> bool:
    return head[:4] == b"\x7fELF"


def _multiboot(head: bytes) -> bool:
    for at in range(0, min(len(head), MULTIBOOT_SEARCH_BYTES) - 11, 4):
        magic, flags, checksum = struct.unpack_from("<III", head, at)
        if magic == MULTIBOOT_MAGIC and (magic + flags + checksum) & 0xFFFFFFFF == 0:
            return True
    return False


def _linux_x86(head: bytes) -> bool:
    return head[0x202:0x206] == b"HdrS"  # the Linux boot protocol header


def _linux_arm64(head: bytes) -> bool:
    return head[56:60] == b"ARM\x64"  # the arm64 Image header's magic


FORMATS: dict[str, Callable[[bytes], bool]] = {
    "elf": _elf,
    "multiboot": _multiboot,
    "linux-x86": _linux_x86,
    "linux-arm64": _linux_arm64,
}


def detect_format(head: bytes) -> str | None:
    """The first format whose check the bytes pass (None: none)."""
    return next((name for name, check in FORMATS.items() if check(head)), None)
