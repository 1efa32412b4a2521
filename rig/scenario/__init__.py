"""Scenario files: the YAML contract (../shared/specs/scenario-format.md) as frozen dataclasses.

`loader` parses and validates files; the bundled suite lives in `suite/`.
"""

from rig.scenario.loader import (
    ABI_PROFILES,
    Expect,
    Handle,
    QueryArgs,
    Scenario,
    ScenarioFile,
    Step,
    StepKind,
    VmoSpec,
    bundled_suite_paths,
    load_many,
    load_scenarios,
    parse_scenarios,
)

__all__ = ["ABI_PROFILES", "Expect", "Handle", "QueryArgs", "Scenario", "ScenarioFile", "Step",
           "StepKind", "VmoSpec", "bundled_suite_paths", "load_many", "load_scenarios",
           "parse_scenarios"]
