"""The board items of a shim-less boot: board data to ZBI items, and ZBI items back to text.

A boot shim tells the kernel about the machine through ZBI items it adds to the data ZBI (CPU
topology, memory ranges, UART, interrupt controller, PSCI, timer, platform id). On QEMU `virt`
the rig writes those items itself (zircon-facts.md 8, measured on a real 2020 arm64 kernel with
GICv2 and with GICv3). Every value comes from the board file's `direct_boot` section
(`images/<arch>/<target>.yaml`, parsed here into one frozen `DirectBootBoard`); the RAM size is
the board's `qemu.memory_mb`, the CPU count its `qemu.smp`, the GIC version the `gic-version=`
of its `qemu.machine`. Pure: bytes and mappings in, bytes and text out.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rig.errors import BoardError
from rig.image import zbi

LOG = logging.getLogger(__name__)

MIB = 1 << 20

TYPE_CPU_TOPOLOGY = zbi.TYPE_CPU_TOPOLOGY
TYPE_MEM_CONFIG = zbi.TYPE_MEM_CONFIG
TYPE_NVRAM = zbi.TYPE_NVRAM
TYPE_PLATFORM_ID = zbi.TYPE_PLATFORM_ID
# KERNEL_DRIVER items say which driver in `extra`.
DRIVER_PL011 = 0x55304C50  # 'PL0U'
DRIVER_GICV2 = 0x32434947  # 'GIC2'
DRIVER_GICV3 = 0x33434947  # 'GIC3'
DRIVER_PSCI = 0x49435350  # 'PSCI'
DRIVER_ARM_TIMER = 0x4D495441  # 'ATIM'

# zbi_topology_node_t (48 bytes): u8 entity_type @0, u16 parent_index @2, u16 logical_ids[4]
# @8, u8 logical_id_count @16, u16 flags @18, u8 architecture @20, then the ARM info @24:
# u8 cluster_1_id, cluster_2_id, cluster_3_id, cpu_id, gic_id; the rest zero.
TOPOLOGY_NODE_SIZE = 48
_TOPOLOGY_NODE = struct.Struct("<BxH4x4HBxHB3x5B19x")
TOPOLOGY_ENTITY_PROCESSOR = 1
TOPOLOGY_NO_PARENT = 0xFFFF
TOPOLOGY_FLAG_PRIMARY = 1
TOPOLOGY_ARCH_ARM = 2
# zbi_mem_range_t (24 bytes): u64 paddr, u64 length, u32 type, u32 reserved.
_MEM_RANGE = struct.Struct("<QQII")
MEM_RAM = 1
MEM_PERIPHERAL = 2
MEM_TYPE_NAMES = {MEM_RAM: "RAM", MEM_PERIPHERAL: "PERIPHERAL", 3: "RESERVED"}
_NVRAM = struct.Struct("<QQ")  # base, length
_PL011 = struct.Struct("<QII")  # dcfg_simple_t: mmio_phys, irq, reserved
_GICV2 = struct.Struct("<6QIBBH")  # mmio, msi_frame, gicd, gicc, gich, gicv; ipi_base; optional;
#                                    use_msi; reserved: 56 bytes
_GICV3 = struct.Struct("<5QIB3x")  # mmio, gicd, gicr, gicr_stride, reserved; ipi_base; optional
_PSCI = struct.Struct("<B7x12Q")  # use_hvc; shutdown, reboot, reboot_bootloader,
#                                   reboot_recovery args (3 each): 104 bytes
_ARM_TIMER = struct.Struct("<4I")  # irq_phys, irq_virt, irq_sphys, freq_override
_PLATFORM_ID = struct.Struct("<II32s")  # vid, pid, board_name (NUL-padded)
PSCI_ARG_SETS = ("shutdown", "reboot", "reboot_bootloader", "reboot_recovery")
TRAMPOLINE_SIZE = 32  # the code rig.image.direct_boot puts below the kernel

DRIVER_NAMES = {DRIVER_PL011: "PL0U", DRIVER_GICV2: "GIC2", DRIVER_GICV3: "GIC3",
                DRIVER_PSCI: "PSCI", DRIVER_ARM_TIMER: "ATIM"}


@dataclass(frozen=True)
class GicV2:
    mmio: int
    msi_frame: int
    gicd_offset: int
    gicc_offset: int
    gich_offset: int
    gicv_offset: int
    ipi_base: int
    optional: bool
    use_msi: bool


@dataclass(frozen=True)
class GicV3:
    mmio: int
    gicd_offset: int
    gicr_offset: int
    gicr_stride: int
    ipi_base: int
    optional: bool


@dataclass(frozen=True)
class DirectBootBoard:
    """Everything a shim-less boot needs to know about the machine, from one board file."""

    path: str
    ram_base: int
    ram_bytes: int  # qemu.memory_mb
    cpus: int  # qemu.smp
    cpus_per_cluster: int  # of the GIC version in use
    peripheral_base: int
    peripheral_bytes: int
    trampoline_addr: int
    kernel_addr: int
    data_zbi_addr: int
    nvram_bytes: int  # 0: no NVRAM item
    uart_mmio: int
    uart_irq: int
    gic_version: int
    gic: GicV2 | GicV3
    psci_use_hvc: bool
    timer_irq_phys: int
    timer_irq_virt: int
    timer_irq_sphys: int
    timer_freq_override: int
    platform_vid: int
    platform_pid: int
    board_name: str

    @property
    def ram_end(self) -> int:
        return self.ram_base + self.ram_bytes

    @property
    def nvram_base(self) -> int:
        return self.ram_end - self.nvram_bytes

    @property
    def usable_ram_end(self) -> int:
        """Where the data ZBI must end: the end of RAM, less the NVRAM at its top."""
        return self.nvram_base


# ---- The board file's `direct_boot` section -----------------------------------------------

_GIC_COMMON: dict[str, Any] = {"mmio": int, "ipi_base": int, "optional": bool,
                               "cpus_per_cluster": int, "max_cpus": int}
_SCHEMA: dict[str, Any] = {
    "ram_base": int,
    "peripheral": {"base": int, "size": int},
    "load": {"trampoline": int, "kernel": int, "data_zbi": int},
    "nvram_bytes": int,
    "uart": {"kind": str, "mmio": int, "irq": int},
    "gic": {"v2": {**_GIC_COMMON, "msi_frame": int, "gicd_offset": int, "gicc_offset": int,
                   "gich_offset": int, "gicv_offset": int, "use_msi": bool},
            "v3": {**_GIC_COMMON, "gicd_offset": int, "gicr_offset": int,
                   "gicr_stride": int}},
    "psci": {"use_hvc": bool},
    "timer": {"irq_phys": int, "irq_virt": int, "irq_sphys": int, "freq_override": int},
    "platform": {"vid": int, "pid": int, "board_name": str},
}
_OPTIONAL = {"nvram_bytes", "gic.v2", "gic.v3"}  # the GIC the machine names must be there
UART_KINDS = ("pl011",)
_U32_MAX = 0xFFFFFFFF
_U64_MAX = (1 << 64) - 1


def _typename(t: Any) -> str:
    if isinstance(t, dict):
        return f"a mapping of {sorted(t)}"
    return {str: "a string", int: "an integer", bool: "true or false"}[t]


def _flatten(raw: Any, schema: Mapping[str, Any], prefix: str, path: str) -> dict[str, Any]:
    """``direct_boot.a.b`` values, refusing unknown, missing and mistyped keys."""
    if not isinstance(raw, dict):
        raise BoardError(f"{path}: {prefix} is {raw!r}, wanted {_typename(dict(schema))}")
    for key in raw:
        if key not in schema:
            raise BoardError(f"{path}: unknown key {prefix}.{key}; known keys under {prefix}: "
                             f"{sorted(schema)}")
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        name = f"{prefix}.{key}"
        if key not in raw:
            if name.removeprefix("direct_boot.") in _OPTIONAL:
                continue
            raise BoardError(f"{path}: missing key {name}")
        value = raw[key]
        if isinstance(spec, dict):
            out.update(_flatten(value, spec, name, path))
            continue
        ok = isinstance(value, spec) and (spec is bool or not isinstance(value, bool))
        if not ok:
            raise BoardError(f"{path}: {name} is {value!r}, wanted {_typename(spec)}")
        if spec is int and not 0 <= value <= _U64_MAX:
            raise BoardError(f"{path}: {name} is {value}, wanted 0 .. 2**64-1")
        out[name.removeprefix("direct_boot.")] = value
    return out


def machine_gic_version(machine: str) -> int | None:
    """The N of ``gic-version=N`` in a QEMU ``-machine`` value, or None."""
    for part in machine.split(",")[1:]:
        key, _, value = part.partition("=")
        if key == "gic-version" and value.isdigit():
            return int(value)
    return None


def parse_direct_boot(raw: Any, path: str, *, machine: str, memory_mb: int,
                      smp: int) -> DirectBootBoard:
    """Check a board file's ``direct_boot`` section against the board's QEMU values.

    :raises BoardError: naming ``path`` and the key: unknown, missing or mistyped keys, a GIC
        version the machine does not name, too many CPUs, or load addresses that overlap or
        leave RAM.
    """
    v = _flatten(raw, _SCHEMA, "direct_boot", path)
    version = machine_gic_version(machine)
    if version not in (2, 3):
        raise BoardError(f"{path}: qemu.machine {machine!r} must say gic-version=2 or "
                         "gic-version=3 when the board has direct_boot: the GIC item follows it")
    g = f"gic.v{version}"
    if f"{g}.mmio" not in v:
        raise BoardError(f"{path}: qemu.machine says gic-version={version} but "
                         f"direct_boot.{g} is missing")
    if smp > v[f"{g}.max_cpus"]:
        raise BoardError(f"{path}: qemu.smp is {smp}, but direct_boot.{g}.max_cpus is "
                         f"{v[f'{g}.max_cpus']}: lower qemu.smp")
    if v[f"{g}.cpus_per_cluster"] < 1:
        raise BoardError(f"{path}: direct_boot.{g}.cpus_per_cluster must be at least 1")
    if v["uart.kind"] not in UART_KINDS:
        raise BoardError(f"{path}: direct_boot.uart.kind is {v['uart.kind']!r}, wanted one of "
                         f"{list(UART_KINDS)}")
    name = v["platform.board_name"].encode("utf-8")
    if len(name) >= 32:
        raise BoardError(f"{path}: direct_boot.platform.board_name is {len(name)} bytes, "
                         "wanted at most 31 (a NUL-terminated char[32])")
    for key in ("uart.irq", "timer.irq_phys", "timer.irq_virt", "timer.irq_sphys",
                "timer.freq_override", "platform.vid", "platform.pid", f"{g}.ipi_base"):
        if v[key] > _U32_MAX:
            raise BoardError(f"{path}: direct_boot.{key} is {v[key]}, wanted a 32-bit value")
    gic: GicV2 | GicV3
    if version == 2:
        gic = GicV2(mmio=v[f"{g}.mmio"], msi_frame=v[f"{g}.msi_frame"],
                    gicd_offset=v[f"{g}.gicd_offset"], gicc_offset=v[f"{g}.gicc_offset"],
                    gich_offset=v[f"{g}.gich_offset"], gicv_offset=v[f"{g}.gicv_offset"],
                    ipi_base=v[f"{g}.ipi_base"], optional=v[f"{g}.optional"],
                    use_msi=v[f"{g}.use_msi"])
    else:
        gic = GicV3(mmio=v[f"{g}.mmio"], gicd_offset=v[f"{g}.gicd_offset"],
                    gicr_offset=v[f"{g}.gicr_offset"], gicr_stride=v[f"{g}.gicr_stride"],
                    ipi_base=v[f"{g}.ipi_base"], optional=v[f"{g}.optional"])
    board = DirectBootBoard(
        path=path, ram_base=v["ram_base"], ram_bytes=memory_mb * MIB, cpus=smp,
        cpus_per_cluster=v[f"{g}.cpus_per_cluster"], peripheral_base=v["peripheral.base"],
        peripheral_bytes=v["peripheral.size"], trampoline_addr=v["load.trampoline"],
        kernel_addr=v["load.kernel"], data_zbi_addr=v["load.data_zbi"],
        nvram_bytes=v.get("nvram_bytes", 0), uart_mmio=v["uart.mmio"], uart_irq=v["uart.irq"],
        gic_version=version, gic=gic, psci_use_hvc=v["psci.use_hvc"],
        timer_irq_phys=v["timer.irq_phys"], timer_irq_virt=v["timer.irq_virt"],
        timer_irq_sphys=v["timer.irq_sphys"], timer_freq_override=v["timer.freq_override"],
        platform_vid=v["platform.vid"], platform_pid=v["platform.pid"],
        board_name=v["platform.board_name"])
    _check_layout(board)
    return board


def _check_layout(b: DirectBootBoard) -> None:
    """The fixed addresses: in RAM, aligned, in order trampoline < kernel < data ZBI."""
    where = f"{b.path}: direct_boot"
    if b.nvram_bytes >= b.ram_bytes:
        raise BoardError(f"{where}.nvram_bytes is 0x{b.nvram_bytes:x}, not below the RAM size "
                         f"0x{b.ram_bytes:x} (qemu.memory_mb)")
    for key, addr, align in (("load.trampoline", b.trampoline_addr, 4),
                             ("load.kernel", b.kernel_addr, 8),
                             ("load.data_zbi", b.data_zbi_addr, zbi.ALIGNMENT)):
        if addr % align:
            raise BoardError(f"{where}.{key} is 0x{addr:x}, wanted a multiple of {align}")
        if not b.ram_base <= addr < b.usable_ram_end:
            raise BoardError(
                f"{where}.{key} is 0x{addr:x}, outside RAM 0x{b.ram_base:x} .. "
                f"0x{b.usable_ram_end:x} (ram_base + qemu.memory_mb {b.ram_bytes // MIB}"
                f"{', less nvram_bytes' if b.nvram_bytes else ''}): raise qemu.memory_mb or "
                "move the address")
    if not b.trampoline_addr + TRAMPOLINE_SIZE <= b.kernel_addr < b.data_zbi_addr:
        raise BoardError(f"{where}.load: wanted trampoline (0x{b.trampoline_addr:x}, "
                         f"{TRAMPOLINE_SIZE} bytes) < kernel (0x{b.kernel_addr:x}) < data_zbi "
                         f"(0x{b.data_zbi_addr:x})")
    if b.peripheral_base + b.peripheral_bytes > b.ram_base:
        raise BoardError(f"{where}.peripheral ends at 0x{b.peripheral_base + b.peripheral_bytes:x}"
                         f", above ram_base 0x{b.ram_base:x}")


# ---- Items --------------------------------------------------------------------------------


def topology_node(logical_id: int, *, cluster: int, cpu_id: int, gic_id: int,
                  primary: bool) -> bytes:
    """One zbi_topology_node_t for an ARM processor."""
    return _TOPOLOGY_NODE.pack(
        TOPOLOGY_ENTITY_PROCESSOR, TOPOLOGY_NO_PARENT, logical_id, 0, 0, 0, 1,
        TOPOLOGY_FLAG_PRIMARY if primary else 0, TOPOLOGY_ARCH_ARM, cluster, 0, 0, cpu_id,
        gic_id)


def cpu_topology_item(cpus: int, cpus_per_cluster: int) -> zbi.ZbiItem:
    """CPU i: logical id i, cluster_1 = i / per cluster, cpu_id = i % per cluster, gic_id i.

    The cluster split must match the MPIDR affinity QEMU gives its CPUs (the kernel starts
    secondaries through PSCI CPU_ON by those ids): 8 per cluster with GICv2, 16 with GICv3.
    """
    payload = b"".join(topology_node(i, cluster=i // cpus_per_cluster,
                                     cpu_id=i % cpus_per_cluster, gic_id=i, primary=i == 0)
                       for i in range(cpus))
    return zbi.make_item(TYPE_CPU_TOPOLOGY, payload, extra=TOPOLOGY_NODE_SIZE)


def mem_config_item(ranges: Sequence[tuple[int, int, int]]) -> zbi.ZbiItem:
    """(paddr, length, type) ranges."""
    return zbi.make_item(TYPE_MEM_CONFIG, b"".join(_MEM_RANGE.pack(p, n, t, 0)
                                                   for p, n, t in ranges))


def board_items(b: DirectBootBoard) -> tuple[zbi.ZbiItem, ...]:
    """The items a boot shim would add for this board, in the order facts 8 booted them."""
    items = [cpu_topology_item(b.cpus, b.cpus_per_cluster),
             mem_config_item([(b.ram_base, b.ram_bytes, MEM_RAM),
                              (b.peripheral_base, b.peripheral_bytes, MEM_PERIPHERAL)])]
    if b.nvram_bytes:
        items.append(zbi.make_item(TYPE_NVRAM, _NVRAM.pack(b.nvram_base, b.nvram_bytes)))
    items.append(zbi.make_item(zbi.TYPE_KERNEL_DRIVER, _PL011.pack(b.uart_mmio, b.uart_irq, 0),
                               extra=DRIVER_PL011))
    if isinstance(b.gic, GicV2):
        g2 = b.gic
        items.append(zbi.make_item(zbi.TYPE_KERNEL_DRIVER, _GICV2.pack(
            g2.mmio, g2.msi_frame, g2.gicd_offset, g2.gicc_offset, g2.gich_offset,
            g2.gicv_offset, g2.ipi_base, int(g2.optional), int(g2.use_msi), 0),
            extra=DRIVER_GICV2))
    else:
        g3 = b.gic
        items.append(zbi.make_item(zbi.TYPE_KERNEL_DRIVER, _GICV3.pack(
            g3.mmio, g3.gicd_offset, g3.gicr_offset, g3.gicr_stride, 0, g3.ipi_base,
            int(g3.optional)), extra=DRIVER_GICV3))
    # Every PSCI argument zero: QEMU's built-in PSCI needs none (facts 8).
    items.append(zbi.make_item(zbi.TYPE_KERNEL_DRIVER, _PSCI.pack(int(b.psci_use_hvc),
                                                                  *[0] * 12),
                               extra=DRIVER_PSCI))
    items.append(zbi.make_item(zbi.TYPE_KERNEL_DRIVER, _ARM_TIMER.pack(
        b.timer_irq_phys, b.timer_irq_virt, b.timer_irq_sphys, b.timer_freq_override),
        extra=DRIVER_ARM_TIMER))
    items.append(zbi.make_item(TYPE_PLATFORM_ID, _PLATFORM_ID.pack(
        b.platform_vid, b.platform_pid, b.board_name.encode("utf-8"))))
    return tuple(items)


# ---- Decoding, for `rig zbi inspect` ------------------------------------------------------


def _unpack(fmt: struct.Struct, payload: bytes, what: str) -> tuple[Any, ...] | str:
    if len(payload) != fmt.size:
        return f"{what}: unreadable: payload is {len(payload)} bytes, wanted {fmt.size}"
    return fmt.unpack(payload)


def describe_item(item: zbi.ZbiItem) -> list[str] | None:
    """Text lines for a board item or a kernel item's header; None for other items.

    Never raises: a payload of the wrong size is described as unreadable.
    """
    p = item.payload
    if zbi.is_kernel_type(item.type):
        if len(p) < zbi.KERNEL_HEADER_SIZE:
            return [f"{item.type_name}: unreadable: payload is {len(p)} bytes, shorter than "
                    f"zbi_kernel_t ({zbi.KERNEL_HEADER_SIZE})"]
        entry, reserve = struct.unpack_from("<QQ", p)
        return [f"{item.type_name}: entry 0x{entry:x} (from the start of the kernel image, "
                f"container header included), reserve_memory_size 0x{reserve:x}"]
    if item.type == TYPE_CPU_TOPOLOGY:
        if item.extra != TOPOLOGY_NODE_SIZE or len(p) % TOPOLOGY_NODE_SIZE:
            return [f"CPU_TOPOLOGY: unreadable: node size (extra) {item.extra}, payload "
                    f"{len(p)} bytes; wanted {TOPOLOGY_NODE_SIZE}-byte nodes"]
        lines = [f"CPU_TOPOLOGY: {len(p) // TOPOLOGY_NODE_SIZE} nodes"]
        for i in range(0, len(p), TOPOLOGY_NODE_SIZE):
            (kind, parent, lid0, _l1, _l2, _l3, nlid, flags, arch, c1, c2, c3, cpu,
             gic) = _TOPOLOGY_NODE.unpack_from(p, i)
            what = "processor" if kind == TOPOLOGY_ENTITY_PROCESSOR else f"entity {kind}"
            arm = f"ARM cluster {c1}/{c2}/{c3} cpu_id {cpu} gic_id {gic}" if (
                arch == TOPOLOGY_ARCH_ARM) else f"architecture {arch}"
            lines.append(f"  {what} logical id {lid0} (ids {nlid}), parent 0x{parent:x}, "
                         f"{'primary' if flags & TOPOLOGY_FLAG_PRIMARY else 'secondary'}, "
                         f"{arm}")
        return lines
    if item.type == TYPE_MEM_CONFIG:
        if len(p) % _MEM_RANGE.size:
            return [f"MEM_CONFIG: unreadable: payload is {len(p)} bytes, not a multiple of "
                    f"{_MEM_RANGE.size}"]
        lines = [f"MEM_CONFIG: {len(p) // _MEM_RANGE.size} ranges"]
        for paddr, length, kind, _res in _MEM_RANGE.iter_unpack(p):
            size = f"{length // MIB} MiB" if length % MIB == 0 else f"0x{length:x} bytes"
            lines.append(f"  {MEM_TYPE_NAMES.get(kind, f'type {kind}'):<10} 0x{paddr:x} .. "
                         f"0x{paddr + length:x} ({size})")
        return lines
    if item.type == TYPE_NVRAM:
        got = _unpack(_NVRAM, p, "NVRAM")
        if isinstance(got, str):
            return [got]
        return [f"NVRAM: 0x{got[0]:x} .. 0x{got[0] + got[1]:x} (0x{got[1]:x} bytes)"]
    if item.type == TYPE_PLATFORM_ID:
        got = _unpack(_PLATFORM_ID, p, "PLATFORM_ID")
        if isinstance(got, str):
            return [got]
        name = got[2].split(b"\0", 1)[0].decode("utf-8", "replace")
        return [f"PLATFORM_ID: vid {got[0]} pid {got[1]} board_name {name!r}"]
    if item.type == zbi.TYPE_KERNEL_DRIVER:
        return [_describe_driver(item.extra, p)]
    return None


def _describe_driver(driver: int, p: bytes) -> str:
    name = DRIVER_NAMES.get(driver, zbi.type_name(driver))
    head = f"KERNEL_DRIVER {name}"
    if driver == DRIVER_PL011:
        got = _unpack(_PL011, p, head)
        return got if isinstance(got, str) else (
            f"{head}: PL011 UART mmio 0x{got[0]:x} irq {got[1]}")
    if driver == DRIVER_GICV2:
        got = _unpack(_GICV2, p, head)
        return got if isinstance(got, str) else (
            f"{head}: GICv2 mmio 0x{got[0]:x} msi_frame 0x{got[1]:x} gicd +0x{got[2]:x} "
            f"gicc +0x{got[3]:x} gich +0x{got[4]:x} gicv +0x{got[5]:x} ipi_base {got[6]} "
            f"optional {got[7]} use_msi {got[8]}")
    if driver == DRIVER_GICV3:
        got = _unpack(_GICV3, p, head)
        return got if isinstance(got, str) else (
            f"{head}: GICv3 mmio 0x{got[0]:x} gicd +0x{got[1]:x} gicr +0x{got[2]:x} "
            f"gicr_stride 0x{got[3]:x} ipi_base {got[5]} optional {got[6]}")
    if driver == DRIVER_PSCI:
        got = _unpack(_PSCI, p, head)
        if isinstance(got, str):
            return got
        args = ", ".join(f"{n} {' '.join(hex(a) for a in got[1 + 3 * i:4 + 3 * i])}"
                         for i, n in enumerate(PSCI_ARG_SETS))
        return f"{head}: PSCI through {'hvc' if got[0] else 'smc'}; args {args}"
    if driver == DRIVER_ARM_TIMER:
        got = _unpack(_ARM_TIMER, p, head)
        return got if isinstance(got, str) else (
            f"{head}: ARM generic timer irq_phys {got[0]} irq_virt {got[1]} irq_sphys "
            f"{got[2]} freq_override {got[3]}")
    return f"{head}: {len(p)} bytes (not decoded)"


def render_board_items(data: bytes, *, source: str = "<zbi>") -> str:
    """Decoded lines for every kernel and board item of a ZBI (empty when none).

    :raises ImageError: when the container does not parse (CRCs are not checked here).
    """
    lines: list[str] = []
    for index, item in enumerate(zbi.read_zbi(data, source=source, check_crc=False).items):
        described = describe_item(item)
        if described:
            # "CPU_TOPOLOGY: ..." -> "CPU_TOPOLOGY (item 3): ..."
            lines.append(described[0].replace(":", f" (item {index}):", 1))
            lines += described[1:]
    return "".join(line + "\n" for line in lines)
