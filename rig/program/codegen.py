"""Render scenario files into the C source of one guest test program (jinja2 to C text).

One program per suite, ABI profile and arch: every scenario whose ``abi`` lists the profile, in
order, each in its own C function on a fresh pager, port and VMO; each step one block making
exactly the syscall the scenario contract names, once, and reporting through the record API of
``guest/include/rig/record.h`` (docs/protocol.md). Templates live in ``guest/templates/``.

This module is pure: it reads the templates and returns text; it never compiles or writes files.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import jinja2

from rig import resources, zx
from rig.errors import InputError, ScenarioError
from rig.image import boards
from rig.scenario.loader import (
    ABI_PROFILES,
    DATA_STEPS,
    MAX_BUFFER_ENTRIES,
    PAGER_SYSCALL_STEPS,
    RANGE_STEPS,
    Expect,
    Handle,
    QueryArgs,
    Scenario,
    ScenarioFile,
    Step,
    StepKind,
)

LOG = logging.getLogger(__name__)

PROGRAM_TEMPLATE = "program.c.j2"
PROTOCOL_VERSION = 1
BUILTIN_ID_LEN = 16  # hex digits of program_id used as the built-in nonce
_ID_PLACEHOLDER = "0" * 64

# The syscall each step makes (scenario contract), for RIG_HAS() and `skip sys=`.
SYSCALL_BY_KIND: dict[StepKind, str] = {
    StepKind.SUPPLY: "zx_pager_supply_pages",
    StepKind.SUPPLY_ZERO: "zx_pager_supply_pages",
    StepKind.WRITE: "zx_vmo_write",
    StepKind.WRITE_BYTES: "zx_vmo_write",
    StepKind.READ: "zx_vmo_read",
    StepKind.OP_DIRTY: "zx_pager_op_range",
    StepKind.OP_FAIL: "zx_pager_op_range",
    StepKind.WRITEBACK_BEGIN: "zx_pager_op_range",
    StepKind.WRITEBACK_BEGIN_ZERO: "zx_pager_op_range",
    StepKind.WRITEBACK_END: "zx_pager_op_range",
    StepKind.OP_ZERO: "zx_vmo_op_range",
    StepKind.COMMIT: "zx_vmo_op_range",
    StepKind.RESIZE: "zx_vmo_set_size",
    StepKind.DETACH: "zx_pager_detach_vmo",
    StepKind.STATS: "zx_pager_query_vmo_stats",
    StepKind.QUERY: "zx_pager_query_dirty_ranges",
    StepKind.QUERY_ALL: "zx_pager_query_dirty_ranges",
}

_PAGER_OP: dict[StepKind, str] = {
    StepKind.OP_DIRTY: "ZX_PAGER_OP_DIRTY",
    StepKind.OP_FAIL: "ZX_PAGER_OP_FAIL",
    StepKind.WRITEBACK_BEGIN: "ZX_PAGER_OP_WRITEBACK_BEGIN",
    StepKind.WRITEBACK_BEGIN_ZERO: "ZX_PAGER_OP_WRITEBACK_BEGIN",
    StepKind.WRITEBACK_END: "ZX_PAGER_OP_WRITEBACK_END",
}
_VMO_OP: dict[StepKind, str] = {
    StepKind.OP_ZERO: "ZX_VMO_OP_ZERO",
    StepKind.COMMIT: "ZX_VMO_OP_COMMIT",
}

# (C expression, RIG_NEED_* bit or None) for each handle variant, per argument.
_PAGER_HANDLES: dict[Handle, tuple[str, str | None]] = {
    Handle.VALID: ("fx.pager", None),
    Handle.INVALID: ("ZX_HANDLE_INVALID", None),
    Handle.CLOSED: ("fx.closed", "RIG_NEED_CLOSED"),
    Handle.WRONG_TYPE: ("fx.port", None),
    Handle.OTHER_PAGER: ("fx.other_pager", "RIG_NEED_OTHER_PAGER"),
    # Pagers carry no ZX_RIGHT_DUPLICATE (facts 1.3 and 7: rights 0x80c2 on 2020), so the reduced
    # handle is made by zx_handle_replace at the step, which gives up the scenario's full pager
    # handle: construction_problems() rejects later steps that still need it.
    Handle.NO_RIGHTS: ("rig_take_pager_no_rights(&fx)", None),
}
_VMO_HANDLES: dict[Handle, tuple[str, str | None]] = {
    Handle.VALID: ("fx.vmo", None),
    Handle.INVALID: ("ZX_HANDLE_INVALID", None),
    Handle.CLOSED: ("fx.closed", "RIG_NEED_CLOSED"),
    Handle.WRONG_TYPE: ("fx.port", None),
    Handle.OTHER_PAGER: ("fx.other_vmo", "RIG_NEED_OTHER_VMO"),
    Handle.PLAIN_VMO: ("fx.plain_vmo", "RIG_NEED_PLAIN_VMO"),
    Handle.CLONE: ("fx.clone", "RIG_NEED_CLONE"),
    Handle.SLICE: ("fx.slice", "RIG_NEED_SLICE"),
    Handle.NO_RIGHTS: ("fx.vmo_no_rights", "RIG_NEED_VMO_NO_RIGHTS"),
}


@dataclass(frozen=True)
class ProgramScenario:
    """One scenario as placed in the program."""

    index: int  # order in the program (the `s=` of records)
    name: str
    file: str  # the scenario file it came from (ScenarioFile.path)
    steps: int


@dataclass(frozen=True)
class RenderedProgram:
    """The C source of one test program and what the host needs to read its records.

    ``program_id`` is the sha256 hex digest of ``c_source`` with the two id literals in it (the
    full id in the header comment and the 16-digit built-in nonce) replaced by zeros; see
    docs/codegen.md. Its first 16 hex digits are the nonce the program uses when the kernel
    command line carries no ``rig.nonce=``.
    """

    c_source: str
    program_id: str
    abi: str
    arch: str
    target: str
    scenarios: tuple[ProgramScenario, ...]

    @property
    def builtin_nonce(self) -> str:
        return self.program_id[:BUILTIN_ID_LEN]


# ---------------------------------------------------------------------------------------------
# View model: everything the template prints, as C text.


@dataclass(frozen=True)
class _StepView:
    index: int
    op: str
    where: str  # file:line
    describe: tuple[str, ...]  # the step as YAML, one line per key
    syscall: str
    form: str  # which template macro prints it
    args: tuple[str, ...] = ()  # C arguments of the syscall (form "call")
    pre: tuple[str, ...] = ()  # C statements before the call
    # query
    actual: str = "NULL"
    avail: str = "NULL"
    buffer: str = "NULL"  # the buffer argument the query passes (C expression)
    buffer_entries: int = 0
    poison_bytes: int = 0
    # query_all
    k: int = 0
    max_calls: int = 0
    # resize
    new_size: str = ""


@dataclass(frozen=True)
class _ScenarioView:
    index: int
    name: str
    func: str
    where: str
    description: tuple[str, ...]
    vmo_pages: int
    vmo_size: str
    vmo_options: str
    trap_dirty: bool
    resizable: bool
    aux_size: str
    aux_zero_size: str
    need: str
    steps: tuple[_StepView, ...]


def _hex(value: int) -> str:
    """A C integer literal in hex; ull when it does not fit an int."""
    text = f"{value:#x}"
    return text + "ull" if value > 0x7FFFFFFF else text


def _clean(text: str) -> str:
    """Text safe inside a // comment: printable ASCII only, one line."""
    return "".join(c if " " <= c < "\x7f" else "?" for c in text)


def _pages_or_bytes(offset: int, length: int) -> str:
    ps = zx.PAGE_SIZE
    if offset % ps == 0 and length % ps == 0:
        return f"[{offset // ps}, {length // ps}]"
    return f"{{offset_bytes: {offset}, length_bytes: {length}}}"


def _status_text(value: int) -> str:
    return zx.STATUS_BY_VALUE.get(value, str(value))


def _data_text(value: int) -> str:
    for name, v in zx.DATA_BY_NAME.items():
        if v == value:
            return name
    return zx.STATUS_BY_VALUE.get(value, str(value)) if value < 0 else str(value)


def _data_c(step: Step) -> str:
    value = step.data if step.data is not None else DATA_STEPS.get(step.kind, 0)
    if value == 0:
        return "0"
    if step.kind is StepKind.WRITEBACK_BEGIN_ZERO and value == zx.ZX_VMO_DIRTY_RANGE_IS_ZERO:
        return "ZX_VMO_DIRTY_RANGE_IS_ZERO"
    if value < 0:
        name = zx.STATUS_BY_VALUE.get(value)
        if name is not None:
            return f"(uint64_t)(int64_t){name}"
        return f"(uint64_t)({value}ll)" if value > -(1 << 63) else "(uint64_t)INT64_MIN"
    return _hex(value)


def _describe_expect(expect: Expect) -> str:
    parts = []
    if expect.status is not None:
        parts.append(f"status: {_status_text(expect.status)}")
    for key in ("actual", "avail", "calls", "modified"):
        v = getattr(expect, key)
        if v is not None:
            parts.append(f"{key}: {v}")
    if expect.ranges is not None:
        ps = zx.PAGE_SIZE
        items = ", ".join(f"[{o // ps}, {n // ps}, {opt}]" for o, n, opt in expect.ranges)
        parts.append(f"ranges: [{items}]")
    return "expect: {" + ", ".join(parts) + "}"


def _describe_query(q: QueryArgs, pager: Handle, vmo: Handle) -> str:
    ps = zx.PAGE_SIZE
    parts: list[str] = []
    for key, value in (("offset", q.offset_bytes), ("length", q.length_bytes)):
        if value is None:
            continue
        parts.append(f"{key}: {value // ps}" if value % ps == 0 else f"{key}_bytes: {value}")
    if q.buffer_null:
        parts.append("buffer: null")
    if q.buffer_size is not None and not (q.buffer_null and q.buffer_size == 0):
        if q.buffer_size % zx.DIRTY_RANGE_SIZE == 0:
            parts.append(f"buffer_entries: {q.buffer_size // zx.DIRTY_RANGE_SIZE}")
        else:
            parts.append(f"buffer_bytes: {q.buffer_size}")
    if q.actual_null:
        parts.append("actual: false")
    if q.avail_null:
        parts.append("avail: false")
    if pager is not Handle.VALID:
        parts.append(f"pager: {pager.value}")
    if vmo is not Handle.VALID:
        parts.append(f"vmo: {vmo.value}")
    return "query: {" + ", ".join(parts) + "}"


def describe_step(step: Step) -> tuple[str, ...]:
    """The step written back as scenario YAML (canonical form), one line per key."""
    kind = step.kind
    if kind is StepKind.WRITE_BYTES:
        head = f"write_bytes: [{step.offset_bytes}, {step.length_bytes}]"
    elif kind in RANGE_STEPS:
        head = f"{kind.value}: {_pages_or_bytes(step.offset_bytes, step.length_bytes)}"
    elif kind is StepKind.RESIZE:
        head = f"resize: {(step.new_size_bytes or 0) // zx.PAGE_SIZE}"
    elif kind is StepKind.DETACH:
        head = "detach"
    elif kind is StepKind.STATS:
        head = "stats: {reset: true}" if step.reset else "stats: {}"
    elif kind is StepKind.QUERY:
        head = _describe_query(step.query or QueryArgs(), step.pager, step.vmo)
    else:
        head = f"query_all: {{buffer_entries: {step.buffer_entries}}}"
    lines = [head]
    if kind in DATA_STEPS and step.data is not None and step.data != DATA_STEPS[kind]:
        lines.append(f"data: {_data_text(step.data)}")
    if kind is not StepKind.QUERY:
        if step.pager is not Handle.VALID:
            lines.append(f"pager: {step.pager.value}")
        if step.vmo is not Handle.VALID:
            lines.append(f"vmo: {step.vmo.value}")
    if step.expect is not None:
        lines.append(_describe_expect(step.expect))
    return tuple(_clean(line) for line in lines)


# Every query buffer the kernel is told about has real storage of at least that many bytes: a
# kernel under test that writes more entries than there are ranges (the bug class this rig
# hunts) must show up as a wrong result, not corrupt the program's memory. The scenario loader
# bounds explicit buffers at 2**20 entries (24 MiB of .bss, committed only when poisoned);
# default buffers are bounded by max_ranges(). This limit only guards scenarios built in code.


# The largest read or write a step may make: `rig_io`, the static buffer they use, is sized for
# the largest one of the program and must fit it comfortably.
MAX_IO_BYTES = 64 << 20
# The most a scenario's supplies inside its VMO may take from one aux VMO (the sum of their
# slices, aux_sizes()). The setup writes the pattern to at most 64 MiB of it (AUX_FILL_MAX in
# guest/runtime/fixture.c), so more is only zero pages; the bound keeps every size and offset
# codegen writes far inside a 64-bit literal.
MAX_AUX_BYTES = 1 << 40
_IO_KINDS = frozenset({StepKind.WRITE, StepKind.WRITE_BYTES, StepKind.READ})


def max_ranges(scenario: Scenario) -> int:
    """The most dirty ranges the scenario's VMO can ever report.

    Bounded by its pages (after any resize) and by its steps: the VMO starts as one run of
    page states and each step changes one contiguous interval, adding at most two run
    boundaries, so there are never more than 1 + 2 * steps runs (and so ranges).
    """
    pages = scenario.vmo.pages
    for step in scenario.steps:
        if step.kind is StepKind.RESIZE and step.new_size_bytes is not None:
            pages = max(pages, step.new_size_bytes // zx.PAGE_SIZE)
    return max(1, min(pages, 1 + 2 * len(scenario.steps)))


def _buffer_storage(step: Step, entries: int) -> int:
    """Entries of static storage a query step's buffer needs (`entries`), checked.

    :raises ScenarioError: more than MAX_BUFFER_ENTRIES: the guest has no allocator, and a
        smaller buffer than the one the kernel is told about could be overwritten.
    """
    if entries > MAX_BUFFER_ENTRIES:
        raise ScenarioError(
            f"{step.location}: step {step.index} ({step.op}): a query buffer of {entries} "
            f"entries ({entries * zx.DIRTY_RANGE_SIZE} bytes) is more than the guest's static "
            f"storage allows ({MAX_BUFFER_ENTRIES} entries); use a smaller buffer_entries or "
            "buffer_bytes")
    return entries


def _handle_expr(step: Step, which: str, need: set[str]) -> str:
    table = _PAGER_HANDLES if which == "pager" else _VMO_HANDLES
    variant: Handle = getattr(step, which)
    if variant not in table:
        raise InputError(f"{step.location}: step {step.index} ({step.op}): {which}: "
                         f"'{variant.value}' is not a {which} handle variant; allowed: "
                         f"{', '.join(h.value for h in table)}")
    expr, bit = table[variant]
    if bit is not None:
        need.add(bit)
    return expr


@dataclass
class _Sizes:
    """Largest static buffers the whole program needs, and which of them it uses at all (an
    unused static array is a -Werror `unused variable` in clang)."""

    qbuf_entries: int = 1
    qall_entries: int = 1
    io_bytes: int = 1
    uses_qbuf: bool = False
    uses_qall: bool = False
    uses_io: bool = False


def max_vmo_bytes(scenario: Scenario) -> int:
    """The largest size the scenario's VMO can ever have: its own, or a resize target."""
    size = scenario.vmo.size_bytes
    for step in scenario.steps:
        if step.kind is StepKind.RESIZE and step.new_size_bytes is not None:
            size = max(size, step.new_size_bytes)
    return size


def _aux_slot(step: Step) -> str:
    return "aux" if step.kind is StepKind.SUPPLY else "aux_zero"


def _beyond_vmo(step: Step, max_bytes: int) -> bool:
    """A supply that reaches past every size the VMO ever has: it fails whatever happens."""
    return step.length_bytes > 0 and step.offset_bytes + step.length_bytes > max_bytes


def aux_sizes(scenario: Scenario) -> dict[str, int]:
    """Bytes of the two aux VMOs (`aux`, `aux_zero`) the scenario's supply steps need.

    Each supply inside the VMO takes its own, page-aligned slice (supplied pages leave the aux
    VMO, so slices are never reused). A supply past every size the VMO ever has gets no slice:
    zx_pager_supply_pages takes the pages from the aux VMO (`TakePages(aux_offset, size)`)
    before the pager VMO's `SupplyPages` checks its own range, so such a step passes
    aux_offset = the aux VMO's size and fails the aux VMO's range check with the same
    ZX_ERR_OUT_OF_RANGE, without taking pages from another step's slice and without an aux
    VMO as large as the bad range. Any supply step gets a real aux VMO of at least a page:
    the kernel looks the aux handle up before it looks at the length, so ZX_HANDLE_INVALID
    would make `supply: [a, 0]` fail with ZX_ERR_BAD_HANDLE.
    """
    limit = max_vmo_bytes(scenario)
    sizes = {"aux": 0, "aux_zero": 0}
    used: set[str] = set()
    for step in scenario.steps:
        if step.kind in (StepKind.SUPPLY, StepKind.SUPPLY_ZERO):
            slot = _aux_slot(step)
            used.add(slot)
            if not _beyond_vmo(step, limit):
                sizes[slot] += -(-step.length_bytes // zx.PAGE_SIZE) * zx.PAGE_SIZE
    for slot in used:
        sizes[slot] = max(sizes[slot], zx.PAGE_SIZE)
    return sizes


def _step_view(step: Step, where: str, most: int, sizes: _Sizes, need: set[str],
               aux: dict[str, int], aux_end: dict[str, int], max_bytes: int) -> _StepView:
    kind = step.kind
    base = _StepView(index=step.index, op=step.op, where=where, describe=describe_step(step),
                     syscall=SYSCALL_BY_KIND[kind], form="call")
    off, length = _hex(step.offset_bytes), _hex(step.length_bytes)
    if kind in (StepKind.SUPPLY, StepKind.SUPPLY_ZERO):
        pager = _handle_expr(step, "pager", need)
        vmo = _handle_expr(step, "vmo", need)
        slot = _aux_slot(step)  # slices as aux_sizes() lays them out
        if _beyond_vmo(step, max_bytes):
            aux_offset = aux_end[slot]
        else:
            aux_offset = aux[slot]
            aux[slot] += -(-step.length_bytes // zx.PAGE_SIZE) * zx.PAGE_SIZE
        return replace(base, args=(pager, vmo, off, length, f"fx.{slot}", _hex(aux_offset)))
    if kind in (StepKind.WRITE, StepKind.WRITE_BYTES):
        sizes.io_bytes = max(sizes.io_bytes, step.length_bytes)
        sizes.uses_io = True
        return replace(base, pre=(f"rig_fill_pattern(rig_io, {length});",),
                       args=("fx.vmo", "rig_io", off, length))
    if kind is StepKind.READ:
        sizes.io_bytes = max(sizes.io_bytes, step.length_bytes)
        sizes.uses_io = True
        return replace(base, args=("fx.vmo", "rig_io", off, length))
    if kind in _PAGER_OP:
        pager = _handle_expr(step, "pager", need)
        vmo = _handle_expr(step, "vmo", need)
        return replace(base, args=(pager, _PAGER_OP[kind], vmo, off, length, _data_c(step)))
    if kind in _VMO_OP:
        return replace(base, args=("fx.vmo", _VMO_OP[kind], off, length, "NULL", "0"))
    if kind is StepKind.RESIZE:
        return replace(base, form="resize", new_size=_hex(step.new_size_bytes or 0))
    if kind is StepKind.DETACH:
        pager = _handle_expr(step, "pager", need)
        vmo = _handle_expr(step, "vmo", need)
        return replace(base, args=(pager, vmo))
    if kind is StepKind.STATS:
        pager = _handle_expr(step, "pager", need)
        vmo = _handle_expr(step, "vmo", need)
        options = "ZX_PAGER_RESET_VMO_STATS" if step.reset else "0"
        return replace(base, form="stats", args=(pager, vmo, options, "&stats", "sizeof(stats)"))
    if kind is StepKind.QUERY:
        q = step.query or QueryArgs()
        pager = _handle_expr(step, "pager", need)
        vmo = _handle_expr(step, "vmo", need)
        q_off = "0" if q.offset_bytes is None else _hex(q.offset_bytes)
        if q.length_bytes is not None:
            q_len = _hex(q.length_bytes)
        elif q.offset_bytes is None:
            q_len = "fx.size"
        else:
            q_len = f"rig_rest(fx.size, {q_off})"
        # Default: room for every range the VMO can have.
        buffer_size = (q.buffer_size if q.buffer_size is not None
                       else most * zx.DIRTY_RANGE_SIZE)
        if q.buffer_null:
            buffer, entries, poison = "NULL", 0, 0
        else:
            # Storage for every byte the kernel may write (buffer_size, rounded up to whole
            # entries), never less: see MAX_BUFFER_ENTRIES.
            buffer = "rig_qbuf"
            storage = _buffer_storage(step, -(-buffer_size // zx.DIRTY_RANGE_SIZE))
            sizes.qbuf_entries = max(sizes.qbuf_entries, storage)
            sizes.uses_qbuf = True
            entries = buffer_size // zx.DIRTY_RANGE_SIZE
            poison = buffer_size
        return replace(
            base, form="query",
            args=(pager, vmo, q_off, q_len, buffer, _hex(buffer_size),
                  "NULL" if q.actual_null else "&actual", "NULL" if q.avail_null else "&avail"),
            actual="NULL" if q.actual_null else "&actual",
            avail="NULL" if q.avail_null else "&avail",
            buffer=buffer, buffer_entries=entries, poison_bytes=poison,
        )
    # QUERY_ALL
    k = _buffer_storage(step, step.buffer_entries or 1)
    # Each call is told buffer_size = 24 * k, so the loop's buffer holds k whole entries.
    sizes.qbuf_entries = max(sizes.qbuf_entries, k)
    sizes.qall_entries = max(sizes.qall_entries, most)
    sizes.uses_qbuf = sizes.uses_qall = True
    # Each call returns at least one range or ends the loop: `most` calls suffice, plus one.
    return replace(base, form="query_all", k=k, buffer_entries=k, max_calls=most + 1)


def _func_name(index: int, name: str) -> str:
    return f"scenario_{index}_" + re.sub(r"[^a-z0-9]", "_", name)


def _scenario_view(index: int, scenario: Scenario, display_file: str,
                   sizes: _Sizes) -> _ScenarioView:
    need: set[str] = set()
    aux = {"aux": 0, "aux_zero": 0}
    aux_end = aux_sizes(scenario)
    max_bytes = max_vmo_bytes(scenario)
    most = max_ranges(scenario)
    steps = tuple(
        _step_view(step, f"{display_file}:{step.location.line}", most, sizes, need, aux,
                   aux_end, max_bytes)
        for step in scenario.steps
    )
    options = []
    if scenario.vmo.trap_dirty:
        options.append("ZX_VMO_TRAP_DIRTY")
    if scenario.vmo.resizable:
        options.append("ZX_VMO_RESIZABLE")
    return _ScenarioView(
        index=index,
        name=scenario.name,
        func=_func_name(index, scenario.name),
        where=f"{display_file}:{scenario.location.line}",
        description=tuple(_clean(line) for line in scenario.description.splitlines()),
        vmo_pages=scenario.vmo.pages,
        vmo_size=_hex(scenario.vmo.size_bytes),
        vmo_options=" | ".join(options) or "0",
        trap_dirty=scenario.vmo.trap_dirty,
        resizable=scenario.vmo.resizable,
        aux_size=_hex(aux_end["aux"]),
        aux_zero_size=_hex(aux_end["aux_zero"]),
        need=" | ".join(sorted(need)) or "0",
        steps=steps,
    )


def _display_name(path: str) -> str:
    # Only the file name: the C (and so the program id) must not depend on where the checkout is.
    return _clean(Path(path).name)


def _template_location(exc: jinja2.TemplateError, template_dir: Path) -> tuple[str, int | None]:
    """File and line of a template error: syntax errors carry them; errors while rendering
    (an undefined variable) only in the traceback, whose template frames jinja2 rewrites to
    point at the template file."""
    filename = getattr(exc, "filename", None)
    line = getattr(exc, "lineno", None)
    if filename and line:
        return filename, line
    tb = exc.__traceback__
    found: tuple[str, int | None] = (str(template_dir / PROGRAM_TEMPLATE), None)
    while tb is not None:
        code_file = tb.tb_frame.f_code.co_filename
        if code_file.endswith(".j2"):
            found = (code_file, tb.tb_lineno)
        tb = tb.tb_next
    return found


def make_environment(template_dir: Path | None = None) -> jinja2.Environment:
    template_dir = template_dir or resources.template_dir()
    """The jinja2 environment: undefined variables are errors, no HTML escaping."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def construction_problems(file: ScenarioFile) -> list[str]:
    """Scenarios the guest cannot build as written, one message each (for `rig validate`).

    - After a step with `pager: no_rights` the scenario's pager handle is gone (replaced by the
      reduced one), so no later step may pass the valid pager.
    - `vmo: slice` of a resizable VMO: the kernel refuses slices of resizable VMOs
      (`VmObjectPaged::CreateChildSlice`: ZX_ERR_NOT_SUPPORTED), so the fixture's setup would
      fail and the run would blame the kernel for the scenario's own mistake.
    - A read or write longer than MAX_IO_BYTES: its static buffer would not fit the program.
    - Supplies inside the VMO that together need more than MAX_AUX_BYTES of aux VMO.
    """
    problems = []
    for scenario in file.scenarios:
        for slot, total in aux_sizes(scenario).items():
            if total > MAX_AUX_BYTES:
                kind = "supply" if slot == "aux" else "supply_zero"
                problems.append(
                    f"{scenario.location}: scenario '{scenario.name}': its {kind} steps "
                    f"supply {total} bytes ({total // zx.PAGE_SIZE} pages) in all, more than "
                    f"the guest's aux VMO allows ({MAX_AUX_BYTES} bytes); supply fewer pages "
                    "(a supply past the VMO's end needs no aux pages and is not counted)")
        taken: Step | None = None
        for step in scenario.steps:
            where = f"{step.location}: scenario '{scenario.name}': step {step.index} ({step.op})"
            uses_pager = step.kind in PAGER_SYSCALL_STEPS or step.kind is StepKind.QUERY_ALL
            if taken is not None and uses_pager and step.pager is Handle.VALID:
                problems.append(
                    f"{where}: uses the scenario's pager after step {taken.index} passed "
                    "'pager: no_rights', which replaces that handle (pagers cannot be "
                    "duplicated); move the no_rights step after the last use of the pager")
                taken = None  # one message per no_rights step
            if step.pager is Handle.NO_RIGHTS:
                taken = step
            if step.vmo is Handle.SLICE and scenario.vmo.resizable:
                problems.append(
                    f"{where}: 'vmo: slice' needs a slice of the scenario's VMO, but the kernel "
                    "refuses slices of resizable VMOs (ZX_ERR_NOT_SUPPORTED), so setup would "
                    "fail; test slices in a scenario with resizable: false")
            if step.kind in _IO_KINDS and step.length_bytes > MAX_IO_BYTES:
                problems.append(
                    f"{where}: {step.length_bytes} bytes is more than the guest's static "
                    f"read/write buffer allows ({MAX_IO_BYTES} bytes); use a shorter range "
                    "(an out-of-range test needs only one page past the end)")
    return problems


def render_program(
    files: Sequence[ScenarioFile],
    *,
    abi: str,
    arch: str,
    target: str,
    template_dir: Path | None = None,
) -> RenderedProgram:
    """Render the test program for every scenario of ``files`` that applies to ``abi``.

    :raises InputError: for an unknown ABI profile or arch, no scenario for the profile, or a
        template error (the message names the template and line).
    """
    if abi not in ABI_PROFILES:
        raise InputError(f"unknown ABI profile '{abi}'; known profiles: {', '.join(ABI_PROFILES)}")
    arches = boards.available_arches()
    if arch not in arches:
        raise InputError(f"unknown arch '{arch}'; known arches: {', '.join(arches)}")
    sizes = _Sizes()
    views: list[_ScenarioView] = []
    placed: list[ProgramScenario] = []
    for f in files:
        problems = construction_problems(f)
        if problems:
            raise ScenarioError(problems[0])
        for scenario in f.scenarios:
            if not scenario.applies_to(abi):
                continue
            index = len(views)
            views.append(_scenario_view(index, scenario, _display_name(f.path), sizes))
            placed.append(ProgramScenario(index=index, name=scenario.name, file=f.path,
                                          steps=len(scenario.steps)))
    if not views:
        names = ", ".join(f.path for f in files) or "(no files)"
        raise InputError(f"no scenario of {names} applies to ABI profile '{abi}'")
    template_dir = template_dir or resources.template_dir()
    env = make_environment(template_dir)
    context = {
        "abi": abi,
        "arch": arch,
        "target": target,
        "protocol_version": PROTOCOL_VERSION,
        "files": [_display_name(f.path) for f in files],
        "scenarios": views,
        "qbuf_entries": sizes.qbuf_entries,
        "qall_entries": sizes.qall_entries,
        "io_bytes": sizes.io_bytes,
        "uses_qbuf": sizes.uses_qbuf,
        "uses_qall": sizes.uses_qall,
        "uses_io": sizes.uses_io,
    }
    try:
        template = env.get_template(PROGRAM_TEMPLATE)
        draft = template.render(program_id=_ID_PLACEHOLDER,
                                builtin_id=_ID_PLACEHOLDER[:BUILTIN_ID_LEN], **context)
        program_id = hashlib.sha256(draft.encode()).hexdigest()
        c_source = template.render(program_id=program_id,
                                   builtin_id=program_id[:BUILTIN_ID_LEN], **context)
    except jinja2.TemplateError as exc:
        where, line = _template_location(exc, template_dir)
        raise InputError(f"{where}{f':{line}' if line else ''}: template error: {exc}") from exc
    LOG.debug("rendered %d scenarios for %s/%s/%s, program id %s", len(views), abi, arch,
              target, program_id)
    return RenderedProgram(c_source=c_source, program_id=program_id, abi=abi, arch=arch,
                           target=target, scenarios=tuple(placed))


def program_id_of(c_source: str) -> str:
    """Recompute the program id of rendered C (docs/codegen.md): zero the two id literals, hash."""
    m = re.search(r'#define RIG_PROGRAM_ID "([0-9a-f]{16})"', c_source)
    full = re.search(r"Program id: ([0-9a-f]{64})", c_source)
    if m is None or full is None:
        raise InputError("not a rendered rig program: no program id in it")
    draft = c_source.replace(full.group(1), _ID_PLACEHOLDER, 1).replace(
        f'#define RIG_PROGRAM_ID "{m.group(1)}"',
        f'#define RIG_PROGRAM_ID "{_ID_PLACEHOLDER[:BUILTIN_ID_LEN]}"', 1)
    return hashlib.sha256(draft.encode()).hexdigest()
