"""rig: boots Zircon (or the simulated target) under QEMU to check pager dirty tracking."""

__version__ = "0.1.0"
