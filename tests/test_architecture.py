"""The layers (docs/ARCHITECTURE.md) as a list, and the rules between them, each shown able to fail.

A layer is a folder (a package of `curate`). It may import itself and the layers in its `may` list; the
exceptions are listed file by file in `EXCEPT`, each with what it may import more and why. Every import counts:
`import x`, `from x import y`, relative imports (resolved against the file's package), imports inside functions or
under `TYPE_CHECKING`, `__import__("x")`, and `importlib.import_module(...)` with a constant or a computed name (an
f-string counts as its constant prefix: `f"curate.engines.{name}"` imports `curate.engines`; a name computed
otherwise imports an unknown module, which fails anywhere but in `EXCEPT`).

Besides imports, the core (`pipeline/`) must not name a built-in stage or an engine in its code: a string literal
equal to one (docstrings and comments are prose, not code).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "<computed>"  # what an import by a computed name imports


@dataclass(frozen=True)
class Layer:
    folder: str
    may: tuple[str, ...]  # the other layers (folders) it may import

    @property
    def package(self) -> str:
        return f"curate.{self.folder}"


CORE = "pipeline"
# In dependency order: a layer imports only layers above it in this list (the core, `pipeline`, is the framework).
LAYERS = [
    Layer("filters", ()),                                     # pure cores: functions on text, Arrow, NumPy
    Layer("trainer", ()),                                     # reads the shards and the manifest as files
    Layer(CORE, ("filters",)),                                # documents, Stage API, registry, config, run, output
    Layer("readers", (CORE, "filters")),                      # input files to batches, registered by format
    Layer("stages", (CORE, "filters", "readers")),            # one stage family per file
    Layer("engines", (CORE, "filters", "stages")),            # Spark and Beam: passes and registered plans
    Layer("testing", (CORE, "filters")),                      # the demo crawl for tests and benches
    Layer("workflows", (CORE, "filters", "stages", "trainer")),  # runs composed (ablate: curate runs, then training)
    Layer("jobs", (CORE, "trainer")),                         # spark-submit entry points and the workers' env
    Layer("cli", (CORE, "filters", "stages", "readers", "testing", "workflows", "trainer")),  # the commands
]
EXCEPT = {
    # the registries load the built-in stages and readers by package (every module of each, by its name): the one
    # place the core imports them
    "pipeline/registry.py": ("curate.stages", "curate.readers", UNKNOWN),
    # the engine registry imports a built-in engine by the name a pipeline gives (`curate.engines.<name>`)
    "pipeline/engine.py": ("curate.engines",),
    # `plugins:` imports the modules a pipeline names
    "pipeline/config.py": (UNKNOWN,),
}


def imported(path: Path, package: str) -> set[str]:
    """Every module `path` (a module of `package`) imports, however it imports it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: against this file's package (one level up per extra dot)
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _called(node) in ("import_module", "__import__") and node.args:
            names.add(_name_of(node.args[0]))
    return names


def _called(call: ast.Call) -> str | None:
    return getattr(call.func, "attr", getattr(call.func, "id", None))


def _name_of(arg: ast.expr) -> str:
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return arg.values[0].value.rstrip(".")  # its constant prefix
    return UNKNOWN


def layer_of(name: str) -> str | None:
    """The folder of module `name`, if it is one of curate's layers."""
    parts = name.split(".")
    return parts[1] if parts[0] == "curate" and len(parts) > 1 else None


def offenders(root: Path = ROOT, layers: list[Layer] = LAYERS, exceptions: dict = EXCEPT) -> list[str]:
    """Every import that crosses the layers against the rules, as `file: module`."""
    known = {layer.folder for layer in layers}
    out = []
    for layer in layers:
        for path in sorted((root / layer.folder).rglob("*.py")):
            relative = str(path.relative_to(root))
            package = ".".join([layer.package, *path.relative_to(root / layer.folder).parent.parts])
            allowed = exceptions.get(relative, ())
            for name in sorted(imported(path, package)):
                if any(name == a or name.startswith(a + ".") for a in allowed):
                    continue
                target = UNKNOWN if name == UNKNOWN else layer_of(name)
                if target == UNKNOWN or (target in known and target != layer.folder and target not in layer.may):
                    out.append(f"{relative}: {name}")
    return out


def named_in_code(path: Path, names: set[str]) -> list[str]:
    """String literals of `path`'s code (not its docstrings) equal to one of `names`."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return sorted({node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                   and isinstance(node.value, str) and id(node) not in docstrings and node.value in names})


def builtin_names() -> set[str]:
    """The names of the built-in stages and engines."""
    from curate.pipeline import registry
    from curate.pipeline.engine import engine_names

    return set(registry.stages()) | set(engine_names())


def published_names() -> set[str]:
    """What the built-in stages publish (`Stage.publishes`): their collectors' folders (`shards`), their plans'
    results (`mixture`)."""
    from curate.pipeline import registry

    return {name for cls in registry.stages().values() for name in cls.publishes}


# The default engine of a pipeline that names none is a value of the config, in one place.
NAMED_ALLOWED = {"pipeline/config.py": {"spark"}}


def core_naming(root: Path = ROOT, names: set[str] | None = None, allowed: dict = NAMED_ALLOWED) -> list[str]:
    names = builtin_names() if names is None else names
    out = []
    for path in sorted((root / CORE).rglob("*.py")):
        relative = str(path.relative_to(root))
        found = [n for n in named_in_code(path, names) if n not in allowed.get(relative, set())]
        out += [f"{relative}: {n!r}" for n in found]
    return out


# ---- the rules hold ---------------------------------------------------------------------------------------------


def test_every_folder_of_the_package_is_a_layer():
    import tomllib

    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert {v for k, v in dirs.items() if k != "curate"} == {layer.folder for layer in LAYERS}


def test_imports_follow_the_layers():
    assert offenders() == []


def test_the_core_names_no_built_in_stage_or_engine():
    assert core_naming() == []


def test_no_core_file_names_a_stage_folder_or_what_a_stage_publishes():
    """The collectors' folders are the framework's, named by what each stage publishes: the core sweeps them without
    naming one (it once swept a hard-coded `shards`)."""
    assert {"shards", "mixture"} <= published_names()
    assert core_naming(names=published_names()) == []


# ---- each rule can fail -----------------------------------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize("form", [
    "import curate.stages.bias\n",
    "from curate.stages import shards\n",
    "if TYPE_CHECKING:\n    from curate.stages.balance import Balance\n",
    "def f():\n    from curate.stages.tokenize import Tokenize\n",
    "importlib.import_module('curate.stages.langid')\n",
    "importlib.import_module(f'curate.stages.{name}')\n",
    "__import__('curate.stages.langid')\n",
    "from ..stages import langid\n",
])
def test_the_core_importing_a_stage_fails_in_every_form(tmp_path, form):
    root = _tree(tmp_path, {"pipeline/run.py": form, "stages/langid.py": ""})
    assert offenders(root, LAYERS, {}) == [f"pipeline/run.py: {n}" for n in sorted(imported(
        root / "pipeline/run.py", "curate.pipeline")) if n.startswith("curate.stages")]
    assert offenders(root, LAYERS, {}) != []


def test_a_computed_name_is_an_unknown_import(tmp_path):
    root = _tree(tmp_path, {"stages/x.py": "importlib.import_module(name)\n"})
    assert offenders(root, LAYERS, {}) == [f"stages/x.py: {UNKNOWN}"]


def test_relative_imports_resolve_against_the_package(tmp_path):
    root = _tree(tmp_path, {"trainer/sub/train.py": "from ...pipeline import run\nfrom .. import model\n"})
    assert offenders(root, LAYERS, {}) == ["trainer/sub/train.py: curate.pipeline",
                                           "trainer/sub/train.py: curate.pipeline.run"]


@pytest.mark.parametrize("importer, module", [
    ("filters/a.py", "curate.pipeline.schema"),      # pure cores import no framework
    ("trainer/a.py", "curate.stages.shards"),        # the trainer reads files, not stages
    ("pipeline/a.py", "curate.engines.spark"),       # the core names no engine
    ("pipeline/b.py", "curate.trainer.train"),       # nor the trainer
    ("pipeline/c.py", "curate.cli.main"),            # nor a command
    ("stages/a.py", "curate.engines.beam"),          # a stage knows no engine
    ("engines/a.py", "curate.trainer.model"),        # an engine trains nothing
    ("testing/a.py", "curate.stages.extract"),       # the demo crawl is data, not stages
    ("readers/a.py", "curate.stages.langid"),        # readers come before the stages
])
def test_each_layer_rule_can_fail(tmp_path, importer, module):
    root = _tree(tmp_path, {importer: f"import {module}\n"})
    assert offenders(root, LAYERS, {}) == [f"{importer}: {module}"]


def test_the_core_naming_a_stage_folder_fails(tmp_path):
    root = _tree(tmp_path, {"pipeline/output.py": 'SHARDS = "shards"\nfor folder in (DOCUMENTS, SHARDS):\n    pass\n'})
    assert core_naming(root, published_names(), {}) == ["pipeline/output.py: 'shards'"]


def test_the_core_naming_a_stage_or_an_engine_fails(tmp_path):
    root = _tree(tmp_path, {"pipeline/run.py": '"""Runs on spark."""\nif engine == "beam":\n    pass\n'
                                               'STAGE = "exact_dedup"\n'})
    assert core_naming(root, {"beam", "spark", "exact_dedup"}, {}) == ["pipeline/run.py: 'beam'",
                                                                      "pipeline/run.py: 'exact_dedup'"]
