"""Direct boot (zircon-facts.md 8): board items against layouts written by hand, the split of
image.zbi, the trampoline, the fits-in-RAM checks, the board schema and the QEMU argv."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
import yaml

from rig import resources
from rig.errors import BoardError, ImageError, InputError
from rig.image import board_items, boards, direct_boot, zbi
from rig.judge.manifest import Manifest, manifest_from_json, manifest_to_json

ZIRCON_YAML = resources.images_dir() / "arm64" / "zircon.yaml"


def board_yaml(**changes: Any) -> dict[str, Any]:
    """The shipped arm64/zircon board, with ``qemu`` keys (machine, smp, memory_mb) or
    ``direct_boot`` keys (dotted) changed; a value of None removes the key."""
    raw = yaml.safe_load(ZIRCON_YAML.read_text())
    for key, value in changes.items():
        section, name = ("qemu", key) if "." not in key else key.rsplit(".", 1)
        node = raw
        for part in section.split("."):
            node = node[part]
        if value is None:
            node.pop(name)
        else:
            node[name] = value
    return raw


def load(raw: dict[str, Any], path: str = "b.yaml") -> boards.Board:
    return boards.parse_board(yaml.safe_dump(raw), path, arch="arm64", target="zircon")


def board(gic: int = 2, cpus: int = 2, memory_mb: int = 2048) -> board_items.DirectBootBoard:
    b = load(board_yaml(machine=f"virt,gic-version={gic}", smp=cpus, memory_mb=memory_mb))
    assert b.direct_boot is not None
    return b.direct_boot


# ---- Item bytes, written by hand from facts 8 ---------------------------------------------


def hand_item(type_hex: str, extra_hex: str, payload_hex: str) -> str:
    """An item as hex: header fields little-endian by hand, CRC-32 over header(crc 0)+payload."""
    payload = bytes.fromhex(payload_hex)
    le = "".join(reversed([type_hex[i:i + 2] for i in range(0, 8, 2)]))
    ext = "".join(reversed([extra_hex[i:i + 2] for i in range(0, 8, 2)]))
    length = len(payload).to_bytes(4, "little").hex()
    head = le + length + ext + "00000300" + "00000000" * 2 + "291778b5"
    crc = zlib.crc32(bytes.fromhex(head + "00000000") + payload).to_bytes(4, "little").hex()
    return head + crc + payload_hex + "00" * (-len(payload) % 8)


def hand_node(i: int, cluster: int, cpu: int) -> str:
    """zbi_topology_node_t of CPU i: entity 1, parent 0xffff, logical_ids {i}, count 1,
    flags primary for CPU 0, architecture 2 (ARM), cluster_1/2/3, cpu_id, gic_id."""
    return ("01" "00" "ffff" "00000000"
            f"{i:02x}00" "0000" "0000" "0000"
            "01" "00" + ("0100" if i == 0 else "0000") +
            "02" "000000" +
            f"{cluster:02x}" "00" "00" f"{cpu:02x}" f"{i:02x}" + "00" * 19)


MEM_2048 = ("0000004000000000" "0000008000000000" "01000000" "00000000"   # RAM 1 GiB + 2 GiB
            "0000000000000000" "0000004000000000" "02000000" "00000000")  # peripheral < 1 GiB
NVRAM_2048 = "0000ffbf00000000" "0000010000000000"  # 0xbfff0000, 64 KiB
PL011 = "0000000900000000" "21000000" "00000000"  # 0x09000000, irq 33
GIC2 = ("0000000800000000" "0000020800000000" "0000000000000000" "0000010000000000"
        "0000000000000000" "0000000000000000" "00000000" "01" "01" "0000")
GIC3 = ("0000000800000000" "0000000000000000" "00000a0000000000" "0000020000000000"
        "0000000000000000" "00000000" "01" "000000")
PSCI = "01" + "00" * 7 + "00" * 96
ATIM = "1e000000" "1b000000" "00000000" "00000000"  # 30, 27, 0, 0
PLATFORM = "01000000" "01000000" + b"qemu".hex() + "00" * 28


@pytest.mark.parametrize("cpus", range(1, 9))
@pytest.mark.parametrize("gic", [2, 3])
def test_board_items_match_hand_layouts(gic: int, cpus: int) -> None:
    items = board_items.board_items(board(gic, cpus))
    got = zbi.write_zbi(items)[32:].hex()
    expected = "".join([
        hand_item("544f504f", "00000030", "".join(hand_node(i, 0, i) for i in range(cpus))),
        hand_item("434d454d", "00000000", MEM_2048),
        hand_item("4c4c564e", "00000000", NVRAM_2048),
        hand_item("5652444b", "55304c50", PL011),
        hand_item("5652444b", "32434947", GIC2) if gic == 2 else
        hand_item("5652444b", "33434947", GIC3),
        hand_item("5652444b", "49435350", PSCI),
        hand_item("5652444b", "4d495441", ATIM),
        hand_item("44494c50", "00000000", PLATFORM),
    ])
    assert got == expected
    assert [len(i.payload) for i in items] == [48 * cpus, 48, 16, 16, 56 if gic == 2 else 48,
                                               104, 16, 40]


def test_gicv3_clusters_of_16() -> None:
    item = board_items.cpu_topology_item(20, 16)
    nodes = [item.payload[i:i + 48].hex() for i in range(0, len(item.payload), 48)]
    assert nodes == [hand_node(i, i // 16, i % 16) for i in range(20)]
    assert nodes[17][48:58] == "0100000111"  # CPU 17: cluster 1, 0, 0, cpu_id 1, gic_id 17


def test_memory_size_and_no_nvram_follow_the_board() -> None:
    b = load(board_yaml(memory_mb=512, **{"direct_boot.nvram_bytes": None})).direct_boot
    assert b is not None
    types = [i.type for i in board_items.board_items(b)]
    assert zbi.TYPE_NVRAM not in types
    mem = board_items.board_items(b)[1].payload.hex()
    assert mem == ("0000004000000000" "0000002000000000" "01000000" "00000000"
                   "0000000000000000" "0000004000000000" "02000000" "00000000")


# ---- Trampoline ---------------------------------------------------------------------------


def test_trampoline_bytes_decoded_by_hand() -> None:
    code = direct_boot.encode_trampoline(0x48000000, 0x402BC34C)
    assert code.hex() == ("80000058" "b0000058" "00021fd6" "1f2003d5"
                          "0000004800000000" "4cc32b4000000000")
    words = struct.unpack("<4I", code[:16])
    # LDR (literal), 64-bit: bits 31..24 = 0x58, imm19 = bits 23..5 (words from the PC), Rt.
    loads = []
    for pc, w in zip((0, 4), words[:2], strict=True):
        assert w >> 24 == 0x58
        imm19, rt = (w >> 5) & 0x7FFFF, w & 0x1F
        literal = pc + imm19 * 4
        loads.append((rt, struct.unpack_from("<Q", code, literal)[0]))
    assert loads == [(0, 0x48000000), (16, 0x402BC34C)]
    # BR Xn: 1101011 0000 11111 000000 Rn 00000
    assert words[2] & ~(0x1F << 5) == 0xD61F0000 and (words[2] >> 5) & 0x1F == 16
    assert words[3] == 0xD503201F  # NOP
    assert direct_boot.decode_trampoline(code) == (0x48000000, 0x402BC34C)
    with pytest.raises(ImageError, match="trampoline is 31 bytes"):
        direct_boot.decode_trampoline(code[:31])
    with pytest.raises(ImageError, match="not ldr x0"):
        direct_boot.decode_trampoline(bytes(32))


# ---- Split --------------------------------------------------------------------------------


def image(entry: int = 0x50, reserve: int = 0x1000, code: bytes = b"\x1f\x20\x03\xd5" * 3,
          bootfs_bytes: int = 4096) -> tuple[bytes, list[zbi.ZbiItem]]:
    kernel = zbi.make_item(zbi.TYPE_KERNEL_ARM64, struct.pack("<QQ", entry, reserve) + code,
                           crc=False)
    rest = [zbi.storage_item(zbi.TYPE_STORAGE_BOOTFS, bytes(bootfs_bytes)),
            zbi.cmdline_item("userboot=bin/rig-test")]
    return zbi.write_zbi([kernel, *rest]), [kernel, *rest]


def test_split_derives_the_three_files_from_image_zbi() -> None:
    data, items = image()
    db = board()
    s = direct_boot.split_image(data, db, source="i.zbi", kernel_item_type=zbi.TYPE_KERNEL_ARM64)
    kernel_end = 32 + 32 + 32  # container, item header, 28-byte payload padded to 32
    assert s.kernel_bin == (struct.pack("<8I", zbi.TYPE_CONTAINER, 64, zbi.CONTAINER_MAGIC,
                                        0x10000, 0, 0, zbi.ITEM_MAGIC, zbi.ITEM_NO_CRC32)
                            + data[32:kernel_end])
    assert s.data_zbi == zbi.write_zbi([*items[1:], *board_items.board_items(db)])
    assert s.data_zbi[32:32 + len(data) - kernel_end] == data[kernel_end:]  # byte for byte
    assert (s.entry, s.reserve_memory_size, s.entry_addr) == (0x50, 0x1000, 0x40200050)
    assert direct_boot.decode_trampoline(s.trampoline) == (0x48000000, 0x40200050)
    assert s.kernel_end == 0x40200000 + 96 + 0x1000
    parsed = zbi.read_zbi(s.data_zbi)  # CRCs and layout valid
    assert [i.type_name for i in parsed.items] == [
        "STORAGE_BOOTFS", "CMDLINE", "CPU_TOPOLOGY", "MEM_CONFIG", "NVRAM", "KERNEL_DRIVER",
        "KERNEL_DRIVER", "KERNEL_DRIVER", "KERNEL_DRIVER", "PLATFORM_ID"]
    assert s.summary() == (
        "direct boot: kernel.bin at 0x40200000 (96 bytes, entry 0x40200050, reserve_memory_size "
        f"0x1000), data.zbi at 0x48000000 ({len(s.data_zbi)} bytes, 8 board items), "
        "trampoline.bin at 0x40100000; GICv2, 2 CPUs, 2048 MiB")


def test_kernel_plus_reserve_must_fit_below_the_data_zbi() -> None:
    data, _ = image(reserve=0x48000000 - 0x40200000 - 96 + 8)
    with pytest.raises(ImageError) as info:
        direct_boot.split_image(data, board(), source="i.zbi")
    assert str(info.value) == (
        "i.zbi: the kernel does not fit below the data ZBI: kernel.bin (96 bytes) at 0x40200000 "
        "plus reserve_memory_size 0x7dfffa8 ends at 0x48000008, above "
        "direct_boot.load.data_zbi 0x48000000 (b.yaml); move data_zbi up in the board "
        "file, or boot with --boot-shim")
    # Exactly touching is fine.
    data, _ = image(reserve=0x48000000 - 0x40200000 - 96)
    direct_boot.split_image(data, board(), source="i.zbi")


def test_data_zbi_must_fit_in_ram() -> None:
    db = board(memory_mb=130)  # RAM ends at 0x48200000; NVRAM takes its last 64 KiB
    room = 0x48200000 - 0x10000 - 0x48000000
    data, _ = image(bootfs_bytes=room)
    with pytest.raises(ImageError) as info:
        direct_boot.split_image(data, db, source="i.zbi")
    size = len(zbi.write_zbi([*zbi.read_zbi(data).items[1:], *board_items.board_items(db)]))
    assert str(info.value) == (
        f"i.zbi: the data ZBI does not fit in RAM: data.zbi ({size} bytes) at 0x48000000 ends "
        f"at 0x{0x48000000 + size:x}, beyond 0x481f0000 (ram_base 0x40000000 + qemu.memory_mb "
        "130 MiB less nvram_bytes 0x10000, b.yaml); raise qemu.memory_mb or use "
        "smaller scenarios")
    data, _ = image(bootfs_bytes=room - 4096)
    direct_boot.split_image(data, db, source="i.zbi")


@pytest.mark.parametrize("entry", [0, 0x40, 0x52, 0x60])
def test_entry_must_point_into_the_kernel_code(entry: int) -> None:
    data, _ = image(entry=entry)  # code occupies 0x50 .. 0x5c of kernel.bin (96 bytes)
    with pytest.raises(ImageError, match=re.escape(
            f"i.zbi: kernel entry 0x{entry:x} is not a 4-byte-aligned offset into the kernel's "
            "code (kernel.bin is 96 bytes")):
        direct_boot.split_image(data, board(), source="i.zbi")


def test_split_refuses_an_image_without_a_kernel() -> None:
    with pytest.raises(ImageError, match="no kernel item: item 0 is CMDLINE"):
        direct_boot.split_image(zbi.write_zbi([zbi.cmdline_item("x")]), board())


# ---- QEMU argv and boot mode ---------------------------------------------------------------


def test_qemu_argv_gicv2(tmp_path: Path) -> None:
    b = boards.load_board("arm64", "zircon")
    out = tmp_path / "out"
    assert direct_boot.qemu_argv(b, out, accel="tcg") == [
        "qemu-system-aarch64", "-machine", "virt,gic-version=2", "-cpu", "cortex-a53", "-accel",
        "tcg", "-m", "2048", "-smp", "2", "-nodefaults", "-display", "none", "-no-reboot",
        "-serial", "stdio",
        "-device", f"loader,file={out}/kernel.bin,addr=0x40200000,force-raw=on",
        "-device", f"loader,file={out}/data.zbi,addr=0x48000000,force-raw=on",
        "-device", f"loader,file={out}/trampoline.bin,addr=0x40100000,force-raw=on",
        "-device", "loader,addr=0x40100000,cpu-num=0"]
    # KVM's machine says gic-version=host: the items cannot know the host's GIC.
    with pytest.raises(BoardError, match=r"describes GICv2 \(from qemu.machine\), but the kvm "
                       r"machine is 'virt,gic-version=host'"):
        direct_boot.qemu_argv(b, out, accel="kvm")


def test_paths_with_a_comma_are_refused(tmp_path: Path) -> None:
    b = boards.load_board("arm64", "zircon")
    with pytest.raises(InputError) as info:
        direct_boot.choose_boot_mode(b, boot_shim=None, out_dir=tmp_path / "a,b")
    assert str(info.value) == (
        f"--out {tmp_path}/a,b: the path has a ',', and a direct boot passes its files to QEMU "
        "as -device loader,file=PATH,... where ',' separates options: use a build directory "
        "without ',' (or boot through --boot-shim)")
    with pytest.raises(InputError, match="the path has a ','"):
        direct_boot.qemu_argv(b, tmp_path / "x,y", accel="tcg")
    # Through a shim the path goes to -initrd, where a comma is fine.
    assert direct_boot.choose_boot_mode(b, boot_shim=tmp_path / "shim",
                                        out_dir=tmp_path / "a,b") == "shim"


def test_boot_mode_and_the_x64_shim() -> None:
    arm = boards.load_board("arm64", "zircon")
    x64 = boards.load_board("x64", "zircon")
    here = Path("out")
    assert [direct_boot.choose_boot_mode(arm, boot_shim=None, out_dir=here),
            direct_boot.choose_boot_mode(arm, boot_shim=Path("s"), out_dir=here),
            direct_boot.choose_boot_mode(x64, boot_shim=None, out_dir=here)] == [
        "direct", "shim", "shim"]
    assert x64.direct_boot is None
    assert direct_boot.shim_required(x64) == (
        "the boot shim: the Fuchsia QEMU boot shim (--boot-shim or --fuchsia-build-dir); "
        f"x64/zircon has no direct boot (no direct_boot section in {x64.path}), so x64 kernels "
        "boot only through their shim")
    with pytest.raises(BoardError, match="no direct_boot section"):
        direct_boot.qemu_argv(x64, here, accel="tcg")


def test_the_sim_board_can_say_direct_boot_too() -> None:
    """The arm64 sim board plus the same direct_boot data: 512 MiB, 1 CPU, valid layout."""
    sim = yaml.safe_load((resources.images_dir() / "arm64" / "sim.yaml").read_text())
    sim["direct_boot"] = board_yaml()["direct_boot"]
    b = boards.parse_board(yaml.safe_dump(sim), "sim.yaml", arch="arm64", target="sim")
    assert b.direct_boot is not None
    assert (b.boot_kernel, b.direct_boot.cpus, b.direct_boot.ram_bytes,
            b.direct_boot.usable_ram_end) == ("sim-kernel", 1, 512 << 20, 0x5FFF0000)
    assert direct_boot.choose_boot_mode(b, boot_shim=None, out_dir=Path("o")) == "direct"
    assert direct_boot.qemu_argv(b, Path("/o"), accel="tcg")[-9:] == [
        "-semihosting",
        "-device", "loader,file=/o/kernel.bin,addr=0x40200000,force-raw=on",
        "-device", "loader,file=/o/data.zbi,addr=0x48000000,force-raw=on",
        "-device", "loader,file=/o/trampoline.bin,addr=0x40100000,force-raw=on",
        "-device", "loader,addr=0x40100000,cpu-num=0"]


# ---- Board schema -------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "message"), [
    ({"direct_boot.uart.baud": 115200}, "unknown key direct_boot.uart.baud; known keys under "
     "direct_boot.uart: ['irq', 'kind', 'mmio']"),
    ({"direct_boot.colour": "red"}, "unknown key direct_boot.colour; known keys under "
     "direct_boot: ['gic', 'load', 'nvram_bytes', 'peripheral', 'platform', 'psci', "
     "'ram_base', 'timer', 'uart']"),
    ({"direct_boot.load.kernel": None}, "missing key direct_boot.load.kernel"),
    ({"direct_boot.psci.use_hvc": 1}, "direct_boot.psci.use_hvc is 1, wanted true or false"),
    ({"direct_boot.uart.irq": True}, "direct_boot.uart.irq is True, wanted an integer"),
    ({"direct_boot.uart.irq": 1 << 32}, "direct_boot.uart.irq is 4294967296, wanted a 32-bit"),
    ({"direct_boot.uart.kind": "16550"}, "direct_boot.uart.kind is '16550', wanted one of "
     "['pl011']"),
    ({"machine": "virt"}, "qemu.machine 'virt' must say gic-version=2 or gic-version=3 when "
     "the board has direct_boot"),
    ({"machine": "virt,gic-version=max"}, "qemu.machine 'virt,gic-version=max' must say"),
    ({"direct_boot.gic.v3": None, "machine": "virt,gic-version=3"},
     "qemu.machine says gic-version=3 but direct_boot.gic.v3 is missing"),
    ({"smp": 9}, "qemu.smp is 9, but direct_boot.gic.v2.max_cpus is 8: lower qemu.smp"),
    ({"direct_boot.platform.board_name": "x" * 32}, "direct_boot.platform.board_name is 32 "
     "bytes, wanted at most 31"),
    ({"direct_boot.load.data_zbi": 0x48000004}, "direct_boot.load.data_zbi is 0x48000004, "
     "wanted a multiple of 8"),
    ({"memory_mb": 128}, "direct_boot.load.data_zbi is 0x48000000, outside RAM 0x40000000 .. "
     "0x47ff0000 (ram_base + qemu.memory_mb 128, less nvram_bytes): raise qemu.memory_mb or "
     "move the address"),
    ({"direct_boot.load.trampoline": 0x40200000}, "direct_boot.load: wanted trampoline "
     "(0x40200000, 32 bytes) < kernel (0x40200000) < data_zbi (0x48000000)"),
    ({"direct_boot.nvram_bytes": 1 << 40}, "direct_boot.nvram_bytes is 0x10000000000, not "
     "below the RAM size"),
])
def test_bad_direct_boot_sections(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BoardError) as info:
        load(board_yaml(**changes))
    assert str(info.value).startswith(f"b.yaml: {message}"), str(info.value)


def test_direct_boot_must_be_a_mapping() -> None:
    raw = board_yaml()
    raw["direct_boot"] = [1]
    with pytest.raises(BoardError, match=r"b.yaml: direct_boot is \[1\], wanted a mapping"):
        load(raw)


# ---- Decoding for `rig zbi inspect` ------------------------------------------------------------


def test_render_board_items_gicv3() -> None:
    data, _ = image()
    s = direct_boot.split_image(data, board(gic=3, cpus=2), source="i.zbi")
    assert board_items.render_board_items(s.data_zbi) == (
        "CPU_TOPOLOGY (item 2): 2 nodes\n"
        "  processor logical id 0 (ids 1), parent 0xffff, primary, ARM cluster 0/0/0 cpu_id 0 "
        "gic_id 0\n"
        "  processor logical id 1 (ids 1), parent 0xffff, secondary, ARM cluster 0/0/0 cpu_id 1 "
        "gic_id 1\n"
        "MEM_CONFIG (item 3): 2 ranges\n"
        "  RAM        0x40000000 .. 0xc0000000 (2048 MiB)\n"
        "  PERIPHERAL 0x0 .. 0x40000000 (1024 MiB)\n"
        "NVRAM (item 4): 0xbfff0000 .. 0xc0000000 (0x10000 bytes)\n"
        "KERNEL_DRIVER PL0U (item 5): PL011 UART mmio 0x9000000 irq 33\n"
        "KERNEL_DRIVER GIC3 (item 6): GICv3 mmio 0x8000000 gicd +0x0 gicr +0xa0000 gicr_stride "
        "0x20000 ipi_base 0 optional 1\n"
        "KERNEL_DRIVER PSCI (item 7): PSCI through hvc; args shutdown 0x0 0x0 0x0, reboot 0x0 "
        "0x0 0x0, reboot_bootloader 0x0 0x0 0x0, reboot_recovery 0x0 0x0 0x0\n"
        "KERNEL_DRIVER ATIM (item 8): ARM generic timer irq_phys 30 irq_virt 27 irq_sphys 0 "
        "freq_override 0\n"
        "PLATFORM_ID (item 9): vid 1 pid 1 board_name 'qemu'\n")
    assert board_items.render_board_items(s.kernel_bin) == (
        "KERNEL_ARM64 (item 0): entry 0x50 (from the start of the kernel image, container "
        "header included), reserve_memory_size 0x1000\n")
    assert board_items.render_board_items(data).startswith("KERNEL_ARM64 (item 0)")


def test_render_board_items_gicv2_line() -> None:
    text = board_items.render_board_items(zbi.write_zbi(board_items.board_items(board())))
    assert ("KERNEL_DRIVER GIC2 (item 4): GICv2 mmio 0x8000000 msi_frame 0x8020000 gicd +0x0 "
            "gicc +0x10000 gich +0x0 gicv +0x0 ipi_base 0 optional 1 use_msi 1\n") in text


def test_render_board_items_never_raises_on_bad_payloads() -> None:
    bad = [zbi.make_item(zbi.TYPE_CPU_TOPOLOGY, bytes(47), extra=48),
           zbi.make_item(zbi.TYPE_MEM_CONFIG, bytes(23)),
           zbi.make_item(zbi.TYPE_NVRAM, bytes(3)),
           zbi.make_item(zbi.TYPE_PLATFORM_ID, bytes(41)),
           zbi.make_item(zbi.TYPE_KERNEL_DRIVER, bytes(55), extra=board_items.DRIVER_GICV2),
           zbi.make_item(zbi.TYPE_KERNEL_DRIVER, bytes(8), extra=0x12345678)]
    assert board_items.render_board_items(zbi.write_zbi(bad)).splitlines() == [
        "CPU_TOPOLOGY (item 0): unreadable: node size (extra) 48, payload 47 bytes; wanted "
        "48-byte nodes",
        "MEM_CONFIG (item 1): unreadable: payload is 23 bytes, not a multiple of 24",
        "NVRAM (item 2): unreadable: payload is 3 bytes, wanted 16",
        "PLATFORM_ID (item 3): unreadable: payload is 41 bytes, wanted 40",
        "KERNEL_DRIVER GIC2 (item 4): unreadable: payload is 55 bytes, wanted 56",
        "KERNEL_DRIVER 0x12345678(?) (item 5): 8 bytes (not decoded)",
    ]


def test_render_set(tmp_path: Path) -> None:
    data, _ = image()
    s = direct_boot.split_image(data, board(), source="i.zbi")
    assert direct_boot.render_set(s.files(), source="out") == (
        "out: direct-boot set: trampoline.bin sets x0 = 0x48000000 (where data.zbi is loaded) "
        "and branches to 0x40200050 = 0x40200000 (where kernel.bin is loaded) + entry 0x50\n")
    with pytest.raises(ImageError, match="out: no trampoline.bin: not a direct-boot set"):
        direct_boot.render_set({"kernel.bin": s.kernel_bin, "data.zbi": s.data_zbi},
                               source="out")


# ---- Manifest -----------------------------------------------------------------------------


def test_manifest_records_the_boot_mode() -> None:
    m = Manifest(program_id="0" * 64, nonce="1" * 16, abi="2020", arch="arm64",
                 target="zircon", scenarios=(), boot_mode="direct")
    data = manifest_to_json(m)
    assert data["boot_mode"] == "direct"
    assert manifest_from_json(data, "m.json") == m
    old = {k: v for k, v in data.items() if k != "boot_mode"}
    assert manifest_from_json(old, "m.json").boot_mode == ""
    with pytest.raises(InputError, match=r"m.json: key 'boot_mode' is 'pxe', wanted one of "
                       r"\['direct', 'shim', ''\]"):
        manifest_from_json({**data, "boot_mode": "pxe"}, "m.json")
