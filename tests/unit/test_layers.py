"""The layer rules of docs/design.md, read from the import graph of rig/ (STYLE section 1).

Layers, bottom to top: ground (errors, zx, profiles, resources) < pure core (scenario, model,
program, image, judge) < run (processes, QEMU, toolchain) < api (composition) < cli. A module
imports only its own layer or those below; the pure core never starts a process or opens a
socket; only rig.run.process imports subprocess.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

RIG = Path(__file__).resolve().parents[2] / "rig"

LAYERS = {
    "errors": 0, "zx": 0, "profiles": 0, "resources": 0,
    "scenario": 1, "model": 1, "program": 1, "image": 1, "judge": 1,
    "run": 2,
    "reports": 3, "api": 3, "fleet": 3,
    "cli": 4, "__main__": 4, "pytest_plugin": 4,
}
# Modules no pure-core module may import: they start processes, open sockets or read clocks.
IMPURE = ("subprocess", "socket", "pexpect", "paramiko", "qemu", "asyncio", "multiprocessing",
          "selectors", "signal")
PROCESS_HELPER = "rig.run.process"


@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    imported: str  # dotted module name as written (absolute)
    line: int


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def read_imports(root: Path) -> list[Import]:
    out = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [Import(name, a.name, node.lineno) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                out.append(Import(name, node.module, node.lineno))
                if node.module == "rig":  # `from rig import zx`: the submodule is the import
                    out += [Import(name, f"rig.{a.name}", node.lineno) for a in node.names]
    return out


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "rig" or len(parts) < 2:
        return None
    return LAYERS.get(parts[1])


def violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        mine, theirs = layer_of(imp.importer), layer_of(imp.imported)
        where = f"{imp.importer}:{imp.line} imports {imp.imported}"
        if imp.importer.startswith("rig.") and mine is None:
            found.append(f"{imp.importer}: not in any layer; add it to docs/design.md and here")
            continue
        if theirs is not None and mine is not None and theirs > mine:
            found.append(f"{where}: layer {theirs} above its own layer {mine}")
        top = imp.imported.split(".")[0]
        if top == "subprocess" and imp.importer != PROCESS_HELPER:
            found.append(f"{where}: only {PROCESS_HELPER} starts processes")
        if mine is not None and mine <= 1 and top in IMPURE:
            found.append(f"{where}: the pure core never starts a process or opens a socket")
    return found


def test_rig_keeps_its_layers() -> None:
    imports = read_imports(RIG)
    assert len(imports) > 100  # the graph was really read
    assert violations(imports) == []


@pytest.mark.parametrize(("importer", "imported", "complaint"), [
    ("rig.model.predict", "rig.run.process", "layer 2 above its own layer 1"),
    ("rig.judge.compare", "rig.cli.main", "layer 4 above its own layer 1"),
    ("rig.run.qemu", "rig.cli.main", "layer 4 above its own layer 2"),
    ("rig.api", "rig.cli.build", "layer 4 above its own layer 3"),
    ("rig.run.toolchain", "subprocess", "only rig.run.process starts processes"),
    ("rig.image.zbi", "socket", "the pure core never starts a process or opens a socket"),
    ("rig.scenario.loader", "pexpect", "the pure core never starts a process or opens a socket"),
    ("rig.newthing", "rig.zx", "not in any layer"),
])
def test_the_layer_test_fails_on_a_violation(importer: str, imported: str,
                                             complaint: str) -> None:
    found = violations([Import(importer, imported, 7)])
    assert len(found) == 1 and complaint in found[0], found


def test_the_layer_test_reads_from_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "rig"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "__init__.py").write_text("from rig import api\nimport subprocess\n")
    found = violations(read_imports(pkg))
    assert found == [
        "rig.model:1 imports rig.api: layer 3 above its own layer 1",
        "rig.model:2 imports subprocess: only rig.run.process starts processes",
        "rig.model:2 imports subprocess: the pure core never starts a process or opens a socket",
    ]
