"""`rig shrink FILE --name X`: the smallest scenario that still fails the same way."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rig.cli.run import _arch_list
from rig.errors import EXIT_OK
from rig.profiles import PROFILE_NAMES
from rig.reports.shrink import Oracle, ShrinkSpec, load_scenario, shrink

EPILOG = """\
The signature that must stay the same: for FAIL the first failed step's kind and every field it
got wrong, expected against actual; for CRASH the crash title; HANG, INCOMPLETE the outcome
(docs/reports.md). Sim fault words (--cmdline rig.sim.fault=<kind>@0.<t>) name the scenario as
scenario 0; a step-keyed fault follows the step position, not the step.
exit status: 0 a shrunk scenario was written; 2 the scenario does not fail (or bad input);
3 QEMU or the toolchain failed.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "shrink", help="shrink a failing scenario to the fewest steps and smallest numbers",
        description="Run scenario X of FILE as `rig run` would on one arch, note how it fails, "
        "then remove steps (delta debugging) and lower numeric arguments while the failure keeps "
        "its signature. Each round's candidates run together in one program and boot; results "
        "and programs are cached by content.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", type=Path, metavar="FILE", help="a scenario file")
    p.add_argument("--name", required=True, metavar="X", help="the scenario to shrink")
    p.add_argument("--arch", type=_arch_list, default=("x64",), metavar="ARCH",
                   help="the arch to shrink on (default x64)")
    p.add_argument("--target", choices=("sim", "zircon"), default="sim",
                   help="sim (default) or zircon (give --kernel-zbi)")
    p.add_argument("--abi", choices=("auto", *PROFILE_NAMES), default="auto",
                   help="ABI profile (default auto)")
    p.add_argument("--kernel-zbi", action="append", default=[], type=Path, metavar="PATH")
    p.add_argument("--cmdline", action="append", default=[], metavar="WORDS",
                   help="extra kernel command-line words (repeatable)")
    p.add_argument("--out", type=Path, metavar="F",
                   help="write the shrunk scenario here (default: <X>.shrunk.yaml)")
    p.add_argument("--work", type=Path, metavar="DIR",
                   help="keep the candidates' runs here (default: a temporary directory)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = ShrinkSpec(arch=args.arch[0], target=args.target, abi=args.abi,
                      kernel_zbis=tuple(args.kernel_zbi),
                      cmdline_extra=tuple(w for words in args.cmdline for w in words.split()))
    scenario = load_scenario(args.file, args.name)
    out = args.out or Path(f"{args.name}.shrunk.yaml")
    with tempfile.TemporaryDirectory(prefix="rig-shrink-") as tmp:
        work = args.work or Path(tmp)
        result = shrink(scenario, Oracle(spec, work), printer=lambda t: print(t, flush=True))
    out.write_text(result.text())
    print(f"shrunk '{args.name}' from {result.steps_before} to {result.steps_after} steps in "
          f"{result.elapsed_s:.1f} s ({result.rounds} boots, {result.candidates} candidates run, "
          f"{result.cached} cached, {result.refused} refused by the checks): {out}")
    print(result.text(), end="")
    return EXIT_OK
