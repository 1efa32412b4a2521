"""The one place that starts processes: argv lists, stdin from /dev/null, a process group each.

Every child gets its own process group, so one deadline kills the whole tree (clang and the
ld.lld it starts; QEMU and anything it forks). The argv is logged with `shlex.join` before it
runs, and a failure carries the argv, the exit status and the tail of the output.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rig.errors import EnvironmentProblem

LOG = logging.getLogger(__name__)

TAIL_CHARS = 2000  # how much of the output an error message carries
KILL_GRACE_S = 2.0  # after SIGTERM to the group, wait this long before SIGKILL


class ProcessError(EnvironmentProblem):
    """A child could not start, timed out or failed; carries what is needed to reproduce it."""

    def __init__(self, message: str, *, argv: Sequence[str], returncode: int | None = None,
                 output_tail: str = "") -> None:
        super().__init__(message)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output_tail = output_tail


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    elapsed_s: float

    def tail(self) -> str:
        """The last part of stderr (or stdout), for error messages."""
        text = self.stderr.strip() or self.stdout.strip()
        return text[-TAIL_CHARS:]


def kill_group(proc: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    """SIGTERM the child's process group, then SIGKILL it, and reap the child."""
    for sig, wait_s in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    else:  # pragma: no cover - SIGKILL always ends the wait above
        proc.wait()
    # Children that outlived the leader are still in the group: make sure they are gone too.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def run(argv: Sequence[str], *, timeout_s: float, cwd: Path | None = None,
        env: Mapping[str, str] | None = None, check: bool = False,
        what: str | None = None) -> Completed:
    """Run ``argv`` to completion (stdin /dev/null, output captured as text).

    :raises ProcessError: the program is missing or cannot start, the deadline passed (the
        whole process group is killed), or ``check`` and the exit status is not 0.
    """
    argv = [str(a) for a in argv]
    label = what or Path(argv[0]).name
    LOG.info("running: %s", shlex.join(argv))
    start = time.monotonic()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, errors="replace",
                                cwd=cwd, env=None if env is None else dict(env),
                                start_new_session=True)
    except OSError as exc:
        raise ProcessError(f"{label}: cannot run {shlex.join(argv)}: {exc}", argv=argv) from exc
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        kill_group(proc)
        out = exc.stderr or exc.output or ""
        tail = (out.decode(errors="replace") if isinstance(out, bytes) else out)[-TAIL_CHARS:]
        raise ProcessError(f"{label}: no result after {timeout_s:g} s, killed: "
                           f"{shlex.join(argv)}", argv=argv, output_tail=tail) from exc
    except BaseException:
        kill_group(proc)  # SIGINT and friends: never leave the group behind
        raise
    done = Completed(tuple(argv), proc.returncode, stdout, stderr, time.monotonic() - start)
    if check and done.returncode != 0:
        raise ProcessError(f"{label}: exit status {done.returncode}: {shlex.join(argv)}\n"
                           f"{done.tail()}", argv=argv, returncode=done.returncode,
                           output_tail=done.tail())
    return done


def spawn(argv: Sequence[str], *, stdout: int, stderr: int, cwd: Path | None = None,
          pass_fds: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start a long-running child (QEMU) in its own process group; the caller owns it and must
    end it with :func:`kill_group` or wait for it.

    :raises ProcessError: it cannot start.
    """
    argv = [str(a) for a in argv]
    LOG.info("starting: %s", shlex.join(argv))
    try:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                cwd=cwd, start_new_session=True, pass_fds=tuple(pass_fds))
    except OSError as exc:
        raise ProcessError(f"cannot run {shlex.join(argv)}: {exc}", argv=argv) from exc

