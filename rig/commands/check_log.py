"""`rig check-log`: not implemented yet (placeholder so the CLI lists it)."""

from __future__ import annotations

import argparse

from rig.errors import EXIT_ENVIRONMENT


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("check-log", help="(not implemented yet)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    print("rig check-log: not implemented yet")
    return EXIT_ENVIRONMENT
