"""rig.compare: verdicts of parsed logs against the model and expect:, outcome precedence,
the manifest, and the text/JSON renderings."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rig import zx
from rig.cli.main import main
from rig.errors import InputError
from rig.judge.compare import (
    FieldDiff,
    Observed,
    Outcome,
    RunVerdict,
    ScenarioVerdict,
    StepVerdict,
    combine_outcomes,
    compare_run,
    render_text,
    verdict_to_json,
)
from rig.judge.manifest import Manifest, ManifestScenario, manifest_from_json, manifest_to_json
from rig.judge.protocol import encode_record, encode_step_records, parse_log
from rig.scenario.loader import ScenarioFile, parse_scenarios

PROG = "ab" * 32
NONCE = "0123456789abcdef"
P = zx.PAGE_SIZE

SUITE = """\
scenarios:
  - name: one-dirty-page
    vmo: {pages: 4}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {}
        expect: {status: ZX_OK, actual: 1}
  - name: trap
    vmo: {pages: 1, trap_dirty: true}
    steps:
      - supply: [0, 1]
"""


def files() -> list[ScenarioFile]:
    return [parse_scenarios(SUITE, "suite.yaml")]


def manifest(abi: str = "2024") -> Manifest:
    return Manifest(program_id=PROG, nonce=NONCE, abi=abi, arch="x64", target="zircon",
                    scenarios=(ManifestScenario(0, "one-dirty-page", "suite.yaml", 3),
                               ManifestScenario(1, "trap", "suite.yaml", 1)))


class Log:
    """Builds a record log in order, numbering records."""

    def __init__(self, nonce: str = NONCE) -> None:
        self.nonce = nonce
        self.lines: list[str] = []

    def add(self, kind: str, **fields: str | int) -> Log:
        self.lines.append(encode_record(self.nonce, len(self.lines), kind,
                                        list(fields.items())))
        return self

    def step(self, s: int, t: int, st: int, **kw: object) -> Log:
        self.lines.extend(encode_step_records(self.nonce, len(self.lines), s, t, st,
                                              **kw))  # type: ignore[arg-type]
        return self

    def passing_scenario0(self) -> Log:
        self.add("sbeg", s=0, steps=3, name="one-dirty-page")
        self.step(0, 0, 0).step(0, 1, 0)
        self.step(0, 2, 0, actual=1, avail=1, ranges=[(P, P, 0)])
        return self.add("send", s=0, steps=3)

    def hello(self, prog: str = PROG[:16], scenarios: int = 2, page: int = 4096) -> Log:
        return self.add("hello", prog=prog, nonce_src="cmdline", out="debuglog", page=page,
                        scenarios=scenarios, vdso="next")

    def bye(self) -> Log:
        return self.add("bye", scenarios=2, records=len(self.lines))


def judge(lines: Sequence[str], m: Manifest | None = None) -> RunVerdict:
    m = m or manifest()
    return compare_run(m, files(), parse_log(lines, nonces=m.nonces))


def test_outcome_precedence() -> None:
    order = [Outcome.FAIL, Outcome.INCOMPLETE, Outcome.SKIP, Outcome.PASS]
    assert combine_outcomes([]) is Outcome.PASS
    for n in range(1, 5):
        for combo in itertools.combinations(order, n):
            assert combine_outcomes(reversed(combo)) is combo[0]


def test_passing_run() -> None:
    log = Log().hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert (v.outcome, v.ok, v.problems, v.warnings, v.nonce, v.records) == (
        Outcome.PASS, True, (), (), NONCE, len(log.lines))
    assert v.scenarios[0] == ScenarioVerdict(0, "one-dirty-page", "suite.yaml", Outcome.PASS,
                                             "", where="suite.yaml:2", steps=(
        StepVerdict(0, "supply", "suite.yaml:5", Outcome.PASS, observed=Observed(status=0)),
        StepVerdict(1, "write", "suite.yaml:6", Outcome.PASS, observed=Observed(status=0)),
        StepVerdict(2, "query", "suite.yaml:7", Outcome.PASS,
                    observed=Observed(status=0, actual=1, avail=1, ranges=((P, P, 0),))),
    ))
    assert dict(v.counts) == {"PASS": 2, "FAIL": 0, "SKIP": 0, "INCOMPLETE": 0,
                             "CRASH": 0, "HANG": 0, "INFRA": 0}


def test_wrong_values_name_expected_actual_and_source() -> None:
    log = Log().hello()
    log.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0).step(0, 1, 0)
    log.step(0, 2, 0, actual=2, avail=2, ranges=[(P, P, 0), (3 * P, P, 1)])
    log.add("send", s=0, steps=3)
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, zx.ZX_ERR_IO)
    log.add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert v.outcome is Outcome.FAIL and not v.ok
    s0, s1 = v.scenarios
    assert s0.steps[2].diffs == (
        FieldDiff("actual", 1, 2, "model+expect"),
        FieldDiff("avail", 1, 2, "model"),
        FieldDiff("ranges", ((P, P, 0),), ((P, P, 0), (3 * P, P, 1)), "model"),
    )
    assert s0.steps[2].reason == (
        "actual: expected 1 (model+expect), got 2; avail: expected 1 (model), got 2; "
        "ranges: expected [[1, 1, 0]] (model), got [[1, 1, 0], [3, 1, 1]]")
    assert (s0.outcome, s0.reason) == (Outcome.FAIL, "step 2 failed")
    assert s1.steps[0].reason == "status: expected ZX_OK (model), got ZX_ERR_IO"


def test_skips_give_the_reason() -> None:
    log = Log().hello()
    log.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0).step(0, 1, 0)
    log.add("skip", s=0, t=2, why="unavailable", sys="zx_pager_query_dirty_ranges")
    log.add("send", s=0, steps=3)
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert (v.outcome, v.ok) == (Outcome.SKIP, True)
    assert (v.scenarios[0].outcome, v.scenarios[0].reason) == (
        Outcome.SKIP, "step 2 skipped; zx_pager_query_dirty_ranges missing from the vDSO this "
                      "program got; boot with kernel.vdso.always_use_next=true")
    assert v.scenarios[1].outcome is Outcome.PASS


def test_skip_of_a_syscall_every_vdso_has_is_a_failure() -> None:
    # Only the @next syscalls may be missing; a "missing" zx_vmo_write means the runtime's
    # vDSO lookup broke, and a SKIP would let the run exit 0.
    log = Log().hello()
    log.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0)
    log.add("skip", s=0, t=1, why="unavailable", sys="zx_vmo_write")
    log.step(0, 2, 0, actual=1, avail=1, ranges=[(P, P, 0)])
    log.add("send", s=0, steps=3)
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert (v.outcome, v.ok) == (Outcome.FAIL, False)
    step = v.scenarios[0].steps[1]
    assert (step.outcome, step.reason, step.diffs) == (
        Outcome.FAIL, "the program found no zx_vmo_write in its vDSO, which every kernel of "
                      "profile 2024 has: a vDSO symbol lookup problem in the guest runtime "
                      "(see hello vdso=)",
        (FieldDiff("syscall", "zx_vmo_write in the vDSO", "zx_vmo_write not found", "model"),))


def test_profile_2020_predicted_unavailable_and_setup_error() -> None:
    log = Log().hello()
    log.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0).step(0, 1, 0)
    log.add("skip", s=0, t=2, why="unavailable", sys="zx_pager_query_dirty_ranges")
    log.add("send", s=0, steps=3)
    log.add("sbeg", s=1, steps=1, name="trap").add("err", s=1, what="create_vmo", st=-10)
    log.add("send", s=1, steps=0).bye()
    v = judge(log.lines, manifest("2020"))
    assert [(s.outcome, s.reason) for s in v.scenarios] == [
        (Outcome.SKIP, "step 2 skipped; zx_pager_query_dirty_ranges is not in the vDSO "
                       "(predicted: profile 2020 lacks it)"),
        (Outcome.PASS, "setup failed as predicted: create_vmo ZX_ERR_INVALID_ARGS"),
    ]
    assert v.ok


def test_setup_surprises_fail() -> None:
    # 2024 predicts the trap_dirty VMO is created; an err is a FAIL, and the other way round.
    log = Log().hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").add("err", s=1, what="create_vmo", st=-10)
    log.add("send", s=1, steps=0).bye()
    assert judge(log.lines).scenarios[1].reason == (
        "setup: expected setup succeeds, got err what=create_vmo st=ZX_ERR_INVALID_ARGS")
    log2 = Log().hello()
    log2.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0).step(0, 1, 0)
    log2.add("skip", s=0, t=2, why="unavailable", sys="zx_pager_query_dirty_ranges")
    log2.add("send", s=0, steps=3)
    log2.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    v = judge(log2.lines, manifest("2020"))
    assert (v.scenarios[1].outcome, v.scenarios[1].reason) == (
        Outcome.FAIL, "setup: expected err what=create_vmo st=ZX_ERR_INVALID_ARGS, got setup "
                      "succeeded")


def test_lost_err_record_is_incomplete_not_a_setup_failure() -> None:
    log = Log().hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").add("err", s=1, what="create_vmo", st=-10)
    log.add("send", s=1, steps=0).bye()
    lines = [line for line in log.lines if " err " not in line]
    v = judge(lines, manifest("2020"))
    # Scenario 0 lost nothing: its query ran where 2020 has none, a FAIL of its own.
    assert (v.scenarios[1].outcome, v.scenarios[1].reason) == (
        Outcome.INCOMPLETE, "1 records lost inside the scenario (seq 8)")


def test_kernel_running_a_syscall_the_profile_lacks_fails() -> None:
    log = Log().hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").add("err", s=1, what="create_vmo", st=-10)
    log.add("send", s=1, steps=0).bye()
    v = judge(log.lines, manifest("2020"))
    step = v.scenarios[0].steps[2]
    assert (step.outcome, step.diffs) == (
        Outcome.FAIL, (FieldDiff("syscall", "zx_pager_query_dirty_ranges unavailable",
                                 "the kernel ran it", "model"),))


def test_lost_and_missing_records_are_incomplete_never_pass() -> None:
    full = Log().hello().passing_scenario0()
    full.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    # Lose the rng record of the query (seq 5): the query is incomplete.
    lines = [line for line in full.lines if " 5 rng " not in line]
    v = judge(lines)
    assert [(s.outcome, s.reason) for s in v.scenarios] == [
        (Outcome.INCOMPLETE, "1 records lost inside the scenario (seq 5); step 2 incomplete"),
        (Outcome.PASS, ""),
    ]
    assert v.scenarios[0].steps[2].reason == "ranges 0..0 of 1 lost (rng records missing)"
    # Lose a whole step record: that step has no record.
    v = judge([line for line in full.lines if " 3 step " not in line])
    assert v.scenarios[0].steps[1].reason == "no record of this step (lost, or the log ended)"
    assert v.outcome is Outcome.INCOMPLETE
    # Lose the send of scenario 0: incomplete even though every step passed.
    v = judge([line for line in full.lines if " 6 send " not in line])
    assert (v.scenarios[0].outcome, v.scenarios[0].reason) == (
        Outcome.INCOMPLETE, "1 records lost inside the scenario (seq 6); no send record (lost)")


def test_no_records_and_early_end() -> None:
    v = judge(["welcome to Zircon", "ZIRCON KERNEL PANIC"])
    assert v.outcome is Outcome.INCOMPLETE
    assert v.problems == ((Outcome.INCOMPLETE, f"no record of this build in the log (nonce "
                                               f"{NONCE} or {PROG[:16]})"),)
    assert [s.reason for s in v.scenarios] == [
        "no records of this scenario (log ended before it)"] * 2
    v = judge(Log().hello().passing_scenario0().lines)
    assert v.problems == ((Outcome.INCOMPLETE, "no bye record: the log ended early (hang, "
                                               "crash or power-off) after seq 6"),)
    assert [s.outcome for s in v.scenarios] == [Outcome.PASS, Outcome.INCOMPLETE]


def test_run_level_problems() -> None:
    log = Log().hello(prog="ffffffffffffffff", scenarios=3, page=16384).passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1)
    log.add("sbeg", s=7, steps=0, name="stray").add("send", s=7, steps=0)
    log.add("bye", scenarios=2, records=99)
    v = judge(log.lines)
    assert v.problems == (
        (Outcome.FAIL, "hello says program ffffffffffffffff, the build is abababababababab: "
                       "another program printed records with this build's nonce"),
        (Outcome.FAIL, "the kernel's page size is 16384; scenarios and the model count pages "
                       "of 4096 bytes"),
        (Outcome.FAIL, "hello says 3 scenarios, the build has 2"),
        (Outcome.INCOMPLETE, "bye says records=99 but is seq 12"),
        (Outcome.FAIL, "records of scenarios [7] the build does not have"),
    )
    assert v.outcome is Outcome.FAIL
    assert [s.outcome for s in v.scenarios] == [Outcome.PASS, Outcome.PASS]


def test_builtin_nonce_warns() -> None:
    log = Log(nonce=PROG[:16]).hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert v.ok and v.nonce == PROG[:16]
    assert v.warnings == (f"records carry the program's built-in id {PROG[:16]}, not the "
                          f"build's nonce {NONCE}: the image was booted without the build's "
                          "command line",)


def test_scenario_files_must_match_the_manifest() -> None:
    m = manifest()
    bad = Manifest(m.program_id, m.nonce, m.abi, m.arch, m.target,
                   (ManifestScenario(0, "gone", "old.yaml", 1),))
    with pytest.raises(InputError, match="manifest scenario 0 'gone' \\(from old.yaml\\) is in "
                                         "none of the scenario files given"):
        compare_run(bad, files(), parse_log([], nonces=[NONCE]))
    changed = Manifest(m.program_id, m.nonce, m.abi, m.arch, m.target,
                       (ManifestScenario(0, "trap", "suite.yaml", 5),))
    with pytest.raises(InputError, match="suite.yaml:9: scenario 'trap' has 1 steps, the "
                                         "build had 5"):
        compare_run(changed, files(), parse_log([], nonces=[NONCE]))


def test_manifest_from_json() -> None:
    data = {"program_id": PROG, "nonce": NONCE, "abi": "2024", "arch": "x64",
            "target": "zircon", "board": "x64/zircon", "future_key": "ignored",
            "scenarios": [{"index": 0, "name": "one-dirty-page", "file": "suite.yaml",
                           "steps": 3}]}
    m = manifest_from_json(data, "m.json")
    assert m == Manifest(PROG, NONCE, "2024", "x64", "zircon",
                         (ManifestScenario(0, "one-dirty-page", "suite.yaml", 3),),
                         board="x64/zircon")
    assert manifest_from_json(manifest_to_json(m), "again.json") == m
    assert m.nonces == (NONCE, PROG[:16])
    for broken, message in [
        ([], "m.json: the manifest must be a JSON object, found list"),
        ({**data, "abi": 2024}, "m.json: key 'abi' must be a non-empty string, found 2024"),
        ({**data, "abi": "2023"}, "m.json: key 'abi' is '2023', wanted one of \\['2020', "
                                  "'2022', '2024'\\]; rebuild with `rig build`"),
        ({**data, "nonce": "XYZ"}, "m.json: key 'nonce' must be 16 lowercase hex digits"),
        ({**data, "scenarios": [{"index": 1, "name": "a", "file": "f", "steps": 1}]},
         "m.json: scenarios\\[0\\] must be \\{index: 0, name, file, steps\\}"),
    ]:
        with pytest.raises(InputError, match=message):
            manifest_from_json(broken, "m.json")


def test_render_text_and_json() -> None:
    log = Log().hello()
    log.add("sbeg", s=0, steps=3, name="one-dirty-page").step(0, 0, 0).step(0, 1, 0)
    log.step(0, 2, 0, actual=0, avail=0, ranges=[])
    log.add("send", s=0, steps=3).bye()
    v = judge(log.lines)
    assert render_text(v, verbose=False) == f"""\
program abababababababab  profile 2024  x64/zircon  nonce {NONCE}  records 7

  #  scenario / step                              outcome    detail
  0  one-dirty-page (suite.yaml:2)                FAIL       step 2 failed
       step 2 query (suite.yaml:7)                FAIL       actual: expected 1 (model+expect), got 0; avail: expected 1 (model), got 0; ranges: expected [[1, 1, 0]] (model), got []
                                                             kernel returned: status ZX_OK, actual 0, avail 0, ranges []
  1  trap (suite.yaml:9)                          INCOMPLETE no records of this scenario (lost)

FAIL: 2 scenarios: 0 passed, 1 failed, 0 skipped, 1 incomplete
"""  # noqa: E501 (one table row is long by design)
    # With the build directory: the commands that reproduce the run and show the model's view.
    assert render_text(v, verbose=False, build_dir="out/my build/").endswith("""
FAIL: 2 scenarios: 0 passed, 1 failed, 0 skipped, 1 incomplete

to reproduce (boots the same image, then judges the new log):
  sh 'out/my build'/qemu.sh > serial.log 2>&1; rig check-log serial.log --build 'out/my build'
what the model predicts, step by step, for the scenarios that did not pass:
  rig expect 'out/my build'/scenarios/suite.yaml --abi 2024
""")
    assert "to reproduce" not in render_text(judge(_passing_log().lines), build_dir="out")
    j = verdict_to_json(v)
    assert j["scenarios"][0]["steps"][2] == {
        "index": 2, "op": "query", "where": "suite.yaml:7", "outcome": "FAIL",
        "reason": "actual: expected 1 (model+expect), got 0; avail: expected 1 (model), got 0; "
                  "ranges: expected [[1, 1, 0]] (model), got []",
        "diffs": [{"field": "actual", "expected": 1, "actual": 0, "source": "model+expect"},
                  {"field": "avail", "expected": 1, "actual": 0, "source": "model"},
                  {"field": "ranges", "expected": [[P, P, 0]], "actual": [],
                   "source": "model"}],
        "observed": {"status": 0, "actual": 0, "avail": 0, "ranges": [], "calls": None,
                     "modified": None, "skipped": None,
                     "stop": None},
    }
    assert {k: j[k] for k in ("outcome", "ok", "counts", "problems")} == {
        "outcome": "FAIL", "ok": False,
        "counts": {"PASS": 0, "FAIL": 1, "SKIP": 0, "INCOMPLETE": 1, "CRASH": 0, "HANG": 0,
                   "INFRA": 0}, "problems": []}


# ---------------------------------------------------------------------------------------------
# Golden logs: tests/data/logs/<case>.log (records spliced into an excerpt of the real Zircon
# serial log) against checklog-build/, expected output in <case>.expected. After an intended
# change of the output, regenerate with RIG_UPDATE_GOLDEN=1 and review the diff.

LOGS = Path(__file__).resolve().parents[1] / "data" / "logs"


@pytest.mark.parametrize("log", sorted(LOGS.glob("*.log")), ids=lambda p: p.stem)
def test_golden_logs(log: Path, capsys: pytest.CaptureFixture[str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths, so the reproduce commands in the output do not name this checkout.
    monkeypatch.chdir(LOGS)
    code = main(["check-log", log.name, "--build", "checklog-build"])
    got = f"exit: {code}\n" + capsys.readouterr().out
    expected = log.with_suffix(".expected")
    if os.environ.get("RIG_UPDATE_GOLDEN") == "1":
        expected.write_text(got)
    assert got == expected.read_text()


def test_golden_cases_present() -> None:
    assert sorted(p.stem for p in LOGS.glob("*.log")) == [
        "pass", "record-missing", "stops-early", "wrong-result"]


def _passing_log() -> Log:
    log = Log().hello().passing_scenario0()
    return log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).add(
        "send", s=1, steps=1).bye()


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(0, len(_passing_log().lines) - 1), min_size=1))
def test_losing_any_record_is_never_a_pass(dropped: set[int]) -> None:
    lines = _passing_log().lines
    v = judge([line for i, line in enumerate(lines) if i not in dropped])
    assert v.outcome is Outcome.INCOMPLETE and not v.ok
    # Scenario 0 owns records 1..6, scenario 1 records 7..9: one that lost any of its own is
    # incomplete; one that lost none still passes (hello and bye are the run's).
    for scenario, owned in ((0, range(1, 7)), (1, range(7, 10))):
        lost = bool(dropped & set(owned))
        assert v.scenarios[scenario].outcome is (Outcome.INCOMPLETE if lost else Outcome.PASS)


@settings(max_examples=100, deadline=None)
@given(st.permutations(range(len(_passing_log().lines))))
def test_reordered_records_still_pass(order: list[int]) -> None:
    lines = _passing_log().lines
    v = judge([lines[i] for i in order])
    assert [s.outcome for s in v.scenarios] == [Outcome.PASS, Outcome.PASS]
    assert v.outcome is Outcome.PASS


def test_query_all_cut_short_says_why() -> None:
    text = ("scenarios:\n  - name: qa\n    vmo: {pages: 4}\n    steps:\n"
            "      - supply: [0, 4]\n      - write: [1, 1]\n"
            "      - query_all: {buffer_entries: 1}\n")
    m = Manifest(program_id=PROG, nonce=NONCE, abi="2024", arch="x64", target="zircon",
                 scenarios=(ManifestScenario(0, "qa", "qa.yaml", 3),))
    log = Log().hello(scenarios=1)
    log.add("sbeg", s=0, steps=3, name="qa").step(0, 0, 0).step(0, 1, 0)
    # A kernel that always reports one more range: the guest stopped at its bound, 8 calls.
    log.lines.append(encode_record(NONCE, len(log.lines), "step", [
        ("s", 0), ("t", 2), ("st", 0), ("actual", 1), ("avail", 2), ("calls", 8),
        ("stop", "bound"), ("nr", 0)]))
    log.add("send", s=0, steps=3).add("bye", scenarios=1, records=len(log.lines))
    v = compare_run(m, [parse_scenarios(text, "qa.yaml")], parse_log(log.lines,
                                                                    nonces=m.nonces))
    step = v.scenarios[0].steps[2]
    assert step.outcome is Outcome.FAIL and step.observed is not None
    assert step.observed.stop == "bound"
    assert step.reason.endswith(
        "(the loop made 8 calls, the rig's bound, without actual == avail)")


def test_records_for_steps_the_scenario_lacks_are_never_a_pass() -> None:
    log = Log().hello().passing_scenario0()
    log.add("sbeg", s=1, steps=1, name="trap").step(1, 0, 0).step(1, 3, 0)
    log.add("send", s=1, steps=1).bye()
    v = judge(log.lines)
    assert (v.scenarios[1].outcome, v.scenarios[1].reason) == (
        Outcome.INCOMPLETE, "records for step 3, which the scenario does not have (it has 1): "
                            "wrong build directory?")
    assert not v.ok
