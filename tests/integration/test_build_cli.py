"""`rig build` and `rig zbi` through the real entry point, with real clang and synthetic kernels.

The kernel ZBIs here are synthetic: a kernel item whose body holds an era's marker strings
(zircon-facts.md 3.5) is all that assembly and era detection read. Nothing here boots them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from rig import resources
from rig.image import bootfs, cmdline, zbi
from tests.conftest import require_tool
from tests.conftest import run_rig as rig

pytestmark = pytest.mark.toolchain
IMAGES = resources.images_dir()

# Both files hold a write and a query_all: codegen (as of this writing) declares their buffers
# unused, and -Werror fails, when no scenario of the program has one (reported to its owner).
SCENARIO_A = ("scenarios:\n  - name: build-a\n    vmo: {pages: 2}\n    steps:\n"
              "      - supply: [0, 2]\n      - write: [1, 1]\n"
              "      - query_all: {buffer_entries: 2}\n")
SCENARIO_B = ("scenarios:\n  - name: build-b\n    vmo: {pages: 1}\n    steps:\n"
              "      - supply: [0, 1]\n      - write: [0, 1]\n"
              "      - query_all: {buffer_entries: 2}\n")
KERNEL_TYPES = {"x64": zbi.TYPE_KERNEL_X64, "arm64": zbi.TYPE_KERNEL_ARM64}
ERA_MARKERS = {
    "I": [b"kernel.select.userboot", b"userboot.test.next", b"kernel.vdso.always_use_next"],
    "F": [b"userboot.test.next", b"bin/component_manager+--boot",
          b"kernel.vdso.always_use_next"],
    "E": [b"bin/component_manager+--boot", b"WARNING: unknown option"],
    "C": [b'option "%s"', b"userboot.next"],
    "B": [b"no markers at all"],
}
TEST_WORDS = ["kernel.halt-on-panic=true", "kernel.entropy-mixin={entropy}",
              "kernel.page-scanner.enable-eviction=false",
              "kernel.page-scanner.start-at-boot=false",
              "kernel.lockup-detector.heartbeat-period-ms=0",
              "kernel.lockup-detector.heartbeat-age-threshold-ms=0"]


@pytest.fixture(autouse=True)
def _clang() -> None:
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def scenarios(tmp_path: Path) -> list[Path]:
    (tmp_path / "s").mkdir(exist_ok=True)
    a, b = tmp_path / "s" / "a.yaml", tmp_path / "s" / "b.yaml"
    a.write_text(SCENARIO_A)
    b.write_text(SCENARIO_B)
    return [a, b]


# The first bytes of a shim of each board's format (images/<arch>/zircon.yaml
# boot.kernel_formats): a Linux bzImage header for x64, the arm64 Image magic at 56.
FAKE_SHIMS = {"x64": bytes(0x202) + b"HdrS" + bytes(16),
              "arm64": bytes(56) + b"ARM\x64" + bytes(8)}


def kernel_item(arch: str, era: str) -> zbi.ZbiItem:
    return zbi.make_item(KERNEL_TYPES[arch], bytes(16) + b"\0".join(ERA_MARKERS[era]) + b"\0")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def expected_listing(path: Path, data: bytes, items: list[tuple[str, int, int]],
                     files: dict[int, list[tuple[str, bytes]]], texts: dict[int, str],
                     kernel_header: tuple[int, int] = (0, 0)) -> str:
    """The exact `rig zbi inspect` text for items (type name, length, extra), all CRC'd; item 0
    is a kernel with zbi_kernel_t (entry, reserve_memory_size) = ``kernel_header``."""
    lines = [f"{path}: ZBI, {len(data)} bytes, {len(items)} items",
             "  #    offset  type               length      extra  flags       crc"]
    offset = 32
    for i, (name, length, extra) in enumerate(items):
        flags = 0x30000 | (1 if name.startswith("STORAGE") and extra != length else 0)
        lines.append(f"{i:>3}  {offset:>8}  {name:<16}{length:>9}  {extra:>9}  "
                     f"0x{flags:08x}  ok")
        offset += 32 + zbi.align(length)
    for i in sorted(set(files) | set(texts)):
        if i in files:
            lines.append(f"BOOTFS (item {i}): {len(files[i])} files")
            lines += [f"  {n}  {len(d)} bytes  sha256 {sha(d)}" for n, d in files[i]]
        if i in texts:
            lines.append(f"CMDLINE (item {i}): {texts[i]}")
    lines.append(f"{items[0][0]} (item 0): entry 0x{kernel_header[0]:x} (from the start of the "
                 "kernel image, container header included), reserve_memory_size "
                 f"0x{kernel_header[1]:x}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("arch", "era"), [("x64", "F"), ("arm64", "C"), ("x64", "I"),
                                           ("arm64", "E"), ("x64", "B")])
def test_build_zircon_detects_era_and_inspect_shows_what_went_in(
        tmp_path: Path, cache: Path, arch: str, era: str) -> None:
    files = scenarios(tmp_path)
    kernel = kernel_item(arch, era)
    kzbi, shim, out = tmp_path / "kernel.zbi", tmp_path / "shim.bin", tmp_path / "out"
    kzbi.write_bytes(zbi.write_zbi([kernel]))
    shim.write_bytes(FAKE_SHIMS[arch])
    proc = rig("build", *map(str, files), "--arch", arch, "--target", "zircon",
               "--kernel-zbi", str(kzbi), "--boot-shim", str(shim), "--out", str(out),
               "--cache-dir", str(cache), "--abi", "2024")
    assert proc.returncode == 0, proc.stderr
    detected = cmdline.detect_era(kzbi.read_bytes(), source=str(kzbi))
    assert detected.era == era
    assert proc.stdout.splitlines()[:2] == ["ABI profile: 2024 (--abi given)",
                                            f"kernel era: {era} ({detected.reason})"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "cmdline.txt", "image.zbi", "manifest.json", "program.c", "program.elf", "qemu.sh",
        "scenarios", "scenarios/a.yaml", "scenarios/b.yaml"]

    manifest = json.loads((out / "manifest.json").read_text())
    nonce = manifest["nonce"]
    assert re.fullmatch(r"[0-9a-f]{16}", nonce)
    program = f"bin/rig-test+rig.nonce={nonce}"  # eras D on: argv words after '+'
    userboot = {"I": [f"userboot.test.next={program}"], "F": [f"userboot.test.next={program}"],
                "E": [f"userboot.next={program}", "userboot.shutdown"],
                "C": ["userboot=bin/rig-test", "userboot.next=bin/rig-test", "userboot.shutdown"],
                "B": ["userboot=bin/rig-test", "userboot.shutdown"]}[era]
    words = userboot + [w.format(entropy=cmdline.entropy_mixin(nonce)) for w in TEST_WORDS]
    if era in ("I", "F"):
        words.append("kernel.vdso.always_use_next=true")
    if arch == "x64":
        words.append("kernel.serial=legacy")
    words.append(f"rig.nonce={nonce}")
    assert (out / "cmdline.txt").read_text() == " ".join(words) + "\n"
    elf = (out / "program.elf").read_bytes()
    assert elf[:4] == b"\x7fELF"
    outputs = {n: sha((out / n).read_bytes()) for n in (
        "cmdline.txt", "image.zbi", "program.c", "program.elf", "qemu.sh", "scenarios/a.yaml",
        "scenarios/b.yaml")}
    qemu = manifest["tools"]["qemu"]
    program_id = manifest["program_id"]
    assert re.search(f"Program id: {program_id}", (out / "program.c").read_text())
    shim_abs, image_abs = str(shim.resolve()), str((out / "image.zbi").resolve())
    board_argv = {
        "x64": ["qemu-system-x86_64", "-machine", "q35", "-cpu",
                "Haswell,+smap,-check,-fsgsbase", "-accel", "tcg", "-m", "2048", "-smp", "2",
                "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio", "-device",
                "isa-debug-exit,iobase=0xf4,iosize=0x04"],
        "arm64": ["qemu-system-aarch64", "-machine", "virt,gic-version=2", "-cpu", "cortex-a53",
                  "-accel", "tcg", "-m", "2048", "-smp", "2", "-nodefaults", "-display", "none",
                  "-no-reboot", "-serial", "stdio"],
    }[arch] + ["-kernel", shim_abs, "-initrd", image_abs]
    assert manifest == {
        "rig_version": "0.1.0", "program_id": program_id, "nonce": nonce, "abi": "2024",
        "abi_reason": "--abi given", "arch": arch, "target": "zircon", "board": f"{arch}/zircon",
        "kernel_era": {"era": era, "reason": detected.reason},
        "scenarios": [
            {"index": 0, "name": "build-a", "file": "scenarios/a.yaml", "steps": 3},
            {"index": 1, "name": "build-b", "file": "scenarios/b.yaml", "steps": 3}],
        "inputs": {str(files[0].resolve()): sha(SCENARIO_A.encode()),
                   str(files[1].resolve()): sha(SCENARIO_B.encode()),
                   str(kzbi.resolve()): sha(kzbi.read_bytes()),
                   shim_abs: sha(FAKE_SHIMS[arch])},
        "outputs": outputs,
        "tools": {"clang": manifest["tools"]["clang"], "lld": manifest["tools"]["lld"],
                  "qemu": qemu},
        "cmdline": " ".join(words), "output": "debuglog", "program_path": "bin/rig-test",
        "qemu_argv": board_argv, "missing": [], "simulated": False, "boot_mode": "shim",
    }
    assert "clang version 19" in manifest["tools"]["clang"]
    assert (out / "qemu.sh").read_text().splitlines()[-1] == (
        "exec " + " ".join(board_argv) + ' "$@" </dev/null')
    assert os.access(out / "qemu.sh", os.X_OK)

    image = out / "image.zbi"
    data = image.read_bytes()
    bootfs_len = len(bootfs.build_bootfs({"bin/rig-test": elf}))
    cmd = " ".join(words)
    listing = rig("zbi", "inspect", str(image))
    assert (listing.returncode, listing.stderr) == (0, "")
    assert listing.stdout == expected_listing(
        image, data,
        [(zbi.type_name(KERNEL_TYPES[arch]), len(kernel.payload), 0),
         ("STORAGE_BOOTFS", bootfs_len, bootfs_len), ("CMDLINE", len(cmd) + 1, 0)],
        {1: [("bin/rig-test", elf)]}, {2: cmd})


def test_build_full_image_puts_our_bootfs_first(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    their_fs = zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS,
                                bootfs.build_bootfs({"bin/component_manager": b"cm" * 100}),
                                compress=True)
    storage_kernel = zbi.storage_item(zbi.TYPE_STORAGE_KERNEL,
                                      b"\0userboot.test.next\0" + bytes(3000), compress=True)
    their_cmd = zbi.cmdline_item("userboot.next=bin/component_manager+--boot")
    # zbi_kernel_t entry 0x50: the first code byte of kernel.bin, so the direct boot (no
    # --boot-shim) accepts it.
    kernel = zbi.make_item(zbi.TYPE_KERNEL_ARM64,
                           (0x50).to_bytes(8, "little") + bytes(8) + b"physboot")
    kzbi = tmp_path / "zircon-a.zbi"
    kzbi.write_bytes(zbi.write_zbi([kernel, storage_kernel, their_fs, their_cmd]))
    out = tmp_path / "out"
    proc = rig("build", *map(str, files), "--arch", "arm64", "--target", "zircon",
               "--kernel-zbi", str(kzbi), "--out", str(out), "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[1:2] == [
        "kernel era: F (found 'userboot.test.next' in the STORAGE_KERNEL item (unpacked, 3020 "
        "bytes) (newest matching marker; facts 3.5 era F: userboot.test.next= alone; "
        ".shutdown removed))"]
    assert (f"note: {kzbi} has 1 BOOTFS item(s) of its own; ours is placed before them "
            "(item 2) because userboot uses the first") in proc.stdout.splitlines()
    image = out / "image.zbi"
    elf = (out / "program.elf").read_bytes()
    cmd = (out / "cmdline.txt").read_text().strip()
    bootfs_len = len(bootfs.build_bootfs({"bin/rig-test": elf}))
    listing = rig("zbi", "inspect", str(image))
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout == expected_listing(
        image, image.read_bytes(),
        [("KERNEL_ARM64", len(kernel.payload), 0),
         ("STORAGE_KERNEL", len(storage_kernel.payload), storage_kernel.extra),
         ("STORAGE_BOOTFS", bootfs_len, bootfs_len),
         ("STORAGE_BOOTFS", len(their_fs.payload), their_fs.extra),
         ("CMDLINE", len(their_cmd.payload), 0), ("CMDLINE", len(cmd) + 1, 0)],
        {2: [("bin/rig-test", elf)], 3: [("bin/component_manager", b"cm" * 100)]},
        {4: "userboot.next=bin/component_manager+--boot", 5: cmd}, kernel_header=(0x50, 0))
    # userboot takes the first BOOTFS item: it is ours.
    first = zbi.read_zbi(image.read_bytes()).first(zbi.TYPE_STORAGE_BOOTFS)
    assert first is not None
    assert bootfs.read_bootfs(zbi.storage_payload(first)) == (
        bootfs.BootfsFile("bin/rig-test", elf, 4096),)


def test_build_without_kernel_or_shim_writes_the_rest(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    out = tmp_path / "out"
    proc = rig("build", *map(str, files), "--arch", "x64", "--target", "zircon", "--out",
               str(out), "--cache-dir", str(cache), "--cmdline", "a=1 b", "--cmdline", "c=2",
               "--output", "debug-write")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:2] == [
        "ABI profile: 2024 (no kernel image given: the default profile (--abi P chooses "
        "another))",
        "kernel era: unknown (no kernel ZBI given, so no era detection: run-everywhere words "
        "(give --kernel-zbi or --kernel-era))"]
    assert lines[3:5] == [
        "missing: the kernel ZBI (--kernel-zbi or --fuchsia-build-dir), so no image.zbi; "
        "qemu.sh says so and exits 3",
        "missing: the boot shim: the Fuchsia QEMU boot shim (--boot-shim or "
        "--fuchsia-build-dir); x64/zircon has no direct boot (no direct_boot section in "
        f"{IMAGES}/x64/zircon.yaml), so x64 kernels boot only through their shim; qemu.sh "
        "says so and exits 3"]
    assert not (out / "image.zbi").exists()
    words = (out / "cmdline.txt").read_text().split()
    assert words[:4] == ["userboot=bin/rig-test", "userboot.next=bin/rig-test",
                         "userboot.shutdown", "userboot.next-is-test=true"]
    assert words[-7:] == ["kernel.enable-serial-syscalls=output-only", "rig.output=debug-write",
                          "kernel.serial=legacy", words[-4], "a=1", "b", "c=2"]
    assert words[-4].startswith("rig.nonce=")
    run = subprocess.run(["sh", str(out / "qemu.sh")], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, check=False)
    assert (run.returncode, run.stdout, run.stderr) == (
        3, "",
        "qemu.sh: cannot boot: missing the kernel ZBI (--kernel-zbi or --fuchsia-build-dir), "
        "so no image.zbi\nqemu.sh: cannot boot: missing the boot shim: the Fuchsia QEMU boot "
        "shim (--boot-shim or --fuchsia-build-dir); x64/zircon has no direct boot (no "
        f"direct_boot section in {IMAGES}/x64/zircon.yaml), so x64 kernels boot only through "
        "their shim\n")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["kernel_era"]["era"], manifest["qemu_argv"], len(manifest["missing"]),
            manifest["output"]) == ("unknown", None, 2, "debug-write")


def test_build_kernel_era_flag_overrides_detection(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    kzbi = tmp_path / "k.zbi"
    kzbi.write_bytes(zbi.write_zbi([kernel_item("x64", "F")]))
    out = tmp_path / "out"
    proc = rig("build", str(files[0]), "--arch", "x64", "--target", "zircon", "--kernel-zbi",
               str(kzbi), "--kernel-era", "D", "--out", str(out), "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    detected = cmdline.detect_era(kzbi.read_bytes(), source=str(kzbi))
    reason = f"--kernel-era given (detection said F: {detected.reason})"
    assert proc.stdout.splitlines()[1] == f"kernel era: D ({reason})"
    words = (out / "cmdline.txt").read_text().split()
    nonce = json.loads((out / "manifest.json").read_text())["nonce"]
    assert words[:2] == [f"userboot.next=bin/rig-test+rig.nonce={nonce}", "userboot.shutdown"]
    # The kernel holds the vDSO option's name, so the word stays whatever the era flag says.
    assert "kernel.vdso.always_use_next=true" in words


def test_build_from_fuchsia_build_dir(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    build = tmp_path / "fuchsia-out"
    (build / "obj").mkdir(parents=True)
    (build / "obj" / "fuchsia.zbi").write_bytes(zbi.write_zbi([kernel_item("arm64", "E")]))
    (build / "linux-arm64-boot-shim.bin").write_bytes(FAKE_SHIMS["arm64"])
    (build / "images.json").write_text(json.dumps([
        {"name": "zircon-a", "type": "zbi", "path": "obj/fuchsia.zbi", "cpu": "arm64"},
        {"name": "qemu-kernel", "type": "kernel", "path": "linux-arm64-boot-shim.bin",
         "cpu": "arm64"}]))
    (build / "args.json").write_text(json.dumps({"target_cpu": "arm64"}))
    out = tmp_path / "out"
    proc = rig("build", str(files[1]), "--arch", "arm64", "--target", "zircon",
               "--fuchsia-build-dir", str(build), "--out", str(out), "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kernel_era"]["era"] == "E"
    assert manifest["qemu_argv"][-4:] == [
        "-kernel", str((build / "linux-arm64-boot-shim.bin").resolve()), "-initrd",
        str((out / "image.zbi").resolve())]
    wrong = rig("build", str(files[1]), "--arch", "x64", "--target", "zircon",
                "--fuchsia-build-dir", str(build), "--out", str(out))
    assert (wrong.returncode, wrong.stderr) == (
        2, f"rig build: error: {build}/args.json: target_cpu is 'arm64', wanted 'x64'; use a "
           "build for --arch x64 or pass --arch arm64\n")


def test_zbi_extract_writes_what_went_in(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    kernel = kernel_item("x64", "F")
    kzbi = tmp_path / "k.zbi"
    kzbi.write_bytes(zbi.write_zbi([kernel]))
    out = tmp_path / "out"
    assert rig("build", str(files[0]), "--arch", "x64", "--target", "zircon", "--kernel-zbi",
               str(kzbi), "--out", str(out), "--cache-dir", str(cache)).returncode == 0
    dest = tmp_path / "x"
    proc = rig("zbi", "extract", str(out / "image.zbi"), str(dest))
    assert (proc.returncode, proc.stdout) == (0, f"{out}/image.zbi: wrote 4 files to {dest}\n")
    got = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    elf = (out / "program.elf").read_bytes()
    assert got == {
        "00-KERNEL_X64.bin": kernel.payload,
        "01-STORAGE_BOOTFS.bin": bootfs.build_bootfs({"bin/rig-test": elf}),
        "01-STORAGE_BOOTFS/bin/rig-test": elf,
        "02-CMDLINE.txt": (out / "cmdline.txt").read_text().strip().encode(),
    }


@pytest.mark.parametrize(("args", "message"), [
    (["--target", "sim", "--kernel-zbi", "{arm}"],
     "rig build: error: --target sim boots the rig's own simulated kernel: give no --kernel-zbi"),
    (["--target", "zircon", "--kernel-zbi", "{arm}"],
     "rig build: error: {arm}: kernel item is KERNEL_ARM64, wanted KERNEL_X64 for this arch"),
    (["--target", "zircon", "--kernel-zbi", "{junk}"],
     "rig build: error: {junk}: container header (byte offset 0): type is 0x464c457f"),
    (["--target", "zircon", "--kernel-zbi", "{tmp}/nope.zbi"],
     "rig build: error: --kernel-zbi {tmp}/nope.zbi: no such file"),
    # A device or a FIFO is refused, not read (/dev/zero ended in MemoryError).
    (["--target", "zircon", "--kernel-zbi", "/dev/zero"],
     "rig build: error: --kernel-zbi /dev/zero: not a regular file"),
    (["--target", "zircon", "--boot-shim", "/dev/zero"],
     "rig build: error: --boot-shim /dev/zero: not a regular file"),
    (["--target", "zircon", "--out", "/proc/version/out"],
     "rig build: error: --out /proc/version/out: cannot create the build directory: "),
    (["--target", "zircon", "--out", "{arm}"],
     "rig build: error: --out {arm}: cannot create the build directory: "),
    (["--target", "zircon", "--kernel-era", "Q"],
     "rig build: error: --kernel-era 'Q': wanted one of ['A', 'B', 'C'"),
])
def test_build_bad_input_exits_2(tmp_path: Path, args: list[str], message: str) -> None:
    files = scenarios(tmp_path)
    arm, junk = tmp_path / "arm.zbi", tmp_path / "junk.zbi"
    arm.write_bytes(zbi.write_zbi([kernel_item("arm64", "F")]))
    junk.write_bytes(b"\x7fELF" + bytes(60))
    subst = {"arm": str(arm), "junk": str(junk), "tmp": str(tmp_path)}
    args = [a.format(**subst) for a in args]
    proc = rig("build", str(files[0]), "--arch", "x64", "--out", str(tmp_path / "o"), *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message.format(**subst)), proc.stderr
    assert not (tmp_path / "o" / "program.elf").exists()


def test_build_without_clang_exits_3(tmp_path: Path) -> None:
    files = scenarios(tmp_path)
    env = dict(os.environ, RIG_CLANG=str(tmp_path / "no-clang"))
    proc = rig("build", str(files[0]), "--arch", "x64", "--target", "zircon", "--out",
               str(tmp_path / "o"), env=env)
    assert proc.returncode == 3
    assert proc.stderr.startswith("rig build: error: clang: not found"), proc.stderr


def test_zbi_inspect_bad_image_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.zbi"
    bad.write_bytes(zbi.write_zbi([zbi.cmdline_item("x")])[:-8])
    proc = rig("zbi", "inspect", str(bad))
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == (f"rig zbi: error: {bad}: container header (byte offset 0): truncated: "
                           "length says 40 bytes of items, the file has 32 after the header\n")


def test_rebuild_into_same_dir_leaves_no_stale_files(tmp_path: Path, cache: Path) -> None:
    files = scenarios(tmp_path)
    out = tmp_path / "out"
    kzbi = tmp_path / "k.zbi"
    kzbi.write_bytes(zbi.write_zbi([kernel_item("x64", "F")]))
    first = rig("build", *map(str, files), "--arch", "x64", "--target", "zircon",
                "--kernel-zbi", str(kzbi), "--out", str(out), "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    second = rig("build", str(files[1]), "--arch", "x64", "--target", "zircon", "--out",
                 str(out), "--cache-dir", str(cache))
    assert second.returncode == 0, second.stderr
    # check-log reads every scenarios/*.yaml; an image from the first build would boot the
    # wrong program.
    assert sorted(p.name for p in out.iterdir()) == [
        "cmdline.txt", "manifest.json", "program.c", "program.elf", "qemu.sh", "scenarios"]
    assert [p.name for p in (out / "scenarios").iterdir()] == ["b.yaml"]


# Stand-ins for the boot shims, so qemu.sh really runs. Each prints on the board's serial port,
# checks that QEMU handed it image.zbi as the initrd (it starts with the container type 'BOOT'),
# and leaves through the board's way out. They are not Zircon shims: they prove the board's argv,
# serial, exit path and -initrd wiring, not a kernel boot.
#
# x64: a multiboot v1 image (what QEMU's -kernel loads on x86; the initrd is module 0), COM1,
# isa-debug-exit: 0x10 -> exit 33 with a ZBI, 0x20 -> exit 65 without.
X64_SHIM_S = r"""
    .text
    .code32
    .globl _start
header:
    .long 0x1BADB002, 0x00010000, -(0x1BADB002 + 0x00010000)
    .long header, header, 0, 0, _start   // a.out kludge: load the whole file at header
_start:
    mov $0x3f8, %dx
    lea hello, %esi
    call puts
    mov 20(%ebx), %ecx        // multiboot info: mods_count
    test %ecx, %ecx
    jz fail
    mov 24(%ebx), %eax        // mods_addr -> mod_start
    mov (%eax), %edi
    cmpl $0x544f4f42, (%edi)
    jne fail
    lea ok, %esi
    call puts
    mov $0x10, %al
    out %al, $0xf4
fail:
    lea bad, %esi
    call puts
    mov $0x20, %al
    out %al, $0xf4
    hlt
puts:
    lodsb
    test %al, %al
    jz 1f
    out %al, %dx
    jmp puts
1:  ret
hello: .asciz "shim: hello\n"
ok: .asciz "shim: initrd is a ZBI\n"
bad: .asciz "shim: no ZBI initrd\n"
"""
# arm64: a Linux arm64 Image (the format of linux-arm64-boot-shim.bin), so QEMU passes the
# devicetree in x0 with /chosen linux,initrd-start; PL011 at 0x09000000; PSCI SYSTEM_OFF (exit 0,
# so only the serial text tells).
ARM64_SHIM_S = r"""
    .section .text.head, "ax"
    .globl _head
_head:
    b start
    .long 0
    .quad 0x80000             // text_offset
    .quad _end - _head        // image_size
    .quad 0, 0, 0, 0          // flags, res2-4
    .long 0x644d5241          // "ARM\x64"
    .long 0
start:
    ldr x1, =stack_top
    mov sp, x1
    bl shim_main              // x0 = devicetree
    ldr x0, =0x84000008       // PSCI SYSTEM_OFF
    hvc #0
1:  wfi
    b 1b
    .bss
    .balign 16
    .space 8192
stack_top:
"""
ARM64_SHIM_C = r"""
typedef unsigned long u64; typedef unsigned int u32; typedef unsigned char u8;
static volatile u32* const uart = (volatile u32*)0x09000000;
static void say(const char* s) { while (*s) *uart = (u32)*s++; }
static u32 be32(const u8* p) { return (u32)p[0] << 24 | (u32)p[1] << 16 | (u32)p[2] << 8 | p[3]; }
static int same(const char* a, const char* b) {
  while (*a && *a == *b) { a++; b++; }
  return *a == *b;
}
static const u8* align4(const u8* p) { return (const u8*)(((u64)p + 3) & ~3ul); }
void shim_main(const u8* dtb) {
  say("shim: hello\n");
  if (be32(dtb) != 0xd00dfeedu) { say("shim: no devicetree\n"); return; }
  const u8* p = dtb + be32(dtb + 8);
  const char* strings = (const char*)dtb + be32(dtb + 12);
  for (;;) {
    u32 token = be32(p);
    p += 4;
    if (token == 1) {  /* FDT_BEGIN_NODE: skip the name */
      while (*p) p++;
      p = align4(p + 1);
    } else if (token == 3) {  /* FDT_PROP */
      u32 len = be32(p);
      const char* name = strings + be32(p + 4);
      const u8* val = p + 8;
      if (same(name, "linux,initrd-start")) {
        const u8* z = (const u8*)(len == 8 ? (u64)be32(val) << 32 | be32(val + 4) : be32(val));
        say(z[0] == 'B' && z[1] == 'O' && z[2] == 'O' && z[3] == 'T' ? "shim: initrd is a ZBI\n"
                                                                     : "shim: no ZBI initrd\n");
        return;
      }
      p = align4(val + len);
    } else if (token != 2 && token != 4) {  /* not END_NODE or NOP: the end */
      break;
    }
  }
  say("shim: no initrd\n");
}
"""


def _build_fake_shim(arch: str, tmp: Path, objcopy: str) -> Path:
    elf, shim = tmp / "shim.elf", tmp / "shim.bin"
    if arch == "x64":
        (tmp / "shim.S").write_text(X64_SHIM_S)
        steps = [["clang-19", "--target=i386-unknown-none-elf", "-c", str(tmp / "shim.S"), "-o",
                  str(tmp / "shim.o")],
                 ["ld.lld-19", "-m", "elf_i386", "-Ttext=0x100000", "-e", "_start",
                  str(tmp / "shim.o"), "-o", str(elf)]]
    else:
        (tmp / "shim.S").write_text(ARM64_SHIM_S)
        (tmp / "shim.c").write_text(ARM64_SHIM_C)
        cc = ["clang-19", "--target=aarch64-unknown-none-elf", "-ffreestanding", "-nostdlib",
              "-fno-builtin", "-mstrict-align", "-mgeneral-regs-only", "-O2", "-fno-pic", "-c"]
        steps = [cc + [str(tmp / "shim.S"), "-o", str(tmp / "s.o")],
                 cc + [str(tmp / "shim.c"), "-o", str(tmp / "c.o")],
                 ["ld.lld-19", "-Ttext=0x40080000", "--section-start=.text.head=0x40080000",
                  "-e", "_head",
                  str(tmp / "s.o"), str(tmp / "c.o"), "-o", str(elf)]]
    for argv in steps + [[objcopy, "-O", "binary", str(elf), str(shim)]]:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return shim


@pytest.mark.qemu
@pytest.mark.parametrize(("arch", "qemu", "package", "exit_code"), [
    ("x64", "qemu-system-x86_64", "qemu-system-x86", 33),
    ("arm64", "qemu-system-aarch64", "qemu-system-arm", 0),
])
def test_qemu_sh_runs_the_board_command_line(tmp_path: Path, cache: Path, arch: str, qemu: str,
                                             package: str, exit_code: int) -> None:
    require_tool(qemu, package)
    objcopy = require_tool("llvm-objcopy-19", "llvm-19")
    shim = _build_fake_shim(arch, tmp_path, objcopy)
    files = scenarios(tmp_path)
    kzbi, out = tmp_path / "k.zbi", tmp_path / "out"
    kzbi.write_bytes(zbi.write_zbi([kernel_item(arch, "F")]))
    proc = rig("build", *map(str, files), "--arch", arch, "--target", "zircon", "--kernel-zbi",
               str(kzbi), "--boot-shim", str(shim), "--out", str(out), "--cache-dir", str(cache))
    assert proc.returncode == 0, proc.stderr
    # qemu.sh execs QEMU, so a timeout here kills QEMU itself.
    run = subprocess.run([str(out / "qemu.sh")], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL, check=False)
    assert (run.returncode, run.stdout) == (exit_code, "shim: hello\nshim: initrd is a ZBI\n"), (
        run.stderr)


# vDSO names as a kernel image carries them (facts 7, 9): the 2020 vDSO lacks the query call.
VDSO_2020 = [b"zx_vmo_create", b"zx_pager_create", b"zx_pager_supply_pages"]


@pytest.mark.parametrize(("names", "abi_flag", "want"), [
    (VDSO_2020, [], "2020"),
    (VDSO_2020, ["--abi", "2024"], "2024"),
    ([*VDSO_2020, b"zx_pager_query_dirty_ranges"], [], "2022"),  # era E decides
])
def test_build_abi_follows_the_kernel(tmp_path: Path, cache: Path, names: list[bytes],
                                      abi_flag: list[str], want: str) -> None:
    files = scenarios(tmp_path)
    kzbi, out = tmp_path / "k.zbi", tmp_path / "out"
    body = bytes(16) + b"\0".join([*names, *ERA_MARKERS["E"]]) + b"\0"
    kzbi.write_bytes(zbi.write_zbi([zbi.make_item(KERNEL_TYPES["x64"], body)]))
    proc = rig("build", str(files[0]), "--arch", "x64", "--target", "zircon", "--kernel-zbi",
               str(kzbi), "--out", str(out), "--cache-dir", str(cache), *abi_flag)
    assert proc.returncode == 0, proc.stderr
    first = proc.stdout.splitlines()[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert first == f"ABI profile: {want} ({manifest['abi_reason']})"
    assert manifest["abi"] == want
    if abi_flag:
        assert manifest["abi_reason"] == "--abi given"
    elif want == "2020":
        assert manifest["abi_reason"].startswith(
            "--abi auto: no zx_pager_query_dirty_ranges among the vDSO names in the kernel item "
            "(KERNEL_X64) (zx_vmo_create is there)")
    else:
        assert manifest["abi_reason"].startswith(
            "--abi auto: zx_pager_query_dirty_ranges found in the kernel item (KERNEL_X64), "
            "and the userboot era is E: era E (~2022)")
    assert f"ABI {want}" in proc.stdout


@pytest.mark.parametrize("arch", ["x64", "arm64"])
def test_build_refuses_a_boot_shim_qemu_cannot_boot(tmp_path: Path, arch: str) -> None:
    files = scenarios(tmp_path)
    shim = tmp_path / "shim.bin"
    shim.write_bytes(b"garbage, not a boot shim")
    proc = rig("build", str(files[0]), "--arch", arch, "--target", "zircon", "--boot-shim",
               str(shim), "--out", str(tmp_path / "out"))
    formats = {"x64": "linux-x86 or multiboot or elf", "arm64": "linux-arm64 or elf"}[arch]
    assert (proc.returncode, proc.stderr) == (
        2, f"rig build: error: --boot-shim {shim}: no format QEMU boots on {arch}/zircon; wanted "
           f"{formats} (boot.kernel_formats in {IMAGES}/{arch}/zircon.yaml): pass the Fuchsia "
           "build's boot shim\n")
    assert not (tmp_path / "out").exists()
