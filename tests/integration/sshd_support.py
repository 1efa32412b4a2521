"""A real OpenSSH server on 127.0.0.1 for the remote tests: generated host and user keys in a
temporary directory, its own config, killed (with every session it forked) at the end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require_tool, skip_or_fail

SSHD = "/usr/sbin/sshd"


@dataclass
class Sshd:
    port: int
    dir: Path
    user: str
    user_key: Path  # private key that may log in
    known_hosts: Path  # the server's host key, as a client records it
    proc: subprocess.Popen[bytes]

    @property
    def spec(self) -> str:
        return f"{self.user}@127.0.0.1:{self.port}"

    def descendants(self) -> list[int]:
        """Every live process forked by this sshd (its sessions and what they run)."""
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            for child in children.get(pid, []):
                out.append(child)
                todo.append(child)
        return out

    def kill(self) -> None:
        """Kill the server and every session it forked: the connection drops."""
        for pid in [self.proc.pid, *self.descendants()]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL, timeout=30)


@contextmanager
def running_sshd(tmp: Path, *, path_prefix: Path | None = None) -> Iterator[Sshd]:
    """Start sshd -D on 127.0.0.1 (as root: root logs in with a key only)."""
    if not os.path.exists(SSHD):
        skip_or_fail(f"missing tool: {SSHD} (apt-get install openssh-server)")
    require_tool("ssh-keygen", "openssh-client")
    if os.geteuid() != 0:
        skip_or_fail("the remote tests start sshd as root (they run as root in CI)")
    tmp.mkdir(parents=True, exist_ok=True)
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host_key, user_key = tmp / "host_ed25519", tmp / "user_ed25519"
    _keygen(host_key)
    _keygen(user_key)
    (tmp / "authorized_keys").write_text((tmp / "user_ed25519.pub").read_text())
    port = _free_port()
    env_path = f"{path_prefix}:" if path_prefix else ""
    config = tmp / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress 127.0.0.1", f"HostKey {host_key}", f"PidFile {tmp / 'sshd.pid'}",
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}", "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
        "StrictModes no", "PubkeyAuthentication yes", "LogLevel VERBOSE",
        f"SetEnv PATH={env_path}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "MaxSessions 50", "MaxStartups 50", "Subsystem sftp internal-sftp", ""]))
    host_pub = (tmp / "host_ed25519.pub").read_text().split()
    known = tmp / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    proc = subprocess.Popen([SSHD, "-D", "-f", str(config), "-p", str(port), "-E",
                             str(tmp / "sshd.log")], stdin=subprocess.DEVNULL,
                            start_new_session=True)
    server = Sshd(port, tmp, "root", user_key, known, proc)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "sshd.log").read_text() if (tmp / "sshd.log").exists() else ""
                    raise RuntimeError(f"sshd did not start: {log}") from None
                time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            server.kill()
