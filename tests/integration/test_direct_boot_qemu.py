"""Direct boot under real QEMU: `rig build` with no shim, then the written qemu.sh.

A stand-in kernel of our own (a few lines of AArch64 assembly and C, built here with clang-19
for aarch64-none-elf, no libc) is packaged as a KERNEL_ARM64 item whose zbi_kernel_t.entry
counts from the start of kernel.bin (zircon-facts.md 8). Under QEMU it prints, on the PL011,
where it was entered and where it was linked, what x0 holds, then walks the data ZBI x0 points
at: every item's type, length, extra and CRC (checked in the guest), and the values of the
items it knows; then it powers off through PSCI SYSTEM_OFF (hvc). The test compares all of it
with data.zbi as the host reads it. Both GIC versions are booted (facts 8 measured both).

Optional: with RIG_REAL_ZBI pointing at the real 2020 arm64 core-tests.zbi (facts 9), the
bundled suite is built for --abi 2020 and booted through qemu.sh with no shim, and
`rig check-log` must give only PASS and SKIP.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from rig import resources
from rig.image import board_items, boards, direct_boot, zbi
from tests.conftest import require_tool, run_qemu_sh
from tests.conftest import run_rig as rig

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

BOOT_TIMEOUT_S = 60
REAL_BOOT_TIMEOUT_S = 300
SCENARIO = ("scenarios:\n  - name: direct-boot\n    vmo: {pages: 1}\n    steps:\n"
            "      - supply: [0, 1]\n      - write: [0, 1]\n"
            "      - query_all: {buffer_entries: 2}\n")

STANDIN_LD = r"""
ENTRY(_start)
SECTIONS {
  /* kernel.bin = container header + item header (64 bytes) + this payload, loaded at the
     board's direct_boot.load.kernel (0x40200000). */
  . = 0x40200040;
  .head : { KEEP(*(.text.head)) }
  .text : { *(.text.wrong) *(.text .text.*) }
  .rodata : { *(.rodata .rodata.*) }
  .data : { *(.data .data.*) }
  _image_end = .;
  .bss (NOLOAD) : { . = ALIGN(16); *(.bss .bss.* COMMON) }
  _end = .;
  /* zbi_kernel_t: entry counts from the start of kernel.bin (its container header);
     reserve_memory_size covers bss and stack. */
  _kernel_entry = _start - 0x40200000;
  _kernel_reserve = _end - _image_end;
}
"""
STANDIN_S = r"""
    .section .text.head, "a"
    .quad _kernel_entry               // zbi_kernel_t (values from standin.ld)
    .quad _kernel_reserve

    .section .text.wrong, "ax"
    // The first code of the payload: a trampoline that branched to the payload instead of
    // kernel + entry lands here.
wrong:
    adr x0, wrong_msg
    bl standin_say
    b off

    .text
    .globl _start
_start:
    adr x1, _start                    // where we run
    ldr x2, =_start                   // where we were linked
    ldr x9, =stack_top
    mov sp, x9
    bl standin_main                   // x0: the data ZBI, from the trampoline
off:
    ldr x0, =0x84000008               // PSCI SYSTEM_OFF
    hvc #0
1:  wfi
    b 1b

    .section .rodata
wrong_msg: .asciz "stand-in: FAIL entered at the first code byte, not at the entry\n"

    .bss
    .balign 16
    .space 16384
stack_top:
"""
STANDIN_C = r"""
typedef unsigned long u64; typedef unsigned int u32; typedef unsigned short u16;
typedef unsigned char u8;
static volatile u32* const uart = (volatile u32*)0x09000000;  /* PL011 DR */

static void putc_(char c) { *uart = (u32)(u8)c; }
void standin_say(const char* s) { while (*s) putc_(*s++); }
static void hex(u64 v) {
  int i = 60;
  standin_say("0x");
  while (i > 0 && !((v >> i) & 15)) i -= 4;
  for (; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 15]);
}
static void dec(u64 v) {
  char b[24]; int n = 0;
  do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (n) putc_(b[--n]);
}
static void four(u32 v) { for (int i = 0; i < 4; i++) putc_((char)(v >> (8 * i))); }
static u32 rd32(const u8* p) {
  return (u32)p[0] | (u32)p[1] << 8 | (u32)p[2] << 16 | (u32)p[3] << 24;
}
static u64 rd64(const u8* p) { return rd32(p) | (u64)rd32(p + 4) << 32; }
static u32 crc32(const u8* p, u64 n, u32 crc) {
  crc = ~crc;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

void standin_main(const u8* z, u64 pc, u64 linked) {
  static const u8 zero[4];
  int fail = 0;
  standin_say("stand-in: entered at "); hex(pc); standin_say(", linked at "); hex(linked);
  standin_say("\nstand-in: x0 "); hex((u64)z); standin_say("\n");
  if (pc != linked) { standin_say("stand-in: FAIL entered away from _start\n"); return; }
  if (rd32(z) != 0x544f4f42 || rd32(z + 8) != 0x868cf7e6 || rd32(z + 24) != 0xb5781729) {
    standin_say("stand-in: FAIL x0 is not a ZBI container\n");
    return;
  }
  const u8* p = z + 32;
  const u8* end = p + rd32(z + 4);
  u32 n = 0;
  for (; p < end; n++) {
    u32 type = rd32(p), len = rd32(p + 4), extra = rd32(p + 8), flags = rd32(p + 12);
    const u8* pl = p + 32;
    standin_say("stand-in: item "); dec(n); putc_(' '); four(type);
    standin_say(" length "); dec(len); standin_say(" extra "); hex(extra);
    if (rd32(p + 24) != 0xb5781729 || !(flags & 0x10000)) {
      standin_say(" FAIL header\n");
      fail = 1;
      break;
    }
    if (flags & 0x20000) {
      u32 c = crc32(pl, len, crc32(zero, 4, crc32(p, 28, 0)));
      standin_say(c == rd32(p + 28) ? " crc ok\n" : " crc BAD\n");
      fail |= c != rd32(p + 28);
    } else {
      standin_say(" crc none\n");
    }
    if ((type & 0xffffff) == 0x4e524b) {
      standin_say("stand-in: FAIL a kernel item in the data ZBI\n");
      fail = 1;
    }
    if (type == 0x42534642 && len > 28) {  /* BOOTFS: the first dirent's name */
      standin_say("stand-in:   bootfs first file ");
      standin_say((const char*)pl + 28);
      standin_say("\n");
    } else if (type == 0x4c444d43) {  /* CMDLINE */
      standin_say("stand-in:   cmdline ");
      for (u32 i = 0; i < len && pl[i]; i++) putc_((char)pl[i]);
      standin_say("\n");
    } else if (type == 0x544f504f) {  /* CPU_TOPOLOGY: 48-byte nodes */
      for (u32 i = 0; i + 48 <= len; i += 48) {
        standin_say("stand-in:   cpu "); dec(rd32(pl + i + 8) & 0xffff);
        standin_say(rd32(pl + i + 16) & 0x10000 ? " primary" : " secondary");
        standin_say(" cluster "); dec(pl[i + 24]); standin_say(" cpu_id "); dec(pl[i + 27]);
        standin_say(" gic_id "); dec(pl[i + 28]); standin_say("\n");
      }
    } else if (type == 0x434d454d) {  /* MEM_CONFIG */
      for (u32 i = 0; i + 24 <= len; i += 24) {
        standin_say("stand-in:   mem "); hex(rd64(pl + i)); putc_(' '); hex(rd64(pl + i + 8));
        standin_say(" type "); dec(rd32(pl + i + 16)); standin_say("\n");
      }
    } else if (type == 0x5652444b && extra == 0x55304c50 && len == 16) {  /* PL011 */
      standin_say("stand-in:   uart "); hex(rd64(pl)); standin_say(" irq "); dec(rd32(pl + 8));
      standin_say("\n");
    } else if (type == 0x5652444b && (extra == 0x32434947 || extra == 0x33434947)) {  /* GIC */
      standin_say("stand-in:   gic "); four(extra); putc_(' '); hex(rd64(pl)); standin_say("\n");
    } else if (type == 0x5652444b && extra == 0x49435350) {  /* PSCI */
      standin_say("stand-in:   psci "); standin_say(pl[0] ? "hvc\n" : "smc\n");
    }
    p = pl + ((len + 7) & ~7u);
  }
  if (p != end) { standin_say("stand-in: FAIL items overrun the container\n"); fail = 1; }
  if (fail) {
    standin_say("stand-in: FAIL\n");
    return;
  }
  standin_say("stand-in: ok, "); dec(n); standin_say(" items\n");
}
"""


def build_standin(tmp: Path) -> bytes:
    """The stand-in kernel's KERNEL_ARM64 payload (zbi_kernel_t, then code)."""
    objcopy = require_tool("llvm-objcopy-19", "llvm-19")
    for name, text in (("standin.ld", STANDIN_LD), ("standin.S", STANDIN_S),
                       ("standin.c", STANDIN_C)):
        (tmp / name).write_text(text)
    cc = ["clang-19", "--target=aarch64-none-elf", "-ffreestanding", "-nostdlib", "-fno-builtin",
          "-mstrict-align", "-mgeneral-regs-only", "-fno-pic", "-O2", "-Wall", "-Werror", "-c"]
    steps = [cc + [str(tmp / "standin.S"), "-o", str(tmp / "s.o")],
             cc + [str(tmp / "standin.c"), "-o", str(tmp / "c.o")],
             ["ld.lld-19", "-T", str(tmp / "standin.ld"), str(tmp / "s.o"), str(tmp / "c.o"),
              "-o", str(tmp / "standin.elf")],
             [objcopy, "-O", "binary", str(tmp / "standin.elf"), str(tmp / "standin.bin")]]
    for argv in steps:
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True)
    return (tmp / "standin.bin").read_bytes()


def images_with(tmp: Path, gic: int, cpus: int) -> Path:
    """A copy of the board tree whose arm64/zircon board uses GICv<gic> and ``cpus`` CPUs."""
    images = tmp / "images"
    shutil.copytree(resources.images_dir(), images)
    path = images / "arm64" / "zircon.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["qemu"]["machine"] = f"virt,gic-version={gic}"
    raw["qemu"]["smp"] = cpus
    path.write_text(yaml.safe_dump(raw))
    return images


def expected_serial(data: bytes, entry_addr: int, board: board_items.DirectBootBoard) -> str:
    """What the stand-in must print for this data ZBI, read on the host."""
    lines = [f"stand-in: entered at 0x{entry_addr:x}, linked at 0x{entry_addr:x}",
             f"stand-in: x0 0x{board.data_zbi_addr:x}"]
    items = zbi.read_zbi(data).items
    for n, item in enumerate(items):
        four = item.type.to_bytes(4, "little").decode()
        lines.append(f"stand-in: item {n} {four} length {len(item.payload)} extra "
                     f"0x{item.extra:x} crc {'ok' if item.has_crc else 'none'}")
        if item.type == zbi.TYPE_STORAGE_BOOTFS:
            lines.append("stand-in:   bootfs first file bin/rig-test")
        elif item.type == zbi.TYPE_CMDLINE:
            lines.append("stand-in:   cmdline " + item.payload.rstrip(b"\0").decode())
        elif item.type == zbi.TYPE_CPU_TOPOLOGY:
            per = board.cpus_per_cluster
            lines += [f"stand-in:   cpu {i} {'primary' if i == 0 else 'secondary'} cluster "
                      f"{i // per} cpu_id {i % per} gic_id {i}" for i in range(board.cpus)]
        elif item.type == zbi.TYPE_MEM_CONFIG:
            lines += [f"stand-in:   mem 0x{board.ram_base:x} 0x{board.ram_bytes:x} type 1",
                      f"stand-in:   mem 0x0 0x{board.ram_base:x} type 2"]
        elif item.extra == board_items.DRIVER_PL011:
            lines.append(f"stand-in:   uart 0x{board.uart_mmio:x} irq {board.uart_irq}")
        elif item.extra in (board_items.DRIVER_GICV2, board_items.DRIVER_GICV3):
            lines.append(f"stand-in:   gic GIC{board.gic_version} 0x{board.gic.mmio:x}")
        elif item.extra == board_items.DRIVER_PSCI:
            lines.append("stand-in:   psci hvc")
    lines.append(f"stand-in: ok, {len(items)} items")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(("gic", "cpus"), [(2, 2), (3, 4)])
def test_standin_kernel_boots_through_qemu_sh(tmp_path: Path, gic: int, cpus: int) -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")
    payload = build_standin(tmp_path)
    kzbi = tmp_path / "standin.zbi"
    kzbi.write_bytes(zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_ARM64, payload, crc=False)]))
    (tmp_path / "s.yaml").write_text(SCENARIO)
    images = images_with(tmp_path, gic, cpus)
    out = tmp_path / "out"
    env = dict(os.environ, RIG_IMAGES_DIR=str(images))
    made = rig("build", str(tmp_path / "s.yaml"), "--arch", "arm64", "--target", "zircon",
               "--kernel-zbi", str(kzbi), "--out", str(out), "--cache-dir",
               str(tmp_path / "cache"), env=env)
    assert made.returncode == 0, made.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["boot_mode"], manifest["missing"]) == ("direct", [])
    assert sorted(n for n in manifest["outputs"] if "." in n and "/" not in n) == [
        "cmdline.txt", "data.zbi", "image.zbi", "kernel.bin", "program.c", "program.elf",
        "qemu.sh", "trampoline.bin"]
    assert "-kernel" not in manifest["qemu_argv"]
    assert manifest["qemu_argv"][-8:] == [
        "-device", f"loader,file={out.resolve()}/kernel.bin,addr=0x40200000,force-raw=on",
        "-device", f"loader,file={out.resolve()}/data.zbi,addr=0x48000000,force-raw=on",
        "-device", f"loader,file={out.resolve()}/trampoline.bin,addr=0x40100000,force-raw=on",
        "-device", "loader,addr=0x40100000,cpu-num=0"]
    entry = int.from_bytes(payload[:8], "little")
    assert entry % 4 == 0 and entry > 64 + 16 + 4  # past the headers and the `wrong` code

    board = boards.load_board("arm64", "zircon", images_dir=images).direct_boot
    assert board is not None and board.gic_version == gic and board.cpus == cpus
    data = (out / "data.zbi").read_bytes()
    # The split is derived from image.zbi.
    again = direct_boot.split_image((out / "image.zbi").read_bytes(), board)
    assert again.files() == {n: (out / n).read_bytes() for n in direct_boot.FILES}

    status, serial, err, elapsed = run_qemu_sh(out, BOOT_TIMEOUT_S)
    print(f"stand-in GICv{gic} {cpus} CPUs: qemu.sh ran {elapsed:.2f} s")
    assert serial.replace("\r\n", "\n") == expected_serial(data, 0x40200000 + entry, board), err
    assert status == 0, err  # PSCI SYSTEM_OFF

    listing = rig("zbi", "inspect", str(out), env=env)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith(
        f"{out}: direct-boot set: trampoline.bin sets x0 = 0x48000000 (where data.zbi is "
        f"loaded) and branches to 0x{0x40200000 + entry:x} = 0x40200000 (where kernel.bin is "
        f"loaded) + entry 0x{entry:x}\n")
    assert f"KERNEL_DRIVER GIC{gic} (item " in listing.stdout
    assert f"CPU_TOPOLOGY (item 2): {cpus} nodes\n" in listing.stdout


def test_trampoline_disassembles_as_written() -> None:
    """llvm-mc reads the trampoline bytes as the instructions rig.image.direct_boot means."""
    mc = require_tool("llvm-mc-19", "llvm-19")
    code = direct_boot.encode_trampoline(0x48000000, 0x402BC34C)[:16]
    proc = subprocess.run([mc, "--disassemble", "-triple=aarch64"],
                          input=" ".join(f"0x{b:02x}" for b in code), capture_output=True,
                          text=True, check=True)
    insns = [re.sub(r"\s+", " ", line.strip()) for line in proc.stdout.splitlines()
             if line.strip() and not line.strip().startswith(".")]
    # ldr literal offsets are from each instruction's own address: 0 + 16 and 4 + 20 = 24.
    assert insns == ["ldr x0, #16", "ldr x16, #20", "br x16", "nop"]


def test_build_refuses_a_comma_in_the_out_path(tmp_path: Path) -> None:
    require_tool("clang-19", "clang-19")
    (tmp_path / "s.yaml").write_text(SCENARIO)
    kzbi = tmp_path / "k.zbi"
    kzbi.write_bytes(zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_ARM64, bytes(16) + bytes(8))]))
    out = tmp_path / "a,b"
    made = rig("build", str(tmp_path / "s.yaml"), "--arch", "arm64", "--target", "zircon",
               "--kernel-zbi", str(kzbi), "--out", str(out))
    assert (made.returncode, made.stdout) == (2, "")
    assert made.stderr == (
        f"rig build: error: --out {out}: the path has a ',', and a direct boot passes its files "
        "to QEMU as -device loader,file=PATH,... where ',' separates options: use a build "
        "directory without ',' (or boot through --boot-shim)\n")
    assert not out.exists()


def test_build_refuses_a_kernel_too_big_for_the_layout(tmp_path: Path) -> None:
    require_tool("clang-19", "clang-19")
    require_tool("ld.lld-19", "lld-19")
    (tmp_path / "s.yaml").write_text(SCENARIO)
    kzbi = tmp_path / "k.zbi"
    # entry 0x50 (the first code byte), reserve_memory_size 256 MiB: past the data ZBI.
    payload = (0x50).to_bytes(8, "little") + (256 << 20).to_bytes(8, "little") + bytes(8)
    kzbi.write_bytes(zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_ARM64, payload)]))
    out = tmp_path / "out"
    made = rig("build", str(tmp_path / "s.yaml"), "--arch", "arm64", "--target", "zircon",
               "--kernel-zbi", str(kzbi), "--out", str(out), "--cache-dir",
               str(tmp_path / "cache"))
    assert made.returncode == 2
    assert made.stderr.startswith(
        f"rig build: error: {out}/image.zbi: the kernel does not fit below the data ZBI: "
        "kernel.bin (88 bytes) at 0x40200000 plus reserve_memory_size 0x10000000 ends at "
        "0x50200058, above direct_boot.load.data_zbi 0x48000000"), made.stderr


@pytest.mark.skipif(not os.environ.get("RIG_REAL_ZBI"),
                    reason="RIG_REAL_ZBI is not set (the real 2020 arm64 core-tests.zbi, "
                    "zircon-facts.md 9; someone else's binary, never committed)")
def test_real_2020_kernel_boots_without_a_shim(tmp_path: Path) -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    require_tool("clang-19", "clang-19")
    real = Path(os.environ["RIG_REAL_ZBI"])
    out = tmp_path / "out"
    made = rig("build", "--arch", "arm64", "--target", "zircon", "--abi", "2020",
               "--kernel-era", "C", "--kernel-zbi", str(real), "--out", str(out),
               "--cache-dir", str(tmp_path / "cache"))
    assert made.returncode == 0, made.stderr
    assert json.loads((out / "manifest.json").read_text())["boot_mode"] == "direct"
    status, serial, err, elapsed = run_qemu_sh(out, REAL_BOOT_TIMEOUT_S)
    print(f"real 2020 kernel: boot to power-off {elapsed:.2f} s")
    assert "welcome to Zircon" in serial
    assert "userboot: *** Exit status 0 ***" in serial, serial[-3000:]
    assert status == 0, err
    judged = rig("check-log", str(out / "serial.log"), "--build", str(out), "--json",
                 str(tmp_path / "verdict.json"))
    assert judged.returncode == 0, judged.stdout[-4000:]
    verdict = json.loads((tmp_path / "verdict.json").read_text())
    outcomes = {st["outcome"] for sv in verdict["scenarios"] for st in sv["steps"]}
    assert outcomes <= {"PASS", "SKIP"}, outcomes
    assert verdict["counts"]["PASS"] > 0
