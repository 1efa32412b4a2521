"""The sim's fault words pass --cmdline; the program's own rig.* words stay reserved."""

from __future__ import annotations

import pytest

from rig.errors import InputError
from rig.image import cmdline

NONCE = "0123456789abcdef"


def test_sim_fault_words_pass_and_program_words_stay_reserved() -> None:
    era = cmdline.era_from_flag("F")
    words = cmdline.build_cmdline(era, extra=["rig.sim.fault=wrong-status@3.1"], nonce=NONCE)
    assert "rig.sim.fault=wrong-status@3.1" in words
    for bad in ("rig.nonce=ffffffffffffffff", "rig.start=1", "x+rig.sim.fault=a@0.0"):
        with pytest.raises(InputError):
            cmdline.build_cmdline(era, extra=[bad], nonce=NONCE)
