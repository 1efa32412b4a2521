"""`--abi auto`: the profile from the kernel image (rig.image.abi_auto, images/abi.yaml)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rig.errors import BoardError
from rig.image import abi_auto, cmdline, zbi
from tests.unit.test_cmdline import ERA_STRINGS, kernel_zbi

VDSO_2020 = [b"zx_vmo_create", b"zx_pager_create", b"zx_pager_supply_pages"]
VDSO_DIRTY = [*VDSO_2020, b"zx_pager_query_dirty_ranges"]


def choose(strings: list[bytes], **kw: object) -> abi_auto.ProfileChoice:
    data = kernel_zbi(strings, **kw)  # type: ignore[arg-type]
    return abi_auto.choose_profile(data, cmdline.detect_era(data, source="k.zbi"),
                                   source="k.zbi")


def test_no_dirty_ranges_call_among_vdso_names_is_2020() -> None:
    # Whatever the era says: the call's absence decides.
    assert choose(VDSO_2020 + ERA_STRINGS["G"]) == abi_auto.ProfileChoice(
        "2020", "--abi auto: no zx_pager_query_dirty_ranges among the vDSO names in the kernel "
                "item (KERNEL_X64) (zx_vmo_create is there): a kernel from before dirty "
                "tracking (facts 7, 9: the 2020 vDSOs of both arches lack the call)")


@pytest.mark.parametrize(("era", "profile", "guess"), [
    ("B", "2022", True), ("C", "2022", True), ("D", "2022", True), ("E", "2022", False),
    ("F", "2024", True), ("G", "2024", False), ("H", "2024", False), ("I", "2024", False)])
def test_with_the_call_the_era_decides(era: str, profile: str, guess: bool) -> None:
    choice = choose(VDSO_DIRTY + ERA_STRINGS[era])
    assert (choice.profile, choice.guess) == (profile, guess)
    assert choice.reason.startswith("--abi auto: zx_pager_query_dirty_ranges found in the "
                                    f"kernel item (KERNEL_X64), and the userboot era is {era}: ")
    assert ("a GUESS: judge the log against every profile" in choice.reason) is guess


def test_call_inside_the_storage_kernel_item() -> None:
    storage = b"\0".join(VDSO_DIRTY + ERA_STRINGS["H"]) + bytes(4000)
    choice = choose([b"physboot"], storage=storage)
    assert (choice.profile, choice.guess) == ("2024", False)
    assert "found in the kernel item (KERNEL_X64) and the STORAGE_KERNEL item" in choice.reason


def test_unreadable_names_fall_back_to_the_era_as_a_guess_when_it_says_so() -> None:
    choice = choose(ERA_STRINGS["F"])
    assert choice.profile == "2024" and choice.guess
    assert "no vDSO names readable in the kernel item (KERNEL_X64) (no zx_vmo_create)" in (
        choice.reason)


def test_unpackable_storage_kernel_is_a_guess_not_2020() -> None:
    lz4 = zbi.make_item(zbi.TYPE_STORAGE_KERNEL, zbi.LZ4_FRAME_MAGIC + b"data", extra=100,
                        flags=zbi.FLAGS_STORAGE_COMPRESSED)
    image = zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_X64, b"\0".join(VDSO_2020)), lz4])
    choice = abi_auto.choose_profile(image, cmdline.detect_era(image), source="k.zbi")
    assert (choice.profile, choice.guess) == ("2024", True)
    assert "cannot read the vDSO names: its STORAGE_KERNEL item does not unpack" in choice.reason


def test_no_kernel_keeps_the_default() -> None:
    era = cmdline.EraDetection(era="unknown", reason="", vdso_next_option=False)
    assert abi_auto.choose_profile(None, era).profile == "2024"


def test_table_errors_name_the_file_and_key() -> None:
    good = Path(abi_auto.table_path()).read_text()
    with pytest.raises(BoardError, match=r"t\.yaml: eras\.E: wanted \{profile: one of"):
        abi_auto.parse_table(good.replace('E: {profile: "2022"', 'E: {profile: "2023"'),
                             "t.yaml")
    with pytest.raises(BoardError, match="t.yaml: wanted exactly the keys vdso_names and eras"):
        abi_auto.parse_table("eras: {}\n", "t.yaml")
    # Every era of the command-line table has a rule.
    table = abi_auto.load_table()
    assert set(cmdline.known_eras()) <= set(table.eras)


@pytest.mark.skipif(not os.environ.get("RIG_REAL_ZBI"),
                    reason="RIG_REAL_ZBI not set (the real 2020 arm64 kernel, "
                           "zircon-facts.md 9)")
def test_real_2020_kernel_is_2020() -> None:
    data = Path(os.environ["RIG_REAL_ZBI"]).read_bytes()
    choice = abi_auto.choose_profile(data, cmdline.detect_era(data), source="k.zbi")
    assert (choice.profile, choice.guess) == ("2020", False)
