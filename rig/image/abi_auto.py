"""`--abi auto`: the ABI profile a kernel image calls for, from what the image shows.

The rules are data (``images/abi.yaml``): no ``zx_pager_query_dirty_ranges`` among the vDSO
names in the kernel image means profile ``2020``; otherwise the userboot era decides, and an
era that does not settle it is marked as a guess. Without a kernel the default profile stays
(rig.profiles.DEFAULT_PROFILE).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig import resources
from rig.errors import BoardError, ImageError
from rig.image import zbi
from rig.image.cmdline import UNKNOWN, EraDetection
from rig.profiles import DEFAULT_PROFILE, PROFILE_NAMES

AUTO = "auto"


@dataclass(frozen=True)
class ProfileRule:
    profile: str
    source: str
    guess: bool = False


@dataclass(frozen=True)
class AbiTable:
    path: str
    visible: str
    dirty_tracking: str
    without: ProfileRule
    eras: dict[str, ProfileRule]


@dataclass(frozen=True)
class ProfileChoice:
    """The profile, why (one line for the user and the manifest), and whether it is a guess."""

    profile: str
    reason: str
    guess: bool = False


def _rule(raw: Any, where: str, path: str) -> ProfileRule:
    if (not isinstance(raw, dict) or not {"profile", "source"} <= set(raw)
            or not set(raw) <= {"profile", "source", "guess"}
            or str(raw.get("profile")) not in PROFILE_NAMES
            or not isinstance(raw.get("source"), str)
            or not isinstance(raw.get("guess", False), bool)):
        raise BoardError(f"{path}: {where}: wanted {{profile: one of {list(PROFILE_NAMES)}, "
                         f"source: text, guess: true|false (optional)}}, found {raw!r}")
    return ProfileRule(profile=str(raw["profile"]), source=raw["source"],
                       guess=bool(raw.get("guess", False)))


def parse_table(text: str, path: str) -> AbiTable:
    """:raises BoardError: naming the file and key."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise BoardError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) != {"vdso_names", "eras"}:
        raise BoardError(f"{path}: wanted exactly the keys vdso_names and eras")
    names = raw["vdso_names"]
    if (not isinstance(names, dict) or set(names) != {"visible", "dirty_tracking", "without"}
            or not isinstance(names["visible"], str)
            or not isinstance(names["dirty_tracking"], str)):
        raise BoardError(f"{path}: vdso_names: wanted {{visible: name, dirty_tracking: name, "
                         "without: {profile, source}}")
    eras = raw["eras"]
    if not isinstance(eras, dict) or UNKNOWN not in eras:
        raise BoardError(f"{path}: eras: wanted a mapping of era name to {{profile, source}}, "
                         f"with an entry for {UNKNOWN!r}")
    return AbiTable(path=path, visible=names["visible"], dirty_tracking=names["dirty_tracking"],
                    without=_rule(names["without"], "vdso_names.without", path),
                    eras={str(k): _rule(v, f"eras.{k}", path) for k, v in eras.items()})


def table_path() -> Path:
    return resources.images_dir() / "abi.yaml"


@functools.cache
def _load_table(path: Path) -> AbiTable:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BoardError(f"{path}: cannot read the ABI profile table: {exc}") from exc
    return parse_table(text, str(path))


def load_table(path: Path | None = None) -> AbiTable:
    """:raises BoardError: when ``images/abi.yaml`` is unreadable or invalid."""
    return _load_table(path or table_path())


def _kernel_blobs(kernel_zbi_bytes: bytes, source: str) -> tuple[list[tuple[str, bytes]],
                                                                 str | None]:
    """The kernel item and the unpacked STORAGE_KERNEL item; why the latter is missing."""
    image = zbi.read_zbi(kernel_zbi_bytes, source=source)
    kernel = zbi.require_kernel(image, source=source)
    blobs = [(f"the kernel item ({kernel.type_name})", kernel.payload)]
    storage = image.first(zbi.TYPE_STORAGE_KERNEL)
    if storage is None:
        return blobs, None
    try:
        blobs.append(("the STORAGE_KERNEL item", zbi.storage_payload(storage, source=source)))
    except ImageError as exc:
        return blobs, f"its STORAGE_KERNEL item does not unpack ({exc})"
    return blobs, None


def choose_profile(kernel_zbi_bytes: bytes | None, era: EraDetection, *,
                   source: str = "<kernel zbi>", table: AbiTable | None = None) -> ProfileChoice:
    """The profile for ``--abi auto``.

    :raises ImageError: when the bytes are not a kernel ZBI.
    :raises BoardError: for a bad ``images/abi.yaml``.
    """
    if kernel_zbi_bytes is None:
        return ProfileChoice(DEFAULT_PROFILE, f"--abi auto: no kernel image to read, so the "
                                              f"default profile {DEFAULT_PROFILE}")
    table = table or load_table()
    blobs, unpack_problem = _kernel_blobs(kernel_zbi_bytes, source)
    where = " and ".join(w for w, _ in blobs)
    visible = any(table.visible.encode() in b for _, b in blobs)
    has_call = any(table.dirty_tracking.encode() in b for _, b in blobs)
    if visible and not has_call and unpack_problem is None:
        rule = table.without
        return ProfileChoice(rule.profile, f"--abi auto: no {table.dirty_tracking} among the "
                                           f"vDSO names in {where} ({table.visible} is there): "
                                           f"{rule.source}")
    rule = table.eras.get(era.era, table.eras[UNKNOWN])
    if has_call:
        found = f"{table.dirty_tracking} found in {where}, and the userboot era is {era.era}"
    elif unpack_problem is not None:
        found = f"cannot read the vDSO names: {unpack_problem}; the userboot era is {era.era}"
    else:
        found = (f"no vDSO names readable in {where} (no {table.visible}); the userboot era is "
                 f"{era.era}")
    reason = f"--abi auto: {found}: {rule.source}"
    if rule.guess:
        others = ", ".join(p for p in PROFILE_NAMES if p != rule.profile)
        reason += (f"; a GUESS: judge the log against every profile too (rebuild with --abi "
                   f"{others.replace(', ', ' / --abi ')})")
    return ProfileChoice(rule.profile, reason, guess=rule.guess)
