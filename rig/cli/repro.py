"""`rig repro BUNDLE [--reps N] [--gdb]`: replay a reproducer bundle and say how often it fails."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rig.errors import EXIT_OK, EXIT_TEST_FAILED
from rig.reports.bundle import judge_log_exit, read_expected, replay, replay_exit
from rig.reports.gdb import GdbSession, run_gdb

EPILOG = """\
exit status: 1 the recorded failure reproduced (at least once with --reps); 0 the scenario
passed every time; 2 it failed, but never the recorded way; 3 QEMU or rig failed.
A bundle is written by `rig run` for every failing or crashing scenario: DIR/bundles/*/.
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "repro", help="replay a reproducer bundle: does the failure come back, how often",
        description="Boot a reproducer bundle's image (a fresh nonce each time), judge it live as "
        "`rig run` does, and compare with the recorded failure's signature (the first failed "
        "step's kind and mismatch, or the crash title). With --reps N: how often it fails "
        "(deterministic or flaky).", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("bundle", type=Path, metavar="BUNDLE", help="a bundle directory")
    p.add_argument("--reps", type=int, default=1, metavar="N", help="boots (default 1)")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="F",
                   help="multiply every timeout")
    p.add_argument("--judge", type=Path, metavar="LOG",
                   help="do not boot: judge this serial log of the bundle's image (repro.sh)")
    p.add_argument("--qemu-status", type=int, metavar="N",
                   help="with --judge: QEMU's exit status (124: killed by timeout, a hang)")
    p.add_argument("--gdb", action="store_true",
                   help="boot once with QEMU's gdb stub (--gdb-port) and the program held at its "
                   "start; print the gdb commands that attach, load the ELF's symbols at the "
                   "address the program printed and break before the failing step")
    p.add_argument("--gdb-port", type=int, default=1234, metavar="PORT",
                   help="the gdb stub's TCP port on 127.0.0.1 (default 1234)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    expected = read_expected(args.bundle)
    print(f"recorded: {expected['outcome']}: {expected['signature']}")
    if args.judge is not None:
        r, code = judge_log_exit(args.bundle, args.judge, args.qemu_status)
        print(f"{'REPRODUCED' if r.reproduced else 'NOT REPRODUCED'}: {r.outcome}: "
              f"{r.signature or r.reason}")
        return code
    if args.gdb:
        def ready(session: GdbSession) -> None:
            print(f"program loaded at {session.load:#x}, held; attach with:", flush=True)
            for line in session.commands:
                print(f"  {line}", flush=True)
            print("(waiting for the program to end; Ctrl-C stops QEMU)", flush=True)

        r = run_gdb(args.bundle, port=args.gdb_port, on_ready=ready)
        print(f"{'REPRODUCED' if r.reproduced else 'NOT REPRODUCED'}: {r.outcome}: "
              f"{r.signature or r.reason}")
        return replay_exit(r)
    hits = 0
    last = EXIT_OK
    for rep in range(max(args.reps, 1)):
        r = replay(args.bundle, rep=rep, timeout_scale=args.timeout_scale)
        hits += r.reproduced
        last = max(last, replay_exit(r)) if not r.reproduced else last
        print(f"rep {rep}: {'REPRODUCED' if r.reproduced else 'not reproduced'}: {r.outcome}: "
              f"{r.signature or r.reason} ({r.log})", flush=True)
    n = max(args.reps, 1)
    kind = ("deterministic" if hits == n else "flaky" if hits else "not reproduced")
    print(f"failed the recorded way {hits} of {n} times: {kind}")
    sys.stdout.flush()
    return EXIT_TEST_FAILED if hits else last
