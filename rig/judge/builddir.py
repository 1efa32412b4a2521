"""A build directory's ownership and integrity: what `rig build` may overwrite or delete, and
whether what `check-log` reads is what was built.

The rig never deletes or overwrites a file it did not write. The record of what it wrote is the
manifest's ``outputs`` (path in the directory -> sha256) and, while a build runs, the record
``.rig-building.json`` (what the build owns, including what it is about to write). A build
removes the old manifest once its record is written, so a build that fails or is interrupted
leaves no ``manifest.json`` beside a half-written directory, and it writes the new manifest last
and atomically. `check-log` verifies every recorded hash before it judges anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from rig.judge.manifest import (
    MANIFEST_NAME,
    BuildDirError,
    Manifest,
    read_manifest,
    write_manifest,
)

RECORD_NAME = ".rig-building.json"  # what an unfinished build owns: {"owned": {rel: sha256}}
_HASH_CHUNK_BYTES = 1 << 20


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks (images can be large)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class Claim:
    """A build directory the rig is writing, and what the rig owns in it: path -> sha256 as
    written, or "" for a file an unfinished build may have written (a path ending in "/" owns
    everything under it)."""

    def __init__(self, out_dir: Path, owned: dict[str, str]) -> None:
        self.out_dir = out_dir
        self.owned = owned

    def will_write(self, rels: Iterable[str]) -> None:
        """Record, before writing them, files this build writes: should it stop half-way, the
        next build knows them for its own."""
        self.owned.update({rel: "" for rel in rels})
        _write_record(self.out_dir, self.owned)

    def owns(self, rel: str) -> bool:
        return rel in self.owned or any(
            k.endswith("/") and rel.startswith(k) for k in self.owned)


def _write_record(out: Path, owned: dict[str, str]) -> None:
    tmp = out / f"{RECORD_NAME}.tmp"
    tmp.write_text(json.dumps({"owned": owned}, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, out / RECORD_NAME)


def _read_record(out: Path) -> dict[str, str]:
    path = out / RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BuildDirError(f"{path}: cannot read the record of an unfinished build: "
                            f"{exc}") from exc
    owned = data.get("owned") if isinstance(data, dict) else None
    if not isinstance(owned, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in owned.items()):
        raise BuildDirError(f"{path}: key 'owned' must map paths to sha256 strings")
    return dict(owned)


def _changed(out: Path, owned: dict[str, str]) -> list[str]:
    changed = []
    for rel, digest in sorted(owned.items()):
        path = out / rel
        if not digest or rel.endswith("/"):
            continue  # an unfinished build's: whatever it holds is the rig's
        if path.is_symlink() or (path.exists() and not path.is_file()):
            changed.append(f"{rel} (no longer a regular file)")
        elif path.is_file() and sha256_file(path) != digest:
            changed.append(rel)
    return changed


def claim_build_dir(out: Path, *, scenario_dir: str = "scenarios") -> Claim:
    """Check that ``out`` is new, empty, or a directory the rig built (or began to build);
    take its manifest away for the time of the build and remove the scenario copies an earlier
    build wrote.

    :raises BuildDirError: naming the directory and the files in the way: a non-empty directory
        that no rig build wrote, files in ``scenarios/`` the rig did not write, or files an
        earlier build wrote that were changed since (they are the user's now).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        entries = sorted(p.name for p in out.iterdir())
    except OSError as exc:
        raise BuildDirError(f"--out {out}: cannot create the build directory: "
                            f"{exc.strerror or exc}") from exc
    try:
        if (out / MANIFEST_NAME).is_file():
            owned = dict(read_manifest(out).outputs)
        elif (out / RECORD_NAME).is_file():
            owned = _read_record(out)
        elif entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            raise BuildDirError(
                f"--out {out}: the directory is not empty ({shown}) and holds no rig build "
                f"(no {MANIFEST_NAME}); rig build writes only into a new or empty directory "
                "or one it built before, and never overwrites or deletes files it did not "
                "write: choose another --out")
        else:
            owned = {}
    except BuildDirError as exc:
        if str(exc).startswith("--out "):
            raise
        raise BuildDirError(f"--out {out}: {exc}; it is not a build this rig can reuse: "
                            "choose another --out, or remove the directory yourself") from exc
    claim = Claim(out, owned)
    changed = _changed(out, owned)
    if changed:
        raise BuildDirError(
            f"--out {out}: files the earlier build wrote were changed since: "
            f"{', '.join(changed)}; rig build will not overwrite them: move them away, or "
            "choose another --out")
    copies = out / scenario_dir
    if copies.is_dir():
        foreign = [f"{scenario_dir}/{p.name}" for p in sorted(copies.iterdir())
                   if not claim.owns(f"{scenario_dir}/{p.name}")]
        if foreign:
            raise BuildDirError(
                f"--out {out}: {', '.join(foreign)} were not written by rig build (the "
                f"{scenario_dir}/ copies are the build's own); move them out of the build "
                "directory, or choose another --out")
    try:
        # The record first, then no manifest.json until the new one is written last: a build
        # that fails or is interrupted cannot be judged against the old manifest.
        _write_record(out, owned)
        (out / MANIFEST_NAME).unlink(missing_ok=True)
        if copies.is_dir():
            for p in copies.iterdir():
                p.unlink()  # every one is the rig's (checked above)
    except OSError as exc:
        raise BuildDirError(f"--out {out}: cannot write the build directory: "
                            f"{exc.strerror or exc}") from exc
    return claim


def finish_build_dir(claim: Claim, manifest: Manifest) -> Path:
    """Write the manifest (last, atomically) and drop the earlier build's record."""
    path = write_manifest(claim.out_dir, manifest)
    (claim.out_dir / RECORD_NAME).unlink(missing_ok=True)
    return path


def verify_build_dir(build_dir: Path, manifest: Manifest,
                     also: Iterable[str] = ()) -> None:
    """Every output the manifest records is there with its hash.

    :raises BuildDirError: listing what is missing or changed: the directory is not the build
        the manifest describes (an edited copy, a half-written rebuild), so nothing in it can be
        judged.
    """
    problems = []
    for rel, digest in sorted(manifest.outputs.items()):
        path = build_dir / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(path) != digest:
            problems.append(f"{rel} changed since the build")
    for rel in also:
        if rel not in manifest.outputs:
            problems.append(f"{rel} is not one of the build's outputs")
    if problems:
        raise BuildDirError(f"{build_dir}: not the build its {MANIFEST_NAME} describes: "
                            f"{'; '.join(problems)}; rebuild with `rig build`")
