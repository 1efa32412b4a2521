"""Era detection from synthetic kernel ZBIs carrying each era's marker strings; command lines."""

from __future__ import annotations

import pytest

from rig.errors import BoardError, ImageError, InputError
from rig.image import cmdline, zbi

NONCE = "0123456789abcdef"
ENTROPY = cmdline.entropy_mixin(NONCE)

# Marker strings as a kernel of each era would hold them (facts 3.5), with filler around.
ERA_STRINGS = {
    "I": [b"kernel.select.userboot", b"userboot.next-is-test", b"userboot.test.next"],
    "H": [b"userboot.crc", b"userboot.next-is-test", b"userboot.test.next"],
    "G": [b"userboot.next-is-test", b"userboot.test.next", b"bin/component_manager+--boot"],
    "F": [b"userboot.test.next", b"bin/component_manager+--boot", b"WARNING: unknown option"],
    "E": [b"bin/component_manager+--boot", b"WARNING: unknown option %.*s ignored"],
    "D": [b"WARNING: unknown option", b"userboot.reboot", b"userboot.next"],
    "C": [b'option "%s"', b"userboot.next", b"userboot.reboot"],
    "B": [b'option "%s"', b"userboot.root", b"bin/bootsvc"],
}


def kernel_zbi(strings: list[bytes], *, item_type: int = zbi.TYPE_KERNEL_X64,
               storage: bytes | None = None, compress: bool = True) -> bytes:
    body = b"\x00" * 16 + b"\x00junk\x00".join(strings) + b"\x00"
    items = [zbi.make_item(item_type, body)]
    if storage is not None:
        items.append(zbi.storage_item(zbi.TYPE_STORAGE_KERNEL, storage, compress=compress))
    return zbi.write_zbi(items)


@pytest.mark.parametrize("era", sorted(ERA_STRINGS))
def test_detect_each_era(era: str) -> None:
    found = cmdline.detect_era(kernel_zbi(ERA_STRINGS[era]), source="k.zbi")
    assert found.era == era
    assert found.vdso_next_option is False


def test_detect_reason_names_marker_and_place() -> None:
    found = cmdline.detect_era(kernel_zbi(ERA_STRINGS["F"] + [b"kernel.vdso.always_use_next"]))
    assert found == cmdline.EraDetection(
        era="F", vdso_next_option=True,
        reason="found 'userboot.test.next' in the kernel item (KERNEL_X64) (newest matching "
               "marker; facts 3.5 era F: userboot.test.next= alone; .shutdown removed)")


def test_detect_no_marker_is_a_or_b() -> None:
    found = cmdline.detect_era(kernel_zbi([b"nothing here"], item_type=zbi.TYPE_KERNEL_ARM64))
    assert found == cmdline.EraDetection(
        era="B", vdso_next_option=False,
        reason="no era marker in the kernel item (KERNEL_ARM64): era A or B (same words)")


def test_d_needs_both_strings() -> None:
    assert cmdline.detect_era(kernel_zbi([b"WARNING: unknown option"])).era == "B"


def test_detect_inside_zstd_storage_kernel() -> None:
    storage = b"\x00" * 100 + b"userboot.crc\x00kernel.vdso.always_use_next\x00" + bytes(5000)
    found = cmdline.detect_era(kernel_zbi([b"physboot"], storage=storage))
    assert found == cmdline.EraDetection(
        era="H", vdso_next_option=True,
        reason=f"found 'userboot.crc' in the STORAGE_KERNEL item (unpacked, {len(storage)} "
               "bytes) (newest matching marker; facts 3.5 era H: as G, + userboot.crc)")


def test_unpackable_storage_kernel_is_unknown() -> None:
    lz4 = zbi.make_item(zbi.TYPE_STORAGE_KERNEL, zbi.LZ4_FRAME_MAGIC + b"data", extra=100,
                        flags=zbi.FLAGS_STORAGE_COMPRESSED)
    image = zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_X64, bytes(16)), lz4])
    found = cmdline.detect_era(image, source="k.zbi")
    assert found.era == "unknown"
    assert found.reason.startswith("cannot search the kernel: its STORAGE_KERNEL item does not "
                                   "unpack (k.zbi: item at byte offset 80 (STORAGE_KERNEL): "
                                   "payload is LZ4-compressed")


def test_detect_refuses_non_kernel() -> None:
    with pytest.raises(ImageError, match="no kernel item"):
        cmdline.detect_era(zbi.write_zbi([zbi.cmdline_item("x")]), source="k")


COMMON = ("kernel.halt-on-panic=true", f"kernel.entropy-mixin={ENTROPY}",
          "kernel.page-scanner.enable-eviction=false", "kernel.page-scanner.start-at-boot=false",
          "kernel.lockup-detector.heartbeat-period-ms=0",
          "kernel.lockup-detector.heartbeat-age-threshold-ms=0")


def test_cmdline_era_f_debug_write() -> None:
    era = cmdline.EraDetection(era="F", reason="r", vdso_next_option=True)
    words = cmdline.build_cmdline(era, "bin/rig-test", ["foo=1"], nonce=NONCE,
                                  output="debug-write", board_words=["kernel.serial=legacy"])
    assert words == (f"userboot.test.next=bin/rig-test+rig.nonce={NONCE}+rig.output=debug-write",
                     *COMMON,
                     "kernel.vdso.always_use_next=true",
                     "kernel.enable-serial-syscalls=output-only", "rig.output=debug-write",
                     "kernel.serial=legacy", f"rig.nonce={NONCE}", "foo=1")


def test_cmdline_per_era_userboot_words() -> None:
    def first(era: str) -> tuple[str, ...]:
        words = cmdline.build_cmdline(cmdline.era_from_flag(era), nonce=NONCE)
        return words[:words.index("kernel.halt-on-panic=true")]

    assert {e: first(e) for e in cmdline.known_eras()} == {
        "A": ("userboot=bin/rig-test", "userboot.shutdown"),
        "B": ("userboot=bin/rig-test", "userboot.shutdown"),
        "C": ("userboot=bin/rig-test", "userboot.next=bin/rig-test", "userboot.shutdown"),
        # From era D userboot splits the word at '+' into the program's argv (its only way to
        # get options on 2023+ kernels, which pass no environ).
        "D": (f"userboot.next=bin/rig-test+rig.nonce={NONCE}", "userboot.shutdown"),
        "E": (f"userboot.next=bin/rig-test+rig.nonce={NONCE}", "userboot.shutdown"),
        "F": (f"userboot.test.next=bin/rig-test+rig.nonce={NONCE}",),
        "G": (f"userboot.test.next=bin/rig-test+rig.nonce={NONCE}",),
        "H": (f"userboot.test.next=bin/rig-test+rig.nonce={NONCE}",),
        "I": (f"userboot.test.next=bin/rig-test+rig.nonce={NONCE}",),
        "unknown": ("userboot=bin/rig-test", "userboot.next=bin/rig-test", "userboot.shutdown",
                    "userboot.next-is-test=true"),
    }


def test_cmdline_era_b_debuglog_has_no_vdso_or_serial_words() -> None:
    words = cmdline.build_cmdline(cmdline.era_from_flag("B"), nonce=NONCE)
    assert words == ("userboot=bin/rig-test", "userboot.shutdown", *COMMON,
                     f"rig.nonce={NONCE}")


def test_kernel_era_flag_vdso_rule() -> None:
    assert [cmdline.era_from_flag(e).vdso_next_option for e in "DEFG"] == [
        False, False, True, True]
    with pytest.raises(InputError, match=r"--kernel-era 'Z': wanted one of \['A', 'B', "):
        cmdline.era_from_flag("Z")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"nonce": "XYZ"}, "nonce 'XYZ': wanted 16 lowercase hex digits"),
    ({"nonce": NONCE, "output": "uart"}, "--output 'uart': wanted one of"),
    ({"nonce": NONCE, "extra": ["a b"]}, "--cmdline word 'a b': wanted printable ASCII words"),
    ({"nonce": NONCE, "extra": ["é=1"]}, "--cmdline word 'é=1': wanted printable ASCII words"),
    ({"nonce": NONCE, "extra": ["a\tb"]}, "wanted printable ASCII words without spaces"),
    ({"nonce": NONCE, "extra": ["rig.nonce=ffffffffffffffff"]},
     "--cmdline word 'rig.nonce=ffffffffffffffff': words starting with 'rig.' are the rig's own"),
    ({"nonce": NONCE, "extra": ["rig.output=debuglog"]}, "words starting with 'rig.' are"),
    ({"nonce": NONCE, "extra": ["rig.anything"]}, "words starting with 'rig.' are the rig's"),
    ({"nonce": NONCE, "extra": ["userboot.next=bin/x+rig.nonce=0"]}, "starting with 'rig.'"),
])
def test_cmdline_bad_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        cmdline.build_cmdline(cmdline.era_from_flag("F"), **kwargs)  # type: ignore[arg-type]


def test_table_errors() -> None:
    with pytest.raises(BoardError, match=r"t.yaml: unknown keys \['colour'\], missing keys"):
        cmdline.parse_table("colour: red\n", "t.yaml")
    text = cmdline.table_path().read_text().replace("{era: C, all:", "{era: Q, all:")
    with pytest.raises(BoardError, match=r"t.yaml: detect\[6\] is .*wanted \{era: one of"):
        cmdline.parse_table(text, "t.yaml")


def test_every_word_has_a_source() -> None:
    table = cmdline.load_table()
    for group in (table.always, table.vdso_next, table.debug_write):
        assert all(w.source.startswith(("facts", "docs/")) for w in group)
    assert all(e.source for e in table.eras.values())


def test_cmdline_size_counts_the_kernels_own_words() -> None:
    words = cmdline.build_cmdline(cmdline.era_from_flag("F"), nonce=NONCE)
    theirs = ["userboot.next=bin/component_manager+--boot", "kernel.x=1"]
    image = zbi.write_zbi([zbi.make_item(zbi.TYPE_KERNEL_X64, bytes(16)),
                           zbi.cmdline_item(" ".join(theirs))])
    assert cmdline.kernel_cmdline_words(image) == tuple(theirs)
    used = cmdline.check_cmdline_size(words, theirs)
    assert used == sum(len(w) + 1 for w in [*words, *theirs]) + 1
    room = cmdline.KERNEL_CMDLINE_MAX - used
    # Exactly full is fine; one byte more is refused.
    fill = ["k=" + "x" * (room - 3)]
    assert cmdline.check_cmdline_size([*words, *fill], theirs) == cmdline.KERNEL_CMDLINE_MAX
    with pytest.raises(InputError) as info:
        cmdline.check_cmdline_size([*words, fill[0] + "x"], theirs)
    assert str(info.value) == (
        f"--cmdline: the kernel command line would be 4097 bytes ({len(theirs[0]) + 1 + 11} of "
        "them the kernel image's own CMDLINE items), more than the kernel's limit of 4096 "
        "(Cmdline::kCmdlineMax: each word and a final NUL); past it the image boots with no "
        "output: give fewer or shorter --cmdline words")
