"""BOOTFS image writer and reader (zircon-facts.md section 4): bytes in, bytes out.

Layout: a 16-byte header (magic, dirsize, two reserved zeros), then dirents sorted by name
(``name_len`` incl. NUL, ``data_len``, ``data_off``, the name, padded to 4 bytes), then each
file's data at a page-aligned offset, zero-padded to a whole page.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rig.errors import ImageError

LOG = logging.getLogger(__name__)

BOOTFS_MAGIC = 0xA56D3FF9
PAGE_SIZE = 4096  # ZBI_BOOTFS_PAGE_SIZE
HEADER_SIZE = 16
DIRENT_SIZE = 12  # without the name
MAX_NAME_LEN = 256  # name_len, including the NUL
_HEADER = struct.Struct("<4I")
_DIRENT = struct.Struct("<3I")


def _page_align(n: int) -> int:
    return (n + PAGE_SIZE - 1) // PAGE_SIZE * PAGE_SIZE


def dirent_size(name_len: int) -> int:
    """Bytes of one dirent whose ``name_len`` counts the NUL: 12 + name, padded to 4."""
    return (DIRENT_SIZE + name_len + 3) & ~3


@dataclass(frozen=True)
class BootfsFile:
    name: str
    data: bytes
    offset: int = 0  # data_off in the image it was read from (0 before writing)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a BOOTFS name, or None.

    The format's rules: 1..255 bytes of UTF-8 (name_len counts a NUL, at most 256), no NUL
    inside, no leading ``/``. Ours on top, so userboot's path lookup finds the file: no empty,
    ``.`` or ``..`` path components.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if not raw:
        return "the name is empty"
    if len(raw) + 1 > MAX_NAME_LEN:
        return f"the name is {len(raw)} bytes, at most {MAX_NAME_LEN - 1} fit (name_len <= 256)"
    if b"\0" in raw:
        return "the name contains a NUL byte"
    if raw.startswith(b"/"):
        return "the name starts with '/' (BOOTFS names are relative, e.g. bin/rig-test)"
    if any(part in (b"", b".", b"..") for part in raw.split(b"/")):
        return "the name has an empty, '.' or '..' path component"
    return None


def build_bootfs(files: Mapping[str, bytes] | Iterable[tuple[str, bytes]]) -> bytes:
    """A BOOTFS image holding ``files`` (dirents sorted by the names' bytes).

    :raises ImageError: for a bad or repeated name.
    """
    pairs = list(files.items()) if isinstance(files, Mapping) else list(files)
    seen: set[bytes] = set()
    entries: list[tuple[bytes, bytes]] = []
    for name, data in pairs:
        problem = name_problem(name)
        if problem is not None:
            raise ImageError(f"BOOTFS file {name!r}: {problem}")
        raw = name.encode("utf-8")
        if raw in seen:
            raise ImageError(f"BOOTFS file {name!r}: the name is given twice")
        seen.add(raw)
        entries.append((raw, bytes(data)))
    entries.sort(key=lambda e: e[0])
    dirsize = sum(dirent_size(len(raw) + 1) for raw, _ in entries)
    offset = _page_align(HEADER_SIZE + dirsize)
    directory = bytearray(_HEADER.pack(BOOTFS_MAGIC, dirsize, 0, 0))
    blobs: list[bytes] = []
    for raw, data in entries:
        start = len(directory)
        directory += _DIRENT.pack(len(raw) + 1, len(data), offset)
        directory += raw + b"\0"
        directory += bytes(start + dirent_size(len(raw) + 1) - len(directory))
        padded = _page_align(len(data))
        blobs.append(data + bytes(padded - len(data)))
        offset += padded
    head = bytes(directory) + bytes(_page_align(len(directory)) - len(directory))
    return head + b"".join(blobs)


def read_bootfs(data: bytes, *, source: str = "<bootfs>") -> tuple[BootfsFile, ...]:
    """Parse and validate a BOOTFS image (already unpacked from its ZBI item).

    :raises ImageError: naming ``source``, the dirent index and byte offset, found versus wanted.
    """
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise ImageError(f"{source}: truncated BOOTFS: {len(data)} bytes, the header is "
                         f"{HEADER_SIZE}")
    magic, dirsize, r0, r1 = _HEADER.unpack_from(data, 0)
    if magic != BOOTFS_MAGIC:
        raise ImageError(f"{source}: BOOTFS header (byte offset 0): bad magic 0x{magic:08x}, "
                         f"wanted 0x{BOOTFS_MAGIC:08x}")
    if r0 or r1:
        raise ImageError(f"{source}: BOOTFS header: reserved fields are {r0}, {r1}, wanted 0, 0")
    dir_end = HEADER_SIZE + dirsize
    if dir_end > len(data):
        raise ImageError(f"{source}: BOOTFS header: dirsize {dirsize} goes beyond the image "
                         f"({len(data) - HEADER_SIZE} bytes after the header)")
    files: list[BootfsFile] = []
    prev: bytes | None = None
    offset = HEADER_SIZE
    while offset < dir_end:
        where = f"{source}: BOOTFS dirent {len(files)} at byte offset {offset}"
        if dir_end - offset < DIRENT_SIZE:
            raise ImageError(f"{where}: truncated: {dir_end - offset} bytes left in the "
                             f"directory, a dirent's fixed fields need {DIRENT_SIZE}")
        name_len, data_len, data_off = _DIRENT.unpack_from(data, offset)
        if not 1 < name_len <= MAX_NAME_LEN:
            raise ImageError(f"{where}: name_len {name_len}, wanted 2..{MAX_NAME_LEN} "
                             "(the name and its NUL)")
        size = dirent_size(name_len)
        if size > dir_end - offset:
            raise ImageError(f"{where}: dirent of {size} bytes goes beyond the directory "
                             f"(dirsize {dirsize} ends at byte offset {dir_end})")
        raw = data[offset + DIRENT_SIZE:offset + DIRENT_SIZE + name_len]
        if raw[-1] != 0 or b"\0" in raw[:-1]:
            raise ImageError(f"{where}: the name is not {name_len - 1} bytes followed by one NUL")
        raw = raw[:-1]
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ImageError(f"{where}: the name {raw!r} is not UTF-8: {exc}") from exc
        where += f" ({name!r})"
        problem = name_problem(name)
        if problem is not None:
            raise ImageError(f"{where}: {problem}")
        if prev is not None and raw <= prev:
            raise ImageError(f"{where}: dirents not sorted: {name!r} follows "
                             f"{prev.decode('utf-8')!r}; names must ascend (bytewise), "
                             "without repeats")
        if data_off % PAGE_SIZE:
            raise ImageError(f"{where}: bad alignment: data_off {data_off} is not a multiple "
                             f"of {PAGE_SIZE}")
        if data_len and data_off < dir_end:
            raise ImageError(f"{where}: data_off {data_off} lies inside the directory (which "
                             f"ends at byte offset {dir_end})")
        if data_off + data_len > len(data):
            raise ImageError(f"{where}: data [{data_off}, {data_off + data_len}) goes beyond "
                             f"the image of {len(data)} bytes")
        files.append(BootfsFile(name=name, data=data[data_off:data_off + data_len],
                                offset=data_off))
        prev = raw
        offset += size
    return tuple(files)
