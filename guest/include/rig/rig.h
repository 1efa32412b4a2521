// The one header the generated test program includes: runtime (syscalls, output, environ),
// records (the only way to report) and the per-scenario fixture.
#ifndef RIG_RIG_H_
#define RIG_RIG_H_

#include <rig/runtime.h>
#include <rig/record.h>
#include <rig/fixture.h>

#endif  // RIG_RIG_H_
