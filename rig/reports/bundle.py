"""Reproducer bundles: one directory per failing or crashing scenario of a run, and replaying it.

A bundle (DIR/bundles/<arch>-<index>-<name>/) holds the one-scenario YAML (scenario.yaml), a
full build of it (build/: program.c, program.elf, image.zbi, cmdline.txt, qemu.sh,
manifest.json, ...), expected.json (the run's verdict of the scenario, its signature, the
failed steps with expected against actual), README.txt, and repro.sh: the exact QEMU
invocation of the bundle's image, then `rig repro --judge` on its serial log. Planted sim faults
(`rig.sim.fault=<kind>@<s>.<t>`) are renumbered to the bundle's scenario 0.
"""

from __future__ import annotations

import json
import re
import shlex
import stat
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rig import api
from rig.errors import EXIT_ENVIRONMENT, EXIT_OK, EXIT_TEST_FAILED, InputError
from rig.image import boards, direct_boot
from rig.judge.boot import judge_boot
from rig.judge.manifest import Manifest, read_manifest
from rig.judge.signature import FAILING, scenario_json, signature
from rig.run.runner import KERNEL_TIMEOUTS, SIM_TIMEOUTS, accel_argv, boot_once
from rig.scenario.loader import load_many

MAX_BUNDLES = 20  # per run, by default: each bundle is a build
EXIT_OTHER_FAILURE = 2  # repro.sh: the scenario failed, but not the recorded way
_FAULT = re.compile(r"^rig\.sim\.fault=(?P<kind>[a-z-]+)@(?P<s>\d+)\.(?P<t>\d+)$")
Printer = Callable[[str], None]


def remap_fault_words(words: Sequence[str], index: int) -> tuple[str, ...]:
    """Sim fault words for a one-scenario program: those naming scenario ``index`` now name
    scenario 0; those naming other scenarios go (their scenarios are not in the bundle)."""
    out = []
    for w in words:
        m = _FAULT.match(w)
        if m is None:
            out.append(w)
        elif int(m.group("s")) == index:
            out.append(f"rig.sim.fault={m.group('kind')}@0.{m.group('t')}")
    return tuple(out)


def one_scenario_yaml(path: Path, name: str) -> str:
    """A scenario file holding only scenario ``name`` of ``path``.

    :raises InputError: no such scenario.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = [s for s in data.get("scenarios", []) if isinstance(s, dict) and s.get("name") == name]
    if not found:
        raise InputError(f"{path}: no scenario named {name!r}")
    head = f"# One scenario of {path.name}, written by rig as a reproducer.\n"
    return head + yaml.safe_dump({"scenarios": found[:1]}, sort_keys=False)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:60]


def boot_argv(manifest: Manifest, build_dir: Path, accel: str) -> list[str]:
    """The QEMU argv of a build for ``accel`` (as the runner boots it)."""
    board = boards.load_board(manifest.arch, manifest.target)
    if manifest.boot_mode == direct_boot.BOOT_DIRECT:
        return direct_boot.qemu_argv(board, build_dir, accel=accel)
    return accel_argv(manifest.qemu_argv or (), board, accel)


def _sh_arg(arg: str, build: str) -> str:
    if build in arg:
        rest = arg.replace(build, "\x00")
        return '"' + "".join("$here/build" if c == "\x00" else
                             ("\\" + c if c in '"$`\\' else c) for c in rest) + '"'
    return shlex.quote(arg)


def render_repro_sh(argv: Sequence[str], build_dir: Path, expected: Mapping[str, Any],
                    timeout_s: float) -> str:
    """repro.sh: by default `rig repro` on the bundle (the same argv, with the runner's live
    crash and hang detection); with --raw the exact QEMU command under `timeout`, then the
    serial log judged against the recorded failure."""
    build = str(build_dir.resolve())
    rig_cmd = f"{shlex.quote(sys.executable)} -m rig"
    cmd = " ".join(_sh_arg(a, build) for a in argv)
    return "\n".join([
        "#!/bin/sh",
        f"# Reproducer: {expected['arch']} scenario '{expected['name']}' "
        f"({expected['outcome']}: {expected['signature']}).",
        "# sh repro.sh [--reps N]: boot build/image.zbi as `rig run` does (live crash and hang",
        "#   detection) and compare with the recorded failure.",
        "# sh repro.sh --raw: the exact QEMU command line below, killed after REPRO_TIMEOUT_S",
        "#   (a guest halted in its panic shell never exits), then the serial log judged.",
        "# Exit: 1 the failure reproduced; 0 the scenario passed; "
        f"{EXIT_OTHER_FAILURE} it failed another way;",
        "# 3 QEMU or rig failed. RIG= names the rig command.",
        'here=$(cd "$(dirname "$0")" && pwd)',
        f'RIG=${{RIG:-{rig_cmd}}}',
        'if [ "$1" = --raw ]; then',
        f"    timeout ${{REPRO_TIMEOUT_S:-{timeout_s:.0f}}} {cmd} \\",
        '        </dev/null >"$here/serial.log" 2>"$here/qemu.stderr"',
        "    status=$?",
        '    exec $RIG repro "$here" --judge "$here/serial.log" --qemu-status "$status"',
        "fi",
        'exec $RIG repro "$here" "$@"',
        ""])


@dataclass(frozen=True)
class BundleSpec:
    """What a bundle is built from: the run's request for its arch."""

    arch: str
    target: str
    abi: str
    accel: str
    kernel_zbi: Path | None
    boot_shim: Path | None
    fuchsia_build_dir: Path | None
    cmdline_extra: tuple[str, ...]
    cache_dir: Path | None = None


def make_bundle(spec: BundleSpec, scenario: Mapping[str, Any], scenario_file: Path,
                dest: Path, *, run_result: Path | None = None,
                printer: Printer = api.null_printer) -> Path:
    """Write one bundle for ``scenario`` (a `rig.run/1` scenario dict) into ``dest``.

    :raises InputError, ToolchainError: the one-scenario build failed.
    """
    dest.mkdir(parents=True, exist_ok=True)
    index = int(scenario.get("index", 0))
    yaml_path = dest / "scenario.yaml"
    yaml_path.write_text(one_scenario_yaml(scenario_file, str(scenario["name"])))
    built = api.build(api.BuildRequest(
        scenario_paths=(yaml_path,), arch=spec.arch, target=spec.target, out_dir=dest / "build",
        abi=spec.abi, kernel_zbi=spec.kernel_zbi, boot_shim=spec.boot_shim,
        fuchsia_build_dir=spec.fuchsia_build_dir,
        cmdline_extra=remap_fault_words(spec.cmdline_extra, index), cache_dir=spec.cache_dir),
        printer=printer)
    argv = boot_argv(built.manifest, built.out_dir, spec.accel)
    timeouts = SIM_TIMEOUTS if built.manifest.simulated else KERNEL_TIMEOUTS
    failed = [st for st in scenario.get("steps", []) if st.get("outcome") not in ("PASS", "SKIP")]
    expected = {
        "arch": spec.arch, "index": index, "name": scenario["name"],
        "file": scenario.get("file"), "where": scenario.get("where"),
        "outcome": scenario.get("outcome"), "signature": signature(scenario),
        "reason": scenario.get("reason"), "failed_steps": failed,
        "target": spec.target, "abi": spec.abi, "accel": spec.accel,
        "simulated": built.manifest.simulated, "argv": argv,
        "cmdline": built.manifest.cmdline, "run_result": str(run_result) if run_result else None,
        "timeouts": {"first_output_s": timeouts.first_output_s,
                     "silence_s": timeouts.silence_s, "scenario_s": timeouts.scenario_s},
    }
    (dest / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    repro = dest / "repro.sh"
    repro.write_text(render_repro_sh(argv, built.out_dir, expected,
                                     timeout_s=timeouts.silence_s * 3))
    repro.chmod(repro.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    lines = [f"{spec.arch} scenario '{scenario['name']}' ({scenario.get('where')}): "
             f"{scenario.get('outcome')}", f"signature: {expected['signature']}",
             f"reason: {scenario.get('reason')}", ""]
    for st in failed:
        lines.append(f"step {st.get('index')} {st.get('op')}: {st.get('outcome')} "
                     f"{st.get('reason')}")
        lines += [f"  {d['field']}: expected {d['expected']}, actual {d['actual']}"
                  for d in st.get("diffs", [])]
    lines += ["", "sh repro.sh             boot it once and check the outcome (exit 1: reproduced)",
              "rig repro . --reps 10   how often it fails",
              "rig repro . --gdb       boot it with QEMU's gdb stub and print the gdb commands"]
    (dest / "README.txt").write_text("\n".join(lines) + "\n")
    return dest


def write_bundles(req: api.RunRequest, result: Mapping[str, Any], run_dir: Path, *,
                  limit: int = MAX_BUNDLES, printer: Printer = api.null_printer) -> list[Path]:
    """A bundle for every failing or crashing scenario of a run (at most ``limit``).

    A bundle that cannot be built is reported and skipped: the run's verdict stands.
    """
    kernels = {api.kernel_arch(p): p for p in req.kernel_zbis}
    out: list[Path] = []
    for a in result.get("arches", []):
        arch = str(a["arch"])
        spec = BundleSpec(arch=arch, target=str(a["target"]), abi=str(a["abi"]),
                          accel=str(a["accel"]), kernel_zbi=kernels.get(arch),
                          boot_shim=req.boot_shims.get(arch),
                          fuchsia_build_dir=req.fuchsia_build_dir,
                          cmdline_extra=req.cmdline_extra, cache_dir=req.cache_dir)
        build = Path(str(a.get("build") or run_dir / arch / "build"))
        for s in a.get("scenarios", []):
            if s.get("outcome") not in FAILING:
                continue
            if len(out) >= limit:
                printer(f"bundles: stopped at {limit} (--max-bundles)")
                return out
            dest = run_dir / "bundles" / f"{arch}-{int(s.get('index', 0)):03d}-" \
                f"{_safe(str(s['name']))}"
            try:
                make_bundle(spec, s, build / str(s["file"]), dest,
                            run_result=run_dir / "result.json")
            except Exception as exc:  # noqa: BLE001 - a bundle is a help, never the verdict
                printer(f"bundle {dest.name}: not written: {exc}")
                continue
            printer(f"bundle: {dest}/repro.sh")
            out.append(dest)
    return out


# ---- replaying a bundle ------------------------------------------------------------------


@dataclass(frozen=True)
class Replay:
    outcome: str
    signature: str | None
    reason: str
    reproduced: bool
    log: Path


def read_expected(bundle: Path) -> dict[str, Any]:
    """:raises InputError: not a bundle."""
    try:
        data = json.loads((bundle / "expected.json").read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"{bundle}: not a reproducer bundle (no readable expected.json): "
                         f"{exc}") from exc
    if not isinstance(data, dict) or "signature" not in data:
        raise InputError(f"{bundle}/expected.json: no signature: not a reproducer bundle")
    return data


def judge_replay(bundle: Path, lines: Sequence[str], *, nonce: str | None = None,
                 hang: str | None = None, infra: str | None = None, log: Path) -> Replay:
    """Judge one boot of the bundle's image against the recorded failure."""
    expected = read_expected(bundle)
    manifest = read_manifest(bundle / "build")
    files = load_many(sorted((bundle / "build" / "scenarios").glob("*.yaml")))
    bv = judge_boot(manifest, files, lines, nonce=nonce or manifest.nonce, hang=hang,
                    infra=infra)
    if not bv.verdict.scenarios:
        return Replay("INFRA" if infra else "INCOMPLETE", None, bv.reason or "no verdict",
                      False, log)
    s = scenario_json(bv.verdict.scenarios[0])
    sig = signature(s)
    return Replay(s["outcome"], sig, s["reason"], sig == expected["signature"], log)


def judge_log_exit(bundle: Path, log: Path, qemu_status: int | None) -> tuple[Replay, int]:
    """`repro.sh`'s judgement of its serial log: (replay, exit status)."""
    try:
        text = log.read_bytes().decode("utf-8", "replace")
    except OSError as exc:
        raise InputError(f"{log}: cannot read the serial log: {exc}") from exc
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    # coreutils timeout exits 124 when it had to kill QEMU: the guest never powered off.
    hang = "QEMU was killed by repro.sh's timeout" if qemu_status == 124 else None
    infra = None
    if qemu_status not in (None, 0, 124) and not text.strip():
        infra = f"QEMU exited with status {qemu_status} and printed nothing"
    replay = judge_replay(bundle, lines, hang=hang, infra=infra, log=log)
    return replay, replay_exit(replay)


def replay_exit(r: Replay) -> int:
    if r.reproduced:
        return EXIT_TEST_FAILED
    if r.outcome == "INFRA":
        return EXIT_ENVIRONMENT
    if r.outcome in ("PASS", "SKIP"):
        return EXIT_OK
    return EXIT_OTHER_FAILURE


def replay(bundle: Path, *, rep: int, extra_argv: Sequence[str] = (),
           stop: threading.Event | None = None, timeout_scale: float = 1.0) -> Replay:
    """Boot the bundle's image once with the recorded argv and judge it live, as the runner
    does (a hang is a timeout, a crash ends the boot)."""
    expected = read_expected(bundle)
    manifest = read_manifest(bundle / "build")
    rep_dir = bundle / "reps" / f"rep-{rep}"
    rep_dir.mkdir(parents=True, exist_ok=True)
    board = boards.load_board(manifest.arch, manifest.target)
    argv = [*(str(a) for a in expected["argv"]), *extra_argv]
    base = SIM_TIMEOUTS if manifest.simulated else KERNEL_TIMEOUTS
    got = boot_once(argv, rep_dir, nonce=manifest.nonce,
                    timeouts=base.scaled(1.5 * timeout_scale), stop=stop or threading.Event(),
                    install_hint=f"sudo apt-get install -y {board.qemu_package}")
    return judge_replay(bundle, got.lines, hang=got.hang, infra=got.infra,
                        log=rep_dir / "serial.log")
