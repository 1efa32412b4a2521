// Our own declarations of the Zircon types and constants the rig uses, written from
// /work/shared/zircon-facts.md (sections 1, 3 and 7). No Fuchsia header is included or copied.
//
// Only types, constants and struct layouts live here. The syscalls themselves are listed once in
// <rig/syscalls.def> and declared at the end of this file as static inline wrappers that call
// through rig_syscall_table (filled from the vDSO at entry).
#ifndef RIG_ZIRCON_H_
#define RIG_ZIRCON_H_

#include <stddef.h>
#include <stdint.h>

// ---- Basic types -------------------------------------------------------------------------------
typedef int32_t zx_status_t;
typedef uint32_t zx_handle_t;
typedef uint32_t zx_rights_t;
typedef int64_t zx_time_t;
typedef int64_t zx_duration_t;
typedef uint64_t zx_koid_t;
typedef uintptr_t zx_vaddr_t;
typedef uint32_t zx_vm_option_t;

#define ZX_HANDLE_INVALID ((zx_handle_t)0)
#define ZX_TIME_INFINITE ((zx_time_t)INT64_MAX)
#define ZX_NSEC(n) ((zx_duration_t)(n))
#define ZX_USEC(n) ((zx_duration_t)(1000LL * (n)))
#define ZX_MSEC(n) ((zx_duration_t)(1000000LL * (n)))
#define ZX_SEC(n) ((zx_duration_t)(1000000000LL * (n)))
#define ZX_MAX_NAME_LEN 32u

// ---- Status codes (zircon/system/public/zircon/errors.h; facts 1.5) ----------------------------
#define ZX_OK ((zx_status_t)0)
#define ZX_ERR_INTERNAL ((zx_status_t)-1)
#define ZX_ERR_NOT_SUPPORTED ((zx_status_t)-2)
#define ZX_ERR_NO_RESOURCES ((zx_status_t)-3)
#define ZX_ERR_NO_MEMORY ((zx_status_t)-4)
#define ZX_ERR_INTERNAL_INTR_RETRY ((zx_status_t)-6)
#define ZX_ERR_INVALID_ARGS ((zx_status_t)-10)
#define ZX_ERR_BAD_HANDLE ((zx_status_t)-11)
#define ZX_ERR_WRONG_TYPE ((zx_status_t)-12)
#define ZX_ERR_BAD_SYSCALL ((zx_status_t)-13)
#define ZX_ERR_OUT_OF_RANGE ((zx_status_t)-14)
#define ZX_ERR_BUFFER_TOO_SMALL ((zx_status_t)-15)
#define ZX_ERR_BAD_STATE ((zx_status_t)-20)
#define ZX_ERR_TIMED_OUT ((zx_status_t)-21)
#define ZX_ERR_SHOULD_WAIT ((zx_status_t)-22)
#define ZX_ERR_CANCELED ((zx_status_t)-23)
#define ZX_ERR_PEER_CLOSED ((zx_status_t)-24)
#define ZX_ERR_NOT_FOUND ((zx_status_t)-25)
#define ZX_ERR_ALREADY_EXISTS ((zx_status_t)-26)
#define ZX_ERR_ALREADY_BOUND ((zx_status_t)-27)
#define ZX_ERR_UNAVAILABLE ((zx_status_t)-28)
#define ZX_ERR_ACCESS_DENIED ((zx_status_t)-30)
#define ZX_ERR_IO ((zx_status_t)-40)
#define ZX_ERR_IO_REFUSED ((zx_status_t)-41)
#define ZX_ERR_IO_DATA_INTEGRITY ((zx_status_t)-42)
#define ZX_ERR_IO_DATA_LOSS ((zx_status_t)-43)
#define ZX_ERR_IO_NOT_PRESENT ((zx_status_t)-44)
#define ZX_ERR_IO_OVERRUN ((zx_status_t)-45)
#define ZX_ERR_IO_MISSED_DEADLINE ((zx_status_t)-46)
#define ZX_ERR_IO_INVALID ((zx_status_t)-47)
#define ZX_ERR_BAD_PATH ((zx_status_t)-50)
#define ZX_ERR_NOT_DIR ((zx_status_t)-51)
#define ZX_ERR_NOT_FILE ((zx_status_t)-52)
#define ZX_ERR_FILE_BIG ((zx_status_t)-53)
#define ZX_ERR_NO_SPACE ((zx_status_t)-54)
#define ZX_ERR_NOT_EMPTY ((zx_status_t)-55)
#define ZX_ERR_STOP ((zx_status_t)-60)
#define ZX_ERR_NEXT ((zx_status_t)-61)
#define ZX_ERR_ASYNC ((zx_status_t)-62)
#define ZX_ERR_PROTOCOL_NOT_SUPPORTED ((zx_status_t)-70)
#define ZX_ERR_ADDRESS_UNREACHABLE ((zx_status_t)-71)
#define ZX_ERR_ADDRESS_IN_USE ((zx_status_t)-72)
#define ZX_ERR_NOT_CONNECTED ((zx_status_t)-73)
#define ZX_ERR_CONNECTION_REFUSED ((zx_status_t)-74)
#define ZX_ERR_CONNECTION_RESET ((zx_status_t)-75)
#define ZX_ERR_CONNECTION_ABORTED ((zx_status_t)-76)
#define ZX_ERR_INTERNAL_INTR_KILLED ((zx_status_t)-502)

// ---- Rights (facts 1.3) ------------------------------------------------------------------------
#define ZX_RIGHT_NONE ((zx_rights_t)0u)
#define ZX_RIGHT_DUPLICATE ((zx_rights_t)1u << 0)
#define ZX_RIGHT_TRANSFER ((zx_rights_t)1u << 1)
#define ZX_RIGHT_READ ((zx_rights_t)1u << 2)
#define ZX_RIGHT_WRITE ((zx_rights_t)1u << 3)
#define ZX_RIGHT_EXECUTE ((zx_rights_t)1u << 4)
#define ZX_RIGHT_MAP ((zx_rights_t)1u << 5)
#define ZX_RIGHT_GET_PROPERTY ((zx_rights_t)1u << 6)
#define ZX_RIGHT_SET_PROPERTY ((zx_rights_t)1u << 7)
#define ZX_RIGHT_ENUMERATE ((zx_rights_t)1u << 8)
#define ZX_RIGHT_DESTROY ((zx_rights_t)1u << 9)
#define ZX_RIGHT_SET_POLICY ((zx_rights_t)1u << 10)
#define ZX_RIGHT_GET_POLICY ((zx_rights_t)1u << 11)
#define ZX_RIGHT_SIGNAL ((zx_rights_t)1u << 12)
#define ZX_RIGHT_SIGNAL_PEER ((zx_rights_t)1u << 13)
#define ZX_RIGHT_WAIT ((zx_rights_t)1u << 14)
#define ZX_RIGHT_INSPECT ((zx_rights_t)1u << 15)
#define ZX_RIGHT_MANAGE_JOB ((zx_rights_t)1u << 16)
#define ZX_RIGHT_MANAGE_PROCESS ((zx_rights_t)1u << 17)
#define ZX_RIGHT_MANAGE_THREAD ((zx_rights_t)1u << 18)
#define ZX_RIGHT_APPLY_PROFILE ((zx_rights_t)1u << 19)
#define ZX_RIGHT_MANAGE_SOCKET ((zx_rights_t)1u << 20)
#define ZX_RIGHT_OP_CHILDREN ((zx_rights_t)1u << 22)
#define ZX_RIGHT_RESIZE ((zx_rights_t)1u << 23)
#define ZX_RIGHT_ATTACH_VMO ((zx_rights_t)1u << 24)
#define ZX_RIGHT_MANAGE_VMO ((zx_rights_t)1u << 25)
#define ZX_RIGHT_SAME_RIGHTS ((zx_rights_t)1u << 31)

// ---- VMO creation options, ops and child options (facts 1.3) ----------------------------------
#define ZX_VMO_RESIZABLE ((uint32_t)1u << 1)
#define ZX_VMO_DISCARDABLE ((uint32_t)1u << 2)
#define ZX_VMO_TRAP_DIRTY ((uint32_t)1u << 3)
#define ZX_VMO_UNBOUNDED ((uint32_t)1u << 4)

#define ZX_VMO_OP_COMMIT 1u
#define ZX_VMO_OP_DECOMMIT 2u
#define ZX_VMO_OP_LOCK 3u
#define ZX_VMO_OP_UNLOCK 4u
#define ZX_VMO_OP_CACHE_SYNC 6u
#define ZX_VMO_OP_CACHE_INVALIDATE 7u
#define ZX_VMO_OP_CACHE_CLEAN 8u
#define ZX_VMO_OP_CACHE_CLEAN_INVALIDATE 9u
#define ZX_VMO_OP_ZERO 10u
#define ZX_VMO_OP_TRY_LOCK 11u
#define ZX_VMO_OP_DONT_NEED 12u
#define ZX_VMO_OP_ALWAYS_NEED 13u
#define ZX_VMO_OP_PREFETCH 14u

#define ZX_VMO_CHILD_SNAPSHOT ((uint32_t)1u << 0)
#define ZX_VMO_CHILD_RESIZABLE ((uint32_t)1u << 2)
#define ZX_VMO_CHILD_SLICE ((uint32_t)1u << 3)
#define ZX_VMO_CHILD_SNAPSHOT_AT_LEAST_ON_WRITE ((uint32_t)1u << 4)
#define ZX_VMO_CHILD_NO_WRITE ((uint32_t)1u << 5)
#define ZX_VMO_CHILD_REFERENCE ((uint32_t)1u << 6)

// ---- Pager ops, requests and dirty ranges (facts 1.3, 1.4) ------------------------------------
#define ZX_PAGER_OP_FAIL 1u
#define ZX_PAGER_OP_DIRTY 2u
#define ZX_PAGER_OP_WRITEBACK_BEGIN 3u
#define ZX_PAGER_OP_WRITEBACK_END 4u

#define ZX_PAGER_VMO_READ ((uint16_t)0)
#define ZX_PAGER_VMO_COMPLETE ((uint16_t)1)
#define ZX_PAGER_VMO_DIRTY ((uint16_t)2)

#define ZX_VMO_DIRTY_RANGE_IS_ZERO ((uint64_t)1u)
#define ZX_PAGER_VMO_STATS_MODIFIED ((uint32_t)1u)
#define ZX_PAGER_RESET_VMO_STATS ((uint32_t)1u)

typedef struct zx_vmo_dirty_range {
  uint64_t offset;   // bytes
  uint64_t length;   // bytes
  uint64_t options;  // 0 or ZX_VMO_DIRTY_RANGE_IS_ZERO
} zx_vmo_dirty_range_t;

typedef struct zx_pager_vmo_stats {
  uint32_t modified;  // ZX_PAGER_VMO_STATS_MODIFIED or 0
} zx_pager_vmo_stats_t;

// ---- Mapping flags (facts 1.3) -----------------------------------------------------------------
#define ZX_VM_PERM_READ ((zx_vm_option_t)1u << 0)
#define ZX_VM_PERM_WRITE ((zx_vm_option_t)1u << 1)
#define ZX_VM_PERM_EXECUTE ((zx_vm_option_t)1u << 2)
#define ZX_VM_COMPACT ((zx_vm_option_t)1u << 3)
#define ZX_VM_SPECIFIC ((zx_vm_option_t)1u << 4)
#define ZX_VM_SPECIFIC_OVERWRITE ((zx_vm_option_t)1u << 5)
#define ZX_VM_CAN_MAP_SPECIFIC ((zx_vm_option_t)1u << 6)
#define ZX_VM_CAN_MAP_READ ((zx_vm_option_t)1u << 7)
#define ZX_VM_CAN_MAP_WRITE ((zx_vm_option_t)1u << 8)
#define ZX_VM_CAN_MAP_EXECUTE ((zx_vm_option_t)1u << 9)
#define ZX_VM_MAP_RANGE ((zx_vm_option_t)1u << 10)
#define ZX_VM_REQUIRE_NON_RESIZABLE ((zx_vm_option_t)1u << 11)
#define ZX_VM_ALLOW_FAULTS ((zx_vm_option_t)1u << 12)

// ---- Ports and packets (zircon/system/public/zircon/syscalls/port.h; facts 1.3, 1.4) ----------
#define ZX_PKT_TYPE_USER 0u
#define ZX_PKT_TYPE_SIGNAL_ONE 1u
#define ZX_PKT_TYPE_GUEST_BELL 3u
#define ZX_PKT_TYPE_GUEST_MEM 4u
#define ZX_PKT_TYPE_GUEST_IO 5u
#define ZX_PKT_TYPE_GUEST_VCPU 6u
#define ZX_PKT_TYPE_INTERRUPT 7u
#define ZX_PKT_TYPE_PAGE_REQUEST 9u

typedef struct zx_packet_page_request {
  uint16_t command;  // ZX_PAGER_VMO_READ, _COMPLETE or _DIRTY
  uint16_t flags;
  uint32_t reserved0;
  uint64_t offset;
  uint64_t length;
  uint64_t reserved1;
} zx_packet_page_request_t;

typedef struct zx_port_packet {
  uint64_t key;
  uint32_t type;
  zx_status_t status;
  union {
    uint8_t user[32];
    zx_packet_page_request_t page_request;
  };
} zx_port_packet_t;

_Static_assert(sizeof(zx_vmo_dirty_range_t) == 24, "zx_vmo_dirty_range_t is 24 bytes");
_Static_assert(sizeof(zx_pager_vmo_stats_t) == 4, "zx_pager_vmo_stats_t is 4 bytes");
_Static_assert(sizeof(zx_packet_page_request_t) == 32, "zx_packet_page_request_t is 32 bytes");
_Static_assert(sizeof(zx_port_packet_t) == 48, "zx_port_packet_t is 48 bytes");

// ---- Object properties -------------------------------------------------------------------------
#define ZX_PROP_NAME 3u  // value is char[ZX_MAX_NAME_LEN]

// ---- Processargs (zircon/system/public/zircon/processargs.h; facts 3.2 and 7) ------------------
#define ZX_PROCARGS_PROTOCOL 0x4150585du  // "MXPA"
#define ZX_PROCARGS_VERSION 0x0001000u

typedef struct zx_proc_args {
  uint32_t protocol;
  uint32_t version;
  uint32_t handle_info_off;
  uint32_t args_off;
  uint32_t args_num;
  uint32_t environ_off;
  uint32_t environ_num;
  uint32_t names_off;
  uint32_t names_num;
} zx_proc_args_t;
_Static_assert(sizeof(zx_proc_args_t) == 36, "zx_proc_args_t is 9 x uint32");

#define PA_HND(type, arg) (((uint32_t)(type) & 0xFFu) | (((uint32_t)(arg) & 0xFFFFu) << 16))
#define PA_HND_TYPE(info) ((uint32_t)(info) & 0xFFu)
#define PA_HND_ARG(info) (((uint32_t)(info) >> 16) & 0xFFFFu)

#define PA_PROC_SELF 0x01u
#define PA_THREAD_SELF 0x02u
#define PA_JOB_DEFAULT 0x03u
#define PA_VMAR_ROOT 0x04u
#define PA_VMAR_LOADED 0x05u
#define PA_LDSVC_LOADER 0x10u
#define PA_VMO_VDSO 0x11u
#define PA_VMO_STACK 0x13u
#define PA_VMO_EXECUTABLE 0x14u
#define PA_VMO_BOOTDATA 0x1Au
#define PA_VMO_BOOTFS 0x1Bu
#define PA_VMO_KERNEL_FILE 0x1Cu
#define PA_NS_DIR 0x20u
#define PA_FD 0x30u
#define PA_RESOURCE 0x3Fu
#define PA_MMIO_RESOURCE 0x50u
#define PA_IRQ_RESOURCE 0x51u
#define PA_IOPORT_RESOURCE 0x52u
#define PA_SMC_RESOURCE 0x53u
#define PA_SYSTEM_RESOURCE 0x54u
#define PA_USER0 0xF0u

// The fd-number flag newer userboots put on the debuglog handle: PA_HND(PA_FD, 0x8000) means
// "use for stdio" (facts 3.2).
#define PA_FD_USE_FOR_STDIO 0x8000u

// ---- Syscalls ----------------------------------------------------------------------------------
// One pointer per entry of <rig/syscalls.def>, filled by the runtime from the vDSO before the
// program runs; NULL when the vDSO lacks the symbol.
#define RIG_SYSCALL(ret, name, params, args) ret(*name) params;
#define RIG_SYSCALL_RET(ret, name, params, args, fallback) ret(*name) params;
#define RIG_SYSCALL_NORETURN(name, params, args) void(*name) params;
typedef struct rig_syscall_table {
#include <rig/syscalls.def>
} rig_syscall_table_t;
// Hidden: read PC-relative, never through a GOT slot.
extern rig_syscall_table_t rig_syscall_table __attribute__((visibility("hidden")));

// Status returned by a wrapper whose syscall is missing from the vDSO (no kernel entry).
#ifndef RIG_ERR_UNAVAILABLE
#define RIG_ERR_UNAVAILABLE ((zx_status_t)-0x7f00)
#endif

// Called when zx_process_exit itself is missing or returns: nothing sensible is left to do.
// Implemented in the arch directory (a trap instruction).
_Noreturn void rig_arch_trap(void) __attribute__((visibility("hidden")));

// Static inline wrappers: generated code calls zx_NAME(...) as with the real headers.
#define RIG_SYSCALL(ret, name, params, args)                            \
  static inline ret name params {                                       \
    if (rig_syscall_table.name == 0) return RIG_ERR_UNAVAILABLE;         \
    return rig_syscall_table.name args;                                  \
  }
#define RIG_SYSCALL_RET(ret, name, params, args, fallback)               \
  static inline ret name params {                                       \
    if (rig_syscall_table.name == 0) return (fallback);                  \
    return rig_syscall_table.name args;                                  \
  }
#define RIG_SYSCALL_NORETURN(name, params, args)                         \
  _Noreturn static inline void name params {                            \
    if (rig_syscall_table.name != 0) rig_syscall_table.name args;        \
    rig_arch_trap();                                                     \
  }
#include <rig/syscalls.def>

#endif  // RIG_ZIRCON_H_
