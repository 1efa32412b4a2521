"""The report JSON (`rig.report/1`): the run's verdicts with full provenance; pure render.

Per arch: rig version, tool versions and image hashes (from the build's manifest.json), the
exact QEMU argv and kernel command line of every boot, profile and why, board, accelerator,
target, kernel version and build ID, and `simulated`. REPORT_SCHEMA is the JSON schema the
document follows (draft 2020-12); the tests validate against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rig.reports.collect import RunInfo

REPORT_SCHEMA_ID = "rig.report/1"

_STR_OR_NULL = {"type": ["string", "null"]}
_STEP = {
    "type": "object",
    "required": ["index", "op", "outcome", "where", "reason", "diffs"],
    "properties": {
        "index": {"type": "integer", "minimum": 0}, "op": {"type": "string"},
        "outcome": {"$ref": "#/$defs/outcome"}, "where": {"type": "string"},
        "reason": {"type": "string"},
        "diffs": {"type": "array", "items": {
            "type": "object", "required": ["field", "expected", "actual"],
            "properties": {"field": {"type": "string"}, "expected": {"type": "string"},
                           "actual": {"type": "string"}}}},
    },
}
REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://rig.invalid/schemas/rig.report-1.json",
    "title": "rig report (rig.report/1)",
    "type": "object",
    "required": ["schema", "rig_version", "outcome", "exit_status", "interrupted", "source",
                 "arches"],
    "$defs": {
        "outcome": {"enum": ["PASS", "FAIL", "SKIP", "CRASH", "HANG", "INCOMPLETE", "INFRA"]},
    },
    "properties": {
        "schema": {"const": REPORT_SCHEMA_ID},
        "rig_version": {"type": "string"},
        "outcome": {"$ref": "#/$defs/outcome"},
        "exit_status": {"enum": [0, 1, 2, 3]},
        "interrupted": {"type": "boolean"},
        "wall_s": {"type": ["number", "null"]},
        "source": {"type": "string"},
        "arches": {"type": "array", "items": {
            "type": "object",
            "required": ["arch", "target", "simulated", "board", "abi", "abi_reason", "accel",
                         "kernel", "tools", "images", "cmdline", "boots", "outcome", "counts",
                         "scenarios"],
            "properties": {
                "arch": {"type": "string"}, "target": {"type": "string"},
                "simulated": {"type": "boolean"}, "board": _STR_OR_NULL,
                "abi": {"type": "string"}, "abi_reason": {"type": "string"},
                "build_abi_reason": _STR_OR_NULL,
                "accel": {"type": "string"}, "boot_mode": _STR_OR_NULL,
                "kernel_era": {"type": ["object", "null"]},
                "kernel": {"type": "object", "required": ["version", "build_id"],
                           "properties": {"version": _STR_OR_NULL, "build_id": _STR_OR_NULL}},
                "tools": {"type": "object", "additionalProperties": {"type": "string"}},
                "images": {"type": "object", "additionalProperties": {
                    "type": "string", "pattern": "^[0-9a-f]{64}$"}},
                "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
                "program_id": _STR_OR_NULL, "cmdline": {"type": "string"},
                "outcome": {"$ref": "#/$defs/outcome"},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "boots": {"type": "array", "items": {
                    "type": "object",
                    "required": ["index", "start", "argv", "cmdline", "end", "crash",
                                 "serial_log"],
                    "properties": {
                        "index": {"type": "integer"}, "start": {"type": "integer"},
                        "argv": {"type": "array", "items": {"type": "string"}},
                        "cmdline": {"type": "string"}, "end": {"type": "string"},
                        "crash": _STR_OR_NULL, "serial_log": {"type": "string"},
                        "exit_status": {"type": ["integer", "null"]},
                        "elapsed_s": {"type": ["number", "null"]}}}},
                "scenarios": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "file", "outcome", "steps"],
                    "properties": {
                        "index": {"type": "integer"}, "name": {"type": "string"},
                        "file": {"type": "string"}, "outcome": {"$ref": "#/$defs/outcome"},
                        "reason": {"type": "string"}, "bundle": _STR_OR_NULL,
                        "steps": {"type": "array", "items": _STEP}}}},
            },
        }},
    },
}


def render_report_json(run: RunInfo) -> dict[str, Any]:
    """The `rig.report/1` document of ``run`` (JSON-ready data)."""
    r = run.result
    arches = []
    for info in run.arches:
        a, m = info.data, info.manifest
        outputs = m.get("outputs") or {}
        scenarios = []
        for s in a.get("scenarios", []):
            bundle = run.bundles.get((info.arch, int(s.get("index", -1))))
            scenarios.append({**s, "bundle": str(bundle) if bundle else None})
        arches.append({
            "arch": info.arch, "target": a.get("target"), "simulated": bool(a.get("simulated")),
            "board": m.get("board"), "abi": a.get("abi"), "abi_reason": a.get("abi_reason"),
            "build_abi_reason": m.get("abi_reason"), "accel": a.get("accel"),
            "boot_mode": m.get("boot_mode"), "kernel_era": m.get("kernel_era"),
            "kernel": {"version": (a.get("kernel") or {}).get("version"),
                       "build_id": (a.get("kernel") or {}).get("build_id")},
            "tools": {str(k): str(v) for k, v in (m.get("tools") or {}).items()},
            # Every file the build wrote, by hash: image.zbi, program.elf, the sim kernel, ...
            "images": {str(k): str(v) for k, v in outputs.items()},
            "inputs": {str(k): str(v) for k, v in (m.get("inputs") or {}).items()},
            "program_id": m.get("program_id"), "cmdline": str(m.get("cmdline") or ""),
            "build": a.get("build"), "qemu_s": a.get("qemu_s"),
            "outcome": a.get("outcome"), "counts": a.get("counts") or {},
            "boots": [{"index": b.index, "start": b.start, "argv": list(b.argv),
                       "cmdline": b.cmdline, "end": b.end, "crash": b.crash,
                       "serial_log": str(b.dir / "serial.log"),
                       "exit_status": next((x.get("exit_status") for x in a.get("boots", [])
                                            if x.get("index") == b.index), None),
                       "elapsed_s": next((x.get("elapsed_s") for x in a.get("boots", [])
                                          if x.get("index") == b.index), None)}
                      for b in info.boots],
            "scenarios": scenarios,
        })
    return {"schema": REPORT_SCHEMA_ID, "rig_version": r.get("rig_version"),
            "outcome": r.get("outcome"), "exit_status": r.get("exit_status"),
            "interrupted": bool(r.get("interrupted")), "wall_s": r.get("wall_s"),
            "source": str(run.path), "arches": arches}


def write_report_json(run: RunInfo, path: Path) -> None:
    """Write :func:`render_report_json` to ``path``."""
    path.write_text(json.dumps(render_report_json(run), indent=1) + "\n", encoding="utf-8")
