"""`--abi all`: place a captured log (check-log) or a run directory (run) among the profiles.

Reads the build directory and the serial logs, then rig.judge.placement scores every profile.
"""

from __future__ import annotations

from pathlib import Path

from rig.api import read_scenarios
from rig.judge.builddir import verify_build_dir
from rig.judge.manifest import read_manifest
from rig.judge.placement import BootLines, ProfileScore, render_scores, score_profiles
from rig.reports.collect import read_run


def place_log(log: Path, build_dir: Path) -> list[ProfileScore]:
    """Score every profile on one captured serial log of the build in ``build_dir``.

    :raises InputError: the build directory or the log cannot be read.
    """
    manifest = read_manifest(build_dir)
    verify_build_dir(build_dir, manifest, also=[s.file for s in manifest.scenarios])
    files = read_scenarios(build_dir, manifest)
    try:
        text = log.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        from rig.api import LogFileError
        raise LogFileError(f"{log}: cannot read the serial log: {exc.strerror or exc}") from exc
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    return score_profiles(manifest, files, [BootLines(lines, manifest.nonce)])


def place_run(result_path: Path) -> dict[str, list[ProfileScore]]:
    """Per arch of a run, every profile's score over all its boots."""
    run = read_run(result_path)
    out = {}
    for info in run.arches:
        build = Path(str(info.data.get("build", "")))
        if not (build / "manifest.json").is_file():
            build = run.run_dir / info.arch / "build"
        manifest = read_manifest(build)
        files = read_scenarios(build, manifest)
        out[info.arch] = score_profiles(
            manifest, files, [BootLines(b.lines, b.nonce, b.start) for b in info.boots])
    return out


def render_run_placement(scores: dict[str, list[ProfileScore]]) -> str:
    return "".join(render_scores(s, title=f"{arch}") for arch, s in scores.items())
