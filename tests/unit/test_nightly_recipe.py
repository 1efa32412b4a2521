"""The nightly recipe (ci/nightly.yml) stays runnable: every rig command in it parses with
rig's own argument parser, the shards it runs are the ones it merges, and it publishes JUnit,
JSON, HTML, bundles and durations."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from rig.cli.main import build_parser

RECIPE = Path(__file__).resolve().parents[2] / "ci" / "nightly.yml"


def _steps() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RECIPE.read_text())
    return [s for job in doc["jobs"].values() for s in job["steps"]]


def _rig_commands() -> list[list[str]]:
    cmds = []
    for step in _steps():
        for line in str(step.get("run", "")).splitlines():
            if ".venv/bin/rig " not in line:
                continue
            text = line.split(".venv/bin/rig ", 1)[1].split(" || ")[0]
            text = re.sub(r"\$\{\{ *matrix\.shard *\}\}", "2", text)
            words = [w for w in shlex.split(text) if w != "${kernel[@]}"]
            cmds.append(words)
    return cmds


def test_every_rig_command_parses() -> None:
    cmds = _rig_commands()
    assert [c[0] for c in cmds] == ["run", "merge", "report"]
    parser = build_parser()
    for words in cmds:
        args = parser.parse_args(words)
        assert args.command == words[0]
    run = parser.parse_args(cmds[0])
    assert run.arch == ("x64", "arm64") and str(run.shard) == "2/3"
    assert run.hosts_file == Path("ci/hosts.txt") and run.known_hosts == Path("ci/known_hosts")
    assert not run.trust_new_host_keys  # CI never trusts an unknown host key


def test_it_merges_every_shard_and_publishes_everything() -> None:
    doc = yaml.safe_load(RECIPE.read_text())
    shards = doc["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    merge = _rig_commands()[1]
    assert merge[1:-2] == [f"shards/rig-shard-{i}" for i in shards]
    report = _rig_commands()[2]
    assert {"--junit", "--html", "--json"} <= set(report)
    published = "\n".join(str(s.get("with", {}).get("path", "")) for s in _steps())
    for name in ("junit.xml", "report.json", "report.html", "result.json", "bundles",
                 "durations.json"):
        assert name in published, name
    assert all("password" not in str(s).lower() for s in _steps())
