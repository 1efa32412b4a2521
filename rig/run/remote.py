"""Remote hosts over SSH (paramiko): QEMU started on another machine, its console streamed back
through the same Console as a local guest's.

- Host keys are checked against known_hosts (the user's and the system's, or the file given);
  an unknown key is refused unless trust on first use is asked for explicitly, and then the
  key is recorded. Keys come from the SSH agent or identity files; there is no password path.
- Every remote command is an argv joined with shlex.quote: a scenario name or path never
  reaches a shell unquoted. Files travel over SFTP, never through a command line.
- Each host gets one private temporary directory (mktemp -d), removed on close.
- QEMU runs with the build's own argv (paths moved under the remote directory), `-serial stdio`
  on the SSH channel (its stdin types into the guest), QMP on TCP on the remote loopback,
  reached through a forwarded direct-tcpip channel (paramiko forwards no UNIX sockets). It
  runs under `timeout -s KILL`, which also makes it a process group of its own: `close()` kills
  that group over a fresh channel, and the remote deadline ends a guest whose connection died.
- A dropped connection marks the guest `connection_lost`: the runner calls that boot INFRA and
  the fleet scheduler reruns its scenarios on another host.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import paramiko

from rig.errors import InputError, RemoteError
from rig.run.qemu import QemuError

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
COMMAND_TIMEOUT_S = 60.0
QUIT_TIMEOUT_S = 3.0
KEEPALIVE_S = 2
# The remote backstop: a guest whose connection died is killed by `timeout` after this long
# (the runner's own deadlines end every guest it can still reach much sooner).
REMOTE_KILL_AFTER_S = 1800
LOCAL = "local"
SYSTEM_KNOWN_HOSTS = "/etc/ssh/ssh_known_hosts"
_HOST = re.compile(r"^(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?"
                   r"(?P<host>[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class HostSpec:
    """Where to run guests: ``user@host[:port]``; ``identity`` and ``tmp_dir`` from a hosts
    file."""

    host: str
    user: str | None = None
    port: int = 22
    identity: Path | None = None
    tmp_dir: str = "/tmp"

    def __str__(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"


def parse_host(text: str) -> HostSpec | None:
    """``user@host[:port]``, or ``local`` (None: this machine).

    :raises InputError: anything else (a host name never starts with '-' nor holds spaces).
    """
    text = text.strip()
    if text == LOCAL:
        return None
    m = _HOST.match(text)
    if not m or m.group("host").startswith("-") or not 0 < int(m.group("port") or 22) < 65536:
        raise InputError(f"--host {text!r}: wanted user@host[:port] or {LOCAL}")
    return HostSpec(m.group("host").strip("[]"), m.group("user"), int(m.group("port") or 22))


def parse_hosts_file(path: Path) -> list[HostSpec | None]:
    """One host per line: ``user@host[:port] [identity=PATH] [tmp=DIR]`` or ``local``; ``#``
    starts a comment.

    :raises InputError: unreadable, or a line that is not a host.
    """
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(f"--hosts-file {path}: {exc}") from exc
    hosts: list[HostSpec | None] = []
    for n, raw in enumerate(text.splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        try:
            spec = parse_host(words[0])
        except InputError as exc:
            raise InputError(f"{path}:{n}: {exc}") from exc
        extra: dict[str, Any] = {}
        for word in words[1:]:
            key, sep, value = word.partition("=")
            if not sep or key not in ("identity", "tmp") or spec is None:
                raise InputError(f"{path}:{n}: {word!r}: wanted identity=PATH or tmp=DIR after "
                                 "a remote host")
            if key == "identity":
                extra["identity"] = Path(value).expanduser()
            elif not value.startswith("/"):
                raise InputError(f"{path}:{n}: tmp={value}: wanted an absolute directory")
            else:
                extra["tmp_dir"] = value
        hosts.append(HostSpec(spec.host, spec.user, spec.port, **extra) if spec else None)
    return hosts


@dataclass(frozen=True)
class SshPolicy:
    """How to trust and authenticate: known_hosts checked, TOFU only when asked."""

    known_hosts: Path | None = None  # default: ~/.ssh/known_hosts and the system's
    trust_new_host_keys: bool = False
    identity_files: tuple[Path, ...] = ()
    connect_timeout_s: float = CONNECT_TIMEOUT_S


class _RecordNewKey(paramiko.MissingHostKeyPolicy):
    """Trust on first use, only when asked: accept an unknown key and record it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        LOG.warning("trusting new host key of %s (%s %s) on first use; recorded in %s",
                    hostname, key.get_name(), key.fingerprint, self.path)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Append one line: SSHClient.save_host_keys would rewrite the file with only the keys
        # it loaded itself, dropping the user's others.
        line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line() or ""
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line.rstrip("\n") + "\n")


def remote_command(argv: Sequence[str], *, cwd: str | None = None) -> str:
    """A shell command line that runs exactly ``argv`` (each word quoted)."""
    cmd = shlex.join(argv)
    return f"cd {shlex.quote(cwd)} && {cmd}" if cwd else cmd


class RemoteHost:
    """One SSH connection: quoted commands, SFTP, a private remote directory."""

    def __init__(self, spec: HostSpec, policy: SshPolicy) -> None:
        self.spec = spec
        self.policy = policy
        self.client: paramiko.SSHClient | None = None
        self.tmp: str | None = None
        self._synced: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._sftp: paramiko.SFTPClient | None = None
        self._sftp_lock = threading.Lock()
        self._port = 20000 + secrets.randbelow(30000)

    def __str__(self) -> str:
        return str(self.spec)

    def connect(self) -> RemoteHost:
        """Connect, check the host key, authenticate, make the remote directory.

        :raises RemoteError: unknown or changed host key, no accepted key, unreachable.
        """
        client = paramiko.SSHClient()
        known = self.policy.known_hosts or Path("~/.ssh/known_hosts").expanduser()
        if self.policy.known_hosts is None:
            client.load_system_host_keys()  # ~/.ssh/known_hosts
            if Path(SYSTEM_KNOWN_HOSTS).is_file():
                client.load_system_host_keys(SYSTEM_KNOWN_HOSTS)
        elif known.is_file():
            client.load_host_keys(str(known))
        client.set_missing_host_key_policy(
            _RecordNewKey(known) if self.policy.trust_new_host_keys
            else paramiko.RejectPolicy())
        keys: Any = [str(p) for p in ((self.spec.identity,) if self.spec.identity else ())
                + self.policy.identity_files]
        try:
            client.connect(self.spec.host, port=self.spec.port, username=self.spec.user,
                           key_filename=keys or None, allow_agent=True, look_for_keys=not keys,
                           timeout=self.policy.connect_timeout_s,
                           banner_timeout=self.policy.connect_timeout_s,
                           auth_timeout=self.policy.connect_timeout_s)
        except paramiko.SSHException as exc:
            client.close()
            hint = (f"; check the key (ssh-keyscan -p {self.spec.port} {self.spec.host}) and "
                    f"add it to {known}, or pass --trust-new-host-keys to record it on first use"
                    if "not found in known_hosts" in str(exc) else "")
            raise RemoteError(f"{self.spec}: {exc}{hint}") from exc
        except OSError as exc:
            client.close()
            raise RemoteError(f"{self.spec}: cannot connect: {exc}") from exc
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(KEEPALIVE_S)
        self.client = client
        status, out, err = self.run(["mktemp", "-d", f"{self.spec.tmp_dir}/rig-remote.XXXXXXXX"])
        tmp = out.strip()
        if status != 0 or not tmp.startswith("/") or "\n" in tmp:
            self.close()
            raise RemoteError(f"{self.spec}: mktemp -d failed ({status}): {err.strip()}")
        self.tmp = tmp
        return self

    @property
    def transport(self) -> paramiko.Transport:
        transport = self.client.get_transport() if self.client else None
        if transport is None or not transport.is_active():
            raise RemoteError(f"{self.spec}: the SSH connection is closed")
        return transport

    def alive(self) -> bool:
        try:
            return self.run(["true"], timeout_s=5.0)[0] == 0
        except RemoteError:
            return False

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            timeout_s: float = COMMAND_TIMEOUT_S) -> tuple[int, str, str]:
        """Run ``argv`` remotely: (exit status, stdout, stderr).

        :raises RemoteError: the connection failed or the command outlived ``timeout_s``.
        """
        try:
            chan = self.transport.open_session(timeout=timeout_s)
            chan.settimeout(timeout_s)
            chan.exec_command(remote_command(argv, cwd=cwd))
            chan.shutdown_write()
            out, err = chan.makefile("rb").read(), chan.makefile_stderr("rb").read()
            status = chan.recv_exit_status()
            chan.close()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteError(f"{self.spec}: {shlex.join(argv)}: {exc}") from exc
        return status, out.decode(errors="replace"), err.decode(errors="replace")

    def remote_path(self, local: Path, local_root: Path) -> str:
        assert self.tmp is not None
        rel = local.resolve().relative_to(local_root)
        return str(PurePosixPath(self.tmp) / local_root.name / rel)

    def _sftp_client(self) -> paramiko.SFTPClient:
        # One SFTP session per connection: each new session costs a round of channel setup.
        if self._sftp is None:
            if self.client is None:
                raise RemoteError(f"{self.spec}: not connected")
            self._sftp = self.client.open_sftp()
        return self._sftp

    def upload(self, files: Sequence[Path], local_root: Path, *,
               dirs: Sequence[Path] = ()) -> None:
        """Copy ``files`` (under ``local_root``) to the same places under the remote directory,
        and make the remote counterparts of ``dirs``.

        :raises RemoteError: SFTP failed.
        """
        try:
            with self._sftp_lock:
                sftp = self._sftp_client()
                made: set[str] = set()
                for d in dirs:
                    self._makedirs(sftp, self.remote_path(d, local_root))
                for f in files:
                    dest = self.remote_path(f, local_root)
                    parent = str(PurePosixPath(dest).parent)
                    if parent not in made:
                        self._makedirs(sftp, parent)
                        made.add(parent)
                    sftp.put(str(f), dest)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteError(f"{self.spec}: upload failed: {exc}") from exc

    def _makedirs(self, sftp: paramiko.SFTPClient, path: str) -> None:
        assert self.tmp is not None
        parts = PurePosixPath(path).relative_to(self.tmp).parts
        cur = PurePosixPath(self.tmp)
        for part in parts:
            cur = cur / part
            try:
                sftp.stat(str(cur))
            except OSError:
                sftp.mkdir(str(cur), 0o700)

    def sync_dir(self, local_dir: Path, local_root: Path) -> None:
        """Upload a whole directory (the build) once per connection."""
        key = (str(local_dir.resolve()), str(local_root))
        with self._lock:
            if key in self._synced:
                return
            self.upload(sorted(p for p in local_dir.rglob("*") if p.is_file()), local_root)
            self._synced.add(key)

    def next_port(self) -> int:
        with self._lock:
            self._port = 20000 + (self._port - 20000 + 1) % 30000
            return self._port

    def close(self) -> None:
        """Remove the remote directory and disconnect (best effort on a dead connection)."""
        if self.client is not None and self.tmp is not None:
            try:
                self.run(["rm", "-rf", "--", self.tmp], timeout_s=30.0)
            except RemoteError as exc:
                LOG.warning("%s: could not remove %s: %s", self.spec, self.tmp, exc)
        self.tmp = None
        if self._sftp is not None:
            try:
                self._sftp.close()
            except (OSError, EOFError, paramiko.SSHException):
                pass
            self._sftp = None
        if self.client is not None:
            self.client.close()
            self.client = None


def _qmp_call(transport: paramiko.Transport, port: int, command: str,
              arguments: dict[str, Any] | None = None, timeout_s: float = QUIT_TIMEOUT_S) -> Any:
    """One QMP command over a forwarded channel to 127.0.0.1:port on the remote host."""
    chan = transport.open_channel("direct-tcpip", ("127.0.0.1", port), ("127.0.0.1", 0),
                                  timeout=timeout_s)
    chan.settimeout(timeout_s)
    buf = b""

    def message() -> dict[str, Any]:
        nonlocal buf
        while True:
            line, sep, rest = buf.partition(b"\n")
            if sep:
                buf = rest
                msg = json.loads(line)
                if isinstance(msg, dict) and "event" not in msg:
                    return msg
                continue
            data = chan.recv(65536)
            if not data:
                raise EOFError("QMP closed")
            buf += data

    try:
        message()  # greeting
        chan.sendall(b'{"execute": "qmp_capabilities"}\n')
        message()
        req: dict[str, Any] = {"execute": command}
        if arguments:
            req["arguments"] = arguments
        chan.sendall(json.dumps(req).encode() + b"\n")
        try:
            return message().get("return")
        except EOFError:
            if command == "quit":
                return None
            raise
    finally:
        chan.close()


class RemoteQemu:
    """A guest on a remote host, with the interface of rig.run.qemu.Qemu that the runner uses
    (start, console, save_registers, close, returncode, stderr_tail)."""

    def __init__(self, host: RemoteHost, local_root: Path, argv: Sequence[str], boot_dir: Path,
                 *, install_hint: str = "") -> None:
        self.host = host
        self.local_root = local_root.resolve()
        self.boot_dir = boot_dir
        self.install_hint = install_hint
        self.local_argv = list(argv)
        self.argv: list[str] = []
        self.console: socket.socket | None = None
        self.returncode: int | None = None
        self.connection_lost: str | None = None
        self.qmp_port = 0
        self.pgid: int | None = None
        self._chan: paramiko.Channel | None = None
        self._mine: socket.socket | None = None
        self._pump: threading.Thread | None = None
        self._stderr: IO[bytes] | None = None
        self._remote_boot = ""

    def _paths(self) -> list[Path]:
        root = re.escape(str(self.local_root))
        found: list[Path] = []
        for arg in self.local_argv:
            for m in re.finditer(root + r"/[^,]+", arg):
                found.append(Path(m.group(0)))
        return found

    def start(self) -> None:
        """Upload what the argv names, start QEMU remotely, bridge its console.

        :raises QemuError: the upload or the start failed (INFRA; ``connection_lost`` says
            whether the connection itself went).
        """
        self._stderr = open(self.boot_dir / "qemu.stderr", "wb")  # noqa: SIM115
        try:
            host = self.host
            build_dirs = {p.parent for p in self._paths() if p.parent.name == "build"}
            for d in sorted(build_dirs):
                host.sync_dir(d, self.local_root)
            others = [p for p in self._paths() if p.parent not in build_dirs and p.is_file()]
            host.upload(others, self.local_root, dirs=[self.boot_dir])
            self._remote_boot = host.remote_path(self.boot_dir, self.local_root)
            remote_root = host.remote_path(self.local_root, self.local_root)
            self.qmp_port = host.next_port()
            self.argv = [a.replace(str(self.local_root), remote_root) for a in self.local_argv]
            self.argv += ["-qmp", f"tcp:127.0.0.1:{self.qmp_port},server=on,wait=off"]
            # `echo $$` names the process group: timeout makes itself its leader, QEMU runs in
            # it. Everything else is quoted argv.
            cmd = (f"cd {shlex.quote(self._remote_boot)} && echo $$ && exec "
                   + shlex.join(["timeout", "-s", "KILL", str(REMOTE_KILL_AFTER_S), *self.argv]))
            chan = host.transport.open_session(timeout=CONNECT_TIMEOUT_S)
            chan.exec_command(cmd)
            self._chan = chan
        except (RemoteError, paramiko.SSHException, OSError, EOFError) as exc:
            if not self.host.alive():
                self.connection_lost = f"{self.host}: SSH connection lost: {exc}"
            self.close()
            raise QemuError(f"cannot start QEMU on {self.host}: {exc}") from exc
        (self.boot_dir / "remote.json").write_text(json.dumps(
            {"host": str(self.host), "dir": self._remote_boot, "argv": self.argv}, indent=1))
        mine, theirs = socket.socketpair()
        self._mine, self.console = mine, theirs
        self._pump = threading.Thread(target=self._bridge, name=f"rig-remote-{self.host}",
                                      daemon=True)
        self._pump.start()

    def _bridge(self) -> None:
        """Channel stdout to the console socket, console socket to channel stdin, channel
        stderr to qemu.stderr; the first stdout line is the process group id."""
        chan, mine = self._chan, self._mine
        assert chan is not None and mine is not None
        head = b""
        waiting: list[Any] = [chan, mine]
        try:
            while True:
                ready, _, _ = select.select(waiting, [], [], 0.5)
                while chan.recv_stderr_ready():
                    data = chan.recv_stderr(65536)
                    if self._stderr is not None and not self._stderr.closed:
                        self._stderr.write(data)
                if chan.recv_ready():
                    data = chan.recv(65536)
                    if self.pgid is None:
                        head += data
                        line, sep, data = head.partition(b"\n")
                        if not sep:
                            continue
                        self.pgid = int(line) if line.strip().isdigit() else -1
                    if data:
                        mine.sendall(data)
                elif chan.eof_received:
                    break
                if mine in ready:
                    typed = mine.recv(4096)
                    if typed:
                        chan.sendall(typed)
                    else:
                        waiting = [chan]  # the console closed its side
                transport = chan.get_transport()
                if transport is None or not transport.is_active():
                    self.connection_lost = f"{self.host}: SSH connection lost"
                    break
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.connection_lost = f"{self.host}: SSH connection lost: {exc}"
        finally:
            try:
                mine.shutdown(socket.SHUT_WR)  # the console sees EOF
            except OSError:
                pass

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            return (self.boot_dir / "qemu.stderr").read_bytes()[-limit:].decode(
                errors="replace").strip()
        except OSError:
            return ""

    def save_registers(self, path: Path) -> bool:
        try:
            transport = self.host.transport
            text = _qmp_call(transport, self.qmp_port, "human-monitor-command",
                             {"command-line": "info registers -a"})
            status = _qmp_call(transport, self.qmp_port, "query-status")
            path.write_text(f"# QMP query-status: {status}\n{text}")
            return True
        except Exception as exc:  # noqa: BLE001 - best effort: the guest is being killed anyway
            path.write_text(f"# could not read registers over QMP: {exc!r}\n")
            return False

    def close(self) -> None:
        """Stop the remote QEMU if it runs (QMP quit, then kill its group), reap the channel."""
        chan = self._chan
        if chan is not None:
            if not chan.exit_status_ready() and self.connection_lost is None:
                try:
                    _qmp_call(self.host.transport, self.qmp_port, "quit")
                except Exception as exc:  # noqa: BLE001 - the kill below follows
                    LOG.debug("%s: QMP quit failed: %r", self.host, exc)
                deadline = time.monotonic() + QUIT_TIMEOUT_S
                while not chan.exit_status_ready() and time.monotonic() < deadline:
                    time.sleep(0.05)
            if not chan.exit_status_ready() and self.pgid and self.pgid > 0:
                try:
                    self.host.run(["kill", "-KILL", "--", f"-{self.pgid}"], timeout_s=10.0)
                except RemoteError as exc:
                    LOG.warning("%s: could not kill QEMU group %s (the remote timeout will): %s",
                                self.host, self.pgid, exc)
            if chan.exit_status_ready():
                self.returncode = chan.recv_exit_status()
            elif self.connection_lost is None:
                transport = chan.get_transport()
                if transport is None or not transport.is_active():
                    self.connection_lost = f"{self.host}: SSH connection lost"
            if self._pump is not None:
                self._pump.join(timeout=5.0)
            chan.close()
            self._chan = None
        for sock in (self.console, self._mine):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass
        self.console = self._mine = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


@dataclass
class RemoteLauncher:
    """What the runner calls to start a guest: ``launcher(argv, boot_dir, install_hint=)``."""

    host: RemoteHost
    local_root: Path
    started: list[RemoteQemu] = field(default_factory=list)

    def __call__(self, argv: Sequence[str], boot_dir: Path, *,
                 install_hint: str = "") -> RemoteQemu:
        q = RemoteQemu(self.host, self.local_root, argv, boot_dir, install_hint=install_hint)
        self.started.append(q)
        return q
