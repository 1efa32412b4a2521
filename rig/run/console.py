"""Driving a serial console with pexpect: lines as they arrive, typing, a tee to serial.log.

Written against a byte stream (any file descriptor: a QEMU socket chardev today, a paramiko
channel later), read as bytes and decoded late. Every byte read is written to the log file
before anything looks at it, so nothing is lost whatever happens next.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pexpect
import pexpect.fdpexpect

READ_CHUNK = 4096


@dataclass(frozen=True)
class Line:
    text: str  # decoded, without the line end
    at_s: float  # seconds since the console opened


class Eof(Exception):
    """The stream ended (QEMU exited or closed the port)."""


class Console:
    """Line reader and writer over a file descriptor; tees every byte to ``log_path``."""

    def __init__(self, fd: int, log_path: Path) -> None:
        self._child = pexpect.fdpexpect.fdspawn(fd, timeout=None, maxread=READ_CHUNK)
        self._log: IO[bytes] = open(log_path, "wb")  # noqa: SIM115 - closed in close()
        self._child.logfile_read = self._log
        self.opened_at = time.monotonic()
        self.last_output_at = self.opened_at
        self.eof = False

    def read_line(self, timeout_s: float) -> Line | None:
        """The next whole line, or None when ``timeout_s`` passed without one.

        :raises Eof: the stream ended; a last unterminated line is returned first.
        """
        if self.eof:
            raise Eof()
        index = self._child.expect([b"\n", pexpect.EOF, pexpect.TIMEOUT],
                                   timeout=max(timeout_s, 0.0))
        before: bytes = self._child.before or b""
        now = time.monotonic()
        if before or index == 0:
            self.last_output_at = now
        if index == 0:
            return Line(before.rstrip(b"\r").decode("utf-8", "replace"), now - self.opened_at)
        if index == 1:
            self.eof = True
            if before:
                return Line(before.rstrip(b"\r").decode("utf-8", "replace"),
                            now - self.opened_at)
            raise Eof()
        return None

    def send_slowly(self, text: str, *, per_char_s: float = 0.02) -> None:
        """Type ``text`` one character at a time (the PL011 receive FIFO is small, facts 9)."""
        for ch in text.encode():
            self._child.send(bytes([ch]))
            time.sleep(per_char_s)

    def close(self) -> None:
        self._log.flush()
        self._log.close()
