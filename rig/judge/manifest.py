"""The build manifest (`DIR/manifest.json`): one typed record, written and read here only.

`rig build` writes it last; `check-log`, the runner and reports read it. Keys other tools may
read are listed in docs/design.md. Reading is strict about what judging needs (program id,
nonce, profile, scenarios) and tolerant of keys added later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rig.errors import InputError
from rig.profiles import PROFILE_NAMES

MANIFEST_NAME = "manifest.json"
BUILTIN_NONCE_LEN = 16  # hex digits of program_id the program uses when no rig.nonce= arrives
BOOT_MODES = ("direct", "shim", "")  # Manifest.boot_mode; "" when not recorded


class BuildDirError(InputError):
    """The build directory lacks its manifest or scenario copies, or they are malformed."""


@dataclass(frozen=True)
class ManifestScenario:
    index: int
    name: str
    file: str  # the copy in DIR/scenarios/, relative to DIR
    steps: int


@dataclass(frozen=True)
class Manifest:
    program_id: str
    nonce: str
    abi: str
    arch: str
    target: str
    scenarios: tuple[ManifestScenario, ...]
    rig_version: str = ""
    board: str = ""
    kernel_era: Mapping[str, str] = field(default_factory=dict)  # {"era", "reason"}
    abi_reason: str = ""  # why `abi` (--abi auto reads the kernel image; "--abi given")
    inputs: Mapping[str, str] = field(default_factory=dict)  # path -> sha256
    outputs: Mapping[str, str] = field(default_factory=dict)  # path in DIR -> sha256
    tools: Mapping[str, str] = field(default_factory=dict)
    cmdline: str = ""
    output: str = ""
    program_path: str = ""
    qemu_argv: tuple[str, ...] | None = None
    missing: tuple[str, ...] = ()
    # True for the rig's own sim kernel: its results are never kernel results.
    simulated: bool = False
    # How qemu.sh boots: "direct" (the rig loads kernel.bin, data.zbi and a trampoline itself,
    # rig.image.direct_boot) or "shim" (-kernel <boot shim or sim> -initrd image.zbi); "" in
    # manifests written before the field existed.
    boot_mode: str = ""

    @property
    def builtin_nonce(self) -> str:
        return self.program_id[:BUILTIN_NONCE_LEN]

    @property
    def nonces(self) -> tuple[str, ...]:
        """Accepted nonces, most wanted first: the command line's, then the built-in id."""
        builtin = self.builtin_nonce
        return (self.nonce,) if self.nonce == builtin else (self.nonce, builtin)


def manifest_to_json(manifest: Manifest) -> dict[str, Any]:
    data = asdict(manifest)
    data["scenarios"] = [asdict(s) for s in manifest.scenarios]
    data["inputs"], data["outputs"] = dict(manifest.inputs), dict(manifest.outputs)
    data["tools"] = dict(manifest.tools)
    data["kernel_era"] = dict(manifest.kernel_era)
    data["qemu_argv"] = list(manifest.qemu_argv) if manifest.qemu_argv is not None else None
    data["missing"] = list(manifest.missing)
    return data


def render_manifest(manifest: Manifest) -> str:
    return json.dumps(manifest_to_json(manifest), indent=2) + "\n"


def write_manifest(build_dir: Path, manifest: Manifest) -> Path:
    """Write ``build_dir/manifest.json`` atomically (a reader sees the old one or the new one)."""
    path = build_dir / MANIFEST_NAME
    tmp = build_dir / f".{MANIFEST_NAME}.tmp"
    tmp.write_text(render_manifest(manifest))
    os.replace(tmp, path)
    return path


def manifest_from_json(data: object, path: str) -> Manifest:
    """Check and convert the decoded ``manifest.json``.

    :raises InputError: naming the file and the key that is missing or wrong.
    """
    if not isinstance(data, dict):
        raise InputError(f"{path}: the manifest must be a JSON object, found "
                         f"{type(data).__name__}")

    def text(key: str) -> str:
        value = data.get(key)
        if not isinstance(value, str) or not value:
            raise InputError(f"{path}: key '{key}' must be a non-empty string, found "
                             f"{value!r}; rebuild with `rig build`")
        return value

    def mapping(key: str) -> dict[str, str]:
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise InputError(f"{path}: key '{key}' must map strings to strings, found {value!r}")
        return dict(value)

    def strings(key: str) -> tuple[str, ...] | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{path}: key '{key}' must be a list of strings, found {value!r}")
        return tuple(value)

    abi_reason = data.get("abi_reason", "")
    if not isinstance(abi_reason, str):
        raise InputError(f"{path}: key 'abi_reason' must be a string, found {abi_reason!r}")
    scenarios_raw = data.get("scenarios")
    if not isinstance(scenarios_raw, list):
        raise InputError(f"{path}: key 'scenarios' must be a list, found {scenarios_raw!r}")
    scenarios = []
    for i, item in enumerate(scenarios_raw):
        ok = (isinstance(item, dict)
              and isinstance(item.get("index"), int) and isinstance(item.get("steps"), int)
              and isinstance(item.get("name"), str) and isinstance(item.get("file"), str))
        if not ok or item["index"] != i:
            raise InputError(f"{path}: scenarios[{i}] must be {{index: {i}, name, file, steps}}, "
                             f"found {item!r}")
        scenarios.append(ManifestScenario(index=item["index"], name=item["name"],
                                          file=item["file"], steps=item["steps"]))
    optional_text = {k: data.get(k, "") for k in ("rig_version", "board", "cmdline", "output",
                                                  "program_path", "boot_mode")}
    for key, value in optional_text.items():
        if not isinstance(value, str):
            raise InputError(f"{path}: key '{key}' must be a string, found {value!r}")
    if optional_text["boot_mode"] not in BOOT_MODES:
        raise InputError(f"{path}: key 'boot_mode' is {optional_text['boot_mode']!r}, wanted "
                         f"one of {list(BOOT_MODES)}")
    manifest = Manifest(program_id=text("program_id"), nonce=text("nonce"), abi=text("abi"),
                        arch=text("arch"), target=text("target"), scenarios=tuple(scenarios),
                        kernel_era=mapping("kernel_era"), inputs=mapping("inputs"),
                        outputs=mapping("outputs"), tools=mapping("tools"),
                        qemu_argv=strings("qemu_argv"), missing=strings("missing") or (),
                        abi_reason=abi_reason,
                        simulated=data.get("simulated") is True,
                        **optional_text)
    if manifest.abi not in PROFILE_NAMES:
        raise InputError(f"{path}: key 'abi' is {manifest.abi[:40]!r}, wanted one of "
                         f"{list(PROFILE_NAMES)}; rebuild with `rig build`")
    for key in ("program_id", "nonce"):
        value = getattr(manifest, key)
        width = 64 if key == "program_id" else BUILTIN_NONCE_LEN
        if len(value) != width or any(c not in "0123456789abcdef" for c in value):
            raise InputError(f"{path}: key '{key}' must be {width} lowercase hex digits, found "
                             f"{value!r}")
    return manifest


def read_manifest(build_dir: Path) -> Manifest:
    """Read ``build_dir/manifest.json``.

    :raises BuildDirError: manifest missing, unreadable or malformed.
    """
    path = build_dir / MANIFEST_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BuildDirError(f"{path}: no manifest; is {build_dir} a `rig build --out` "
                            "directory?") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise BuildDirError(f"{path}: cannot read the manifest: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BuildDirError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    try:
        return manifest_from_json(data, str(path))
    except InputError as exc:
        raise BuildDirError(str(exc)) from exc
