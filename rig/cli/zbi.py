"""`rig zbi inspect|extract IMAGE`: list or unpack a ZBI's items, BOOTFS files and CMDLINE."""

from __future__ import annotations

import argparse
from pathlib import Path

from rig.errors import EXIT_OK, ImageError, InputError
from rig.image import assemble as image
from rig.image import board_items, direct_boot


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("zbi", help="inspect or extract a ZBI boot image",
                       description="Look inside a ZBI: items (type, size, flags, CRC status), "
                       "BOOTFS files and the CMDLINE text.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    inspect = verbs.add_parser("inspect", help="list items, BOOTFS files and CMDLINE text")
    inspect.add_argument("image", type=Path, metavar="IMAGE")
    inspect.set_defaults(func=run_inspect)
    extract = verbs.add_parser("extract", help="write every item, BOOTFS file and CMDLINE out")
    extract.add_argument("image", type=Path, metavar="IMAGE")
    extract.add_argument("dir", type=Path, metavar="DIR")
    extract.set_defaults(func=run_extract)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read: {exc}") from exc


def run_inspect(args: argparse.Namespace) -> int:
    paths = [args.image]
    if args.image.is_dir():  # a build directory's direct-boot set
        found = {n: _read(args.image / n) for n in direct_boot.FILES
                 if (args.image / n).is_file()}
        print(direct_boot.render_set(found, source=str(args.image)), end="")
        paths = [args.image / direct_boot.KERNEL_FILE, args.image / direct_boot.DATA_FILE]
    for path in paths:
        data = _read(path)
        items = image.list_image(data, source=str(path))
        print(image.render_listing(items, source=str(path), size=len(data)), end="")
        print(board_items.render_board_items(data, source=str(path)), end="")
    return EXIT_OK


def run_extract(args: argparse.Namespace) -> int:
    files = image.extract_image(_read(args.image), source=str(args.image))
    out: Path = args.dir
    # Only into a new or empty directory: nothing of the user's is overwritten, and no symlink
    # already in DIR can lead a write elsewhere.
    try:
        if out.exists() or out.is_symlink():
            if not out.is_dir():
                raise InputError(f"{out}: exists and is not a directory; give a new or empty "
                                 "directory to extract into")
            if any(out.iterdir()):
                raise InputError(f"{out}: not empty; give a new or empty directory to extract "
                                 "into (nothing was written)")
        out.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            dest = out / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            with dest.open("xb") as f:  # x: never through a file that appeared meanwhile
                f.write(data)
    except OSError as exc:
        where = exc.filename or out
        raise InputError(f"{where}: cannot write: {exc.strerror or exc}") from exc
    print(f"{args.image}: wrote {len(files)} files to {out}")
    return EXIT_OK
