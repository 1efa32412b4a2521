// The record API: the only way the test program reports anything. The line format
// (docs/protocol.md) lives in guest/runtime/record.c and nowhere else; rig/protocol.py parses it.
//
// Every function here builds one or more complete records, each at most RIG_RECORD_MAX bytes,
// and hands each to rig_output_write() as one write ending in '\n'. Sequence numbers count every
// record of the boot from 0.
#ifndef RIG_RECORD_H_
#define RIG_RECORD_H_

#include <rig/runtime.h>

#define RIG_RECORD_MAX 200u         // bytes per record, prefix included, line end excluded
#define RIG_RANGES_PER_RECORD 4u    // range tokens per `rng` record (fewer when they do not fit)

// Choose the nonce (environ word rig.nonce=<16 hex>, else `builtin_id`, the first 16 hex digits
// of the program id) and print the `hello` record. Call once, first.
void rig_record_hello(const char* builtin_id, uint32_t scenarios);

// `sbeg s=<s> steps=<steps> name=<name>`
void rig_record_sbeg(uint32_t s, uint32_t steps, const char* name);
// `err s=<s> what=<what> st=<status>`: scenario setup failed.
void rig_record_err(uint32_t s, const char* what, zx_status_t status);
// `send s=<s> steps=<steps>`
void rig_record_send(uint32_t s, uint32_t steps);
// `skip s=<s> t=<t> why=unavailable sys=<sys>`: the step's syscall is missing from the vDSO.
void rig_record_skip(uint32_t s, uint32_t t, const char* sys);
// `bye scenarios=<n> records=<seq of this record>`. Call once, last.
void rig_record_bye(uint32_t scenarios);

// What one step produced. `fields` says which of the optional fields to print.
#define RIG_F_ACTUAL 0x1u
#define RIG_F_AVAIL 0x2u
#define RIG_F_CALLS 0x4u
#define RIG_F_MODIFIED 0x8u
#define RIG_F_RANGES 0x10u  // print nr= and the `rng` records
typedef struct rig_step_result {
  uint32_t s;
  uint32_t t;
  zx_status_t status;
  uint32_t fields;
  uint64_t actual;
  uint64_t avail;
  uint64_t calls;
  uint64_t modified;
  const zx_vmo_dirty_range_t* ranges;
  size_t nr;
  // query_all only: why the loop ended before actual == avail ("bound": max_calls reached;
  // "noprogress": a call returned nothing past the offset asked for); NULL otherwise.
  const char* stop;
} rig_step_result_t;

// `step s= t= st= [actual=] [avail=] [calls=] [modified=] [stop=] [nr=]`, then ceil(nr/4) or more `rng`
// records `rng s= t= at=<k> <off_hex>:<len_hex>:<opt> ...`.
void rig_record_step(const rig_step_result_t* result);

// Number of records printed so far (the seq the next record gets).
uint32_t rig_record_count(void);

// CRC-32 (IEEE, as zlib's crc32) of `len` bytes; exposed for the host round-trip test.
uint32_t rig_crc32(const void* data, size_t len);

#endif  // RIG_RECORD_H_
