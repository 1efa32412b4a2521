"""The scenario loader: good files load into the documented types; each kind of bad input gives
an error that names file, line, scenario and step."""

from __future__ import annotations

import gc
import os
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from rig import zx
from rig.errors import ScenarioError
from rig.scenario.loader import (
    Expect,
    Handle,
    Location,
    QueryArgs,
    Scenario,
    Step,
    StepKind,
    VmoSpec,
    load_many,
    load_scenarios,
    parse_scenarios,
)

P = zx.PAGE_SIZE

SPEC_EXAMPLE = """\
scenarios:
  - name: write-then-query          # unique in the file, [a-z0-9][a-z0-9-]*
    description: free text          # optional
    abi: [2022, 2024]               # optional
    vmo: {pages: 4, trap_dirty: false, resizable: false}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {}
      - query: {offset: 1, length: 2, buffer_entries: 1}
        expect: {status: ZX_OK, actual: 1, avail: 1, ranges: [[1, 1, 0]]}
"""


def parse(text: str) -> tuple[Scenario, ...]:
    return parse_scenarios(textwrap.dedent(text), "s.yaml").scenarios


def test_spec_example_loads_exactly() -> None:
    (scenario,) = parse(SPEC_EXAMPLE)
    assert scenario == Scenario(
        name="write-then-query",
        description="free text",
        abi=("2022", "2024"),
        vmo=VmoSpec(pages=4, trap_dirty=False, resizable=False),
        location=Location("s.yaml", 2),
        steps=(
            Step(0, StepKind.SUPPLY, Location("s.yaml", 7), offset_bytes=0, length_bytes=4 * P),
            Step(1, StepKind.WRITE, Location("s.yaml", 8), offset_bytes=P, length_bytes=P),
            Step(2, StepKind.QUERY, Location("s.yaml", 9), query=QueryArgs()),
            Step(3, StepKind.QUERY, Location("s.yaml", 10),
                 query=QueryArgs(offset_bytes=P, length_bytes=2 * P, buffer_size=24),
                 expect=Expect(status=0, actual=1, avail=1, ranges=((P, P, 0),))),
        ),
    )


def test_every_step_kind_and_option_loads() -> None:
    (s,) = parse("""
        scenarios:
          - name: all-kinds
            vmo: {pages: 8, trap_dirty: true, resizable: true}
            steps:
              - supply: [0, 2]
              - supply_zero: [2, 1]
              - op_dirty: [0, 1]
              - write: [0, 1]
              - write_bytes: [10, 3]
              - read: [1, 1]
              - op_fail: [3, 1]
                data: ZX_ERR_INTERNAL
                expect: {status: ZX_ERR_INVALID_ARGS}
              - writeback_begin: [0, 1]
              - writeback_begin_zero: [0, 1]
              - writeback_end: {offset_bytes: 0, length_bytes: 4096}
              - op_zero: [1, 1]
              - commit: [0, 1]
              - resize: 16
              - query: {offset_bytes: 10, length_bytes: 5, buffer_bytes: 30, actual: false}
              - query: {buffer: null, avail: false, pager: other_pager, vmo: slice}
              - query_all: {buffer_entries: 2}
                expect: {calls: 1, ranges: []}
              - stats: {reset: true}
                expect: {modified: 1}
              - op_dirty: [0, 1]
                vmo: no_rights
              - detach
        """)
    kinds = [st.kind for st in s.steps]
    assert kinds == [StepKind.SUPPLY, StepKind.SUPPLY_ZERO, StepKind.OP_DIRTY, StepKind.WRITE,
                     StepKind.WRITE_BYTES, StepKind.READ, StepKind.OP_FAIL,
                     StepKind.WRITEBACK_BEGIN, StepKind.WRITEBACK_BEGIN_ZERO,
                     StepKind.WRITEBACK_END, StepKind.OP_ZERO, StepKind.COMMIT, StepKind.RESIZE,
                     StepKind.QUERY, StepKind.QUERY, StepKind.QUERY_ALL, StepKind.STATS,
                     StepKind.OP_DIRTY, StepKind.DETACH]
    assert (s.steps[4].offset_bytes, s.steps[4].length_bytes) == (10, 3)
    assert s.steps[6].data == zx.STATUS_BY_NAME["ZX_ERR_INTERNAL"]
    assert s.steps[7].data == 0
    assert s.steps[8].data == zx.ZX_VMO_DIRTY_RANGE_IS_ZERO
    assert s.steps[12].new_size_bytes == 16 * P
    assert s.steps[13].query == QueryArgs(offset_bytes=10, length_bytes=5, buffer_size=30,
                                          actual_null=True)
    assert s.steps[14].query == QueryArgs(buffer_size=0, buffer_null=True, avail_null=True)
    assert (s.steps[14].pager, s.steps[14].vmo) == (Handle.OTHER_PAGER, Handle.SLICE)
    assert s.steps[15].buffer_entries == 2
    assert s.steps[15].expect == Expect(calls=1, ranges=())
    assert s.steps[16].reset is True
    assert s.steps[17].vmo is Handle.NO_RIGHTS
    assert s.abi == ("2020", "2022", "2024")


# case -> (the step's YAML, the message's start, a part of its body). The step sits at line 8
# of the file, its second line (if any) at line 9.
BAD_CASES = {
    "unknown-step": ("- frobnicate: [0, 1]", "s.yaml:8: scenario 'bad': step 0: ",
                     "unknown step 'frobnicate'; allowed: supply, supply_zero"),
    "bad-pair": ("- write: [1, 2, 3]", "s.yaml:8: scenario 'bad': step 0 (write): ",
                 "write takes a pair [first_page, page_count], found a list of 3"),
    "unknown-status": ("- op_dirty: [0, 1]\n        expect: {status: ZX_ERR_NOPE}",
                       "s.yaml:9: scenario 'bad': step 0 (op_dirty): ",
                       "expect.status: unknown status name 'ZX_ERR_NOPE'"),
    "bad-handle": ("- query: {pager: slice}", "s.yaml:8: scenario 'bad': step 0 (query): ",
                   "pager: unknown handle variant 'slice'; allowed: valid, invalid"),
    "expect-field": ("- write: [0, 1]\n        expect: {actual: 1}",
                     "s.yaml:9: scenario 'bad': step 0 (write): ",
                     "expect: 'actual' does not apply to write"),
    "data-on-write": ("- write: [0, 1]\n        data: 3",
                      "s.yaml:9: scenario 'bad': step 0 (write): ",
                      "data: does not apply to write"),
    "two-keys": ("- {write: [0, 1], read: [0, 1]}", "s.yaml:8: scenario 'bad': step 0: ",
                 "exactly one step key"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_step_names_file_line_scenario_step(case: str) -> None:
    step, where, what = BAD_CASES[case]
    text = ("scenarios:\n  - name: ok\n    vmo: {pages: 1}\n    steps: []\n"
            "  - name: bad\n    vmo: {pages: 4}\n    steps:\n      " + step + "\n")
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(text, "s.yaml")
    message = str(info.value)
    assert message.startswith(where), message
    assert what in message, message


def test_out_of_range_without_expect_is_valid_with_a_warning() -> None:
    # The contract: without expect: the model alone decides; a range past the VMO is a main
    # thing a conformance suite checks, so it is accepted and only flagged as a likely typo.
    text = ("scenarios:\n  - name: oor\n    vmo: {pages: 4}\n    steps:\n"
            "      - write: [3, 2]\n      - supply: [0, 5]\n      - write: [0, 1]\n"
            "      - query: {offset: 2, length: 3}\n")
    file = parse_scenarios(text, "s.yaml")
    assert [s.kind for s in file.scenarios[0].steps] == [
        StepKind.WRITE, StepKind.SUPPLY, StepKind.WRITE, StepKind.QUERY]
    assert file.warnings == (
        "s.yaml:5: scenario 'oor': step 0 (write): pages 3..4 reach past the VMO (4 pages at "
        "most); the model predicts what the kernel returns (e.g. ZX_ERR_OUT_OF_RANGE); if that "
        "is the test, say so with expect: {status: ...}",
        "s.yaml:6: scenario 'oor': step 1 (supply): pages 0..4 reach past the VMO (4 pages at "
        "most); the model predicts what the kernel returns (e.g. ZX_ERR_OUT_OF_RANGE); if that "
        "is the test, say so with expect: {status: ...}",
        "s.yaml:8: scenario 'oor': step 3 (query): bytes [8192, 20480) reach past the VMO (4 "
        "pages at most); the model predicts what the kernel returns (e.g. "
        "ZX_ERR_OUT_OF_RANGE); if that is the test, say so with expect: {status: ...}",
    )


def test_out_of_range_allowed_when_declared() -> None:
    (s,) = parse("""
        scenarios:
          - name: oor
            vmo: {pages: 1}
            steps:
              - op_fail: [1, 1]
                expect: {status: ZX_ERR_OUT_OF_RANGE}
        """)
    assert s.steps[0].expect == Expect(status=zx.ZX_ERR_OUT_OF_RANGE)


def test_resize_extends_the_checked_size_of_a_resizable_vmo() -> None:
    (s,) = parse("""
        scenarios:
          - name: grow
            vmo: {pages: 1, resizable: true}
            steps:
              - resize: 4
              - query: {offset: 1, length: 3}
        """)
    assert s.steps[1].query == QueryArgs(offset_bytes=P, length_bytes=3 * P)


@pytest.mark.parametrize(("text", "message"), [
    ("scenarios:\n  - name: a\n    vmo: {pages: 1}\n    steps: []\n"
     "  - name: a\n    vmo: {pages: 1}\n    steps: []\n",
     "s.yaml:5: scenario 'a': duplicate scenario name (first defined at line 2)"),
    ("scenarios:\n  - name: a\n    abi: [2023]\n    vmo: {pages: 1}\n    steps: []\n",
     "s.yaml:3: scenario 'a': abi: unknown ABI profile 2023; known profiles: 2020, 2022, 2024"),
    ("scenarios:\n  - name: Bad_Name\n    vmo: {pages: 1}\n    steps: []\n",
     "s.yaml:2: scenario name 'Bad_Name' must match [a-z0-9][a-z0-9-]*"),
    ("scenarios:\n  - name: a\n    vmo: {pages: 1, color: red}\n    steps: []\n",
     "s.yaml:3: scenario 'a': vmo: unknown key 'color'"),
    ("scenarios: [\n", "s.yaml:2: not valid YAML"),
    ("", "s.yaml: empty file"),
    ("tests: []\n", "s.yaml:1: unknown top-level key 'tests'; allowed: scenarios"),
])
def test_bad_file_level_input(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(text, "s.yaml")
    assert str(info.value).startswith(message), str(info.value)


def test_same_name_in_two_files_is_fine_the_same_file_twice_is_not(tmp_path: Path) -> None:
    # The contract asks names to be unique only within a file.
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text("scenarios:\n  - name: same\n    vmo: {pages: 1}\n"
                                     "    steps: []\n")
    files = load_many([tmp_path / "one.yaml", tmp_path / "two.yaml"])
    assert [(f.path, [s.name for s in f.scenarios]) for f in files] == [
        (str(tmp_path / "one.yaml"), ["same"]), (str(tmp_path / "two.yaml"), ["same"])]
    with pytest.raises(ScenarioError) as info:
        load_many([tmp_path / "one.yaml", tmp_path / "two.yaml", tmp_path / ".." /
                   tmp_path.name / "one.yaml"])
    assert str(info.value) == (
        f"{tmp_path}/../{tmp_path.name}/one.yaml: the same scenario file is given twice (also as "
        f"{tmp_path}/one.yaml); give each file once")


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        load_scenarios(tmp_path / "absent.yaml")


def test_steps_without_arguments_may_be_bare_words() -> None:
    (s,) = parse("""
        scenarios:
          - name: bare
            vmo: {pages: 1}
            steps: [detach, stats, query]
        """)
    assert [(st.kind, st.query, st.reset) for st in s.steps] == [
        (StepKind.DETACH, None, False), (StepKind.STATS, None, False),
        (StepKind.QUERY, QueryArgs(), False)]


def test_bare_word_for_a_step_that_needs_arguments() -> None:
    with pytest.raises(ScenarioError) as info:
        parse("scenarios:\n  - name: a\n    vmo: {pages: 1}\n    steps: [write]\n")
    assert str(info.value) == ("s.yaml:4: scenario 'a': step 0: step 'write' needs arguments; "
                               "only detach, query, stats may be written as a bare word")


def test_empty_step_value_with_side_keys() -> None:
    (s,) = parse("""
        scenarios:
          - name: a
            vmo: {pages: 1}
            steps:
              - detach:
                vmo: plain_vmo
                expect: {status: ZX_ERR_INVALID_ARGS}
              - stats:
        """)
    assert [(st.kind, st.vmo, st.expect) for st in s.steps] == [
        (StepKind.DETACH, Handle.PLAIN_VMO, Expect(status=zx.ZX_ERR_INVALID_ARGS)),
        (StepKind.STATS, Handle.VALID, None)]


HEAD = "scenarios:\n  - name: a\n    vmo: {pages: 1}\n"
LAUGHS = ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
          + "".join(f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
                    for p, c in zip("abcdefgh", "bcdefghi", strict=True))
          + "scenarios:\n  - name: a\n    vmo: {pages: 1}\n    steps: []\n    *i : 1\n")


@pytest.mark.parametrize(("text", "message"), [
    ("v: &v {pages: 1}\nscenarios:\n  - name: a\n    vmo:\n      <<: *v\n    steps: []\n",
     "s.yaml:5: YAML merge keys (<<) are not supported: write the keys out"),
    (HEAD + "    steps: !foo []\n", "s.yaml:4: explicit YAML tag '!foo' is not supported"),
    (HEAD + "    steps:\n      - write: [!!int abc, 1]\n",
     "s.yaml:5: explicit YAML tag 'tag:yaml.org,2002:int' is not supported"),
    (HEAD + "    description: !!timestamp x\n    steps: []\n",
     "s.yaml:4: explicit YAML tag 'tag:yaml.org,2002:timestamp' is not supported"),
    ("scenarios: &s\n  - name: a\n    vmo: {pages: 1}\n    steps: *s\n",
     "s.yaml:1: a recursive alias (a node that contains itself)"),
    ("scenarios:\n  - name: a\n    vmo: {pages: 1}\n    steps: []\n    ? [x]\n    : 1\n",
     "s.yaml:5: a mapping key must be a plain word, found a list"),
    (HEAD + "    steps: " + "[" * 200 + "]" * 200 + "\n", "s.yaml:4: nested more than 32 deep"),
    (HEAD + "    steps:\n      - query: {}\n        expect: {status: 1180591620717411303424}\n",
     "s.yaml:6: scenario 'a': step 0 (query): expect.status must fit zx_status_t (a 32-bit "
     "signed integer), found 1180591620717411303424"),
    (HEAD + "    abi: []\n    steps: []\n", "s.yaml:4: scenario 'a': abi: give at least one "
                                              "profile (2020, 2022, 2024)"),
])
def test_hostile_yaml_is_refused_with_a_message(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(text, "s.yaml")
    assert str(info.value).startswith(message), str(info.value)


def test_billion_laughs_as_a_key_is_refused_fast() -> None:
    # 10^9 nodes once expanded, used as a mapping key: minutes and gigabytes before.
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(LAUGHS, "s.yaml")
    assert time.perf_counter() - start < 2.0
    assert str(info.value).startswith("s.yaml:")
    assert len(str(info.value)) < 300


def test_aliases_of_finished_nodes_still_work() -> None:
    text = ("scenarios:\n  - name: a\n    vmo: &v {pages: 2}\n    steps: &s\n"
            "      - supply: [0, 2]\n  - name: b\n    vmo: *v\n    steps: *s\n")
    file = parse_scenarios(text, "s.yaml")
    assert [(s.name, s.vmo.pages, len(s.steps)) for s in file.scenarios] == [
        ("a", 2, 1), ("b", 2, 1)]


def test_messages_do_not_grow_with_the_input() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenarios(HEAD + "    steps:\n      - query: {pager: " + "x" * 100_000 + "}\n",
                        "s.yaml")
    assert len(str(info.value)) < 300


def test_parsing_keeps_no_node_after_the_call() -> None:
    # A module-level constructor used to remember every node it ever built.
    def nodes() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, yaml.Node))

    before = nodes()
    text = "scenarios:\n" + "".join(
        f"  - name: s{i}\n    vmo: {{pages: 2}}\n    steps:\n      - supply: [0, 2]\n"
        "      - query: {offset: 0, length: 2}\n" for i in range(200))
    file = parse_scenarios(text, "s.yaml")
    assert len(file.scenarios) == 200
    assert nodes() <= before
    assert gc.isenabled()


def test_scenario_files_must_be_regular_files(tmp_path: Path) -> None:
    # A FIFO used to hang the loader, /dev/zero to end in MemoryError.
    fifo = tmp_path / "s.yaml"
    os.mkfifo(fifo)
    for path, what in ((fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file")):
        with pytest.raises(ScenarioError) as info:
            load_many([path])
        assert str(info.value) == f"{path}: {what}; give scenario files as files"
