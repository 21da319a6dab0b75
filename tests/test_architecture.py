"""The dependency direction (docs/ARCHITECTURE.md): stages build on the framework, never the other way round.

- `pipeline/` imports `curate.stages` only in the registry (which loads the built-in stages) and in the two engine plan
  registries (which map each global stage to its plan);
- `filters/` (pure cores) imports neither `curate.pipeline` nor `curate.stages`;
- `trainer/` imports neither.

Every import counts: module level, inside a function, under `TYPE_CHECKING`, and `importlib.import_module("…")`.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_STAGE_IMPORTS = {"pipeline/registry.py"}


def imported(path: Path) -> set[str]:
    """Every module name `path` imports, however it imports it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                names.add(node.args[0].value)
    return names


def offenders(folder: str, forbidden: tuple[str, ...], allowed: set[str] = frozenset()) -> list[str]:
    out = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        if relative in allowed:
            continue
        bad = sorted(n for n in imported(path) if any(n == f or n.startswith(f + ".") for f in forbidden))
        if bad:
            out.append(f"{relative}: {', '.join(bad)}")
    return out


def test_the_scan_sees_every_kind_of_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import curate.stages.bias\nfrom curate.stages import shards\nif TYPE_CHECKING:\n"
                      "    from curate.stages.balance import Balance\n"
                      "def f():\n    from curate.stages.tokenize import Tokenize\n"
                      "    importlib.import_module('curate.stages.langid')\n")
    found = {n for n in imported(module) if n.startswith("curate.stages")}
    assert {"curate.stages.bias", "curate.stages", "curate.stages.balance", "curate.stages.tokenize",
            "curate.stages.langid"} <= found
    assert imported(ROOT / "pipeline" / "registry.py") >= {"curate.stages"}  # the one import the framework makes


def test_the_framework_imports_stages_only_through_the_registries():
    assert offenders("pipeline", ("curate.stages",), ALLOWED_STAGE_IMPORTS) == []


@pytest.mark.parametrize("folder", ["filters", "trainer"])
def test_pure_cores_and_the_trainer_import_neither_framework_nor_stages(folder):
    assert offenders(folder, ("curate.pipeline", "curate.stages")) == []
