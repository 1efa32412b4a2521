"""One QEMU guest: started through the process helper, its serial port on a socket chardev the
console reads, QMP for status, registers and an orderly quit, always reaped.

The build's qemu.sh argv (`-serial stdio`) is turned into one whose serial port is a UNIX
socket server that waits for us (`wait=on`), so not a byte of early output is lost, and QEMU's
own stdin is /dev/null. Each QEMU runs in its own process group: `close()` ends it on
success, error, timeout, SIGINT and SIGTERM alike.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from rig.errors import BootError
from rig.run import process

LOG = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
QUIT_TIMEOUT_S = 3.0


class QemuError(BootError):
    """QEMU did not start or its console could not be reached (INFRA)."""


def console_argv(argv: Sequence[str], serial_socket: Path, qmp_socket: Path) -> list[str]:
    """``argv`` with its ``-serial stdio`` replaced by a socket chardev, plus a QMP socket."""
    out: list[str] = []
    i = 0
    replaced = False
    args = list(argv)
    while i < len(args):
        if args[i] == "-serial" and i + 1 < len(args) and args[i + 1] == "stdio":
            out += ["-chardev", f"socket,id=rigcon,path={serial_socket},server=on,wait=on",
                    "-serial", "chardev:rigcon"]
            replaced = True
            i += 2
            continue
        out.append(args[i])
        i += 1
    if not replaced:
        raise QemuError(f"the QEMU command line has no `-serial stdio` to attach the console "
                        f"to: {' '.join(args)}")
    return out + ["-qmp", f"unix:{qmp_socket},server=on,wait=off"]


class Qemu:
    """A running guest. Use as a context manager; `close()` always reaps QEMU."""

    def __init__(self, argv: Sequence[str], boot_dir: Path, *, install_hint: str = "") -> None:
        self.boot_dir = boot_dir
        self.install_hint = install_hint  # the fix when the QEMU binary is missing
        # UNIX socket paths must stay short (108 bytes): a private directory in /tmp.
        self._sock_dir = Path(tempfile.mkdtemp(prefix="rig-qemu-"))
        self.serial_path = self._sock_dir / "serial"
        self.qmp_path = self._sock_dir / "qmp"
        self.argv = console_argv(argv, self.serial_path, self.qmp_path)
        self.proc: Any = None
        self.console: socket.socket | None = None
        self._stderr: IO[bytes] | None = None
        self.started_at = 0.0
        self.returncode: int | None = None

    def __enter__(self) -> Qemu:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start QEMU and connect to its console.

        :raises QemuError: QEMU is missing, exits at once, or never opens its console.
        """
        self._stderr = open(self.boot_dir / "qemu.stderr", "wb")  # noqa: SIM115
        self.started_at = time.monotonic()
        try:
            self.proc = process.spawn(self.argv, stdout=self._stderr.fileno(),
                                      stderr=self._stderr.fileno(), cwd=self.boot_dir)
        except process.ProcessError as exc:
            self.close()
            hint = f"; install it: {self.install_hint}" if self.install_hint else ""
            raise QemuError(f"cannot start QEMU: {exc}{hint}") from exc
        deadline = time.monotonic() + CONNECT_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                tail = self.stderr_tail()
                self.close()
                raise QemuError(f"QEMU exited at once with status {self.proc.returncode}: "
                                f"{tail or '(no message)'}")
            if self.serial_path.exists():
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(str(self.serial_path))
                    self.console = sock
                    return
                except OSError:
                    sock.close()
            if time.monotonic() > deadline:
                self.close()
                raise QemuError(f"QEMU did not open its console socket in "
                                f"{CONNECT_TIMEOUT_S:g} s")
            time.sleep(0.005)

    def stderr_tail(self, limit: int = 2000) -> str:
        try:
            return (self.boot_dir / "qemu.stderr").read_bytes()[-limit:].decode(
                errors="replace").strip()
        except OSError:
            return ""

    def _qmp(self) -> Any:
        from qemu.qmp.legacy import QEMUMonitorProtocol

        qmp = QEMUMonitorProtocol(str(self.qmp_path))
        qmp.connect()
        return qmp

    def save_registers(self, path: Path) -> bool:
        """Write every vCPU's registers (QMP `info registers -a`) to ``path``; False if QMP
        could not answer (the file then says why)."""
        try:
            qmp = self._qmp()
            try:
                text = qmp.cmd_obj({"execute": "human-monitor-command",
                                    "arguments": {"command-line": "info registers -a"}})
                status = qmp.cmd_obj({"execute": "query-status"})
                text = text.get("return", text) if isinstance(text, dict) else text
                status = status.get("return", status) if isinstance(status, dict) else status
            finally:
                qmp.close()
            path.write_text(f"# QMP query-status: {status}\n{text}")
            return True
        except Exception as exc:  # noqa: BLE001 - best effort: the guest is being killed anyway
            path.write_text(f"# could not read registers over QMP: {exc!r}\n")
            return False

    def quit(self) -> None:
        """Ask QEMU to quit over QMP (orderly: it flushes and exits 0)."""
        if not self.qmp_path.exists():
            return
        try:
            qmp = self._qmp()
            try:
                qmp.cmd("quit")
            except EOFError:
                pass  # QEMU closes the socket while answering quit
            finally:
                try:
                    qmp.close()
                except (EOFError, OSError):
                    pass
        except Exception as exc:  # noqa: BLE001 - close() kills the group if quit did not work
            LOG.debug("QMP quit failed: %r", exc)

    def wait(self, timeout_s: float) -> int | None:
        if self.proc is None:
            return None
        try:
            self.returncode = self.proc.wait(timeout=timeout_s)
        except Exception:  # noqa: BLE001 - subprocess.TimeoutExpired; the caller decides
            return None
        return self.returncode

    def close(self) -> None:
        """Stop QEMU if it still runs (QMP quit, then kill the process group) and reap it."""
        if self.console is not None:
            try:
                self.console.close()
            except OSError:
                pass
            self.console = None
        if self.proc is not None:
            # A guest that powered off closes its console first and exits a moment later.
            if self.proc.poll() is None and self.wait(0.3) is None:
                self.quit()
                if self.wait(QUIT_TIMEOUT_S) is None:
                    process.kill_group(self.proc)
            else:
                # The leader exited; make sure nothing else of its group survives.
                try:
                    os.killpg(self.proc.pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
            self.returncode = self.proc.returncode
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        shutil.rmtree(self._sock_dir, ignore_errors=True)
