"""`rig fuzz --seed S --count N`: random valid scenarios, run, every failure bundled and shrunk."""

from __future__ import annotations

import argparse
from pathlib import Path

from rig.cli.run import _arch_list
from rig.profiles import PROFILE_NAMES
from rig.reports.fuzz import fuzz
from rig.reports.shrink import ShrinkSpec

EPILOG = """\
OUT/scenarios.yaml the generated scenarios, OUT/run/ the run directory (result.json, bundles/
with shrunk.yaml for every failure), OUT/fuzz.json (schema rig.fuzz/1: seed, the scenarios'
hash, every failure's signature, bundle and shrunk size). The same seed gives the same
scenarios, failures and shrunk files.
exit status: 0 every scenario passed; 1 a failure was found; 2 bad input; 3 QEMU or toolchain.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fuzz", help="random valid scenarios: run, bundle and shrink every failure",
        description="Generate COUNT random scenarios from SEED, steered by the model to be "
        "valid for the profile (no step blocks on a page request; the guest can build each), "
        "run them as one program on one arch (the sim by default), and write a reproducer "
        "bundle and a shrunk scenario for every failure.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, required=True, metavar="S")
    p.add_argument("--count", type=int, default=50, metavar="N",
                   help="scenarios (default 50)")
    p.add_argument("--arch", type=_arch_list, default=("x64",), metavar="ARCH",
                   help="the arch to run on (default x64)")
    p.add_argument("--target", choices=("sim", "zircon"), default="sim")
    p.add_argument("--abi", choices=("auto", *PROFILE_NAMES), default="auto",
                   help="profile (default auto: 2024 on the sim)")
    p.add_argument("--kernel-zbi", action="append", default=[], type=Path, metavar="PATH")
    p.add_argument("--cmdline", action="append", default=[], metavar="WORDS",
                   help="extra kernel command-line words (e.g. sim fault words)")
    p.add_argument("--out", type=Path, default=Path("rig-fuzz"), metavar="DIR",
                   help="output directory (default ./rig-fuzz)")
    p.add_argument("--no-shrink", action="store_true", help="bundle failures, do not shrink")
    p.add_argument("--max-bundles", type=int, default=20, metavar="N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = ShrinkSpec(arch=args.arch[0], target=args.target, abi=args.abi,
                      kernel_zbis=tuple(args.kernel_zbi),
                      cmdline_extra=tuple(w for words in args.cmdline for w in words.split()))
    result = fuzz(args.seed, args.count, spec, args.out, shrink=not args.no_shrink,
                  max_bundles=args.max_bundles, printer=lambda t: print(t, flush=True))
    r = result.report
    print(f"fuzz: seed {r['seed']}: {r['count']} scenarios ({r['steps']} steps) on "
          f"{r['arch']}/{r['target']}{' SIMULATED' if r['simulated'] else ''}, profile "
          f"{r['abi']}: {r['outcome']}, {len(r['failures'])} failure(s)")
    for f in r["failures"]:
        print(f"  {f['outcome']} {f['name']}: {f['signature']}"
              + (f"; shrunk to {f['shrunk_steps']} steps: {f['shrunk']}" if f["shrunk"] else ""))
    print(f"report: {args.out / 'fuzz.json'}")
    return result.exit_status
