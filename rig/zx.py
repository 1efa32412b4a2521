"""Zircon constants the rig speaks: status codes, options and ops (zircon-facts.md section 1).

Pure data; the C side has its own declarations in guest/include/rig/zircon.h.
"""

from __future__ import annotations

PAGE_SIZE = 4096  # zx_system_get_page_size() on QEMU x86-64 and arm64
DIRTY_RANGE_SIZE = 24  # sizeof(zx_vmo_dirty_range_t)

# zircon/system/public/zircon/errors.h
STATUS_BY_NAME: dict[str, int] = {
    "ZX_OK": 0,
    "ZX_ERR_INTERNAL": -1,
    "ZX_ERR_NOT_SUPPORTED": -2,
    "ZX_ERR_NO_RESOURCES": -3,
    "ZX_ERR_NO_MEMORY": -4,
    "ZX_ERR_INTERNAL_INTR_RETRY": -6,
    "ZX_ERR_INVALID_ARGS": -10,
    "ZX_ERR_BAD_HANDLE": -11,
    "ZX_ERR_WRONG_TYPE": -12,
    "ZX_ERR_BAD_SYSCALL": -13,
    "ZX_ERR_OUT_OF_RANGE": -14,
    "ZX_ERR_BUFFER_TOO_SMALL": -15,
    "ZX_ERR_BAD_STATE": -20,
    "ZX_ERR_TIMED_OUT": -21,
    "ZX_ERR_SHOULD_WAIT": -22,
    "ZX_ERR_CANCELED": -23,
    "ZX_ERR_PEER_CLOSED": -24,
    "ZX_ERR_NOT_FOUND": -25,
    "ZX_ERR_ALREADY_EXISTS": -26,
    "ZX_ERR_ALREADY_BOUND": -27,
    "ZX_ERR_UNAVAILABLE": -28,
    "ZX_ERR_ACCESS_DENIED": -30,
    "ZX_ERR_IO": -40,
    "ZX_ERR_IO_REFUSED": -41,
    "ZX_ERR_IO_DATA_INTEGRITY": -42,
    "ZX_ERR_IO_DATA_LOSS": -43,
    "ZX_ERR_IO_NOT_PRESENT": -44,
    "ZX_ERR_IO_OVERRUN": -45,
    "ZX_ERR_IO_MISSED_DEADLINE": -46,
    "ZX_ERR_IO_INVALID": -47,
    "ZX_ERR_BAD_PATH": -50,
    "ZX_ERR_NOT_DIR": -51,
    "ZX_ERR_NOT_FILE": -52,
    "ZX_ERR_FILE_BIG": -53,
    "ZX_ERR_NO_SPACE": -54,
    "ZX_ERR_NOT_EMPTY": -55,
    "ZX_ERR_STOP": -60,
    "ZX_ERR_NEXT": -61,
    "ZX_ERR_ASYNC": -62,
    "ZX_ERR_PROTOCOL_NOT_SUPPORTED": -70,
    "ZX_ERR_ADDRESS_UNREACHABLE": -71,
    "ZX_ERR_ADDRESS_IN_USE": -72,
    "ZX_ERR_NOT_CONNECTED": -73,
    "ZX_ERR_CONNECTION_REFUSED": -74,
    "ZX_ERR_CONNECTION_RESET": -75,
    "ZX_ERR_CONNECTION_ABORTED": -76,
    "ZX_ERR_INTERNAL_INTR_KILLED": -502,
}
STATUS_BY_VALUE: dict[int, str] = {v: k for k, v in STATUS_BY_NAME.items()}

ZX_OK = 0
ZX_ERR_NOT_SUPPORTED = -2
ZX_ERR_INVALID_ARGS = -10
ZX_ERR_BAD_HANDLE = -11
ZX_ERR_WRONG_TYPE = -12
ZX_ERR_OUT_OF_RANGE = -14
ZX_ERR_BAD_STATE = -20
ZX_ERR_NOT_FOUND = -25
ZX_ERR_UNAVAILABLE = -28
ZX_ERR_ACCESS_DENIED = -30
ZX_ERR_IO = -40

# Failure codes OP_FAIL accepts as `data` (pager.fidl doc; pager_dispatcher.cc).
PAGER_FAIL_CODES = frozenset({-40, -42, -20, -54, -15})

# VMO creation options (types.h).
ZX_VMO_RESIZABLE = 1 << 1
ZX_VMO_TRAP_DIRTY = 1 << 3

# zx_vmo_op_range ops.
ZX_VMO_OP_COMMIT = 1
ZX_VMO_OP_ZERO = 10

# zx_pager_op_range ops.
ZX_PAGER_OP_FAIL = 1
ZX_PAGER_OP_DIRTY = 2
ZX_PAGER_OP_WRITEBACK_BEGIN = 3
ZX_PAGER_OP_WRITEBACK_END = 4

ZX_VMO_DIRTY_RANGE_IS_ZERO = 1
ZX_PAGER_RESET_VMO_STATS = 1
ZX_PAGER_VMO_STATS_MODIFIED = 1

# Named `data:` values a scenario may use besides status names.
DATA_BY_NAME: dict[str, int] = {"ZX_VMO_DIRTY_RANGE_IS_ZERO": ZX_VMO_DIRTY_RANGE_IS_ZERO}


def status_name(value: int) -> str:
    """Return the ``ZX_...`` name of a status, or the number when it has none."""
    return STATUS_BY_VALUE.get(value, str(value))
