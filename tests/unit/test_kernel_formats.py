"""rig.image.kernel_formats: what QEMU boots as -kernel, from the first bytes."""

from __future__ import annotations

import struct

import pytest

from rig.image.kernel_formats import MULTIBOOT_MAGIC, detect_format


def multiboot(at: int) -> bytes:
    flags = 0x10003
    header = struct.pack("<III", MULTIBOOT_MAGIC, flags, (-(MULTIBOOT_MAGIC + flags)) & 0xFFFFFFFF)
    return bytes(at) + header + bytes(64)


@pytest.mark.parametrize(("head", "want"), [
    (b"\x7fELF\x02\x01\x01" + bytes(100), "elf"),
    (multiboot(0), "multiboot"),
    (multiboot(4096), "multiboot"),
    (multiboot(8192), None),  # past the 8 KiB the loader searches
    (multiboot(2)[:-1], None),  # not 4-byte aligned
    (bytes(0x202) + b"HdrS", "linux-x86"),
    (bytes(56) + b"ARM\x64", "linux-arm64"),
    (b"garbage, not a boot shim", None),
    (b"", None),
])
def test_detect_format(head: bytes, want: str | None) -> None:
    assert detect_format(head) == want
