"""Command-line entry point: parses arguments, runs one command, maps errors to exit codes.

Exit codes (documented in README and --help): 0 all passed, 1 a test failed (a verdict),
2 bad input, 3 environment or infrastructure problem.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from rig import __version__
from rig.errors import EXIT_ENVIRONMENT, RigError

# Each command lives in rig/cli/<module>.py with `register(subparsers)`; the order here is
# the order in --help.
COMMAND_MODULES = ("validate", "expect", "build", "run", "merge", "check_log", "report", "diff",
                   "repro", "shrink", "fuzz",
                   "bisect", "zbi", "doctor")

EPILOG = """\
exit status: 0 all passed; 1 a test failed or disagreed with its expectation;
2 bad input (scenario, board, image); 3 environment or infrastructure problem.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rig",
        description="Checks the Zircon pager dirty-tracking API (zx_pager_query_dirty_ranges) "
        "by booting test programs under QEMU on x86-64 and arm64.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"rig {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug) to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"rig.cli.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = args.func(args)
    except RigError as exc:
        print(f"rig {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"rig {args.command}: interrupted", file=sys.stderr)
        return EXIT_ENVIRONMENT
    return int(code)
