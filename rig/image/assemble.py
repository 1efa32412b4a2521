"""Boot image assembly and listing: kernel ZBI + our BOOTFS + our CMDLINE (bytes in, bytes out).

userboot starts programs from the FIRST STORAGE_BOOTFS item (zircon-facts.md 4, measured in 7),
so our BOOTFS goes right before the kernel ZBI's own BOOTFS when it has one (a full bringup
image), else after its items. Our CMDLINE item goes last: CMDLINE items are read in order and a
later word overrides an earlier one, so our words win over the image's own.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rig.errors import ImageError
from rig.image import bootfs, zbi

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Assembly:
    data: bytes
    kernel_type: str
    notes: tuple[str, ...]  # what the assembly did beyond the plain case, for the user


def assemble_image(kernel_zbi: bytes, files: Mapping[str, bytes], cmdline: Sequence[str], *,
                   source: str = "<kernel zbi>", kernel_item_type: int | None = None,
                   compress_bootfs: bool = False) -> Assembly:
    """A bootable image: the kernel ZBI's items with our BOOTFS and CMDLINE added.

    :raises ImageError: when the kernel ZBI is malformed, has no kernel item first, or is for
        another arch (``kernel_item_type``); or when a file name is bad.
    """
    kernel = zbi.read_zbi(kernel_zbi, source=source)
    wanted = [kernel_item_type] if kernel_item_type is not None else []
    kernel_item = zbi.require_kernel(kernel, source=source, wanted_types=wanted)
    ours = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, bootfs.build_bootfs(files),
                            compress=compress_bootfs)
    items = list(kernel.items)
    theirs = [i for i, item in enumerate(items) if item.type == zbi.TYPE_STORAGE_BOOTFS]
    notes: list[str] = []
    if theirs:
        items.insert(theirs[0], ours)
        notes.append(f"{source} has {len(theirs)} BOOTFS item(s) of its own; ours is placed "
                     f"before them (item {theirs[0]}) because userboot uses the first")
    else:
        items.append(ours)
    for item in kernel.of_type(zbi.TYPE_CMDLINE):
        text = item.payload.rstrip(b"\0").decode("utf-8", "replace")
        theirs_userboot = [w for w in text.split() if w.startswith("userboot")]
        if theirs_userboot:
            notes.append(f"{source} has its own CMDLINE with {' '.join(theirs_userboot)}; ours "
                         "comes after it, and the later word wins")
    items.append(zbi.cmdline_item(" ".join(cmdline)))
    return Assembly(data=zbi.write_zbi(items), kernel_type=kernel_item.type_name,
                    notes=tuple(notes))


@dataclass(frozen=True)
class ListedFile:
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ListedItem:
    index: int
    offset: int
    type_name: str
    length: int
    extra: int
    flags: int
    crc: str  # none / ok / bad
    files: tuple[ListedFile, ...] | None = None  # BOOTFS items
    text: str | None = None  # CMDLINE items
    problem: str | None = None  # e.g. a BOOTFS that does not parse


def list_image(data: bytes, *, source: str = "<zbi>") -> tuple[ListedItem, ...]:
    """Every item, with BOOTFS files and CMDLINE text. A bad CRC or a bad BOOTFS is listed,
    not raised, so a broken image can be looked at.

    :raises ImageError: when the container itself does not parse.
    """
    parsed = zbi.read_zbi(data, source=source, check_crc=False)
    out = []
    for index, item in enumerate(parsed.items):
        files: tuple[ListedFile, ...] | None = None
        text = problem = None
        if item.type == zbi.TYPE_STORAGE_BOOTFS:
            try:
                found = bootfs.read_bootfs(zbi.storage_payload(item, source=source),
                                           source=f"{source} item {index}")
                files = tuple(ListedFile(f.name, len(f.data),
                                         hashlib.sha256(f.data).hexdigest()) for f in found)
            except ImageError as exc:
                problem = str(exc)
        elif item.type == zbi.TYPE_CMDLINE:
            text = item.payload.rstrip(b"\0").decode("utf-8", "replace")
        out.append(ListedItem(index=index, offset=item.offset or 0, type_name=item.type_name,
                              length=len(item.payload), extra=item.extra, flags=item.flags,
                              crc=item.crc_status, files=files, text=text, problem=problem))
    return tuple(out)


def render_listing(items: Sequence[ListedItem], *, source: str, size: int) -> str:
    """The text ``rig zbi inspect`` prints."""
    lines = [f"{source}: ZBI, {size} bytes, {len(items)} items",
             f"{'#':>3}  {'offset':>8}  {'type':<16}{'length':>9}  {'extra':>9}  "
             f"{'flags':<10}  crc"]
    for it in items:
        lines.append(f"{it.index:>3}  {it.offset:>8}  {it.type_name:<16}{it.length:>9}  "
                     f"{it.extra:>9}  0x{it.flags:08x}  {it.crc}")
    for it in items:
        if it.files is not None:
            lines.append(f"BOOTFS (item {it.index}): {len(it.files)} files")
            lines += [f"  {f.name}  {f.size} bytes  sha256 {f.sha256}" for f in it.files]
        if it.problem is not None:
            lines.append(f"BOOTFS (item {it.index}): unreadable: {it.problem}")
        if it.text is not None:
            lines.append(f"CMDLINE (item {it.index}): {it.text}")
    return "\n".join(lines) + "\n"


def _file_stem(index: int, item: zbi.ZbiItem) -> str:
    """``NN-TYPE``: the type's name when it has one, else its hex value (never the raw type
    bytes, which may hold '/' or '..')."""
    name = zbi.TYPE_NAMES.get(item.type, f"0x{item.type:08x}")
    return f"{index:02d}-{name}"


def extract_image(data: bytes, *, source: str = "<zbi>") -> dict[str, bytes]:
    """Files to write for ``rig zbi extract``: each item's payload as ``NN-TYPE.bin`` (CMDLINE
    as ``.txt``, storage items unpacked), BOOTFS files under ``NN-STORAGE_BOOTFS/``. Every
    path is checked before anything is written: no two name the same file, and no file is
    also a directory of another (a BOOTFS holding both ``a`` and ``a/b``).

    :raises ImageError: when the image or one of its storage items does not parse, or paths
        collide.
    """
    parsed = zbi.read_zbi(data, source=source, check_crc=False)
    out: dict[str, bytes] = {}
    for index, item in enumerate(parsed.items):
        stem = _file_stem(index, item)
        if item.type == zbi.TYPE_CMDLINE:
            out[f"{stem}.txt"] = item.payload.rstrip(b"\0")
            continue
        payload = zbi.storage_payload(item, source=source) if item.compressed else item.payload
        out[f"{stem}.bin"] = payload
        if item.type == zbi.TYPE_STORAGE_BOOTFS:
            for f in bootfs.read_bootfs(payload, source=f"{source} item {index}"):
                rel = f"{stem}/{f.name}"
                if rel in out:
                    raise ImageError(f"{source}: item {index}: BOOTFS names {f.name!r} twice")
                out[rel] = f.data
    dirs = {"/".join(rel.split("/")[:i]) for rel in out for i in range(1, rel.count("/") + 1)}
    clash = sorted(dirs & set(out))
    if clash:
        raise ImageError(f"{source}: {clash[0]!r} would be both a file and a directory (a "
                         "BOOTFS holding both a and a/b); nothing was written")
    return out


def with_cmdline(image: bytes, cmdline: Sequence[str], *, source: str = "<image>") -> bytes:
    """The same image with its last CMDLINE item (the one `assemble_image` appended) replaced.

    The runner's reboots use it: a fresh nonce and `rig.start=<k>` without rebuilding.

    :raises ImageError: the image is malformed or has no CMDLINE item.
    """
    items = list(zbi.read_zbi(image, source=source).items)
    last = max((i for i, item in enumerate(items) if item.type == zbi.TYPE_CMDLINE),
               default=None)
    if last is None:
        raise ImageError(f"{source}: no CMDLINE item to replace; rebuild with `rig build`")
    items[last] = zbi.cmdline_item(" ".join(cmdline))
    return zbi.write_zbi(items)
