"""Host specs, hosts files and remote command quoting (rig.run.remote), without a network."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from rig.errors import InputError
from rig.run.remote import HostSpec, parse_host, parse_hosts_file, remote_command


def test_parse_host() -> None:
    assert parse_host("ci@build-3.example.org:2222") == HostSpec("build-3.example.org", "ci", 2222)
    assert parse_host("10.0.0.7") == HostSpec("10.0.0.7", None, 22)
    assert parse_host("root@[::1]:22") == HostSpec("::1", "root", 22)
    assert parse_host("local") is None
    assert str(HostSpec("h", "u", 2)) == "u@h:2"


@pytest.mark.parametrize("text", ["-oProxyCommand=touch x", "u@-h", "u@h:0", "u@h:70000",
                                  "u@h;id", "u h", "u@h:22 extra", "$(id)@h", ""])
def test_parse_host_refuses(text: str) -> None:
    with pytest.raises(InputError, match="wanted user@host"):
        parse_host(text)


def test_hosts_file(tmp_path: Path) -> None:
    f = tmp_path / "hosts"
    f.write_text("# the fleet\nlocal\nci@a:2201 identity=~/k tmp=/scratch  # fast\n\nb\n")
    hosts = parse_hosts_file(f)
    assert hosts == [None, HostSpec("a", "ci", 2201, Path("~/k").expanduser(), "/scratch"),
                     HostSpec("b")]
    for bad, why in [("a tmp=rel", "absolute"), ("a color=red", "identity=PATH"),
                     ("local tmp=/x", "identity=PATH"), ("a;b", "wanted user@host")]:
        f.write_text(bad + "\n")
        with pytest.raises(InputError, match=why):
            parse_hosts_file(f)


def test_remote_command_quotes_every_word() -> None:
    evil = ["qemu", "-initrd", "/t/x$(id)`id`;id'\"\\.zbi", "a b"]
    cmd = remote_command(evil, cwd="/t/d;id")
    assert cmd == "cd '/t/d;id' && " + shlex.join(evil)
    assert shlex.split(cmd.split(" && ", 1)[1]) == evil
