"""BOOTFS writer/reader: golden bytes from the format facts, name rules, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rig.errors import ImageError
from rig.image import bootfs

# Written by hand from zircon-facts.md section 4: header (magic, dirsize 20, 0, 0), one dirent
# (name_len 6 incl. NUL, data_len 2, data_off 4096, "bin/x\0" + 2 pad bytes), zero fill to the
# first page, then the data zero-padded to a page.
GOLDEN_ONE_FILE = (
    bytes.fromhex("f93f6da5" "14000000" "00000000" "00000000"
                  "06000000" "02000000" "00100000") + b"bin/x\0\0\0"
    + bytes(4096 - 36) + b"hi" + bytes(4094)
)


def test_write_matches_golden_bytes() -> None:
    assert bootfs.build_bootfs({"bin/x": b"hi"}) == GOLDEN_ONE_FILE


def test_read_golden_bytes() -> None:
    assert bootfs.read_bootfs(GOLDEN_ONE_FILE) == (
        bootfs.BootfsFile(name="bin/x", data=b"hi", offset=4096),)


def test_round_trip_sorted_page_aligned() -> None:
    files = {"bin/rig-test": b"\x7fELF" + bytes(5000), "a": b"", "lib/ld.so.1": b"x" * 4096,
             "zz/" + "n" * 200: b"y"}
    image = bootfs.build_bootfs(files)
    parsed = bootfs.read_bootfs(image)
    assert [(f.name, f.data, f.offset) for f in parsed] == [
        ("a", b"", 4096),
        ("bin/rig-test", files["bin/rig-test"], 4096),
        ("lib/ld.so.1", b"x" * 4096, 4096 + 8192),
        ("zz/" + "n" * 200, b"y", 4096 + 8192 + 4096),
    ]
    assert len(image) == 4096 * 5
    assert bootfs.dirent_size(2) == 16 and bootfs.dirent_size(256) == 268


@pytest.mark.parametrize(("name", "why"), [
    ("", "the name is empty"),
    ("/bin/x", "starts with '/'"),
    ("bin//x", "empty, '.' or '..' path component"),
    ("bin/../x", "empty, '.' or '..' path component"),
    ("a\0b", "NUL byte"),
    ("n" * 256, "the name is 256 bytes, at most 255 fit"),
])
def test_bad_names_are_refused(name: str, why: str) -> None:
    with pytest.raises(ImageError, match=why.replace("(", r"\(").replace(".", r"\.")):
        bootfs.build_bootfs({name: b""})


def test_duplicate_name_refused() -> None:
    with pytest.raises(ImageError, match="'bin/x': the name is given twice"):
        bootfs.build_bootfs([("bin/x", b"1"), ("bin/x", b"2")])


def _err(data: bytes) -> str:
    with pytest.raises(ImageError) as info:
        bootfs.read_bootfs(data, source="b")
    return str(info.value)


def _patch(data: bytes, offset: int, value: int) -> bytes:
    return data[:offset] + struct.pack("<I", value) + data[offset + 4:]


def test_reader_errors() -> None:
    two = bootfs.build_bootfs({"a": b"1", "b": b"2"})
    assert _err(b"\xf9\x3f") == "b: truncated BOOTFS: 2 bytes, the header is 16"
    assert _err(_patch(two, 0, 1)) == ("b: BOOTFS header (byte offset 0): bad magic 0x00000001, "
                                       "wanted 0xa56d3ff9")
    assert _err(_patch(two, 4, 90000)) == ("b: BOOTFS header: dirsize 90000 goes beyond the "
                                           "image (12272 bytes after the header)")
    assert _err(_patch(two, 4, 9000)) == (
        "b: BOOTFS dirent 0 at byte offset 16 ('a'): data_off 4096 lies inside the directory "
        "(which ends at byte offset 9016)")
    assert _err(_patch(two, 16 + 8, 100)) == ("b: BOOTFS dirent 0 at byte offset 16 ('a'): bad "
                                              "alignment: data_off 100 is not a multiple of 4096")
    assert _err(_patch(two, 16 + 4, 99999)) == (
        "b: BOOTFS dirent 0 at byte offset 16 ('a'): data [4096, 104095) goes beyond the image "
        "of 12288 bytes")
    assert _err(two[:44] + b"0" + two[45:]) == (
        "b: BOOTFS dirent 1 at byte offset 32 ('0'): dirents not sorted: '0' follows 'a'; "
        "names must ascend (bytewise), without repeats")
    assert _err(_patch(two, 16, 1)) == ("b: BOOTFS dirent 0 at byte offset 16: name_len 1, "
                                        "wanted 2..256 (the name and its NUL)")
    assert _err(_patch(two, 4, 20)) == (
        "b: BOOTFS dirent 1 at byte offset 32: truncated: 4 bytes left in the directory, a "
        "dirent's fixed fields need 12")
    assert _err(_patch(two, 4, 28)) == (
        "b: BOOTFS dirent 1 at byte offset 32: dirent of 16 bytes goes beyond the directory "
        "(dirsize 28 ends at byte offset 44)")


@given(st.binary(max_size=600))
def test_fuzz_arbitrary_bytes(data: bytes) -> None:
    try:
        bootfs.read_bootfs(data)
    except ImageError:
        pass


VALID = bootfs.build_bootfs({"a": b"1", "bin/rig-test": b"2" * 10})


@given(st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), max_size=6),
       st.integers(0, len(VALID)))
def test_fuzz_mutated_directory(flips: list[tuple[int, int]], cut: int) -> None:
    data = bytearray(VALID)
    for at, value in flips:
        data[at] = value
    for candidate in (bytes(data), bytes(data[:cut])):
        try:
            bootfs.read_bootfs(candidate)
        except ImageError:
            pass


NAME = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/"),
               min_size=1, max_size=12)


@given(st.dictionaries(st.builds(lambda a, b: f"{a}/{b}", NAME, NAME), st.binary(max_size=50),
                       max_size=6))
def test_fuzz_round_trip(files: dict[str, bytes]) -> None:
    files = {k: v for k, v in files.items() if bootfs.name_problem(k) is None}
    parsed = bootfs.read_bootfs(bootfs.build_bootfs(files))
    assert {f.name: f.data for f in parsed} == files
    assert [f.name for f in parsed] == sorted(files, key=lambda n: n.encode())
