"""ZBI container reader and writer (zircon-facts.md section 4): bytes in, bytes out.

A ZBI is a 32-byte container header followed by items, each a 32-byte header and a payload
zero-padded to 8 bytes. The reader validates every header and raises ``ImageError`` naming the
source, the item and its byte offset; on arbitrary bytes it never fails any other way.
Storage items (BOOTFS, STORAGE_KERNEL) may be compressed; ``storage_payload`` unpacks zstd.
"""

from __future__ import annotations

import logging
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rig.errors import ImageError

LOG = logging.getLogger(__name__)

HEADER_SIZE = 32
ALIGNMENT = 8
_HEADER = struct.Struct("<8I")  # type, length, extra, flags, reserved0, reserved1, magic, crc32
_DECOMPRESS_CHUNK_BYTES = 1 << 20  # zstd items are read this much at a time
# The most a storage item may unpack to. A real kernel's STORAGE_KERNEL is tens of MiB and the
# 2020 core-tests BOOTFS a few; a 32 KB item claiming 1 GiB (a decompression bomb) must cost
# neither the memory nor the disk.
MAX_UNPACKED_BYTES = 256 << 20

TYPE_CONTAINER = 0x544F4F42  # 'BOOT'
CONTAINER_MAGIC = 0x868CF7E6  # the container's `extra`
ITEM_MAGIC = 0xB5781729
FLAGS_VERSION = 0x00010000
FLAGS_CRC32 = 0x00020000
FLAGS_STORAGE_COMPRESSED = 0x00000001
ITEM_NO_CRC32 = 0x4A87E8D6

TYPE_KERNEL_X64 = 0x4C4E524B  # 'KRNL'
TYPE_KERNEL_ARM64 = 0x384E524B  # 'KRN8'
TYPE_KERNEL_RISCV64 = 0x564E524B
KERNEL_PREFIX = 0x004E524B
KERNEL_MASK = 0x00FFFFFF
KERNEL_HEADER_SIZE = 16  # zbi_kernel_t: uint64 entry, uint64 reserve_memory_size
TYPE_STORAGE_BOOTFS = 0x42534642  # 'BFSB'
TYPE_STORAGE_KERNEL = 0x5254534B  # 'KSTR'
TYPE_STORAGE_RAMDISK = 0x4B534452
TYPE_CMDLINE = 0x4C444D43  # 'CMDL'
TYPE_DISCARD = 0x50494B53  # 'SKIP'
TYPE_CRASHLOG = 0x4D4F4F42
TYPE_IMAGE_ARGS = 0x47524149
TYPE_SECURE_ENTROPY = 0x444E4152
TYPE_KERNEL_DRIVER = 0x5652444B
TYPE_DEBUGDATA = 0x44474244
# Board items a boot shim adds, or the rig for a direct boot (facts 8, rig.image.board_items).
TYPE_CPU_TOPOLOGY = 0x544F504F
TYPE_MEM_CONFIG = 0x434D454D
TYPE_NVRAM = 0x4C4C564E
TYPE_PLATFORM_ID = 0x44494C50

TYPE_NAMES: dict[int, str] = {
    TYPE_CONTAINER: "CONTAINER",
    TYPE_KERNEL_X64: "KERNEL_X64",
    TYPE_KERNEL_ARM64: "KERNEL_ARM64",
    TYPE_KERNEL_RISCV64: "KERNEL_RISCV64",
    TYPE_STORAGE_BOOTFS: "STORAGE_BOOTFS",
    TYPE_STORAGE_KERNEL: "STORAGE_KERNEL",
    TYPE_STORAGE_RAMDISK: "STORAGE_RAMDISK",
    TYPE_CMDLINE: "CMDLINE",
    TYPE_DISCARD: "DISCARD",
    TYPE_CRASHLOG: "CRASHLOG",
    TYPE_IMAGE_ARGS: "IMAGE_ARGS",
    TYPE_SECURE_ENTROPY: "SECURE_ENTROPY",
    TYPE_KERNEL_DRIVER: "KERNEL_DRIVER",
    TYPE_DEBUGDATA: "DEBUGDATA",
    TYPE_CPU_TOPOLOGY: "CPU_TOPOLOGY",
    TYPE_MEM_CONFIG: "MEM_CONFIG",
    TYPE_NVRAM: "NVRAM",
    TYPE_PLATFORM_ID: "PLATFORM_ID",
}
STORAGE_TYPES = frozenset({TYPE_STORAGE_BOOTFS, TYPE_STORAGE_KERNEL, TYPE_STORAGE_RAMDISK})

# Compressed storage payloads say their format in their first bytes (zbi.h "storage" note).
ZSTD_FRAME_MAGIC = b"\x28\xb5\x2f\xfd"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"


def type_name(item_type: int) -> str:
    """The facts' name for a type, or its hex value with its four ASCII letters when printable."""
    if item_type in TYPE_NAMES:
        return TYPE_NAMES[item_type]
    raw = item_type.to_bytes(4, "little")
    letters = raw.decode("ascii") if all(0x20 < b < 0x7F for b in raw) else "?"
    return f"0x{item_type:08x}({letters})"


def is_kernel_type(item_type: int) -> bool:
    return (item_type & KERNEL_MASK) == KERNEL_PREFIX


def align(n: int, to: int = ALIGNMENT) -> int:
    return (n + to - 1) // to * to


@dataclass(frozen=True)
class ZbiItem:
    """One item. ``flags`` never needs FLAGS_VERSION (the writer adds it); ``crc32`` is as read."""

    type: int
    payload: bytes
    extra: int = 0
    flags: int = FLAGS_VERSION
    crc32: int = ITEM_NO_CRC32
    offset: int | None = None  # byte offset of the header in the image it was read from

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    @property
    def has_crc(self) -> bool:
        return bool(self.flags & FLAGS_CRC32)

    @property
    def compressed(self) -> bool:
        return self.type in STORAGE_TYPES and bool(self.flags & FLAGS_STORAGE_COMPRESSED)

    def header_bytes(self, crc32: int) -> bytes:
        return _HEADER.pack(self.type, len(self.payload), self.extra,
                            self.flags | FLAGS_VERSION, 0, 0, ITEM_MAGIC, crc32)

    def computed_crc32(self) -> int:
        """CRC-32 over the header with crc32 = 0, then the payload (facts section 4)."""
        return zlib.crc32(self.payload, zlib.crc32(self.header_bytes(0))) & 0xFFFFFFFF

    @property
    def crc_status(self) -> str:
        """``none`` (no CRC flag), ``ok`` or ``bad``, from the crc32 field as read."""
        if not self.has_crc:
            return "none"
        return "ok" if self.crc32 == self.computed_crc32() else "bad"


@dataclass(frozen=True)
class Zbi:
    items: tuple[ZbiItem, ...]

    def first(self, item_type: int) -> ZbiItem | None:
        return next((i for i in self.items if i.type == item_type), None)

    def of_type(self, item_type: int) -> tuple[ZbiItem, ...]:
        return tuple(i for i in self.items if i.type == item_type)

    @property
    def kernel(self) -> ZbiItem | None:
        return self.items[0] if self.items and is_kernel_type(self.items[0].type) else None


def make_item(item_type: int, payload: bytes, *, extra: int = 0, flags: int = 0,
              crc: bool = True) -> ZbiItem:
    """An item ready to write; with ``crc`` the writer fills in its CRC-32."""
    flags |= FLAGS_VERSION | (FLAGS_CRC32 if crc else 0)
    return ZbiItem(type=item_type, payload=bytes(payload), extra=extra, flags=flags)


def cmdline_item(text: str) -> ZbiItem:
    """A CMDLINE item: UTF-8, NUL-terminated like the real images' (the fixture's ends in NUL)."""
    return make_item(TYPE_CMDLINE, text.encode("utf-8") + b"\0")


def storage_item(item_type: int, data: bytes, *, compress: bool = False) -> ZbiItem:
    """A storage item: ``extra`` is the unpacked size; ``compress`` packs it with zstd."""
    if not compress:
        return make_item(item_type, data, extra=len(data))
    import zstandard  # optional: only compressed items need it

    packed = zstandard.ZstdCompressor(level=19, write_content_size=True).compress(data)
    return make_item(item_type, packed, extra=len(data), flags=FLAGS_STORAGE_COMPRESSED)


def write_zbi(items: Iterable[ZbiItem]) -> bytes:
    """Serialise items into a container; CRCs are computed for items whose flags ask for one."""
    body = bytearray()
    for item in items:
        crc = item.computed_crc32() if item.has_crc else ITEM_NO_CRC32
        body += item.header_bytes(crc)
        body += item.payload
        body += bytes(align(len(item.payload)) - len(item.payload))
    header = _HEADER.pack(TYPE_CONTAINER, len(body), CONTAINER_MAGIC, FLAGS_VERSION, 0, 0,
                          ITEM_MAGIC, ITEM_NO_CRC32)
    return header + bytes(body)


def read_zbi(data: bytes, *, source: str = "<zbi>", check_crc: bool = True) -> Zbi:
    """Parse and validate a whole ZBI.

    Checks the container header, every item header (magic, version flag, the crc32 field, the
    length against the container), 8-byte alignment, that a kernel item is first if present, and
    (with ``check_crc``) each item's CRC-32.

    :raises ImageError: naming ``source``, the item index and byte offset, found versus wanted.
    """
    data = bytes(data)
    if len(data) < HEADER_SIZE:
        raise ImageError(f"{source}: truncated: {len(data)} bytes, a ZBI starts with a "
                         f"{HEADER_SIZE}-byte container header")
    ctype, clen, cextra, cflags, _r0, _r1, cmagic, _ccrc = _HEADER.unpack_from(data, 0)
    where = f"{source}: container header (byte offset 0)"
    if ctype != TYPE_CONTAINER:
        raise ImageError(f"{where}: type is 0x{ctype:08x}, wanted 0x{TYPE_CONTAINER:08x} "
                         "(ZBI_TYPE_CONTAINER 'BOOT'); is this a ZBI? (a boot shim or a "
                         "shim+kernel concatenation is not)")
    if cextra != CONTAINER_MAGIC:
        raise ImageError(f"{where}: extra is 0x{cextra:08x}, wanted ZBI_CONTAINER_MAGIC "
                         f"0x{CONTAINER_MAGIC:08x}")
    if cmagic != ITEM_MAGIC:
        raise ImageError(f"{where}: magic is 0x{cmagic:08x}, wanted 0x{ITEM_MAGIC:08x}")
    if not cflags & FLAGS_VERSION:
        raise ImageError(f"{where}: flags 0x{cflags:08x} lack ZBI_FLAGS_VERSION "
                         f"0x{FLAGS_VERSION:08x}")
    if clen % ALIGNMENT:
        raise ImageError(f"{where}: bad alignment: length {clen} is not a multiple of "
                         f"{ALIGNMENT}")
    end = HEADER_SIZE + clen
    if end > len(data):
        raise ImageError(f"{where}: truncated: length says {clen} bytes of items, the file has "
                         f"{len(data) - HEADER_SIZE} after the header")
    if end < len(data):
        raise ImageError(f"{source}: {len(data) - end} trailing bytes after the container "
                         f"(byte offset {end}); the container length is {clen}")
    items: list[ZbiItem] = []
    offset = HEADER_SIZE
    while offset < end:
        index = len(items)
        where = f"{source}: item {index} at byte offset {offset}"
        if end - offset < HEADER_SIZE:
            raise ImageError(f"{where}: truncated item header: {end - offset} bytes left in the "
                             f"container, a header is {HEADER_SIZE}")
        itype, ilen, iextra, iflags, _r0, _r1, imagic, icrc = _HEADER.unpack_from(data, offset)
        where += f" ({type_name(itype)})"
        if imagic != ITEM_MAGIC:
            raise ImageError(f"{where}: bad magic 0x{imagic:08x}, wanted 0x{ITEM_MAGIC:08x}")
        if not iflags & FLAGS_VERSION:
            raise ImageError(f"{where}: flags 0x{iflags:08x} lack ZBI_FLAGS_VERSION "
                             f"0x{FLAGS_VERSION:08x}")
        payload_at = offset + HEADER_SIZE
        if ilen > end - payload_at:
            raise ImageError(f"{where}: length {ilen} goes beyond the container (which ends at "
                             f"byte offset {end}, {end - payload_at} bytes after this header)")
        # Offsets are 8-aligned and so is `end`, so the padded payload fits when `ilen` does.
        padded = align(ilen)
        if not iflags & FLAGS_CRC32 and icrc != ITEM_NO_CRC32:
            raise ImageError(f"{where}: crc32 field is 0x{icrc:08x} without ZBI_FLAGS_CRC32; "
                             f"wanted ZBI_ITEM_NO_CRC32 0x{ITEM_NO_CRC32:08x}")
        item = ZbiItem(type=itype, payload=data[payload_at:payload_at + ilen], extra=iextra,
                       flags=iflags, crc32=icrc, offset=offset)
        if check_crc and item.crc_status == "bad":
            raise ImageError(f"{where}: bad CRC: header says 0x{icrc:08x}, header+payload "
                             f"give 0x{item.computed_crc32():08x}")
        if is_kernel_type(itype) and index != 0:
            raise ImageError(f"{where}: kernel item not first: a bootable ZBI has its kernel "
                             f"item right after the container header (item 0 is "
                             f"{items[0].type_name})")
        items.append(item)
        offset = payload_at + padded
    return Zbi(items=tuple(items))


def require_kernel(zbi: Zbi, *, source: str, wanted_types: Sequence[int] = ()) -> ZbiItem:
    """The kernel item (item 0) of a kernel ZBI.

    :raises ImageError: when item 0 is not a kernel item or not of a wanted type.
    """
    kernel = zbi.kernel
    if kernel is None:
        first = zbi.items[0].type_name if zbi.items else "nothing (empty container)"
        raise ImageError(f"{source}: no kernel item: item 0 is {first}, wanted a KERNEL_* item; "
                         "pass the kernel ZBI (e.g. kernel.zbi or zircon-a from the build), "
                         "not a boot shim or a BOOTFS-only image")
    if len(kernel.payload) < KERNEL_HEADER_SIZE:
        raise ImageError(f"{source}: kernel item payload is {len(kernel.payload)} bytes, shorter "
                         f"than the {KERNEL_HEADER_SIZE}-byte zbi_kernel_t (entry, "
                         "reserve_memory_size) it starts with")
    if wanted_types and kernel.type not in wanted_types:
        wanted = " or ".join(type_name(t) for t in wanted_types)
        raise ImageError(f"{source}: kernel item is {kernel.type_name}, wanted {wanted} for "
                         "this arch; pass a kernel built for the --arch you asked for")
    return kernel


def storage_payload(item: ZbiItem, *, source: str = "<zbi>",
                    limit_bytes: int = MAX_UNPACKED_BYTES) -> bytes:
    """The unpacked payload of a storage item (zstd when compressed), checked against ``extra``.

    :raises ImageError: for an unknown or broken compression, a size other than ``extra``, or
        an ``extra`` above ``limit_bytes`` (refused before anything is unpacked).
    """
    where = f"{source}: item at byte offset {item.offset} ({item.type_name})"
    if item.compressed and item.extra > limit_bytes:
        raise ImageError(f"{where}: claims {item.extra} bytes unpacked from "
                         f"{len(item.payload)}, more than the rig unpacks "
                         f"({limit_bytes} bytes); not unpacked")
    if not item.compressed:
        if item.type in STORAGE_TYPES and item.extra != len(item.payload):
            raise ImageError(f"{where}: uncompressed storage item with extra {item.extra}, "
                             f"wanted its length {len(item.payload)}")
        return item.payload
    head = item.payload[:4]
    if head == LZ4_FRAME_MAGIC:
        raise ImageError(f"{where}: payload is LZ4-compressed (an older kernel's format); only "
                         "zstd is supported: repack it with `zbi --compressed=zstd`")
    if head != ZSTD_FRAME_MAGIC:
        raise ImageError(f"{where}: compressed payload starts with {head.hex()}, wanted the zstd "
                         f"frame magic {ZSTD_FRAME_MAGIC.hex()}")
    import zstandard  # optional: only compressed items need it

    # Read at most extra+1 bytes so a bad `extra` or a decompression bomb costs nothing.
    chunks: list[bytes] = []
    size = 0
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(item.payload,
                                                            read_across_frames=True)
        with reader:
            while size <= item.extra:
                chunk = reader.read(min(_DECOMPRESS_CHUNK_BYTES, item.extra + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except zstandard.ZstdError as exc:
        raise ImageError(f"{where}: zstd payload does not decompress: {exc}") from exc
    out = b"".join(chunks)
    if len(out) != item.extra:
        got = f"more than {item.extra}" if len(out) > item.extra else str(len(out))
        raise ImageError(f"{where}: unpacked {got} bytes, extra says {item.extra}")
    return out
