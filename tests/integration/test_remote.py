"""Remote hosts through a real OpenSSH server on 127.0.0.1 (tests/integration/sshd_support.py):
a real remote run of the sim, host-key checking, a server killed mid-run, hostile names."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from rig import api
from rig.errors import RemoteError, ScenarioError
from rig.fleet import run_on_hosts
from rig.judge.merge import outcomes_by_scenario
from rig.run.remote import HostSpec, RemoteHost, SshPolicy, parse_host
from rig.scenario.loader import bundled_suite_paths, load_scenarios
from tests.conftest import require_tool
from tests.integration.sshd_support import Sshd, running_sshd

pytestmark = [pytest.mark.remote, pytest.mark.qemu, pytest.mark.toolchain]

SUITE = tuple(bundled_suite_paths())


@pytest.fixture(autouse=True)
def _tools() -> None:
    require_tool("qemu-system-x86_64", "qemu-system-x86")
    require_tool("clang-19", "clang-19")


def _host(server: Sshd, tmp: Path, name: str = "remote-tmp") -> HostSpec:
    remote_tmp = tmp / name
    remote_tmp.mkdir(exist_ok=True)
    spec = parse_host(server.spec)
    assert spec is not None
    return HostSpec(spec.host, spec.user, spec.port, tmp_dir=str(remote_tmp))


def _policy(server: Sshd) -> SshPolicy:
    return SshPolicy(known_hosts=server.known_hosts, identity_files=(server.user_key,))


def _qemus_under(path: Path) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if b"qemu-system" in cmd and str(path).encode() in cmd:
            found.append(int(entry))
    return found


def test_remote_run_of_the_sim_equals_a_local_run(tmp_path: Path) -> None:
    with running_sshd(tmp_path / "sshd") as server:
        host = _host(server, tmp_path)
        req = api.RunRequest(scenario_paths=SUITE, arches=("x64",), out_dir=tmp_path / "remote",
                             target="sim")
        remote = run_on_hosts(req, [host], _policy(server))
        # No QEMU, no session left (sshd takes a moment to reap a closed session).
        deadline = time.monotonic() + 10
        while server.descendants() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.descendants() == []
    local = api.run(api.RunRequest(scenario_paths=SUITE, arches=("x64",),
                                   out_dir=tmp_path / "local", target="sim"))
    assert local.result["outcome"] == "PASS"
    assert outcomes_by_scenario(remote.result) == outcomes_by_scenario(local.result)
    assert remote.exit_status == 0
    assert [a["host"] for a in remote.result["attempts"]] == [str(host)]
    # The console came over the channel: the serial log is here; QEMU ran there.
    boot = Path(remote.result["arches"][0]["boots"][0]["dir"])
    assert "@RIG1" in (boot / "serial.log").read_text()
    ran = json.loads((boot / "remote.json").read_text())
    assert ran["host"] == str(host) and ran["dir"].startswith(str(tmp_path / "remote-tmp"))
    assert list((tmp_path / "remote-tmp").iterdir()) == []  # the remote directory is removed
    assert _qemus_under(tmp_path) == []


def test_unknown_host_key_is_refused(tmp_path: Path) -> None:
    with running_sshd(tmp_path / "sshd") as server:
        host = _host(server, tmp_path)
        empty = tmp_path / "known_hosts"
        unrelated = ("other.example.org ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIHcnlL0gaXVoJ2kN0HxwB3sd1DfmmtuaX8oP8Tq2QxUY\n")
        empty.write_text(unrelated)
        refused = SshPolicy(known_hosts=empty, identity_files=(server.user_key,))
        with pytest.raises(RemoteError, match="not found in known_hosts"):
            RemoteHost(host, refused).connect()
        assert empty.read_text() == unrelated
        # Trust on first use only when asked: the key is then recorded, and checked next time.
        tofu = SshPolicy(known_hosts=empty, identity_files=(server.user_key,),
                         trust_new_host_keys=True)
        RemoteHost(host, tofu).connect().close()
        recorded = empty.read_text()
        assert recorded.startswith(unrelated)  # appended: the user's other keys stay
        assert f"[127.0.0.1]:{server.port} ssh-ed25519 " in recorded
        RemoteHost(host, refused).connect().close()
        # A changed key is refused even with trust on first use.
        other = server.known_hosts.read_text().split()
        wrong = (tmp_path / "sshd" / "user_ed25519.pub").read_text().split()[1]
        empty.write_text(f"{other[0]} ssh-ed25519 {wrong}\n")
        with pytest.raises(RemoteError):
            RemoteHost(host, tofu).connect()


def test_server_killed_mid_run_gives_infra_and_the_scenarios_finish_elsewhere(
        tmp_path: Path) -> None:
    # The remote host's QEMU is slow to start (a wrapper first in its PATH), so the kill
    # lands while its part is running.
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    mark = tmp_path / "remote-qemu-started"
    real = require_tool("qemu-system-x86_64", "qemu-system-x86")
    wrapper = wrappers / "qemu-system-x86_64"
    wrapper.write_text(f"#!/bin/sh\ntouch '{mark}'\nsleep 5\nexec '{real}' \"$@\"\n")
    wrapper.chmod(0o755)
    with running_sshd(tmp_path / "sshd", path_prefix=wrappers) as server:
        host = _host(server, tmp_path)

        def kill_when_started() -> None:
            deadline = time.monotonic() + 120
            while not mark.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            server.kill()

        killer = threading.Thread(target=kill_when_started)
        killer.start()
        req = api.RunRequest(scenario_paths=SUITE, arches=("x64",), out_dir=tmp_path / "run",
                             target="sim")
        try:
            result = run_on_hosts(req, [host, None], _policy(server)).result
        finally:
            killer.join()
    assert mark.exists()
    attempts = result["attempts"]
    lost = [a for a in attempts if a["host"] == str(host)]
    assert len(lost) == 1 and lost[0]["outcome"] == "INFRA" and "connection lost" in lost[0]["lost"]
    # Every part finished on the local host; every scenario is decided as a local run decides.
    assert {a["host"] for a in attempts if a["lost"] is None} == {"local"}
    assert result["hosts"] == [{"host": str(host), "lost": True}, {"host": "local", "lost": False}]
    assert result["outcome"] == "PASS" and result["exit_status"] == 0
    whole = api.run(api.RunRequest(scenario_paths=SUITE, arches=("x64",),
                                   out_dir=tmp_path / "whole", target="sim"))
    assert outcomes_by_scenario(result) == outcomes_by_scenario(whole.result)
    lost_part = json.loads((Path(lost[0]["dir"]) / "result.json").read_text())
    assert {s["outcome"] for s in lost_part["arches"][0]["scenarios"]} == {"INFRA"}
    assert _qemus_under(tmp_path) == []


HOSTILE = "o; touch PWNED #$(touch PWNED2)`touch PWNED3`'\"\\"
# QEMU itself splits -initrd on spaces and -device options on commas, so the remote directory
# carries the same shell syntax without them (${IFS} is a space to a shell).
HOSTILE_DIR = "r;touch${IFS}PWNED;$(touch${IFS}PWNED2)`touch${IFS}PWNED3`'\"\\#"
SCENARIO = """\
scenarios:
  - name: {name}
    vmo: {{pages: 2}}
    steps:
      - supply: [0, 2]
      - write: [1, 1]
      - query: {{}}
        expect: {{status: ZX_OK, actual: 1, avail: 1, ranges: [[1, 1, 0]]}}
"""


def test_hostile_paths_and_names_cannot_inject_a_remote_command(tmp_path: Path) -> None:
    scenarios = tmp_path / f"s{HOSTILE}"
    scenarios.mkdir()
    # A hostile scenario name never gets as far as a build: names are [a-z0-9-] (the contract).
    bad_name = scenarios / "bad.yaml"
    bad_name.write_text(SCENARIO.format(name='"q$(touch PWNED4);`touch PWNED5`"'))
    with pytest.raises(ScenarioError, match="must match"):
        load_scenarios(bad_name)
    # Hostile paths do: the scenario file, its directory, the run directory and the remote
    # directory (part of every remote path and command) are full of shell syntax.
    hostile_file = scenarios / f"x{HOSTILE}.yaml"
    hostile_file.write_text(SCENARIO.format(name="one-dirty-page"))
    with running_sshd(tmp_path / "sshd") as server:
        host = _host(server, tmp_path, HOSTILE_DIR)
        req = api.RunRequest(scenario_paths=(hostile_file,), arches=("x64",),
                             out_dir=tmp_path / f"out{HOSTILE}", target="sim")
        result = run_on_hosts(req, [host], _policy(server)).result
    assert result["outcome"] == "PASS", result
    ran = json.loads((Path(result["arches"][0]["boots"][0]["dir"]) / "remote.json").read_text())
    assert HOSTILE_DIR in ran["dir"]  # the remote path really held it
    # A shell that saw any of it would have made PWNED* in its working directory: the remote
    # user's home, the remote directory under tmp_path, or /tmp.
    home = Path(os.path.expanduser("~"))
    planted = [*home.glob("PWNED*"), *Path("/tmp").glob("PWNED*"), *tmp_path.rglob("PWNED*")]
    assert planted == []


def test_rig_run_host_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rig.cli.main import main

    with running_sshd(tmp_path / "sshd") as server:
        hosts = tmp_path / "hosts.txt"
        (tmp_path / "remote-tmp").mkdir()
        hosts.write_text(f"# fleet\nlocal\n{server.spec} identity={server.user_key} "
                         f"tmp={tmp_path / 'remote-tmp'}\n")
        common = ["run", str(SUITE[0]), str(SUITE[1]), "--target", "sim", "--arch", "x64",
                  "--quiet"]
        assert main([*common, "--hosts-file", str(hosts), "--known-hosts",
                     str(server.known_hosts), "--out", str(tmp_path / "ok")]) == 0
        result = json.loads((tmp_path / "ok" / "result.json").read_text())
        assert sorted(a["host"] for a in result["attempts"]) == sorted(["local", server.spec])
        capsys.readouterr()
        # Only an unknown host: refused, nothing ran, exit 3 with the reason.
        unknown = tmp_path / "empty_known_hosts"
        unknown.write_text("")
        assert main([*common, "--host", server.spec, "--identity", str(server.user_key),
                     "--known-hosts", str(unknown), "--out", str(tmp_path / "refused")]) == 3
        err = capsys.readouterr()
        assert "not found in known_hosts" in err.out + err.err
        assert "--trust-new-host-keys" in err.out + err.err


@pytest.mark.parametrize("fault", ["hang", "panic"])
def test_a_remote_hang_or_panic_is_judged_as_a_local_one(tmp_path: Path, fault: str) -> None:
    """A hang on a remote host: the registers come over QMP through the forwarded channel,
    QEMU is quit and reaped there, the scenario reruns alone; a panic is a CRASH. The same
    outcomes, scenario by scenario, as the same run on this machine."""
    suite = (next(p for p in SUITE if p.name.startswith("10-")),)
    word = f"rig.sim.fault={fault}@3.1"
    with running_sshd(tmp_path / "sshd") as server:
        host = _host(server, tmp_path)
        req = api.RunRequest(scenario_paths=suite, arches=("x64",), target="sim",
                             out_dir=tmp_path / "remote", cmdline_extra=(word,),
                             timeout_scale=0.25)
        remote = run_on_hosts(req, [host], _policy(server)).result
        deadline = time.monotonic() + 10
        while server.descendants() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.descendants() == []
    local = api.run(replace(req, out_dir=tmp_path / "local")).result
    assert outcomes_by_scenario(remote) == outcomes_by_scenario(local)
    got = remote["arches"][0]["scenarios"][3]
    assert got["outcome"] == {"hang": "HANG", "panic": "CRASH"}[fault]
    boots = remote["arches"][0]["boots"]
    assert [b["start"] for b in boots][:3] == [0, 3, 4]
    if fault == "hang":
        registers = (Path(boots[0]["dir"]) / "registers.txt").read_text()
        assert "RIP=" in registers, registers[:300]
    assert _qemus_under(tmp_path) == []
