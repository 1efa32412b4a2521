"""Image assembly (incl. a kernel ZBI with its own BOOTFS), listing and extraction."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import ImageError
from rig.image import assemble as image
from rig.image import bootfs, zbi

ELF = b"\x7fELF" + bytes(100)
FILES = {"bin/rig-test": ELF}
WORDS = ["userboot.test.next=bin/rig-test", "rig.nonce=0123456789abcdef"]


def _kernel(item_type: int = zbi.TYPE_KERNEL_X64) -> zbi.ZbiItem:
    return zbi.make_item(item_type, bytes(16) + b"userboot.test.next\0")


def test_assemble_plain_kernel_zbi() -> None:
    kernel = zbi.write_zbi([_kernel()])
    out = image.assemble_image(kernel, FILES, WORDS, kernel_item_type=zbi.TYPE_KERNEL_X64)
    parsed = zbi.read_zbi(out.data)
    assert [(i.type_name, i.crc_status) for i in parsed.items] == [
        ("KERNEL_X64", "ok"), ("STORAGE_BOOTFS", "ok"), ("CMDLINE", "ok")]
    assert parsed.items[0].payload == _kernel().payload
    assert parsed.items[1].payload == bootfs.build_bootfs(FILES)
    assert parsed.items[1].extra == len(parsed.items[1].payload)
    assert parsed.items[2].payload == b" ".join(w.encode() for w in WORDS) + b"\0"
    assert (out.kernel_type, out.notes) == ("KERNEL_X64", ())


def test_full_image_our_bootfs_comes_first() -> None:
    their_bootfs = zbi.storage_item(
        zbi.TYPE_STORAGE_BOOTFS, bootfs.build_bootfs({"bin/component_manager": b"cm"}),
        compress=True)
    storage_kernel = zbi.storage_item(zbi.TYPE_STORAGE_KERNEL, b"kernel package", compress=True)
    their_cmdline = zbi.cmdline_item("userboot.next=bin/component_manager+--boot")
    kernel = zbi.write_zbi([_kernel(), storage_kernel, their_bootfs, their_cmdline])
    out = image.assemble_image(kernel, FILES, WORDS, source="zircon-a.zbi", compress_bootfs=True)
    parsed = zbi.read_zbi(out.data)
    assert [i.type_name for i in parsed.items] == [
        "KERNEL_X64", "STORAGE_KERNEL", "STORAGE_BOOTFS", "STORAGE_BOOTFS", "CMDLINE",
        "CMDLINE"]
    first = parsed.first(zbi.TYPE_STORAGE_BOOTFS)
    assert first is not None and first.compressed
    assert bootfs.read_bootfs(zbi.storage_payload(first)) == (
        bootfs.BootfsFile("bin/rig-test", ELF, 4096),)
    assert parsed.items[3].payload == their_bootfs.payload
    assert out.notes == (
        "zircon-a.zbi has 1 BOOTFS item(s) of its own; ours is placed before them (item 2) "
        "because userboot uses the first",
        "zircon-a.zbi has its own CMDLINE with userboot.next=bin/component_manager+--boot; ours "
        "comes after it, and the later word wins")


def test_assemble_refuses_wrong_arch_and_non_kernel() -> None:
    arm = zbi.write_zbi([_kernel(zbi.TYPE_KERNEL_ARM64)])
    with pytest.raises(ImageError, match="k: kernel item is KERNEL_ARM64, wanted KERNEL_X64"):
        image.assemble_image(arm, FILES, WORDS, source="k", kernel_item_type=zbi.TYPE_KERNEL_X64)
    with pytest.raises(ImageError, match="k: container header"):
        image.assemble_image(b"\x7fELF" + bytes(60), FILES, WORDS, source="k")


def test_listing_and_extract() -> None:
    kernel = zbi.write_zbi([_kernel()])
    data = image.assemble_image(kernel, FILES, WORDS).data
    listing = image.render_listing(image.list_image(data, source="i.zbi"), source="i.zbi",
                                   size=len(data))
    sha = hashlib.sha256(ELF).hexdigest()
    bootfs_len = 8192
    assert listing == (
        f"i.zbi: ZBI, {len(data)} bytes, 3 items\n"
        "  #    offset  type               length      extra  flags       crc\n"
        "  0        32  KERNEL_X64             35          0  0x00030000  ok\n"
        f"  1       104  STORAGE_BOOTFS       {bootfs_len}       {bootfs_len}  0x00030000  ok\n"
        "  2      8328  CMDLINE                59          0  0x00030000  ok\n"
        "BOOTFS (item 1): 1 files\n"
        f"  bin/rig-test  104 bytes  sha256 {sha}\n"
        "CMDLINE (item 2): userboot.test.next=bin/rig-test rig.nonce=0123456789abcdef\n")
    assert image.extract_image(data) == {
        "00-KERNEL_X64.bin": _kernel().payload,
        "01-STORAGE_BOOTFS.bin": bootfs.build_bootfs(FILES),
        "01-STORAGE_BOOTFS/bin/rig-test": ELF,
        "02-CMDLINE.txt": " ".join(WORDS).encode(),
    }


def test_listing_shows_bad_crc_and_bad_bootfs() -> None:
    broken = zbi.ZbiItem(type=zbi.TYPE_STORAGE_BOOTFS, payload=bytes(32), extra=32,
                         flags=zbi.FLAGS_VERSION | zbi.FLAGS_CRC32, crc32=5)
    data = bytearray(zbi.write_zbi([_kernel(), broken]))
    data[104 + 28:104 + 32] = (5).to_bytes(4, "little")  # spoil item 1's stored CRC
    items = image.list_image(bytes(data), source="b.zbi")
    assert (items[1].crc, items[1].files) == ("bad", None)
    assert items[1].problem == ("b.zbi item 1: BOOTFS header (byte offset 0): bad magic "
                                "0x00000000, wanted 0xa56d3ff9")


_VALID = image.assemble_image(zbi.write_zbi([_kernel()]), FILES, WORDS,
                              compress_bootfs=True).data


@given(st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), max_size=8))
def test_fuzz_listing_and_extract_raise_only_image_error(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_VALID)
    for at, value in flips:
        data[at] = value
    for func in (image.list_image, image.extract_image):
        try:
            func(bytes(data))
        except ImageError:
            pass


def test_a_decompression_bomb_is_refused_before_unpacking() -> None:
    # 32 KB that claim 1 GiB: inspect used 2 GB and extract wrote 1 GiB.
    import zstandard

    bomb = zstandard.ZstdCompressor(level=19).compress(bytes(4 << 20))
    item = zbi.make_item(zbi.TYPE_STORAGE_BOOTFS, bomb, extra=1 << 30,
                         flags=zbi.FLAGS_STORAGE_COMPRESSED)
    data = zbi.write_zbi([_kernel(), item])
    listed = image.list_image(data, source="b.zbi")
    assert listed[1].problem == (
        f"b.zbi: item at byte offset 104 (STORAGE_BOOTFS): claims {1 << 30} bytes unpacked "
        f"from {len(bomb)}, more than the rig unpacks ({zbi.MAX_UNPACKED_BYTES} bytes); not "
        "unpacked")
    with pytest.raises(ImageError, match="more than the rig unpacks"):
        image.extract_image(data, source="b.zbi")


def test_extract_names_never_come_from_raw_type_bytes() -> None:
    odd = zbi.make_item(int.from_bytes(b"/../", "little"), b"x")
    data = zbi.write_zbi([_kernel(), odd, odd])
    assert sorted(image.extract_image(data)) == [
        "00-KERNEL_X64.bin", "01-0x2f2e2e2f.bin", "02-0x2f2e2e2f.bin"]


def test_extract_refuses_a_file_that_is_also_a_directory() -> None:
    fs = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, bootfs.build_bootfs({"a": b"1", "a/b": b"2"}),
                          compress=False)
    with pytest.raises(ImageError) as info:
        image.extract_image(zbi.write_zbi([_kernel(), fs]), source="c.zbi")
    assert str(info.value) == ("c.zbi: '01-STORAGE_BOOTFS/a' would be both a file and a "
                               "directory (a BOOTFS holding both a and a/b); nothing was written")
