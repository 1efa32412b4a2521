// Which vDSO images userboot hands the program, per profile (zircon-facts.md 1.1, 3.2, 7):
//   2020: vdso/full (index 0) without zx_pager_query_dirty_ranges, zx_pager_query_vmo_stats
//         and zx_system_get_page_size;
//   2022: vdso/stable (0) without both query calls, vdso/next (1) with everything;
//   2024: vdso/stable (0) with zx_pager_query_vmo_stats but not query_dirty_ranges, vdso/next (1).
// kernel.vdso.always_use_next=true swaps stable and next (facts 3.2), so index 0, the vDSO
// userboot maps into the program, is the next one (its VMO still named vdso/next).
#include "sim.h"

extern const uint8_t sim_vdso_full2020[], sim_vdso_full2020_end[];
extern const uint8_t sim_vdso_stable2022[], sim_vdso_stable2022_end[];
extern const uint8_t sim_vdso_stable2024[], sim_vdso_stable2024_end[];
extern const uint8_t sim_vdso_next[], sim_vdso_next_end[];

static sim_vdso_image_t g_variants[2];

const sim_vdso_image_t* sim_vdso_variant(int i) {
  if (g_variants[0].data == 0) {
    switch (sim_config.profile) {
      case SIM_PROFILE_2020:
        g_variants[0] = (sim_vdso_image_t){sim_vdso_full2020,
                                           (size_t)(sim_vdso_full2020_end - sim_vdso_full2020),
                                           "vdso/full"};
        break;
      case SIM_PROFILE_2022:
        g_variants[0] = (sim_vdso_image_t){
            sim_vdso_stable2022, (size_t)(sim_vdso_stable2022_end - sim_vdso_stable2022),
            "vdso/stable"};
        break;
      default:
        g_variants[0] = (sim_vdso_image_t){
            sim_vdso_stable2024, (size_t)(sim_vdso_stable2024_end - sim_vdso_stable2024),
            "vdso/stable"};
        break;
    }
    if (sim_config.profile != SIM_PROFILE_2020) {
      g_variants[1] = (sim_vdso_image_t){sim_vdso_next,
                                         (size_t)(sim_vdso_next_end - sim_vdso_next), "vdso/next"};
    }
    if (g_variants[1].data != 0 && sim_cmdline_is("kernel.vdso.always_use_next", "true")) {
      sim_vdso_image_t t = g_variants[0];
      g_variants[0] = g_variants[1];
      g_variants[1] = t;
    }
  }
  if (i < 0 || i > 1 || g_variants[i].data == 0) return 0;
  return &g_variants[i];
}
