"""Ship the data trees in the wheel: `guest/` and `images/` go to `rig/_data/` (rig.resources).

Everything else is in pyproject.toml. The trees stay at the top of the checkout (an editable
install reads them there); a wheel has no checkout, so the build copies them into the package.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_TREES = ("guest", "images")
# Build products and caches that may sit in a developer's tree; never shipped.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.o", "*.elf", "*.a", "*.so", "build",
                                 "out", ".*")


class BuildPyWithData(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the trees from the checkout
        root = Path(__file__).resolve().parent
        for name in DATA_TREES:
            dest = Path(self.build_lib) / "rig" / "_data" / name
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(root / name, dest, ignore=IGNORED)


setup(cmdclass={"build_py": BuildPyWithData})
