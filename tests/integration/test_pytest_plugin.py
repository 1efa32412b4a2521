"""The pytest plugin (rig.pytest_plugin) under pytester: scenario YAML files as items, run in a
real pytest subprocess that builds with real clang and boots the sim under real QEMU."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.conftest import require_tool

pytest_plugins = ["pytester"]

pytestmark = [pytest.mark.qemu, pytest.mark.toolchain]

DEMO = """\
scenarios:
  - name: one-dirty-page
    vmo: {pages: 4}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {}
        expect: {status: ZX_OK, actual: 1, avail: 1, ranges: [[1, 1, 0]]}
  - name: wrong-expectation
    vmo: {pages: 4}
    steps:
      - supply: [0, 4]
      - write: [1, 1]
      - query: {}
        expect: {status: ZX_OK, actual: 2, avail: 2, ranges: [[1, 2, 0]]}
  - name: legacy-only
    abi: ["2020"]
    vmo: {pages: 2}
    steps:
      - supply: [0, 2]
"""

PASSING = """\
scenarios:
  - name: clean-after-supply
    vmo: {pages: 2}
    steps:
      - supply: [0, 2]
      - query: {}
        expect: {status: ZX_OK, actual: 0, avail: 0, ranges: []}
"""


@pytest.fixture(scope="module")
def _cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("rig-cache"))


@pytest.fixture(autouse=True)
def _tools(_cache: str, monkeypatch: pytest.MonkeyPatch) -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")
    # pytester moves HOME: one build cache for this module's runs (cold once, then warm;
    # the xdist test's workers share it, as fleets on one machine do).
    monkeypatch.setenv("RIG_CACHE_DIR", _cache)


def _outcomes(result: pytest.RunResult) -> dict[str, int]:
    return {k: v for k, v in result.parseoutcomes().items() if k != "seconds"}


def test_inert_without_rig_options(pytester: pytest.Pytester) -> None:
    """Scenario YAML in a test tree is not collected unless asked (the project's own run)."""
    pytester.makefile(".yaml", demo=DEMO)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["test_plain.py::test_plain", "1 test collected*"])
    result.stdout.no_fnmatch_line("*demo.yaml*")


def test_items_report_outcomes_and_junit(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=DEMO)
    result = pytester.runpytest_subprocess("demo.yaml", "--rig-target", "sim", "-v",
                                           "--junitxml=junit.xml", "-p", "no:cacheprovider")
    assert _outcomes(result) == {"passed": 1, "failed": 1, "skipped": 1}
    result.stdout.fnmatch_lines([
        "demo.yaml::one-dirty-page?x64? PASSED*",
        "demo.yaml::wrong-expectation?x64? FAILED*",
        "demo.yaml::legacy-only?x64? SKIPPED*",
        "FAIL SIMULATED wrong-expectation on x64 (*demo.yaml:9): step 2 failed",
        "*actual: expected 2, got 1",
    ])
    root = ET.parse(pytester.path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert sorted(cases) == ["legacy-only[x64]", "one-dirty-page[x64]", "wrong-expectation[x64]"]
    failure = cases["wrong-expectation[x64]"].find("failure")
    assert failure is not None and "ranges: expected" in (failure.text or "")
    props = {p.get("name"): p.get("value")
             for p in cases["one-dirty-page[x64]"].iter("property")}
    assert props["rig.outcome"] == "PASS" and props["rig.simulated"] == "true"
    assert props["rig.arch"] == "x64" and props["rig.target"] == "sim"
    assert cases["legacy-only[x64]"].find("skipped") is not None


def test_k_and_x(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=DEMO)
    picked = pytester.runpytest_subprocess("demo.yaml", "--rig-target", "sim",
                                           "-k", "one-dirty-page", "-p", "no:cacheprovider")
    assert _outcomes(picked) == {"passed": 1, "deselected": 2}
    stopped = pytester.runpytest_subprocess("demo.yaml", "--rig-target", "sim", "-x",
                                            "-p", "no:cacheprovider")
    assert _outcomes(stopped) == {"passed": 1, "failed": 1}  # legacy-only never ran


def test_abi_option_and_bad_input(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=DEMO)
    legacy = pytester.runpytest_subprocess("demo.yaml", "--rig-target", "sim", "--rig-abi",
                                           "2020", "-k", "legacy", "-p", "no:cacheprovider")
    assert _outcomes(legacy) == {"passed": 1, "deselected": 2}
    bad = pytester.runpytest_subprocess("demo.yaml", "--rig-abi", "1999",
                                        "-p", "no:cacheprovider")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--rig-abi*invalid choice*"])


def test_two_arches_under_xdist(pytester: pytest.Pytester) -> None:
    require_tool("qemu-system-aarch64", "qemu-system-arm")
    pytester.makefile(".yaml", demo=DEMO, ok=PASSING)
    result = pytester.runpytest_subprocess(
        ".", "--rig-arch", "x64,arm64", "--rig-target", "sim", "-n", "2", "--dist", "loadfile",
        "-p", "no:cacheprovider", "-v")
    assert _outcomes(result) == {"passed": 4, "failed": 2, "skipped": 2}
    result.stdout.fnmatch_lines(["*ok.yaml::clean-after-supply?arm64? *"])


def test_fixtures_give_a_booted_guests_results(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", demo=DEMO)
    pytester.makepyfile(test_guest="""
        def test_results(rig_run, rig_arch, rig_options):
            assert rig_options.target == "sim"
            run = rig_run("demo.yaml", arch=rig_arch)
            assert run is rig_run(["demo.yaml"], arch=rig_arch)  # booted once
            assert run.simulated and run.outcome == "FAIL"
            assert {n: s["outcome"] for n, s in run.scenarios.items()} == {
                "one-dirty-page": "PASS", "wrong-expectation": "FAIL"}
            step = run.scenario("wrong-expectation")["steps"][2]
            assert [d["field"] for d in step["diffs"]] == ["actual", "avail", "ranges"]
            assert "@RIG1" in run.serial_log()
            assert (run.build_dir / "manifest.json").is_file()
    """)
    result = pytester.runpytest_subprocess("test_guest.py", "--rig-target", "sim",
                                           "-p", "no:cacheprovider", "-v")
    assert _outcomes(result) == {"passed": 1}
    result.stdout.fnmatch_lines(["*test_results?x64? PASSED*"])
