"""The kernel ABI profiles: the one place that names them and says what each one means.

Every rule that differs between kernels asks a `Profile` for a feature instead of comparing
profile names, so adding a profile is one entry here plus the rules for any new feature.
Sources for each feature: zircon-facts.md sections 0, 1.6, 2 and 7; docs/model.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from rig.errors import InputError


@dataclass(frozen=True)
class Profile:
    """What a kernel of one era does, as the reference model and the sim need it."""

    name: str
    summary: str
    # zx_pager_op_range DIRTY/WRITEBACK_*, zx_pager_query_dirty_ranges and query_vmo_stats exist
    # (absent on the measured 2020 kernel, facts 7).
    dirty_tracking: bool
    # E1 "tail" model: zero ranges only past the supply-zero offset (facts 0, 2.10; E1b).
    tail_model: bool
    # E2 zero intervals: OP_ZERO makes sparse dirty zero intervals (facts 0, 2.10).
    zero_intervals: bool
    # Pager syscalls check handle rights (late 2023+, facts 1.6).
    rights_checked: bool
    # OP_FAIL/OP_DIRTY/supply on a detached VMO give BAD_STATE (E2, facts 0).
    detached_bad_state: bool
    # zx_pager_query_vmo_stats is in the stable vDSO, not only in next (2024, facts 1.1).
    stats_in_stable_vdso: bool


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("2020", "before dirty tracking (measured on a real 2020 arm64 kernel)",
                dirty_tracking=False, tail_model=False, zero_intervals=False,
                rights_checked=False, detached_bad_state=False, stats_in_stable_vdso=False),
        Profile("2022", "E1b tail model, no rights checks",
                dirty_tracking=True, tail_model=True, zero_intervals=False,
                rights_checked=False, detached_bad_state=False, stats_in_stable_vdso=False),
        Profile("2024", "E2 zero intervals, rights checks",
                dirty_tracking=True, tail_model=False, zero_intervals=True,
                rights_checked=True, detached_bad_state=True, stats_in_stable_vdso=True),
    )
}
PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
# Without a kernel to read it from, builds target the newest semantics.
DEFAULT_PROFILE = "2024"


def get_profile(name: str) -> Profile:
    """The profile called ``name``.

    :raises InputError: naming the known profiles.
    """
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"unknown ABI profile {name!r}; known profiles: "
                         f"{', '.join(PROFILE_NAMES)}") from None
