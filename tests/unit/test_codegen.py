"""rig.codegen: scenario files to the C of the guest test program (rendering only; compiling
is tests/integration/test_check_log.py and test_codegen_compile)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rig import resources
from rig.errors import InputError, ScenarioError
from rig.image import boards
from rig.program.codegen import (
    MAX_AUX_BYTES,
    MAX_BUFFER_ENTRIES,
    MAX_IO_BYTES,
    SYSCALL_BY_KIND,
    ProgramScenario,
    construction_problems,
    describe_step,
    program_id_of,
    render_program,
)
from rig.scenario.loader import (
    ABI_PROFILES,
    Location,
    QueryArgs,
    Scenario,
    ScenarioFile,
    Step,
    StepKind,
    VmoSpec,
    bundled_suite_paths,
    load_many,
    parse_scenarios,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
ALL_STEPS = DATA / "codegen-all-steps.yaml"


def step_blocks(c_source: str) -> list[str]:
    """The text of every step block of the program, in order."""
    parts = re.split(r"\n  // ---- step ", c_source)[1:]
    return [p.split("\n\n", 1)[0].rstrip() for p in parts]


def syscalls_called(block: str) -> list[str]:
    """zx_* calls in a block, not counting RIG_HAS(...) and the skip record's string."""
    code = "\n".join(line for line in block.splitlines() if not line.strip().startswith("//"))
    code = re.sub(r"RIG_HAS\(zx_\w+\)", "", code)
    code = re.sub(r'"zx_\w+"', "", code)
    return re.findall(r"\b(zx_\w+)\(", code)


def test_rendered_program_structure() -> None:
    files = load_many([ALL_STEPS])
    program = render_program(files, abi="2024", arch="arm64", target="zircon")
    assert (program.abi, program.arch, program.target) == ("2024", "arm64", "zircon")
    assert program.scenarios == (
        ProgramScenario(0, "cg-write-then-query", str(ALL_STEPS), 10),
        ProgramScenario(1, "cg-ops", str(ALL_STEPS), 11),
        ProgramScenario(2, "cg-trap-dirty", str(ALL_STEPS), 3),
        ProgramScenario(3, "cg-handles", str(ALL_STEPS), 16),
    )
    assert program_id_of(program.c_source) == program.program_id
    assert f'#define RIG_PROGRAM_ID "{program.program_id[:16]}"' in program.c_source
    assert program.builtin_nonce == program.program_id[:16]
    # Deterministic, and independent of where the checkout is (only file names appear).
    again = render_program(load_many([ALL_STEPS]), abi="2024", arch="arm64", target="zircon")
    assert again == program
    assert str(DATA) not in program.c_source
    # hello first, bye last, every scenario function called in order between them, each from
    # rig.start=<k> on (the runner's reboot after a crash resumes at k).
    main = program.c_source.split("int rig_program_main(void) {", 1)[1]
    assert [line.strip() for line in main.strip().splitlines()
            if not line.strip().startswith("//")] == [
        "uint32_t start = rig_start_scenario(), end = rig_end_scenario();",
        "rig_record_hello(RIG_PROGRAM_ID, RIG_SCENARIO_COUNT);",
        "if (start <= 0u && 0u < end) scenario_0_cg_write_then_query();",
        "if (start <= 1u && 1u < end) scenario_1_cg_ops();",
        "if (start <= 2u && 2u < end) scenario_2_cg_trap_dirty();",
        "if (start <= 3u && 3u < end) scenario_3_cg_handles();",
        "rig_record_bye(RIG_SCENARIO_COUNT);",
        "return 0;",
        "}",
    ]


def test_every_step_makes_exactly_its_syscall_once() -> None:
    files = load_many([ALL_STEPS])
    program = render_program(files, abi="2024", arch="x64", target="zircon")
    steps = [s for f in files for s in f.scenarios for s in s.steps]
    blocks = step_blocks(program.c_source)
    assert len(blocks) == len(steps) == 40
    for step, block in zip(steps, blocks, strict=True):
        name = SYSCALL_BY_KIND[step.kind]
        assert f"if (!RIG_HAS({name})) {{" in block
        assert f'rig_step_skip(&fx, {step.index}, "{name}");' in block
        if step.op == "query_all":
            # The documented loop lives in fixture.c; the block calls it once.
            assert syscalls_called(block) == []
            assert block.count("rig_step_query_all(") == 1
        else:
            assert syscalls_called(block) == [name], block


def test_step_block_text_is_the_real_call() -> None:
    program = render_program(load_many([ALL_STEPS]), abi="2024", arch="x64", target="zircon")
    blocks = step_blocks(program.c_source)
    assert blocks[2] == """\
2: query  (codegen-all-steps.yaml:10)
  //   query: {}
  //   expect: {status: ZX_OK, actual: 1, avail: 1, ranges: [[1, 2, 0]]}
  if (!RIG_HAS(zx_pager_query_dirty_ranges)) {
    rig_step_skip(&fx, 2, "zx_pager_query_dirty_ranges");
  } else {
    size_t actual = RIG_UNSET;
    size_t avail = RIG_UNSET;
    rig_poison(rig_qbuf, 0x60);
    zx_status_t st = zx_pager_query_dirty_ranges(
        fx.pager, fx.vmo, 0, fx.size, rig_qbuf, 0x60, &actual, &avail);
    rig_step_query(&fx, 2, st, &actual, &avail, rig_qbuf, 4);
  }"""
    calls = [re.search(r"(zx_\w+\((?:.|\n)*?\));", b) for b in blocks]
    texts = [" ".join(m.group(1).split()) if m else None for m in calls]
    assert texts[:10] == [
        "zx_pager_supply_pages(fx.pager, fx.vmo, 0x0, 0x4000, fx.aux, 0x0)",
        "zx_vmo_write(fx.vmo, rig_io, 0x1000, 0x2000)",
        "zx_pager_query_dirty_ranges( fx.pager, fx.vmo, 0, fx.size, rig_qbuf, 0x60, &actual, "
        "&avail)",
        "zx_pager_query_dirty_ranges( fx.pager, fx.vmo, 0x1000, 0x2000, rig_qbuf, 0x18, "
        "&actual, &avail)",
        "zx_pager_query_dirty_ranges( fx.pager, fx.vmo, 0, fx.size, NULL, 0x0, NULL, &avail)",
        "zx_pager_query_dirty_ranges( fx.pager, fx.vmo, 0, fx.size, rig_qbuf, 0x1e, &actual, "
        "NULL)",
        None,
        "zx_pager_query_vmo_stats( fx.pager, fx.vmo, ZX_PAGER_RESET_VMO_STATS, &stats, "
        "sizeof(stats))",
        "zx_vmo_read(fx.vmo, rig_io, 0x0, 0x1000)",
        "zx_vmo_write(fx.vmo, rig_io, 0x64, 0xa)",
    ]
    assert texts[10:21] == [
        "zx_pager_supply_pages(fx.pager, fx.vmo, 0x0, 0x1000, fx.aux_zero, 0x0)",
        # The second supply takes the next unused slice of the pattern aux VMO.
        "zx_pager_supply_pages(fx.pager, fx.vmo, 0x1000, 0x2000, fx.aux, 0x0)",
        "zx_vmo_op_range(fx.vmo, ZX_VMO_OP_ZERO, 0x0, 0x1000, NULL, 0)",
        "zx_vmo_op_range(fx.vmo, ZX_VMO_OP_COMMIT, 0x1000, 0x1000, NULL, 0)",
        "zx_pager_op_range(fx.pager, ZX_PAGER_OP_WRITEBACK_BEGIN, fx.vmo, 0x0, 0x3000, 0)",
        "zx_pager_op_range(fx.pager, ZX_PAGER_OP_WRITEBACK_BEGIN, fx.vmo, 0x0, 0x3000, "
        "ZX_VMO_DIRTY_RANGE_IS_ZERO)",
        "zx_pager_op_range(fx.pager, ZX_PAGER_OP_WRITEBACK_END, fx.vmo, 0x0, 0x3000, 0)",
        "zx_pager_op_range(fx.pager, ZX_PAGER_OP_FAIL, fx.vmo, 0x2000, 0x1000, "
        "(uint64_t)(int64_t)ZX_ERR_INTERNAL)",
        "zx_vmo_set_size(fx.vmo, 0x5000)",
        "zx_pager_query_dirty_ranges( fx.pager, fx.vmo, 0x2000, rig_rest(fx.size, 0x2000), "
        "rig_qbuf, 0x78, &actual, &avail)",
        "zx_pager_detach_vmo(fx.pager, fx.vmo)",
    ]
    assert "if (st == ZX_OK) fx.size = 0x5000;" in blocks[18]
    handles = [re.search(r"zx_pager_query_dirty_ranges\(\s*(\S+), (\S+),", b) for b in blocks]
    assert [(m.group(1), m.group(2)) for m in handles[24:40] if m] == [
        ("ZX_HANDLE_INVALID", "fx.vmo"), ("fx.closed", "fx.vmo"), ("fx.port", "fx.vmo"),
        ("fx.other_pager", "fx.vmo"),
        ("fx.pager", "ZX_HANDLE_INVALID"), ("fx.pager", "fx.closed"), ("fx.pager", "fx.port"),
        ("fx.pager", "fx.other_vmo"), ("fx.pager", "fx.plain_vmo"), ("fx.pager", "fx.clone"),
        ("fx.pager", "fx.slice"), ("fx.pager", "fx.vmo_no_rights"),
        # made at its step by zx_handle_replace: pagers cannot be duplicated
        ("rig_take_pager_no_rights(&fx)", "fx.vmo"),
    ]


def test_fixture_specs_and_static_buffers() -> None:
    source = render_program(load_many([ALL_STEPS]), abi="2024", arch="x64",
                            target="zircon").c_source
    specs = re.findall(r"static const rig_fixture_spec_t spec = \{(.*?)\};", source, re.S)
    assert [" ".join(s.split()) for s in specs] == [
        ".s = 0, .steps = 10, .vmo_size = 0x4000, .vmo_options = 0, .aux_size = 0x4000, "
        ".aux_zero_size = 0x0, .need = 0,",
        ".s = 1, .steps = 11, .vmo_size = 0x3000, .vmo_options = ZX_VMO_RESIZABLE, "
        ".aux_size = 0x2000, .aux_zero_size = 0x1000, .need = 0,",
        ".s = 2, .steps = 3, .vmo_size = 0x2000, .vmo_options = ZX_VMO_TRAP_DIRTY, "
        ".aux_size = 0x2000, .aux_zero_size = 0x0, .need = 0,",
        ".s = 3, .steps = 16, .vmo_size = 0x1000, .vmo_options = 0, .aux_size = 0x1000, "
        ".aux_zero_size = 0x0, .need = RIG_NEED_CLONE | RIG_NEED_CLOSED | RIG_NEED_OTHER_PAGER "
        "| RIG_NEED_OTHER_VMO | RIG_NEED_PLAIN_VMO | RIG_NEED_SLICE "
        "| RIG_NEED_VMO_NO_RIGHTS,",
    ]
    # Query buffer: room for all 5 pages of cg-ops after its resize; io: the largest write.
    assert "static zx_vmo_dirty_range_t rig_qbuf[5];" in source
    assert "static zx_vmo_dirty_range_t rig_qall[4];" in source
    assert "static unsigned char rig_io[8192];" in source


def test_scenarios_filtered_by_abi() -> None:
    files = load_many([ALL_STEPS])
    names = [s.name for s in render_program(files, abi="2020", arch="x64",
                                            target="zircon").scenarios]
    assert names == ["cg-write-then-query", "cg-ops", "cg-handles"]
    assert [s.index for s in render_program(files, abi="2020", arch="x64",
                                            target="zircon").scenarios] == [0, 1, 2]


@pytest.mark.parametrize("abi", ABI_PROFILES)
@pytest.mark.parametrize("arch", boards.available_arches())
def test_bundled_suite_renders(abi: str, arch: str) -> None:
    files = load_many([*bundled_suite_paths(), ALL_STEPS])
    program = render_program(files, abi=abi, arch=arch, target="zircon")
    expected = [s.name for f in files for s in f.scenarios if abi in s.abi]
    assert [s.name for s in program.scenarios] == expected
    assert len(step_blocks(program.c_source)) == sum(s.steps for s in program.scenarios)


def test_templates_have_no_arch_conditionals_and_no_raw_output() -> None:
    for path in resources.template_dir().glob("*.c.j2"):
        text = path.read_text()
        assert "#if" not in text and "#ifdef" not in text, path
        assert not re.search(r"\{%-?\s*if[^%]*\barch\b", text), path
        # Results only through the record API: no direct output calls.
        for raw in ("rig_output_write", "zx_debug_write", "zx_debuglog_write"):
            assert raw not in text, (path, raw)


def test_undefined_template_variable_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "program.c.j2").write_text("int x = {{ no_such_variable }};\n")
    with pytest.raises(InputError, match=r"program\.c\.j2:1: template error: "
                                         r"'no_such_variable' is undefined"):
        render_program(load_many([ALL_STEPS]), abi="2024", arch="x64", target="zircon",
                       template_dir=tmp_path)


def test_bad_arguments_name_the_choices() -> None:
    files = load_many([ALL_STEPS])
    with pytest.raises(InputError, match="unknown ABI profile '2019'; known profiles: "
                                         "2020, 2022, 2024"):
        render_program(files, abi="2019", arch="x64", target="zircon")
    with pytest.raises(InputError, match="unknown arch 'x86_64'; known arches: arm64, x64"):
        render_program(files, abi="2024", arch="x86_64", target="zircon")
    only_2024 = parse_scenarios("scenarios:\n  - name: a\n    abi: [2024]\n    vmo: {pages: 1}\n"
                                "    steps: [detach]\n", "only.yaml")
    with pytest.raises(InputError, match="no scenario of only.yaml applies to ABI profile "
                                         "'2022'"):
        render_program([only_2024], abi="2022", arch="x64", target="zircon")


def test_describe_step_writes_the_yaml_back() -> None:
    text = """\
scenarios:
  - name: d
    vmo: {pages: 4, resizable: true}
    steps:
      - op_fail: {offset_bytes: 4096, length_bytes: 100}
        data: ZX_ERR_INTERNAL
        expect: {status: ZX_ERR_INVALID_ARGS}
      - query: {offset_bytes: 10, length: 1, buffer: null, buffer_bytes: 30, avail: false,
                vmo: clone}
      - stats: {reset: true}
      - supply: [0, 1]
        pager: other_pager
      - resize: 6
      - query_all: {buffer_entries: 2}
        expect: {calls: 1, ranges: [[0, 1, 0]]}
      - writeback_begin_zero: [0, 1]
"""
    steps = parse_scenarios(text, "d.yaml").scenarios[0].steps
    assert [describe_step(s) for s in steps] == [
        ("op_fail: {offset_bytes: 4096, length_bytes: 100}", "data: ZX_ERR_INTERNAL",
         "expect: {status: ZX_ERR_INVALID_ARGS}"),
        ("query: {offset_bytes: 10, length: 1, buffer: null, buffer_bytes: 30, avail: false, "
         "vmo: clone}",),
        ("stats: {reset: true}",),
        ("supply: [0, 1]", "pager: other_pager"),
        ("resize: 6",),
        ("query_all: {buffer_entries: 2}", "expect: {calls: 1, ranges: [[0, 1, 0]]}"),
        ("writeback_begin_zero: [0, 1]",),
    ]


def _storage_and_buffer_sizes(c_source: str) -> tuple[int, list[int]]:
    """rig_qbuf's bytes and the buffer_size every query call (or query_all loop) tells the
    kernel when it passes rig_qbuf."""
    m = re.search(r"static zx_vmo_dirty_range_t rig_qbuf\[(\d+)\];", c_source)
    assert m is not None
    told = [int(n, 16) for n in re.findall(
        r"zx_pager_query_dirty_ranges\(\s*[^;]*?rig_qbuf, (0x[0-9a-f]+|0)", c_source)]
    told += [24 * int(k) for k in re.findall(r"rig_step_query_all\([^;]*?/\*k=\*/(\d+),",
                                             c_source)]
    return 24 * int(m.group(1)), told


def test_query_buffers_never_smaller_than_the_size_the_kernel_is_told() -> None:
    # A kernel writing one entry per byte-size it was told must stay inside rig_qbuf, however
    # large the buffer the step asks for (here beyond the old 4096-entry storage cap, on a VMO
    # that can have only a few ranges).
    text = """\
scenarios:
  - name: big-buffers
    vmo: {pages: 4}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {buffer_entries: 5000}
      - query: {buffer_bytes: 120001, actual: false}
      - query_all: {buffer_entries: 6000}
"""
    source = render_program([parse_scenarios(text, "big.yaml")], abi="2024", arch="x64",
                            target="zircon").c_source
    storage, told = _storage_and_buffer_sizes(source)
    assert told == [5000 * 24, 120001, 6000 * 24]
    assert storage >= max(told)
    # Entries counted after the call cover the whole buffer, not a capped part of it.
    assert "rig_poison(rig_qbuf, 0x1d4c1);" in source
    assert re.search(r"rig_step_query\(&fx, 3, st, NULL, &avail, rig_qbuf, 5000\);", source)
    assert re.search(r"rig_qbuf,\s+6000, rig_qall", source)


@pytest.mark.parametrize("abi", ABI_PROFILES)
def test_bundled_suite_query_buffers_have_their_storage(abi: str) -> None:
    program = render_program(load_many([*bundled_suite_paths(), ALL_STEPS]), abi=abi,
                             arch="arm64", target="zircon")
    storage, told = _storage_and_buffer_sizes(program.c_source)
    assert told and storage >= max(told)


def test_query_buffer_beyond_static_storage_is_refused() -> None:
    where = Location("huge.yaml", 7)
    step = Step(index=0, kind=StepKind.QUERY, location=where,
                query=QueryArgs(buffer_size=24 * (MAX_BUFFER_ENTRIES + 1)))
    file = ScenarioFile("huge.yaml", (Scenario("huge", VmoSpec(1), (step,), where),))
    with pytest.raises(ScenarioError, match=r"huge.yaml:7: step 0 \(query\): a query buffer of "
                                            r"1048577 entries"):
        render_program([file], abi="2024", arch="x64", target="zircon")


def test_slice_of_a_resizable_vmo_is_refused_at_render_time() -> None:
    # The kernel refuses slices of resizable VMOs (VmObjectPaged::CreateChildSlice), so the
    # fixture's setup would print `err what=make_slice` and the run would fail the kernel.
    text = """\
scenarios:
  - name: slice-resizable
    vmo: {pages: 2, resizable: true}
    steps:
      - query: {vmo: slice}
        expect: {status: ZX_ERR_INVALID_ARGS}
"""
    file = parse_scenarios(text, "slice.yaml")
    assert construction_problems(file) == [
        "slice.yaml:5: scenario 'slice-resizable': step 0 (query): 'vmo: slice' needs a slice "
        "of the scenario's VMO, but the kernel refuses slices of resizable VMOs "
        "(ZX_ERR_NOT_SUPPORTED), so setup would fail; test slices in a scenario with "
        "resizable: false"]
    with pytest.raises(ScenarioError, match="refuses slices of resizable VMOs"):
        render_program([file], abi="2024", arch="x64", target="zircon")
    # Not resizable: fine.
    fine = parse_scenarios(text.replace("resizable: true", "resizable: false"), "slice.yaml")
    assert construction_problems(fine) == []


def test_huge_read_is_refused_not_given_a_huge_static_buffer() -> None:
    text = """\
scenarios:
  - name: huge-read
    vmo: {pages: 4}
    steps:
      - read: [0, 1048576]
        expect: {status: ZX_ERR_OUT_OF_RANGE}
      - write: [3, 2]
        expect: {status: ZX_ERR_OUT_OF_RANGE}
"""
    file = parse_scenarios(text, "io.yaml")
    assert construction_problems(file) == [
        f"io.yaml:5: scenario 'huge-read': step 0 (read): {1 << 32} bytes is more than the "
        f"guest's static read/write buffer allows ({MAX_IO_BYTES} bytes); use a shorter range "
        "(an out-of-range test needs only one page past the end)"]
    with pytest.raises(ScenarioError, match="static read/write buffer"):
        render_program([file], abi="2024", arch="x64", target="zircon")


def test_zero_length_supplies_still_get_an_aux_vmo() -> None:
    # zx_pager_supply_pages looks the aux handle up before the length: without an aux VMO a
    # zero-length supply would get ZX_ERR_BAD_HANDLE instead of what the kernel does with it.
    text = """\
scenarios:
  - name: empty-supplies
    vmo: {pages: 2}
    steps:
      - supply: [1, 0]
      - supply_zero: [0, 0]
"""
    source = render_program([parse_scenarios(text, "z.yaml")], abi="2024", arch="x64",
                            target="zircon").c_source
    assert ".aux_size = 0x1000," in source and ".aux_zero_size = 0x1000," in source
    assert "zx_pager_supply_pages(fx.pager, fx.vmo, 0x1000, 0x0, fx.aux, 0x0);" in source
    assert "zx_pager_supply_pages(fx.pager, fx.vmo, 0x0, 0x0, fx.aux_zero, 0x0);" in source


def test_supply_past_the_vmo_takes_no_aux_slice() -> None:
    # zx_pager_supply_pages takes the pages from the aux VMO (TakePages) before the pager
    # VMO's SupplyPages checks its range: an out-of-range supply passes aux_offset = the aux
    # VMO's size, so the aux's own range check fails it, and other steps' slices stay whole.
    text = """\
scenarios:
  - name: oor-supply
    vmo: {pages: 2}
    steps:
      - supply: [0, 3]
      - supply: [0, 1]
      - supply: [0, 2251799813685248]
      - supply: [1, 1]
      - supply_zero: [5, 1]
"""
    file = parse_scenarios(text, "o.yaml")
    assert construction_problems(file) == []
    source = render_program([file], abi="2024", arch="x64", target="zircon").c_source
    assert ".aux_size = 0x2000," in source and ".aux_zero_size = 0x1000," in source
    calls = re.findall(r"zx_pager_supply_pages\(([^;]*)\);", source)
    assert calls == [
        "fx.pager, fx.vmo, 0x0, 0x3000, fx.aux, 0x2000",
        "fx.pager, fx.vmo, 0x0, 0x1000, fx.aux, 0x0",
        "fx.pager, fx.vmo, 0x0, 0x8000000000000000ull, fx.aux, 0x2000",
        "fx.pager, fx.vmo, 0x1000, 0x1000, fx.aux, 0x1000",
        "fx.pager, fx.vmo, 0x5000, 0x1000, fx.aux_zero, 0x1000",
    ]


def test_supplies_needing_a_huge_aux_vmo_are_refused_at_validation() -> None:
    text = """\
scenarios:
  - name: huge-aux
    vmo: {pages: 2251799813685248}
    steps:
      - supply: [0, 2251799813685248]
        expect: {status: ZX_ERR_OUT_OF_RANGE}
      - supply: [0, 2251799813685248]
        expect: {status: ZX_ERR_OUT_OF_RANGE}
"""
    file = parse_scenarios(text, "h.yaml")
    assert construction_problems(file) == [
        f"h.yaml:2: scenario 'huge-aux': its supply steps supply {1 << 64} bytes ({1 << 52} "
        f"pages) in all, more than the guest's aux VMO allows ({MAX_AUX_BYTES} bytes); supply "
        "fewer pages (a supply past the VMO's end needs no aux pages and is not counted)"]
    with pytest.raises(ScenarioError, match="aux VMO allows"):
        render_program([file], abi="2024", arch="x64", target="zircon")


@pytest.mark.parametrize(("steps", "absent"), [
    ("- supply: [0, 1]\n      - write: [0, 1]\n      - query: {}", ["rig_qall"]),
    ("- supply: [0, 1]\n      - query_all: {buffer_entries: 1}", ["rig_io"]),
    ("- supply: [0, 1]\n      - query: {buffer: null}", ["rig_io", "rig_qbuf", "rig_qall"]),
    ("- detach", ["rig_io", "rig_qbuf", "rig_qall"]),
])
def test_only_used_static_buffers_are_declared(steps: str, absent: list[str]) -> None:
    # clang -Werror rejects an unused static array (`unused variable 'rig_qall'`).
    text = f"scenarios:\n  - name: s\n    vmo: {{pages: 1}}\n    steps:\n      {steps}\n"
    source = render_program([parse_scenarios(text, "b.yaml")], abi="2024", arch="x64",
                            target="zircon").c_source
    for name in ("rig_io", "rig_qbuf", "rig_qall"):
        assert (name in source) is (name not in absent), name
