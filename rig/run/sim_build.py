"""Build the sim kernel for one arch (guest/sim/build.yaml) with clang/lld, cached by content.

The plan is pure data (`rig.image.sim_kernel.plan_sim_build`); this module runs it through the
process helper into a cache directory keyed by every input file, every argv and the tool
versions, so a second `rig build --target sim` costs a hash, not a compile.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rig import resources
from rig.errors import ToolchainError
from rig.image.sim_kernel import load_build_description, plan_sim_build, sim_kernel_zbi
from rig.run import process
from rig.run.toolchain import Toolchain, default_cache_dir

LOG = logging.getLogger(__name__)

STEP_TIMEOUT_S = 120.0
OBJCOPY_NAMES = ("llvm-objcopy-19", "llvm-objcopy")


@dataclass(frozen=True)
class SimKernel:
    arch: str
    image: Path  # what QEMU boots (x64 -kernel) and the kernel item's payload
    kernel_zbi: bytes  # a ZBI holding only the sim's kernel item
    cached: bool
    key: str


def _objcopy() -> str:
    for name in OBJCOPY_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ToolchainError("llvm-objcopy-19 not found: sudo apt-get install -y llvm-19")


def build_sim(arch: str, toolchain: Toolchain, *, cache_dir: Path | None = None,
              guest_dir: Path | None = None) -> SimKernel:
    """Build (or take from the cache) the sim kernel for ``arch``.

    :raises ToolchainError: a step failed (its argv and output in the message).
    :raises BoardError: the build description is malformed.
    """
    guest_dir = guest_dir or resources.guest_dir()
    cache_root = (cache_dir or default_cache_dir()) / "sim"
    desc = load_build_description(guest_dir)
    objcopy = _objcopy()
    # Plan once against a placeholder directory to get the key, then for the real one.
    probe = plan_sim_build(desc, arch, guest_dir=guest_dir, out_dir=Path("@OUT@"),
                           clang=str(toolchain.clang), lld=str(toolchain.lld), objcopy=objcopy)
    h = hashlib.sha256()
    h.update(f"{toolchain.clang_version}\0{toolchain.lld_version}\0".encode())
    for step in probe.steps:
        h.update("\0".join(step.argv).encode() + b"\n")
    for path in probe.inputs:
        data = path.read_bytes()
        h.update(f"{path.relative_to(guest_dir)}\0{len(data)}\0".encode())
        h.update(data)
    key = h.hexdigest()[:32]
    out = cache_root / f"{arch}-{key}"
    image = out / probe.image
    if image.is_file():
        return SimKernel(arch, image, sim_kernel_zbi(image.read_bytes(), probe.kernel_item_type,
                                                probe.payload_offset),
                         cached=True, key=key)
    # A private directory per builder: concurrent builds of one key (pytest-xdist workers,
    # shards on one machine) must not compile into each other's files.
    cache_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{arch}-{key}.", suffix=".tmp", dir=cache_root))
    plan = plan_sim_build(desc, arch, guest_dir=guest_dir, out_dir=tmp,
                          clang=str(toolchain.clang), lld=str(toolchain.lld), objcopy=objcopy)
    try:
        for step in plan.steps:
            try:
                process.run(step.argv, timeout_s=STEP_TIMEOUT_S, check=True,
                            what=f"sim {arch}: {step.output}")
            except process.ProcessError as exc:
                raise ToolchainError(f"building the sim kernel failed: {exc}") from exc
        if not image.is_file():
            shutil.rmtree(out, ignore_errors=True)  # a partial entry left by an older rig
        try:
            tmp.rename(out)  # complete builds only: a failed one never becomes a cache entry
        except OSError as exc:
            # Another builder of the same key finished first: its entry is as good as ours.
            if not image.is_file():
                raise ToolchainError(f"cannot store the sim kernel in {out}: {exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    LOG.info("built the sim for %s in %s", arch, out)
    image = out / plan.image
    return SimKernel(arch, image, sim_kernel_zbi(image.read_bytes(), plan.kernel_item_type,
                                            plan.payload_offset),
                     cached=False, key=key)
