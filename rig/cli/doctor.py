"""`rig doctor`: report what the rig needs on this machine and how to fix what is missing."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rig.errors import EXIT_ENVIRONMENT, EXIT_OK
from rig.run import doctor


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "doctor",
        help="check QEMU, clang/lld, KVM and Python packages (exit 3 when something is missing)",
        description="Report, with versions and paths, everything the rig needs: QEMU per arch, "
        "clang-19 and lld-19 with both Fuchsia targets, KVM (optional), Python packages; and the "
        "command that fixes each gap. Exit status 3 when something required is missing.",
    )
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = doctor.run_checks()
    if args.json:
        print(json.dumps([{**asdict(c), "status": c.status.value} for c in checks], indent=1))
    else:
        print(doctor.render_report(checks), end="")
    return EXIT_ENVIRONMENT if doctor.has_missing(checks) else EXIT_OK
