"""`rig bisect`: judge this commit for `git bisect run` (0 good, 1 bad, 125 skip)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from rig import api
from rig.cli.run import _arch_list, _arch_path
from rig.errors import RigError
from rig.image import boards
from rig.profiles import PROFILE_NAMES
from rig.reports.bisect import ABORT, SKIP, bisect_verdict, words
from rig.scenario.loader import bundled_suite_paths

EPILOG = """\
exit status (git bisect run's): 0 good; 1 bad (a scenario failed, crashed, hung or lost
records; with --bundle: the recorded failure, same signature); 125 skip (the build command
failed, the image cannot be built or booted, QEMU or the toolchain failed, or with --bundle the
scenario failed another way); 128 abort (the scenarios themselves are invalid).
example:  git bisect run rig bisect --bundle rig-run/bundles/x64-003-... \\
              --build-cmd 'fx build' --fuchsia-build-dir out/default
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bisect", help="judge this commit for `git bisect run` (0 good, 1 bad, 125 skip)",
        description="Optionally run a build command, then build, boot and judge like `rig "
        "run` (or only a reproducer bundle's scenario) and exit with the status `git bisect "
        "run` reads.", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", type=Path, metavar="SCENARIOS",
                   help="scenario files (default: the bundled suite; ignored with --bundle)")
    p.add_argument("--bundle", type=Path, metavar="BUNDLE",
                   help="judge only this reproducer bundle's scenario: bad when its recorded "
                   "failure comes back")
    p.add_argument("--build-cmd", metavar="CMD",
                   help="run this first (split like a shell would, no shell); failing is a skip")
    p.add_argument("--arch", type=_arch_list, default=boards.available_arches())
    p.add_argument("--target", choices=api.TARGET_CHOICES, default="auto")
    p.add_argument("--abi", choices=("auto", *PROFILE_NAMES), default="auto")
    p.add_argument("--kernel-zbi", action="append", default=[], metavar="[ARCH=]PATH")
    p.add_argument("--boot-shim", action="append", default=[], metavar="ARCH=PATH")
    p.add_argument("--fuchsia-build-dir", type=Path, metavar="D")
    p.add_argument("--accel", choices=api.ACCEL_CHOICES, default="tcg")
    p.add_argument("--cmdline", action="append", default=[], metavar="WORDS")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="keep the run directory here (default: a temporary one)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        shims = {}
        for text in args.boot_shim:
            arch, path = _arch_path(text)
            shims[arch or args.arch[0]] = path
        with tempfile.TemporaryDirectory(prefix="rig-bisect-") as tmp:
            req = api.RunRequest(
                scenario_paths=tuple(args.scenarios or bundled_suite_paths()),
                arches=args.arch, out_dir=args.out or Path(tmp) / "run", target=args.target,
                abi=args.abi, kernel_zbis=tuple(_arch_path(t)[1] for t in args.kernel_zbi),
                boot_shims=shims, fuchsia_build_dir=args.fuchsia_build_dir, accel=args.accel,
                cmdline_extra=words(args.cmdline))
            verdict = bisect_verdict(req, bundle=args.bundle, build_command=args.build_cmd)
    except RigError as exc:
        # Anything before the run (a bad bundle, bad options) would be the same on every
        # commit: abort; an image or boot problem of this commit is a skip.
        code = ABORT if exc.exit_code == 2 and "bundle" in str(exc) else SKIP
        print(f"rig bisect: {'abort' if code == ABORT else 'skip'}: {exc}", file=sys.stderr)
        return code
    label = {0: "good", 1: "bad", SKIP: "skip", ABORT: "abort"}[verdict.exit_status]
    print(f"rig bisect: {label}: {verdict.why}")
    return verdict.exit_status
