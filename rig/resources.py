"""Where the rig's data trees are: `guest/` (runtime, templates, sim) and `images/` (boards).

The one module that knows. In a checkout (editable install) they sit next to the `rig` package;
an installed wheel carries them as `rig/_data/guest` and `rig/_data/images`. `RIG_GUEST_DIR`
and `RIG_IMAGES_DIR` override both (a test or a developer pointing at another tree).
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _find(name: str, env_var: str) -> Path:
    env = os.environ.get(env_var)
    if env:
        return Path(env)
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE_DIR / "_data" / name


def guest_dir() -> Path:
    """The guest tree: `include/`, `runtime/`, `templates/`, `sim/`."""
    return _find("guest", "RIG_GUEST_DIR")


def images_dir() -> Path:
    """The board tree: `<arch>/<target>.yaml` and `cmdline.yaml`."""
    return _find("images", "RIG_IMAGES_DIR")


def template_dir() -> Path:
    return guest_dir() / "templates"
