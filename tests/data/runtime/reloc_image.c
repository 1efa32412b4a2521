// A data-heavy image for the relocation tests: linked with the guest flags (a static PIE for the
// Fuchsia triples), then loaded and relocated on the host by host_driver `reloc`. Its pointers
// produce DT_RELR address and bitmap entries (runs longer than 63 words, and gaps), and the
// packed struct produces a RELA R_*_RELATIVE relocation at an odd address, which RELR cannot
// express.
int target_int;
int target_array[256];
const char target_string[] = "relocated";

#define P1(i) &target_array[i]
#define P8(i) P1(i), P1(i + 1), P1(i + 2), P1(i + 3), P1(i + 4), P1(i + 5), P1(i + 6), P1(i + 7)
#define P64(i) P8(i), P8(i + 8), P8(i + 16), P8(i + 24), P8(i + 32), P8(i + 40), P8(i + 48), P8(i + 56)

// 150 consecutive pointers: one address entry, then bitmaps.
int* volatile dense[150] = {P64(0), P64(64), P8(128), P8(136), P1(144), P1(145), P1(146),
                            P1(147), P1(148), P1(149)};
// Pointers with plain integers between them: more address entries and sparse bitmaps.
struct mixed {
  void* p;
  long n;
};
volatile struct mixed sparse[40] = {
    {&target_int, 1}, {0, 2}, {(void*)target_string, 3}, {&target_array[7], 4},
    [20] = {&target_array[200], 5}, [39] = {&target_int, 6}};
// Far apart: a fresh address entry after a long gap.
long volatile filler[300] = {1, 2, 3};
const char* volatile far_pointer = target_string + 3;

struct __attribute__((packed)) odd {
  char c;
  void* p;
};
volatile struct odd unaligned = {'x', &target_int};

void _start(void) {}
