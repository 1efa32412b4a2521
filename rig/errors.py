"""Exception tree for user-facing errors and the CLI exit codes they map to.

::

    RigError                      exit 3 unless a subclass says otherwise
     +-- InputError               exit 2: the user's input is wrong
     |    +-- ScenarioError       a scenario file (names file, line, scenario, step)
     |    +-- BoardError          an images/<arch>/board.yaml file
     |    +-- ImageError          a ZBI/BOOTFS given to us, or a missing kernel/shim
     +-- EnvironmentProblem       exit 3: the machine lacks something
     |    +-- ToolchainError      clang/lld failed or produced a bad ELF
     |    +-- BootError           QEMU could not start or the guest never came up
     |    +-- ConsoleError        the serial console broke
     |    +-- RemoteError         an SSH host failed

A test failure is a verdict, not an exception: it never travels through this tree.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_TEST_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 3


class RigError(Exception):
    """Root of every error the rig reports to a user without a traceback."""

    exit_code = EXIT_ENVIRONMENT


class InputError(RigError):
    """Something the user gave us is wrong; fixing the input fixes the run."""

    exit_code = EXIT_BAD_INPUT


class ScenarioError(InputError):
    """A scenario file is invalid. The message names file, line, scenario and step."""


class BoardError(InputError):
    """A board definition is invalid."""


class ImageError(InputError):
    """A boot image, kernel ZBI or boot shim is missing or malformed."""


class EnvironmentProblem(RigError):
    """The machine lacks a tool or a tool failed in a way the input cannot explain."""

    exit_code = EXIT_ENVIRONMENT


class ToolchainError(EnvironmentProblem):
    """clang/lld failed, or the ELF they produced breaks a loader rule."""


class BootError(EnvironmentProblem):
    """QEMU did not start, or the guest did not come up."""


class ConsoleError(EnvironmentProblem):
    """The serial console could not be read."""


class RemoteError(EnvironmentProblem):
    """A remote QEMU host could not be used."""
