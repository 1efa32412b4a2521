"""`rig run`: build, boot under QEMU, drive the console, judge against the model, report."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from rig import api
from rig.cli import fleet, report
from rig.errors import EXIT_TEST_FAILED, InputError
from rig.image import boards
from rig.profiles import PROFILE_NAMES
from rig.reports import bundle
from rig.reports.crossarch import render_cross_arch
from rig.reports.placement import place_run, render_run_placement
from rig.reports.shrink import shrink_bundles
from rig.scenario.loader import bundled_suite_paths

EPILOG = """\
run directory (--out DIR): DIR/<arch>/build/ (a full build directory), DIR/<arch>/boot-N/
(serial.log, qemu-argv.json, cmdline.txt, qemu.stderr, registers.txt after a hang),
DIR/journal.jsonl (results as they arrive), DIR/result.json (schema rig.run/1; docs/runner.md).
Outcomes: PASS, FAIL, SKIP, CRASH, HANG, INCOMPLETE, INFRA. Exit status: 0 every scenario
passed or was skipped; 1 a scenario failed, crashed, hung or lost records; 2 bad input;
3 QEMU or the toolchain failed (INFRA).
"""


def _arch_list(text: str) -> tuple[str, ...]:
    arches = tuple(a for a in text.split(",") if a)
    known = boards.available_arches()
    bad = [a for a in arches if a not in known]
    if bad or not arches:
        raise argparse.ArgumentTypeError(f"{text!r}: wanted a comma list of {', '.join(known)}")
    return arches


def _arch_path(text: str) -> tuple[str | None, Path]:
    arch, sep, path = text.partition("=")
    if sep and arch in boards.available_arches():
        return arch, Path(path)
    return None, Path(text)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "run", help="build, boot and judge scenarios on QEMU (the sim or a real kernel)",
        description="Build the test program and boot image for each arch, boot it under QEMU, "
        "read the serial console as it arrives, detect crashes and hangs, reboot past them, and "
        "judge every step against the reference model. Without SCENARIOS: the bundled suite. "
        "Results of the sim target are SIMULATED, never kernel results.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", metavar="SCENARIOS", type=Path,
                   help="scenario YAML files (default: the bundled suite)")
    p.add_argument("--arch", type=_arch_list, default=boards.available_arches(),
                   help="comma list (default: every arch with a board)")
    p.add_argument("--target", choices=api.TARGET_CHOICES, default="auto",
                   help="auto (default): zircon for an arch with a kernel given or found, else "
                   "the sim")
    p.add_argument("--abi", choices=("auto", *PROFILE_NAMES, "all"), default="auto",
                   help="ABI profile (default auto: the profile the build picks, printed with "
                   "its reason); all: build as auto, then judge the run against every "
                   "profile and say which one the kernel behaves like")
    p.add_argument("--kernel-zbi", action="append", default=[], metavar="[ARCH=]PATH",
                   help="a kernel ZBI (repeatable; its arch is read from its kernel item)")
    p.add_argument("--boot-shim", action="append", default=[], metavar="[ARCH=]PATH",
                   help="a QEMU boot shim (repeatable; ARCH= needed with more than one arch)")
    p.add_argument("--fuchsia-build-dir", type=Path, metavar="D",
                   help="a Fuchsia build directory (finds kernel and shim)")
    p.add_argument("--accel", choices=api.ACCEL_CHOICES, default="tcg",
                   help="tcg (default), kvm, or auto (KVM when usable and faster; says why)")
    p.add_argument("-j", "--jobs", type=int, metavar="N",
                   help="guests in parallel (default: never more guest vCPUs than cores)")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="F",
                   help="multiply every timeout (slow machines, debugging)")
    p.add_argument("--max-boots", type=int, default=8, metavar="N",
                   help="boots per arch at most, counting reboots after crashes (default 8)")
    p.add_argument("--cmdline", action="append", default=[], metavar="WORDS",
                   help="extra kernel command-line words (repeatable; split on spaces)")
    p.add_argument("--out", type=Path, default=Path("rig-run"), metavar="DIR",
                   help="run directory (default ./rig-run)")
    p.add_argument("--json", type=Path, metavar="F", help="also copy result.json to F")
    p.add_argument("--quiet", action="store_true", help="no progress, only the summary")
    fleet.add_fleet_options(p)
    fleet.add_host_options(p)
    report.add_report_options(p, json_flag="--report-json")
    p.add_argument("--max-bundles", type=int, default=bundle.MAX_BUNDLES, metavar="N",
                   help="reproducer bundles (DIR/bundles/) for at most N failing or crashing "
                   f"scenarios (default {bundle.MAX_BUNDLES}; 0: none)")
    p.add_argument("--shrink", action="store_true",
                   help="shrink every bundled failure to its fewest steps and smallest numbers "
                   "with the same signature (BUNDLE/shrunk.yaml; `rig shrink`)")
    p.set_defaults(func=run)


class _Progress:
    """rich progress on a terminal; plain lines (one per phase change) otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.live: Any = None
        self.tasks: dict[str, Any] = {}
        self.lock = threading.Lock()
        self.last: dict[str, str] = {}
        self.t0 = time.monotonic()
        if enabled and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )
            self.live = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn())
            self.live.start()

    def event(self, arch: str, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        with self.lock:
            if self.live is not None:
                if arch not in self.tasks:
                    self.tasks[arch] = self.live.add_task(arch, total=total)
                self.live.update(self.tasks[arch], completed=done,
                                 description=f"{arch}: {phase}")
                return
            key = phase.split(":")[0]
            if self.last.get(arch) != key:
                self.last[arch] = key
                print(f"{arch}: {phase} ({done}/{total}, {time.monotonic() - self.t0:.1f} s)",
                      flush=True)

    def print(self, text: str) -> None:
        if self.live is not None:
            self.live.console.print(text, markup=False, highlight=False)
        else:
            print(text, flush=True)

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


def _summary(result: dict[str, Any], out: Path) -> str:
    lines = []
    for a in result["arches"]:
        label = " SIMULATED" if a["simulated"] else ""
        counts = ", ".join(f"{v} {k.lower()}" for k, v in a["counts"].items() if v)
        lines.append(f"{a['arch']}: {a['outcome']}{label}: target {a['target']} profile "
                     f"{a['abi']}: {len(a['scenarios'])} scenarios: {counts}; "
                     f"{len(a['boots'])} boot(s)")
        for s in a["scenarios"]:
            if s["outcome"] not in ("PASS", "SKIP"):
                lines.append(f"  {s['outcome']:<10} {s['name']} ({s.get('where') or s['file']})"
                             f": {s.get('reason', '')}")
    lines.append(f"{result['outcome']}: run directory {out} (result.json, journal.jsonl, "
                 "<arch>/boot-N/serial.log)")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    shims: dict[str, Path] = {}
    for text in args.boot_shim:
        arch, path = _arch_path(text)
        if arch is None:
            if len(args.arch) != 1:
                raise InputError(f"--boot-shim {text}: say which arch (ARCH=PATH) when "
                                 "running more than one")
            arch = args.arch[0]
        shims[arch] = path
    kernels = tuple(_arch_path(t)[1] for t in args.kernel_zbi)
    paths = fleet.shard_paths(args, tuple(args.scenarios or bundled_suite_paths()))
    if not paths:
        return fleet.write_empty_shard(args)
    req = api.RunRequest(
        scenario_paths=paths, arches=args.arch,
        out_dir=args.out, target=args.target,
        abi="auto" if args.abi == "all" else args.abi, kernel_zbis=kernels,
        boot_shims=shims, fuchsia_build_dir=args.fuchsia_build_dir, accel=args.accel,
        jobs=args.jobs, timeout_scale=args.timeout_scale, max_boots=args.max_boots,
        cmdline_extra=tuple(w for words in args.cmdline for w in words.split()))
    progress = _Progress(not args.quiet)
    stop = threading.Event()

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # SIGTERM ends the run like SIGINT: QEMU reaped, partial kept

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        result = fleet.run(args, req, printer=progress.print, on_event=progress.event,
                           stop=stop)
    except KeyboardInterrupt:
        stop.set()
        progress.close()
        print(f"rig run: interrupted; partial results in {args.out}/journal.jsonl and "
              f"{args.out}/result.json", file=sys.stderr)
        raise
    finally:
        progress.close()
        signal.signal(signal.SIGTERM, old)
    fleet.note_shard(args, paths)
    print(_summary(result.result, args.out))
    sys.stdout.write(render_cross_arch(result.result))
    if result.exit_status == EXIT_TEST_FAILED and args.max_bundles > 0:
        made = bundle.write_bundles(req, result.result, args.out, limit=args.max_bundles,
                                    printer=print)
        if args.shrink:
            shrink_bundles(made, cmdline_extra=req.cmdline_extra, kernel_zbis=req.kernel_zbis,
                           boot_shims=req.boot_shims, fuchsia_build_dir=req.fuchsia_build_dir,
                           cache_dir=req.cache_dir, printer=print)
    report.write_reports(args, args.out / "result.json")
    if args.abi == "all":
        sys.stdout.write(render_run_placement(place_run(args.out / "result.json")))
    if args.json is not None:
        args.json.write_text((args.out / "result.json").read_text())
    return result.exit_status
