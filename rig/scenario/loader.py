"""Scenario files (YAML, the contract in shared/specs/scenario-format.md) to frozen dataclasses.

The loader walks PyYAML's node tree rather than plain Python objects so every error can name
the line it comes from. Internally every range is in bytes; pairs ``[a, n]`` are pages.
"""

from __future__ import annotations

import enum
import gc
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rig import zx
from rig.errors import ScenarioError
from rig.profiles import PROFILE_NAMES

ABI_PROFILES = PROFILE_NAMES
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_NAME_LEN = 64  # keeps a scenario name inside one guest record
MAX_OFFSET_BYTES = 1 << 63  # offsets and lengths are uint64 in the syscalls
# The largest query buffer a scenario may ask for: the guest has no allocator and gives every
# buffer static storage (rig.program.codegen sizes it).
MAX_BUFFER_ENTRIES = 1 << 20


class StepKind(enum.Enum):
    """Every step of the contract, valued by its YAML key."""

    SUPPLY = "supply"
    SUPPLY_ZERO = "supply_zero"
    WRITE = "write"
    WRITE_BYTES = "write_bytes"
    READ = "read"
    OP_DIRTY = "op_dirty"
    OP_FAIL = "op_fail"
    WRITEBACK_BEGIN = "writeback_begin"
    WRITEBACK_BEGIN_ZERO = "writeback_begin_zero"
    WRITEBACK_END = "writeback_end"
    OP_ZERO = "op_zero"
    COMMIT = "commit"
    RESIZE = "resize"
    DETACH = "detach"
    STATS = "stats"
    QUERY = "query"
    QUERY_ALL = "query_all"


RANGE_STEPS = frozenset(
    {
        StepKind.SUPPLY,
        StepKind.SUPPLY_ZERO,
        StepKind.WRITE,
        StepKind.WRITE_BYTES,
        StepKind.READ,
        StepKind.OP_DIRTY,
        StepKind.OP_FAIL,
        StepKind.WRITEBACK_BEGIN,
        StepKind.WRITEBACK_BEGIN_ZERO,
        StepKind.WRITEBACK_END,
        StepKind.OP_ZERO,
        StepKind.COMMIT,
    }
)
# Steps that pass a `data` argument to zx_pager_op_range, with the default the contract gives.
DATA_STEPS: dict[StepKind, int] = {
    StepKind.OP_DIRTY: 0,
    StepKind.OP_FAIL: zx.ZX_ERR_IO,
    StepKind.WRITEBACK_BEGIN: 0,
    StepKind.WRITEBACK_BEGIN_ZERO: zx.ZX_VMO_DIRTY_RANGE_IS_ZERO,
    StepKind.WRITEBACK_END: 0,
}
# Steps making a pager syscall, which therefore take `pager:`/`vmo:` handle variants.
PAGER_SYSCALL_STEPS = frozenset(
    {
        StepKind.SUPPLY,
        StepKind.SUPPLY_ZERO,
        StepKind.OP_DIRTY,
        StepKind.OP_FAIL,
        StepKind.WRITEBACK_BEGIN,
        StepKind.WRITEBACK_BEGIN_ZERO,
        StepKind.WRITEBACK_END,
        StepKind.DETACH,
        StepKind.STATS,
        StepKind.QUERY,
    }
)


class Handle(enum.Enum):
    """Which handle a step passes (contract: query options `pager:` and `vmo:`)."""

    VALID = "valid"
    INVALID = "invalid"
    CLOSED = "closed"
    WRONG_TYPE = "wrong_type"
    OTHER_PAGER = "other_pager"
    PLAIN_VMO = "plain_vmo"
    CLONE = "clone"
    SLICE = "slice"
    NO_RIGHTS = "no_rights"


# Variants that only make sense for one of the two handles.
PAGER_ONLY_HANDLES = frozenset({Handle.VALID, Handle.INVALID, Handle.CLOSED, Handle.WRONG_TYPE,
                                Handle.OTHER_PAGER, Handle.NO_RIGHTS})


@dataclass(frozen=True)
class Location:
    """Where something came from, for messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Expect:
    """What a step must produce; None means 'not checked'. Ranges are in bytes."""

    status: int | None = None
    actual: int | None = None
    avail: int | None = None
    ranges: tuple[tuple[int, int, int], ...] | None = None
    calls: int | None = None
    modified: int | None = None


@dataclass(frozen=True)
class QueryArgs:
    """Arguments of one zx_pager_query_dirty_ranges call.

    None for offset/length means 'the whole VMO at that moment'; None for buffer_size means
    'room for every range'.
    """

    offset_bytes: int | None = None
    length_bytes: int | None = None
    buffer_size: int | None = None
    buffer_null: bool = False
    actual_null: bool = False
    avail_null: bool = False


@dataclass(frozen=True)
class Step:
    """One step: exactly one syscall (or the documented query loop for query_all)."""

    index: int
    kind: StepKind
    location: Location
    offset_bytes: int = 0
    length_bytes: int = 0
    data: int | None = None
    new_size_bytes: int | None = None
    reset: bool = False
    query: QueryArgs | None = None
    buffer_entries: int | None = None
    pager: Handle = Handle.VALID
    vmo: Handle = Handle.VALID
    expect: Expect | None = None

    @property
    def op(self) -> str:
        return self.kind.value


@dataclass(frozen=True)
class VmoSpec:
    pages: int
    trap_dirty: bool = False
    resizable: bool = False

    @property
    def size_bytes(self) -> int:
        return self.pages * zx.PAGE_SIZE


@dataclass(frozen=True)
class Scenario:
    name: str
    vmo: VmoSpec
    steps: tuple[Step, ...]
    location: Location
    description: str = ""
    abi: tuple[str, ...] = ABI_PROFILES

    def applies_to(self, profile: str) -> bool:
        return profile in self.abi


@dataclass(frozen=True)
class ScenarioFile:
    path: str
    scenarios: tuple[Scenario, ...] = field(default_factory=tuple)
    # Likely typos that are still valid input (a range past the VMO without an error
    # `expect:`): `rig validate` prints them, `rig validate --strict` fails on them.
    warnings: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Loading


class _Ctx:
    """Error context: file, scenario and step, so each message names all of them."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.scenario: str | None = None
        self.step: int | None = None
        self.step_key: str | None = None

    def error(self, node: yaml.Node | None, what: str) -> ScenarioError:
        line = node.start_mark.line + 1 if node is not None else 0
        where = f"{self.path}:{line}" if line else self.path
        parts = [where]
        if self.scenario is not None:
            parts.append(f"scenario '{self.scenario}'")
        if self.step is not None:
            label = f"step {self.step}"
            if self.step_key:
                label += f" ({self.step_key})"
            parts.append(label)
        return ScenarioError(": ".join(parts) + ": " + what)


# The C loader when PyYAML has it: several times faster on large files.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()
_TAG = "tag:yaml.org,2002:"
# Scalars are built by their tag's constructor alone: construct_object would remember every
# node it ever built (a module-level cache that outlived each call), and _check_tree has made
# sure only the implicit tags of the YAML core schema occur.
_SCALAR_TAGS = frozenset(_TAG + t for t in ("null", "bool", "int", "float", "str",
                                            "timestamp"))
_STR_TAG = _TAG + "str"
_NOT_SCALAR = object()
MAX_FILE_BYTES = 64 << 20  # a scenario file (10k scenarios are about 3 MB)
MAX_DEPTH = 32  # nesting of lists and mappings (a scenario file needs 6)
MAX_NODES = 1_000_000  # nodes once aliases are expanded (billion laughs)
MAX_SHOWN_CHARS = 60  # of a value quoted in a message


def _scalar(node: yaml.Node) -> object:
    """A scalar node as a Python value with the safe loader's rules (``_NOT_SCALAR`` for a
    list or mapping).

    (Constructing the node directly also handles an empty value, `key:` with nothing after it,
    which a serialize/load round trip cannot.)
    """
    if not isinstance(node, yaml.ScalarNode) or node.tag not in _SCALAR_TAGS:
        return _NOT_SCALAR
    if node.tag == _STR_TAG:
        return node.value  # what construct_yaml_str returns, without its checks' cost
    constructor = _CONSTRUCTOR.yaml_constructors[node.tag]
    return constructor(_CONSTRUCTOR, node)


def _show(value: object) -> str:
    """``repr(value)`` cut to MAX_SHOWN_CHARS: a message never grows with the input."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "...'"


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_tree(root: yaml.Node, path: str) -> None:
    """Refuse what the loader does not take, before anything is built from the nodes: explicit
    tags (`!foo`, `!!int abc`), merge keys (`<<: *v`), non-scalar mapping keys, recursive
    aliases, nesting deeper than MAX_DEPTH and aliases expanding to more than MAX_NODES nodes.
    Iterative, and each node is checked once however often aliases repeat it.

    :raises ScenarioError: naming the file, line and what to do instead.
    """
    def fail(node: yaml.Node, what: str) -> ScenarioError:
        return ScenarioError(f"{path}:{node.start_mark.line + 1}: {what}")

    implicit_of: dict[str, str] = {}  # plain scalar text -> its implicit tag (this call only)

    def check_scalar(node: yaml.ScalarNode) -> None:
        if node.tag == _TAG + "merge":
            raise fail(node, "YAML merge keys (<<) are not supported: write the keys out")
        if node.style in (None, ""):
            implicit = implicit_of.get(node.value)
            if implicit is None:
                # PyYAML's resolver is untyped.
                implicit = _RESOLVER.resolve(  # type: ignore[no-untyped-call]
                    yaml.ScalarNode, node.value, (True, False))
                implicit_of[node.value] = implicit
        else:
            implicit = _TAG + "str"
        if node.tag != implicit:
            raise fail(node, f"explicit YAML tag {_show(node.tag)} is not supported: "
                             "write the plain value")

    if isinstance(root, yaml.ScalarNode):
        check_scalar(root)
        return
    size: dict[int, int] = {}  # collection id -> nodes under it, aliases expanded
    on_path: set[int] = set()
    # (node, depth, its children once expanded: None on the way down)
    stack: list[tuple[yaml.Node, int, list[yaml.Node] | None]] = [(root, 1, None)]
    while stack:
        node, depth, kids = stack.pop()
        key = id(node)
        if kids is not None:
            on_path.discard(key)
            total = 1 + sum(size.get(id(c), 1) for c in kids)
            if total > MAX_NODES:
                raise fail(node, f"aliases expand this to more than {MAX_NODES} nodes; write "
                                 "the scenarios out")
            size[key] = total
            continue
        if key in size:
            continue  # an alias of a node already checked
        if key in on_path:
            raise fail(node, "a recursive alias (a node that contains itself); YAML aliases "
                             "may only repeat finished nodes")
        if depth > MAX_DEPTH:
            raise fail(node, f"nested more than {MAX_DEPTH} deep")
        if node.tag not in (_TAG + "seq", _TAG + "map"):
            raise fail(node, f"explicit YAML tag {_show(node.tag)} is not supported")
        if isinstance(node, yaml.MappingNode):
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    raise fail(key_node, "a mapping key must be a plain word, found "
                                         f"{_kind(key_node)}")
        children = _children(node)
        on_path.add(key)
        stack.append((node, depth, children))
        for c in children:
            if isinstance(c, yaml.ScalarNode):
                check_scalar(c)
            else:
                stack.append((c, depth + 1, None))


def _mapping(ctx: _Ctx, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise ctx.error(node, f"{what} must be a mapping, found {_kind(node)}")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for key_node, value_node in node.value:
        key = _scalar(key_node)
        if not isinstance(key, str):
            raise ctx.error(key_node, f"{what}: keys must be strings, found {_kind(key_node)}")
        if key in out:
            raise ctx.error(key_node, f"{what}: key '{key}' given twice")
        out[key] = (key_node, value_node)
    return out


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return _show(node.value) if isinstance(node, yaml.ScalarNode) else "a node"


def _int(ctx: _Ctx, node: yaml.Node, what: str, minimum: int = 0,
         maximum: int = MAX_OFFSET_BYTES) -> int:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.error(node, f"{what} must be an integer, found {_kind(node)}")
    if not minimum <= value <= maximum:
        raise ctx.error(node, f"{what} must be in [{minimum}, {maximum}], found {value}")
    return value


def _bool(ctx: _Ctx, node: yaml.Node, what: str) -> bool:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if not isinstance(value, bool):
        raise ctx.error(node, f"{what} must be true or false, found {_kind(node)}")
    return value


def _status(ctx: _Ctx, node: yaml.Node, what: str) -> int:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, str):
        if value in zx.STATUS_BY_NAME:
            return zx.STATUS_BY_NAME[value]
        close = [n for n in zx.STATUS_BY_NAME if value.upper().strip() in n][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ctx.error(node, f"{what}: unknown status name '{value}'{hint}; "
                              "use a ZX_... name from zircon/errors.h or an integer")
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(1 << 31) <= value < (1 << 31):
            raise ctx.error(node, f"{what} must fit zx_status_t (a 32-bit signed integer), "
                                  f"found {_show(value)}")
        return value
    raise ctx.error(node, f"{what} must be a ZX_... status name or an integer, found {_kind(node)}")


def _data(ctx: _Ctx, node: yaml.Node) -> int:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    if isinstance(value, str):
        if value in zx.DATA_BY_NAME:
            return zx.DATA_BY_NAME[value]
        if value in zx.STATUS_BY_NAME:
            return zx.STATUS_BY_NAME[value]
        raise ctx.error(node, f"data: unknown name '{value}'; use an integer, a ZX_ERR_... name "
                              f"or one of {', '.join(zx.DATA_BY_NAME)}")
    if isinstance(value, int) and not isinstance(value, bool):
        if not -(1 << 63) <= value < (1 << 64):
            raise ctx.error(node, f"data must fit in 64 bits, found {value}")
        return value
    raise ctx.error(node, f"data must be an integer or a ZX_... name, found {_kind(node)}")


def _handle(ctx: _Ctx, node: yaml.Node, which: str) -> Handle:
    value = _scalar(node) if isinstance(node, yaml.ScalarNode) else None
    allowed = [h.value for h in Handle if which == "vmo" or h in PAGER_ONLY_HANDLES]
    if value not in allowed:
        raise ctx.error(node, f"{which}: unknown handle variant {_show(value)}; "
                              f"allowed: {', '.join(allowed)}")
    return Handle(value)


def _pair(ctx: _Ctx, node: yaml.Node, key: str) -> tuple[int, int]:
    """A page range `[a, n]` or `{offset_bytes, length_bytes}`, returned in bytes."""
    if isinstance(node, yaml.SequenceNode):
        if len(node.value) != 2:
            raise ctx.error(node, f"{key} takes a pair [first_page, page_count], "
                                  f"found a list of {len(node.value)}")
        first = _int(ctx, node.value[0], f"{key}: first page", 0, MAX_OFFSET_BYTES // zx.PAGE_SIZE)
        count = _int(ctx, node.value[1], f"{key}: page count", 0, MAX_OFFSET_BYTES // zx.PAGE_SIZE)
        return first * zx.PAGE_SIZE, count * zx.PAGE_SIZE
    if isinstance(node, yaml.MappingNode):
        fields = _mapping(ctx, node, key)
        unknown = set(fields) - {"offset_bytes", "length_bytes"}
        if unknown or len(fields) != 2:
            raise ctx.error(node, f"{key} in bytes takes exactly offset_bytes and length_bytes, "
                                  f"found {', '.join(sorted(fields)) or 'nothing'}")
        off = _int(ctx, fields["offset_bytes"][1], f"{key}: offset_bytes")
        length = _int(ctx, fields["length_bytes"][1], f"{key}: length_bytes")
        return off, length
    raise ctx.error(node, f"{key} takes a pair [first_page, page_count] or "
                          f"{{offset_bytes, length_bytes}}, found {_kind(node)}")


def _expect(ctx: _Ctx, node: yaml.Node, kind: StepKind) -> Expect:
    fields = _mapping(ctx, node, "expect")
    allowed = {"status"}
    if kind in (StepKind.QUERY, StepKind.QUERY_ALL):
        allowed |= {"actual", "avail", "ranges"}
    if kind is StepKind.QUERY_ALL:
        allowed |= {"calls"}
    if kind is StepKind.STATS:
        allowed |= {"modified"}
    for key, (key_node, _) in fields.items():
        if key not in allowed:
            raise ctx.error(key_node, f"expect: '{key}' does not apply to {kind.value}; "
                                      f"allowed: {', '.join(sorted(allowed))}")
    out: dict[str, object] = {}
    if "status" in fields:
        out["status"] = _status(ctx, fields["status"][1], "expect.status")
    for key in ("actual", "avail", "calls", "modified"):
        if key in fields:
            out[key] = _int(ctx, fields[key][1], f"expect.{key}")
    if "ranges" in fields:
        rnode = fields["ranges"][1]
        if not isinstance(rnode, yaml.SequenceNode):
            raise ctx.error(rnode, f"expect.ranges must be a list, found {_kind(rnode)}")
        ranges = []
        for item in rnode.value:
            if not isinstance(item, yaml.SequenceNode) or len(item.value) != 3:
                raise ctx.error(item, "expect.ranges: each range is "
                                      "[offset_pages, length_pages, options]")
            off = _int(ctx, item.value[0], "expect.ranges: offset_pages")
            length = _int(ctx, item.value[1], "expect.ranges: length_pages")
            opts = _int(ctx, item.value[2], "expect.ranges: options", 0, 1)
            ranges.append((off * zx.PAGE_SIZE, length * zx.PAGE_SIZE, opts))
        out["ranges"] = tuple(ranges)
    # The keys were checked one by one above; mypy cannot see that each value fits its field.
    return Expect(**out)  # type: ignore[arg-type]


def _query(ctx: _Ctx, node: yaml.Node) -> tuple[QueryArgs, Handle, Handle]:
    if isinstance(node, yaml.ScalarNode) and _scalar(node) is None:
        return QueryArgs(), Handle.VALID, Handle.VALID
    fields = _mapping(ctx, node, "query")
    allowed = {"offset", "length", "offset_bytes", "length_bytes", "buffer_entries",
               "buffer_bytes", "buffer", "actual", "avail", "pager", "vmo"}
    for key, (key_node, _) in fields.items():
        if key not in allowed:
            raise ctx.error(key_node, f"query: unknown option '{key}'; allowed: "
                                      f"{', '.join(sorted(allowed))}")
    for a, b in (("offset", "offset_bytes"), ("length", "length_bytes"),
                 ("buffer_entries", "buffer_bytes")):
        if a in fields and b in fields:
            raise ctx.error(fields[b][0], f"query: give {a} or {b}, not both")
    args: dict[str, object] = {}
    if "offset" in fields:
        args["offset_bytes"] = _int(ctx, fields["offset"][1], "query.offset",
                                    0, MAX_OFFSET_BYTES // zx.PAGE_SIZE) * zx.PAGE_SIZE
    if "offset_bytes" in fields:
        args["offset_bytes"] = _int(ctx, fields["offset_bytes"][1], "query.offset_bytes",
                                    0, (1 << 64) - 1)
    if "length" in fields:
        args["length_bytes"] = _int(ctx, fields["length"][1], "query.length",
                                    0, MAX_OFFSET_BYTES // zx.PAGE_SIZE) * zx.PAGE_SIZE
    if "length_bytes" in fields:
        args["length_bytes"] = _int(ctx, fields["length_bytes"][1], "query.length_bytes",
                                    0, (1 << 64) - 1)
    if "buffer_entries" in fields:
        args["buffer_size"] = zx.DIRTY_RANGE_SIZE * _int(
            ctx, fields["buffer_entries"][1], "query.buffer_entries", 0, MAX_BUFFER_ENTRIES)
    if "buffer_bytes" in fields:
        args["buffer_size"] = _int(ctx, fields["buffer_bytes"][1], "query.buffer_bytes",
                                   0, zx.DIRTY_RANGE_SIZE << 20)
    if "buffer" in fields:
        bnode = fields["buffer"][1]
        if not (isinstance(bnode, yaml.ScalarNode) and _scalar(bnode) is None):
            raise ctx.error(bnode, "query.buffer: only 'null' is allowed (pass a NULL buffer)")
        args["buffer_null"] = True
        args.setdefault("buffer_size", 0)
    for key in ("actual", "avail"):
        if key in fields:
            if _bool(ctx, fields[key][1], f"query.{key}"):
                continue
            args[f"{key}_null"] = True
    pager = _handle(ctx, fields["pager"][1], "pager") if "pager" in fields else Handle.VALID
    vmo = _handle(ctx, fields["vmo"][1], "vmo") if "vmo" in fields else Handle.VALID
    # As for Expect: each key was parsed into its field's type above.
    return QueryArgs(**args), pager, vmo  # type: ignore[arg-type]


_SIDE_KEYS = {"expect", "data", "pager", "vmo"}
# Steps whose arguments are all optional may be written as a bare word (`- detach`).
BARE_STEPS = frozenset({"detach", "stats", "query"})


def _step(ctx: _Ctx, node: yaml.Node, index: int) -> Step:
    ctx.step, ctx.step_key = index, None
    location = Location(ctx.path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        key = _scalar(node)
        if key not in BARE_STEPS:
            if key in {k.value for k in StepKind}:
                bare = ", ".join(sorted(BARE_STEPS))
                raise ctx.error(node, f"step '{key}' needs arguments; only {bare} may be "
                                      "written as a bare word")
            raise ctx.error(node, f"unknown step {_show(key)}; allowed: "
                                  f"{', '.join(k.value for k in StepKind)}")
        ctx.step_key = key
        kind = StepKind(key)
        return Step(index=index, kind=kind, location=location,
                    query=QueryArgs() if kind is StepKind.QUERY else None)
    fields = _mapping(ctx, node, "a step")
    step_keys = [k for k in fields if k not in _SIDE_KEYS]
    if len(step_keys) != 1:
        raise ctx.error(node, "a step must have exactly one step key besides "
                              f"{', '.join(sorted(_SIDE_KEYS))}; found "
                              f"{', '.join(step_keys) or 'none'}")
    key = step_keys[0]
    try:
        kind = StepKind(key)
    except ValueError:
        raise ctx.error(fields[key][0], f"unknown step '{key}'; allowed: "
                                        f"{', '.join(k.value for k in StepKind)}") from None
    ctx.step_key = key
    value = fields[key][1]
    kwargs: dict[str, object] = {}
    if kind in RANGE_STEPS:
        if kind is StepKind.WRITE_BYTES:
            if not isinstance(value, yaml.SequenceNode) or len(value.value) != 2:
                raise ctx.error(value, "write_bytes takes [offset, length] in bytes")
            kwargs["offset_bytes"] = _int(ctx, value.value[0], "write_bytes: offset")
            kwargs["length_bytes"] = _int(ctx, value.value[1], "write_bytes: length", 0, 1 << 24)
        else:
            kwargs["offset_bytes"], kwargs["length_bytes"] = _pair(ctx, value, key)
    elif kind is StepKind.RESIZE:
        kwargs["new_size_bytes"] = _int(ctx, value, "resize: page count", 0,
                                        MAX_OFFSET_BYTES // zx.PAGE_SIZE) * zx.PAGE_SIZE
    elif kind is StepKind.DETACH:
        if not (isinstance(value, yaml.ScalarNode) and _scalar(value) is None):
            raise ctx.error(value, "detach takes no arguments")
    elif kind is StepKind.STATS:
        if not (isinstance(value, yaml.ScalarNode) and _scalar(value) is None):
            sfields = _mapping(ctx, value, "stats")
            for k, (kn, _) in sfields.items():
                if k != "reset":
                    raise ctx.error(kn, f"stats: unknown option '{k}'; allowed: reset")
            if "reset" in sfields:
                kwargs["reset"] = _bool(ctx, sfields["reset"][1], "stats.reset")
    elif kind is StepKind.QUERY:
        kwargs["query"], kwargs["pager"], kwargs["vmo"] = _query(ctx, value)
    elif kind is StepKind.QUERY_ALL:
        qfields = _mapping(ctx, value, "query_all")
        for k, (kn, _) in qfields.items():
            if k != "buffer_entries":
                raise ctx.error(kn, f"query_all: unknown option '{k}'; allowed: buffer_entries")
        if "buffer_entries" not in qfields:
            raise ctx.error(value, "query_all needs buffer_entries (at least 1)")
        kwargs["buffer_entries"] = _int(ctx, qfields["buffer_entries"][1],
                                        "query_all.buffer_entries", 1, MAX_BUFFER_ENTRIES)
    if "data" in fields:
        if kind not in DATA_STEPS:
            raise ctx.error(fields["data"][0], f"data: does not apply to {key}; it applies to "
                                               f"{', '.join(k.value for k in DATA_STEPS)}")
        kwargs["data"] = _data(ctx, fields["data"][1])
    elif kind in DATA_STEPS:
        kwargs["data"] = DATA_STEPS[kind]
    for which in ("pager", "vmo"):
        if which in fields:
            if kind is StepKind.QUERY:
                raise ctx.error(fields[which][0], f"query: put {which}: inside the query mapping")
            if kind not in PAGER_SYSCALL_STEPS:
                raise ctx.error(fields[which][0], f"{which}: handle variants apply only to pager "
                                                  "syscall steps")
            kwargs[which] = _handle(ctx, fields[which][1], which)
    if "expect" in fields:
        kwargs["expect"] = _expect(ctx, fields["expect"][1], kind)
    # As for Expect: each keyword was parsed into its field's type above.
    return Step(index=index, kind=kind, location=location, **kwargs)  # type: ignore[arg-type]


def _expects_error(step: Step) -> bool:
    return step.expect is not None and step.expect.status not in (None, zx.ZX_OK)


def _range_warning(ctx: _Ctx, node: yaml.Node, step: Step, max_size: int) -> str | None:
    """A warning for a range past the largest size the VMO ever has, unless the step declares
    an error status.

    Such a call is valid (the contract: without `expect:` the model alone decides, and it
    predicts the kernel's ZX_ERR_OUT_OF_RANGE or whatever the call gives); the warning only
    catches typos. `rig validate --strict` makes it an error; nothing else refuses it.
    """
    if _expects_error(step):
        return None
    if step.kind in RANGE_STEPS:
        end = step.offset_bytes + step.length_bytes
        what = (f"bytes [{step.offset_bytes}, {end})" if step.kind is StepKind.WRITE_BYTES
                else f"pages {step.offset_bytes // zx.PAGE_SIZE}..{end // zx.PAGE_SIZE - 1}")
    elif step.kind is StepKind.QUERY and step.query is not None and (
            step.query.offset_bytes is not None or step.query.length_bytes is not None):
        off = step.query.offset_bytes or 0
        end = off + (step.query.length_bytes or 0)
        what = f"bytes [{off}, {end})"
    else:
        return None
    if end <= max_size:
        return None
    return str(ctx.error(node, f"{what} reach past the VMO ({max_size // zx.PAGE_SIZE} pages "
                               "at most); the model predicts what the kernel returns (e.g. "
                               "ZX_ERR_OUT_OF_RANGE); if that is the test, say so with "
                               "expect: {status: ...}"))


def _abi(ctx: _Ctx, node: yaml.Node) -> tuple[str, ...]:
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if not items:
        raise ctx.error(node, f"abi: give at least one profile ({', '.join(ABI_PROFILES)}), or "
                              "leave abi: out for all of them")
    out = []
    for item in items:
        value = _scalar(item) if isinstance(item, yaml.ScalarNode) else None
        if str(value) not in ABI_PROFILES:
            raise ctx.error(item, f"abi: unknown ABI profile {_show(value)}; "
                                  f"known profiles: {', '.join(ABI_PROFILES)}")
        out.append(str(value))
    return tuple(dict.fromkeys(out))


def _scenario(ctx: _Ctx, node: yaml.Node, warnings: list[str]) -> Scenario:
    ctx.scenario, ctx.step, ctx.step_key = None, None, None
    fields = _mapping(ctx, node, "a scenario")
    if "name" not in fields:
        raise ctx.error(node, "scenario without a name")
    name_node = fields["name"][1]
    name = _scalar(name_node) if isinstance(name_node, yaml.ScalarNode) else None
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > MAX_NAME_LEN:
        raise ctx.error(name_node, f"scenario name {_show(name)} must match [a-z0-9][a-z0-9-]* "
                                   f"and have at most {MAX_NAME_LEN} characters")
    ctx.scenario = name
    allowed = {"name", "description", "abi", "vmo", "steps"}
    for key, (key_node, _) in fields.items():
        if key not in allowed:
            raise ctx.error(key_node, f"unknown scenario key '{key}'; allowed: "
                                      f"{', '.join(sorted(allowed))}")
    for required in ("vmo", "steps"):
        if required not in fields:
            raise ctx.error(node, f"scenario needs '{required}'")
    vfields = _mapping(ctx, fields["vmo"][1], "vmo")
    for key, (key_node, _) in vfields.items():
        if key not in {"pages", "trap_dirty", "resizable"}:
            raise ctx.error(key_node, f"vmo: unknown key '{key}'; allowed: pages, trap_dirty, "
                                      "resizable")
    if "pages" not in vfields:
        raise ctx.error(fields["vmo"][1], "vmo needs 'pages'")
    vmo = VmoSpec(
        pages=_int(ctx, vfields["pages"][1], "vmo.pages", 0, MAX_OFFSET_BYTES // zx.PAGE_SIZE),
        trap_dirty=_bool(ctx, vfields["trap_dirty"][1], "vmo.trap_dirty")
        if "trap_dirty" in vfields else False,
        resizable=_bool(ctx, vfields["resizable"][1], "vmo.resizable")
        if "resizable" in vfields else False,
    )
    description = ""
    if "description" in fields:
        dvalue = _scalar(fields["description"][1])
        if not isinstance(dvalue, str):
            raise ctx.error(fields["description"][1], "description must be text")
        description = dvalue
    abi = _abi(ctx, fields["abi"][1]) if "abi" in fields else ABI_PROFILES
    snode = fields["steps"][1]
    if not isinstance(snode, yaml.SequenceNode):
        raise ctx.error(snode, f"steps must be a list, found {_kind(snode)}")
    steps = []
    max_size = vmo.size_bytes
    for index, step_node in enumerate(snode.value):
        step = _step(ctx, step_node, index)
        if step.kind is StepKind.RESIZE and step.new_size_bytes is not None and vmo.resizable:
            max_size = max(max_size, step.new_size_bytes)
        warning = _range_warning(ctx, step_node, step, max_size)
        if warning is not None:
            warnings.append(warning)
        steps.append(step)
    ctx.step = None
    return Scenario(name=name, vmo=vmo, steps=tuple(steps), description=description, abi=abi,
                    location=Location(ctx.path, node.start_mark.line + 1))


def parse_scenarios(text: str, path: str) -> ScenarioFile:
    """Parse scenario YAML text; ``path`` is only used in messages.

    :raises ScenarioError: naming file, line, scenario and step.
    """
    # Hack, for speed: the node tree and the dataclasses are hundreds of thousands of small
    # objects, and the cyclic collector would walk them again and again while they are made
    # (a 10k-scenario file composes 2.7 times faster without it). Nothing here makes cycles
    # but a recursive alias, which is collected once the collector is back.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _parse_scenarios(text, path)
    finally:
        if collecting:
            gc.enable()


def _parse_scenarios(text: str, path: str) -> ScenarioFile:
    ctx = _Ctx(path)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{line}: not valid YAML: "
                            f"{getattr(exc, 'problem', None) or exc}") from exc
    except RecursionError as exc:  # the pure-Python composer on deep nesting
        raise ScenarioError(f"{path}: nested too deep (at most {MAX_DEPTH})") from exc
    if root is None:
        raise ScenarioError(f"{path}: empty file; expected a mapping with 'scenarios:'")
    _check_tree(root, path)
    fields = _mapping(ctx, root, "the file")
    for key, (key_node, _) in fields.items():
        if key != "scenarios":
            raise ctx.error(key_node, f"unknown top-level key '{key}'; allowed: scenarios")
    if "scenarios" not in fields:
        raise ctx.error(root, "missing top-level 'scenarios:' list")
    lnode = fields["scenarios"][1]
    if not isinstance(lnode, yaml.SequenceNode):
        raise ctx.error(lnode, f"scenarios must be a list, found {_kind(lnode)}")
    scenarios: list[Scenario] = []
    warnings: list[str] = []
    seen: dict[str, Location] = {}
    for snode in lnode.value:
        scenario = _scenario(ctx, snode, warnings)
        if scenario.name in seen:
            ctx.step = None
            raise ctx.error(snode, f"duplicate scenario name (first defined at line "
                                   f"{seen[scenario.name].line})")
        seen[scenario.name] = scenario.location
        scenarios.append(scenario)
    return ScenarioFile(path=path, scenarios=tuple(scenarios), warnings=tuple(warnings))


def load_scenarios(path: str | Path) -> ScenarioFile:
    """Read and parse one scenario file.

    :raises ScenarioError: when the file is unreadable or invalid.
    """
    p = Path(path)
    try:
        # stat first: opening a FIFO blocks, and a device like /dev/zero never ends.
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(f"{p}: not a regular file; give scenario files as files")
        if st.st_size > MAX_FILE_BYTES:
            raise ScenarioError(f"{p}: {st.st_size} bytes, more than a scenario file may have "
                                f"({MAX_FILE_BYTES}); split it")
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{p}: cannot read scenario file: {exc}") from exc
    return parse_scenarios(text, str(p))


def bundled_suite_paths() -> list[Path]:
    """The scenario files shipped in the package (rig/scenario/suite/*.yaml), sorted."""
    return sorted((Path(__file__).parent / "suite").glob("*.yaml"))


def load_many(paths: Iterable[str | Path]) -> list[ScenarioFile]:
    """Load several files. Scenario names need be unique only within a file (the contract);
    scenarios are told apart by file and name. The same file may not be given twice: its
    scenarios would run twice under the same names.

    :raises ScenarioError: for the first invalid file or a file given twice.
    """
    seen: dict[Path, str] = {}
    for p in paths:
        key = Path(p).resolve()
        if key in seen:
            raise ScenarioError(f"{p}: the same scenario file is given twice (also as "
                                f"{seen[key]}); give each file once")
        seen[key] = str(p)
    return [load_scenarios(p) for p in seen.values()]
