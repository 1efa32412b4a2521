"""`rig build`: render, compile and assemble a bootable test image into a build directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from rig import api
from rig.errors import EXIT_OK
from rig.image import boards, cmdline
from rig.image.abi_auto import AUTO
from rig.profiles import DEFAULT_PROFILE
from rig.scenario.loader import ABI_PROFILES, bundled_suite_paths


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "build",
        help="build the test program and boot image into a directory",
        description="Render the test program for SCENARIOS, compile it with clang, and put it "
        "with the kernel command line into a boot image (kernel ZBI + BOOTFS bin/rig-test + "
        "CMDLINE). Writes program.c, program.elf, scenarios/, cmdline.txt, image.zbi (when a "
        "kernel ZBI is given), qemu.sh and manifest.json into --out (docs/images.md).",
    )
    p.add_argument("scenarios", nargs="*", metavar="SCENARIOS", type=Path,
                   help="scenario YAML files (default: the bundled suite)")
    known = boards.available_boards()
    p.add_argument("--arch", required=True, choices=sorted({a for a, _ in known}),
                   help="guest architecture (images/<arch>/)")
    p.add_argument("--target", required=True, choices=sorted({t for _, t in known}),
                   help="zircon: a real kernel you supply; sim: the rig's own SIMULATED kernel "
                   "(guest/sim, docs/sim.md)")
    p.add_argument("--abi", default=AUTO, choices=(AUTO, *ABI_PROFILES),
                   help="ABI profile the program is built for. auto (the default): with a "
                   "kernel image, the profile it shows (no zx_pager_query_dirty_ranges among its "
                   "vDSO names: 2020; otherwise its userboot era decides, images/abi.yaml), "
                   "printed with the reason on the first line and recorded in manifest.json; "
                   f"without a kernel, {DEFAULT_PROFILE}")
    p.add_argument("--kernel-zbi", type=Path, metavar="K",
                   help="the kernel ZBI (e.g. a kernel.zbi or zircon-a image)")
    p.add_argument("--boot-shim", type=Path, metavar="S",
                   help="the QEMU boot shim (linux-x86-boot-shim.bin, linux-arm64-boot-shim.bin,"
                   " or multiboot.bin / qemu-boot-shim.bin on older builds)")
    p.add_argument("--fuchsia-build-dir", type=Path, metavar="D",
                   help="a Fuchsia build directory: finds the kernel ZBI and boot shim through "
                   "its images.json (instead of --kernel-zbi/--boot-shim)")
    p.add_argument("--kernel-era", metavar="E",
                   help="skip era detection: A..I or unknown (the eras of images/cmdline.yaml, "
                   "zircon-facts.md 3.5); unknown gives the run-everywhere words")
    p.add_argument("--cmdline", action="append", default=[], metavar="WORDS",
                   help="extra kernel command-line words (repeatable; split on spaces; rig.* "
                   "words are reserved; the whole command line must fit the kernel's 4096 bytes)")
    p.add_argument("--output", choices=cmdline.OUTPUTS, default="debuglog",
                   help="how the program prints records (default %(default)s); debug-write adds "
                   "kernel.enable-serial-syscalls=output-only")
    p.add_argument("--cache-dir", type=Path, help="build cache (default ~/.cache/rig/build)")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="build directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    req = api.BuildRequest(
        scenario_paths=tuple(args.scenarios or bundled_suite_paths()),
        arch=args.arch, target=args.target, out_dir=args.out, abi=args.abi,
        kernel_zbi=args.kernel_zbi, boot_shim=args.boot_shim,
        fuchsia_build_dir=args.fuchsia_build_dir, kernel_era=args.kernel_era,
        cmdline_extra=tuple(w for words in args.cmdline for w in words.split()),
        output=args.output, cache_dir=args.cache_dir,
    )
    api.build(req, printer=print)
    return EXIT_OK
