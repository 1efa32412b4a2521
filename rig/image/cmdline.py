"""Kernel command lines by era: detect a kernel's era from its own strings, then build the words.

The words and the detection rules are data (``images/cmdline.yaml``, from zircon-facts.md
section 3.5). Detection searches the kernel item and, when present, the unpacked STORAGE_KERNEL
item for each era's marker strings, newest era first.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig import resources
from rig.errors import BoardError, ImageError, InputError
from rig.image import zbi
from rig.judge.protocol import NONCE_RE

LOG = logging.getLogger(__name__)

PROGRAM_PATH = "bin/rig-test"
# The kernel keeps its command line as NUL-terminated words plus a final NUL in at most this
# many bytes (zircon/kernel/lib/cmdline/include/lib/cmdline.h, Cmdline::kCmdlineMax; userboot's
# bootstrap message carrying the words has the same kCmdlineMax): every CMDLINE item counts,
# the kernel image's own included. Past it the image boots with no output at all.
KERNEL_CMDLINE_MAX = 4096
# Words the rig passes to its own program (rig.nonce, rig.output, rig.start, ...): a user's
# word of that name would override the rig's and make every result INCOMPLETE.
RESERVED_PREFIX = "rig."
# ... except the sim kernel's own words (rig.sim.fault=..., docs/sim.md): the sim reads them,
# the program never does, and the runner's and reproducers' tests plant faults with them.
SIM_PREFIX = "rig.sim."
UNKNOWN = "unknown"
OUTPUTS = ("debuglog", "debug-write")


@dataclass(frozen=True)
class Word:
    word: str
    source: str


@dataclass(frozen=True)
class Era:
    name: str
    years: str
    userboot: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class DetectRule:
    era: str
    all: tuple[str, ...]


@dataclass(frozen=True)
class CmdlineTable:
    path: str
    eras: dict[str, Era]
    fallback: Era
    detect: tuple[DetectRule, ...]
    no_marker_era: str
    vdso_next_option_string: str
    vdso_next_eras: frozenset[str]
    always: tuple[Word, ...]
    vdso_next: tuple[Word, ...]
    debug_write: tuple[Word, ...]


@dataclass(frozen=True)
class EraDetection:
    """The era (``A``..``I`` or ``unknown``), why, and whether the kernel has the vDSO option."""

    era: str
    reason: str
    vdso_next_option: bool


def _words(raw: Any, key: str, path: str) -> tuple[Word, ...]:
    if not isinstance(raw, list):
        raise BoardError(f"{path}: {key} must be a list of {{word, source}}")
    out = []
    for i, entry in enumerate(raw):
        if (not isinstance(entry, dict) or set(entry) != {"word", "source"}
                or not all(isinstance(v, str) for v in entry.values())):
            raise BoardError(f"{path}: {key}[{i}] is {entry!r}, wanted {{word: str, source: str}}")
        out.append(Word(entry["word"], entry["source"]))
    return tuple(out)


def _era(name: str, raw: Any, path: str) -> Era:
    if (not isinstance(raw, dict) or not set(raw) <= {"years", "userboot", "source"}
            or not isinstance(raw.get("userboot"), list) or "source" not in raw):
        raise BoardError(f"{path}: era {name}: wanted a mapping with userboot (a list), source "
                         f"and optional years; found {raw!r}")
    return Era(name=name, years=str(raw.get("years", "")),
               userboot=tuple(str(w) for w in raw["userboot"]), source=str(raw["source"]))


def parse_table(text: str, path: str) -> CmdlineTable:
    """Parse the era table.

    :raises BoardError: naming the file and key.
    """
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BoardError(f"{path}: not valid YAML: {exc}") from exc
    keys = {"eras", "fallback", "detect", "no_marker_era", "vdso_next_option_string",
            "vdso_next_eras", "always", "vdso_next", "debug_write"}
    if not isinstance(raw, dict):
        raise BoardError(f"{path}: wanted a mapping of {sorted(keys)}")
    if set(raw) != keys:
        extra, missing = sorted(set(raw) - keys), sorted(keys - set(raw))
        raise BoardError(f"{path}: unknown keys {extra}, missing keys {missing}")
    if not isinstance(raw["eras"], dict):
        raise BoardError(f"{path}: eras must be a mapping of era name to its words")
    eras = {str(k): _era(str(k), v, path) for k, v in raw["eras"].items()}
    rules = []
    for i, rule in enumerate(raw["detect"] or []):
        if (not isinstance(rule, dict) or set(rule) != {"era", "all"}
                or rule["era"] not in eras or not isinstance(rule["all"], list)):
            raise BoardError(f"{path}: detect[{i}] is {rule!r}, wanted {{era: one of "
                             f"{sorted(eras)}, all: [strings]}}")
        rules.append(DetectRule(era=rule["era"], all=tuple(str(s) for s in rule["all"])))
    for key in ("no_marker_era",):
        if raw[key] not in eras:
            raise BoardError(f"{path}: {key} is {raw[key]!r}, wanted one of {sorted(eras)}")
    bad = [e for e in raw["vdso_next_eras"] or [] if e not in eras]
    if bad:
        raise BoardError(f"{path}: vdso_next_eras names unknown eras {bad}")
    return CmdlineTable(
        path=path, eras=eras, fallback=_era("fallback", raw["fallback"], path),
        detect=tuple(rules), no_marker_era=raw["no_marker_era"],
        vdso_next_option_string=str(raw["vdso_next_option_string"]),
        vdso_next_eras=frozenset(raw["vdso_next_eras"] or []),
        always=_words(raw["always"], "always", path),
        vdso_next=_words(raw["vdso_next"], "vdso_next", path),
        debug_write=_words(raw["debug_write"], "debug_write", path),
    )


def table_path() -> Path:
    return resources.images_dir() / "cmdline.yaml"


def load_table(path: Path | None = None) -> CmdlineTable:
    """Read ``images/cmdline.yaml`` (cached per path).

    :raises BoardError: when it is unreadable or invalid.
    """
    return _load_table(path or table_path())


@functools.cache
def _load_table(path: Path) -> CmdlineTable:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{path}: cannot read the kernel command-line table: {exc}") from exc
    return parse_table(text, str(path))


def known_eras(table: CmdlineTable | None = None) -> list[str]:
    table = table or load_table()
    return sorted(table.eras) + [UNKNOWN]


def detect_era(kernel_zbi_bytes: bytes, *, source: str = "<kernel zbi>",
               table: CmdlineTable | None = None) -> EraDetection:
    """The kernel's era from the strings in its kernel item and unpacked STORAGE_KERNEL item.

    An unpackable STORAGE_KERNEL item makes the era ``unknown``, saying why.

    :raises ImageError: when the bytes are not a kernel ZBI.
    """
    table = table or load_table()
    image = zbi.read_zbi(kernel_zbi_bytes, source=source)
    kernel = zbi.require_kernel(image, source=source)
    blobs = [(f"the kernel item ({kernel.type_name})", kernel.payload)]
    storage = image.first(zbi.TYPE_STORAGE_KERNEL)
    if storage is not None:
        try:
            blobs.append((f"the STORAGE_KERNEL item (unpacked, {storage.extra} bytes)",
                          zbi.storage_payload(storage, source=source)))
        except ImageError as exc:
            return EraDetection(
                era=UNKNOWN, vdso_next_option=False,
                reason=f"cannot search the kernel: its STORAGE_KERNEL item does not unpack "
                       f"({exc}); using the run-everywhere words")
    has_vdso_option = any(table.vdso_next_option_string.encode() in b for _, b in blobs)
    for rule in table.detect:
        for where, blob in blobs:
            if all(s.encode() in blob for s in rule.all):
                found = " and ".join(repr(s) for s in rule.all)
                return EraDetection(era=rule.era, vdso_next_option=has_vdso_option,
                                    reason=f"found {found} in {where} (newest matching marker; "
                                           f"{table.eras[rule.era].source})")
    where = " and ".join(w for w, _ in blobs)
    return EraDetection(era=table.no_marker_era, vdso_next_option=has_vdso_option,
                        reason=f"no era marker in {where}: era A or B (same words)")


def era_from_flag(era: str, *, table: CmdlineTable | None = None) -> EraDetection:
    """An ``EraDetection`` for ``--kernel-era``.

    :raises InputError: for an era the table does not know.
    """
    table = table or load_table()
    if era != UNKNOWN and era not in table.eras:
        raise InputError(f"--kernel-era {era!r}: wanted one of {known_eras(table)} "
                         f"(zircon-facts.md 3.5; table {table.path})")
    return EraDetection(era=era, vdso_next_option=era in table.vdso_next_eras,
                        reason="--kernel-era given")


def entropy_mixin(nonce: str) -> str:
    """64 hex digits derived from the nonce, so the whole command line follows from it."""
    return hashlib.sha256(f"rig entropy {nonce}".encode()).hexdigest()


def build_cmdline(era: EraDetection, program_path: str = PROGRAM_PATH,
                  extra: Sequence[str] = (), *, nonce: str, output: str = "debuglog",
                  board_words: Sequence[str] = (),
                  table: CmdlineTable | None = None) -> tuple[str, ...]:
    """The words, in order: userboot's for the era, test-boot words, board words,
    ``rig.nonce``, then the user's (last, so they win where the kernel takes the last value).

    The program reads ``rig.nonce``/``rig.output`` from its environ (eras A-C put every
    command-line word there) or from its argv (eras D on, through ``{args}``).

    :raises InputError: for a bad nonce, output or user word.
    """
    table = table or load_table()
    if not NONCE_RE.match(nonce):
        raise InputError(f"nonce {nonce!r}: wanted 16 lowercase hex digits")
    if output not in OUTPUTS:
        raise InputError(f"--output {output!r}: wanted one of {list(OUTPUTS)}")
    for word in extra:
        # The kernel's option parser takes printable ASCII only (zbi.h, ZBI_TYPE_CMDLINE).
        if not word or not word.isascii() or not word.isprintable() or " " in word:
            raise InputError(f"--cmdline word {word[:60]!r}: wanted printable ASCII words "
                             "without spaces")
        if (word.startswith(RESERVED_PREFIX) and not word.startswith(SIM_PREFIX)) \
                or f"+{RESERVED_PREFIX}" in word:
            raise InputError(f"--cmdline word {word[:60]!r}: words starting with "
                             f"{RESERVED_PREFIX!r} are the rig's own (rig.nonce, rig.output, "
                             "...); leave it out (--output chooses the output path)")
    userboot = table.eras[era.era] if era.era in table.eras else table.fallback
    # Options for the program itself, as argv words where userboot splits at '+' ({args}).
    program_args = [f"rig.nonce={nonce}"]
    if output == "debug-write":
        program_args.append("rig.output=debug-write")
    plus_args = "".join(f"+{a}" for a in program_args)
    words = [w.format(program=program_path, args=plus_args) for w in userboot.userboot]
    words += [w.word.format(entropy=entropy_mixin(nonce)) for w in table.always]
    if era.vdso_next_option:
        words += [w.word for w in table.vdso_next]
    if output == "debug-write":
        words += [w.word for w in table.debug_write]
    words += list(board_words)
    words.append(f"rig.nonce={nonce}")
    words += list(extra)
    return tuple(words)


def reboot_cmdline(words: Sequence[str], *, old_nonce: str, new_nonce: str,
                   start: int, end: int | None = None) -> tuple[str, ...]:
    """The build's command line for another boot of the same program: a fresh nonce (so no
    record of an earlier boot is ever taken for this one) and ``rig.start=<start>``.

    Both reach the program the way ``rig.nonce`` did in the build's era: inside the userboot
    program word as ``+`` arguments (eras D on) and as plain words (the environ of eras A-C).
    ``end`` adds ``rig.end=<end>`` the same way (a slice of the suite ends there).
    """
    if not NONCE_RE.match(new_nonce):
        raise InputError(f"nonce {new_nonce!r}: wanted 16 lowercase hex digits")
    out = []
    extra = ([f"rig.start={start}"] if start else []) + (
        [f"rig.end={end}"] if end is not None else [])
    for word in words:
        if word.startswith(("rig.start=", "rig.end=")):
            continue
        word = re.sub(r"\+rig\.(start|end)=\d*", "", word)
        word = word.replace(f"rig.nonce={old_nonce}", f"rig.nonce={new_nonce}")
        if f"+rig.nonce={new_nonce}" in word:
            word += "".join(f"+{w}" for w in extra)
        out.append(word)
    out += extra
    return tuple(out)


def kernel_cmdline_words(kernel_zbi_bytes: bytes, *, source: str = "<kernel zbi>"
                         ) -> tuple[str, ...]:
    """The words of the kernel image's own CMDLINE items.

    :raises ImageError: when the bytes are not a ZBI.
    """
    image = zbi.read_zbi(kernel_zbi_bytes, source=source)
    words: list[str] = []
    for item in image.of_type(zbi.TYPE_CMDLINE):
        words += item.payload.replace(b"\0", b" ").decode("utf-8", "replace").split()
    return tuple(words)


def check_cmdline_size(words: Sequence[str], kernel_words: Sequence[str] = ()) -> int:
    """The bytes the kernel needs for ``kernel_words`` + ``words``, checked.

    :raises InputError: past KERNEL_CMDLINE_MAX, saying how much room --cmdline has.
    """
    size = sum(len(w.encode()) + 1 for w in (*kernel_words, *words)) + 1
    if size > KERNEL_CMDLINE_MAX:
        theirs = sum(len(w.encode()) + 1 for w in kernel_words)
        raise InputError(
            f"--cmdline: the kernel command line would be {size} bytes ({theirs} of them the "
            f"kernel image's own CMDLINE items), more than the kernel's limit of "
            f"{KERNEL_CMDLINE_MAX} (Cmdline::kCmdlineMax: each word and a final NUL); past it "
            "the image boots with no output: give fewer or shorter --cmdline words")
    return size
