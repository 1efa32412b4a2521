"""ZBI reader/writer: golden bytes from the format facts, the real 2020 headers, fuzzing."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rig.errors import ImageError
from rig.image import zbi

# A copy of shared/fixtures/zircon-arm64-2020-zbi-headers.json: the item headers of a real
# kernel ZBI (no payloads but the CMDLINE one, so no kernel code).
FIXTURE = Path(__file__).parent.parent / "data" / "zircon-arm64-2020-zbi-headers.json"


def _fixture() -> dict[str, object]:
    return json.loads(FIXTURE.read_text())  # type: ignore[no-any-return]


# Written by hand from zircon-facts.md section 4 (all fields little-endian uint32).
GOLDEN_CMDLINE_NO_CRC = bytes.fromhex(
    "424f4f54" "28000000" "e6f78c86" "00000100" "00000000" "00000000" "291778b5" "d6e8874a"
    "434d444c" "03000000" "00000000" "00000100" "00000000" "00000000" "291778b5" "d6e8874a"
    "61626300" "00000000"
)


def test_write_matches_golden_bytes() -> None:
    image = zbi.write_zbi([zbi.make_item(zbi.TYPE_CMDLINE, b"abc", crc=False)])
    assert image == GOLDEN_CMDLINE_NO_CRC


def test_read_golden_bytes() -> None:
    parsed = zbi.read_zbi(GOLDEN_CMDLINE_NO_CRC)
    assert parsed == zbi.Zbi(items=(zbi.ZbiItem(
        type=zbi.TYPE_CMDLINE, payload=b"abc", extra=0, flags=0x10000,
        crc32=zbi.ITEM_NO_CRC32, offset=32),))
    assert parsed.items[0].crc_status == "none"


def test_crc_rule_matches_real_2020_cmdline_item() -> None:
    fx = _fixture()
    cmd = fx["items"][2]  # type: ignore[index]
    payload = bytes.fromhex(cmd["payload_hex"])
    item = zbi.make_item(zbi.TYPE_CMDLINE, payload)
    assert item.computed_crc32() == 0x7689B034 == int(cmd["crc32"], 16)
    assert item.header_bytes(item.computed_crc32()).hex() == cmd["header_hex"]
    # The same rule by hand: CRC-32 over the header with crc32 = 0, then the payload.
    header0 = bytes.fromhex(cmd["header_hex"])[:28] + b"\0\0\0\0"
    assert zlib.crc32(header0 + payload) == 0x7689B034
    image = zbi.write_zbi([item])
    assert image[32:64].hex() == cmd["header_hex"]
    parsed = zbi.read_zbi(image)
    assert parsed.items[0].crc_status == "ok"
    assert parsed.items[0].payload.startswith(b"userboot=test/core-standalone-test ")


def test_real_2020_headers_decode() -> None:
    fx = _fixture()
    decoded = []
    for it in fx["items"]:  # type: ignore[attr-defined]
        f = struct.unpack("<8I", bytes.fromhex(it["header_hex"]))
        decoded.append((zbi.type_name(f[0]), f[1], f[2], hex(f[3]), hex(f[6]), hex(f[7])))
    assert decoded == [
        ("KERNEL_ARM64", 1783592, 0, "0x10000", "0xb5781729", "0x4a87e8d6"),
        ("STORAGE_BOOTFS", 1841997, 5476352, "0x30001", "0xb5781729", "0x60a203d"),
        ("CMDLINE", 141, 0, "0x30000", "0xb5781729", "0x7689b034"),
    ]
    # Offsets follow from 32-byte headers and 8-byte padding.
    offsets = [it["offset"] for it in fx["items"]]  # type: ignore[attr-defined]
    lengths = [it["length"] for it in fx["items"]]  # type: ignore[attr-defined]
    assert offsets[1] == offsets[0] + 32 + zbi.align(lengths[0])
    assert offsets[2] == offsets[1] + 32 + zbi.align(lengths[1])
    assert fx["container"]["length"] == offsets[2] + 32 + zbi.align(lengths[2]) - 32  # type: ignore[index]


def _kernel(body: bytes = b"\x00" * 16, item_type: int = zbi.TYPE_KERNEL_X64) -> zbi.ZbiItem:
    return zbi.make_item(item_type, body)


def test_round_trip_every_named_type() -> None:
    items = [_kernel(b"k" * 21)] + [
        zbi.make_item(t, bytes([i]) * (i + 1), extra=i, crc=bool(i % 2))
        for i, t in enumerate(sorted(set(zbi.TYPE_NAMES) - {zbi.TYPE_CONTAINER}))
        if not zbi.is_kernel_type(t)
    ]
    image = zbi.write_zbi(items)
    assert len(image) % 8 == 0
    parsed = zbi.read_zbi(image)
    assert [(i.type, i.payload, i.extra, i.flags) for i in parsed.items] == [
        (i.type, i.payload, i.extra, i.flags) for i in items]
    assert zbi.write_zbi(parsed.items) == image


def test_storage_item_zstd_round_trip() -> None:
    data = b"bootfs" * 5000
    item = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, data, compress=True)
    assert item.compressed and item.extra == len(data) and len(item.payload) < len(data)
    parsed = zbi.read_zbi(zbi.write_zbi([item])).items[0]
    assert zbi.storage_payload(parsed, source="x") == data
    plain = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, data)
    assert (plain.flags, plain.extra, zbi.storage_payload(plain)) == (
        zbi.FLAGS_VERSION | zbi.FLAGS_CRC32, len(data), data)


def _err(data: bytes) -> str:
    with pytest.raises(ImageError) as info:
        zbi.read_zbi(data, source="k.zbi")
    return str(info.value)


def _patch(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + struct.pack("<I", value) + data[offset + 4:]


GOOD = zbi.write_zbi([_kernel(), zbi.make_item(zbi.TYPE_CMDLINE, b"hello")])


def test_reader_errors_name_offset_found_and_wanted() -> None:
    assert GOOD[32 + 48:].startswith(b"CMDL")
    assert _err(GOOD[:10]) == ("k.zbi: truncated: 10 bytes, a ZBI starts with a 32-byte "
                               "container header")
    assert "type is 0x00000000, wanted 0x544f4f42" in _err(bytes(32))
    assert _err(GOOD[:-8]) == ("k.zbi: container header (byte offset 0): truncated: length "
                               "says 88 bytes of items, the file has 80 after the header")
    assert _err(_patch(GOOD, 32 + 24, 0x12345678)) == (
        "k.zbi: item 0 at byte offset 32 (KERNEL_X64): bad magic 0x12345678, wanted 0xb5781729")
    assert _err(_patch(GOOD, 80 + 4, 100)) == (
        "k.zbi: item 1 at byte offset 80 (CMDLINE): length 100 goes beyond the container "
        "(which ends at byte offset 120, 8 bytes after this header)")
    assert _err(_patch(GOOD, 4, 100)) == (
        "k.zbi: container header (byte offset 0): bad alignment: length 100 is not a multiple "
        "of 8")
    assert "bad CRC: header says 0x00000001" in _err(_patch(GOOD, 80 + 28, 1))
    assert "lack ZBI_FLAGS_VERSION" in _err(_patch(GOOD, 80 + 12, zbi.FLAGS_CRC32))
    assert "8 trailing bytes" in _err(GOOD + bytes(8))
    swapped = zbi.write_zbi([zbi.make_item(zbi.TYPE_CMDLINE, b"x"), _kernel()])
    assert _err(swapped) == (
        "k.zbi: item 1 at byte offset 72 (KERNEL_X64): kernel item not first: a bootable ZBI "
        "has its kernel item right after the container header (item 0 is CMDLINE)")


def test_bad_crc_can_be_listed_without_failing() -> None:
    bad = _patch(GOOD, 80 + 28, 1)
    assert [i.crc_status for i in zbi.read_zbi(bad, check_crc=False).items] == ["ok", "bad"]


def test_require_kernel() -> None:
    parsed = zbi.read_zbi(GOOD)
    assert zbi.require_kernel(parsed, source="k").type == zbi.TYPE_KERNEL_X64
    with pytest.raises(ImageError, match="kernel item is KERNEL_X64, wanted KERNEL_ARM64"):
        zbi.require_kernel(parsed, source="k", wanted_types=[zbi.TYPE_KERNEL_ARM64])
    short = zbi.read_zbi(zbi.write_zbi([_kernel(b"12345678")]))
    with pytest.raises(ImageError, match="kernel item payload is 8 bytes, shorter than the "
                                         "16-byte zbi_kernel_t"):
        zbi.require_kernel(short, source="k")
    with pytest.raises(ImageError, match="no kernel item: item 0 is CMDLINE"):
        zbi.require_kernel(zbi.read_zbi(zbi.write_zbi([zbi.make_item(zbi.TYPE_CMDLINE, b"")])),
                           source="k")


def test_storage_payload_errors() -> None:
    lz4 = zbi.make_item(zbi.TYPE_STORAGE_KERNEL, zbi.LZ4_FRAME_MAGIC + b"xxxx", extra=99,
                        flags=zbi.FLAGS_STORAGE_COMPRESSED)
    with pytest.raises(ImageError, match="LZ4-compressed"):
        zbi.storage_payload(lz4)
    junk = zbi.make_item(zbi.TYPE_STORAGE_BOOTFS, zbi.ZSTD_FRAME_MAGIC + b"junkjunk", extra=9,
                         flags=zbi.FLAGS_STORAGE_COMPRESSED)
    with pytest.raises(ImageError, match="does not decompress"):
        zbi.storage_payload(junk)
    big = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, bytes(1000), compress=True)
    small = zbi.ZbiItem(type=big.type, payload=big.payload, extra=10, flags=big.flags)
    with pytest.raises(ImageError, match="unpacked more than 10 bytes, extra says 10"):
        zbi.storage_payload(small)


def _read_or_image_error(data: bytes) -> None:
    try:
        parsed = zbi.read_zbi(data)
    except ImageError:
        return
    for item in parsed.items:
        try:
            zbi.storage_payload(item)
        except ImageError:
            pass


@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    _read_or_image_error(data)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=6),
       st.integers(0, len(GOOD)))
def test_fuzz_mutated_valid_image(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(GOOD)
    for at, value in flips:
        data[at] = value
    _read_or_image_error(bytes(data[:cut]))
    _read_or_image_error(bytes(data))


@given(st.lists(st.tuples(st.sampled_from(sorted(zbi.TYPE_NAMES)), st.binary(max_size=40),
                          st.integers(0, 2**32 - 1), st.booleans()), max_size=5))
def test_fuzz_round_trip(specs: list[tuple[int, bytes, int, bool]]) -> None:
    items = [zbi.make_item(t, p, extra=e, crc=c) for t, p, e, c in specs
             if not zbi.is_kernel_type(t)]
    image = zbi.write_zbi(items)
    parsed = zbi.read_zbi(image)
    assert [(i.type, i.payload, i.extra) for i in parsed.items] == [
        (i.type, i.payload, i.extra) for i in items]
