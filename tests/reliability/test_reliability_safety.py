"""Safe by default: YAML without object tags, no unpickling of untrusted files, no shell, no output that loses data.

The source checks walk the AST of every module of the product (pipeline, stages, filters, jobs, trainer), so a new
`torch.load(...)` without `weights_only=True` or a `shell=True` fails here, not in a review.
"""
from __future__ import annotations

import ast
import functools
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.output import RUN, Output, refuse_inside_input
from curate.pipeline.run import checked

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "stages", "filters", "jobs", "trainer")


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


@functools.cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _calls(path: Path):
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


def _keyword(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value.value if isinstance(keyword.value, ast.Constant) else keyword.value
    return None


# --- YAML ------------------------------------------------------------------------------------------------------


def test_yaml_object_tags_are_refused_with_one_line(tmp_path):
    witness = tmp_path / "pwned"
    path = tmp_path / "pipeline.yaml"
    path.write_text(f'input: !!python/object/apply:os.system ["touch {witness}"]\noutput: out\nstages: []\n')
    with pytest.raises(ConfigError) as error:
        pipeline_config.load(path)
    message = str(error.value)
    assert "\n" not in message and "invalid YAML at line 1" in message and "python/object" in message
    assert not witness.exists()


def test_the_cli_refuses_an_object_tag_with_exit_status_2(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("input: !!python/name:os.system\noutput: out\n")
    done = subprocess.run([sys.executable, "-m", "curate.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "invalid YAML" in lines[0], done.stderr


def test_yaml_is_only_ever_loaded_safely():
    unsafe = [f"{path.relative_to(ROOT)}:{call.lineno}: {name}" for path in _modules() for call, name in _calls(path)
              if name in ("yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all")
              and _keyword(call, "Loader") not in ("yaml.SafeLoader", "SafeLoader")]
    assert unsafe == []
    from curate.pipeline.config import _BoundedLoader

    assert issubclass(_BoundedLoader, yaml.SafeLoader)  # the pipeline file's loader: the safe one, with bounds


# --- unpickling, eval, shell -----------------------------------------------------------------------------------


def _restricted_unpickler_only(path: Path) -> bool:
    """`pickle` used only through Unpickler subclasses that define find_class (an allow-list), never pickle.load(s)."""
    tree = _tree(path)
    unpicklers = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)
                  and any(ast.unparse(base) == "pickle.Unpickler" for base in node.bases)]
    allow_listed = all(any(isinstance(item, ast.FunctionDef) and item.name == "find_class" for item in cls.body)
                       for cls in unpicklers)
    loads = [name for _, name in _calls(path) if name in ("pickle.load", "pickle.loads", "pickle.Unpickler")]
    return bool(unpicklers) and allow_listed and not loads


def test_no_pickle_marshal_or_eval_in_the_product():
    found = []
    for path in _modules():
        restricted = _restricted_unpickler_only(path)
        for node in ast.walk(_tree(path)):
            if restricted and isinstance(node, ast.Import) and [alias.name for alias in node.names] == ["pickle"]:
                continue
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: import {n}" for n in names
                      if n.split(".")[0] in ("pickle", "cPickle", "marshal", "dill", "cloudpickle", "shelve", "joblib")]
        found += [f"{path.relative_to(ROOT)}:{call.lineno}: {name}" for call, name in _calls(path)
                  if name in ("eval", "exec", "compile", "__import__")]
    assert found == []


def test_numpy_never_loads_pickles():
    found = [f"{path.relative_to(ROOT)}:{call.lineno}" for path in _modules() for call, name in _calls(path)
             if name in ("np.load", "numpy.load") and _keyword(call, "allow_pickle") not in (None, False)]
    assert found == []


def test_torch_load_always_has_weights_only():
    found = [f"{path.relative_to(ROOT)}:{call.lineno}" for path in _modules() for call, name in _calls(path)
             if name == "torch.load" and _keyword(call, "weights_only") is not True]
    assert found == []


def test_no_shell_built_from_strings():
    found = []
    for path in _modules():
        for call, name in _calls(path):
            if name in ("os.system", "os.popen", "subprocess.getoutput", "subprocess.getstatusoutput"):
                found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {name}")
            elif name.startswith("subprocess.") or name.endswith("Popen"):
                if _keyword(call, "shell") not in (None, False):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {name}(shell=...)")
                if call.args and isinstance(call.args[0], (ast.Constant, ast.JoinedStr, ast.BinOp)):
                    found.append(f"{path.relative_to(ROOT)}:{call.lineno}: {name} with a command string")
    assert found == []


# --- the output guard ------------------------------------------------------------------------------------------


def _config(tmp_path: Path, inputs: list[str], output: Path):
    return pipeline_config.parse({"input": {"paths": inputs, "dataset": "d"}, "output": str(output),
                                  "stages": [{"name": "gopher_quality"}]})


@pytest.fixture
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "a.jsonl").write_text('{"text": "one"}\n')
    return folder


@pytest.mark.parametrize("where", ["data", "data/out", "data/sub/out", "."])
def test_output_inside_or_around_the_input_is_refused(tmp_path, data, where):
    output = (tmp_path / where).resolve()
    for inputs in ([str(data)], [str(data / "a.jsonl")], [str(data / "*.jsonl")]):
        if inputs == [str(data / "a.jsonl")] and where.startswith("data/"):
            checked(_config(tmp_path, inputs, output))  # beside an input file, not around it: fine (issue #17)
            continue
        with pytest.raises(CurateError, match="overlaps input"):
            checked(_config(tmp_path, inputs, output))


def test_a_sibling_whose_name_extends_the_input_is_not_inside_it(tmp_path, data):
    # "data-out" starts with "data" but is not in it: a string-prefix check would refuse it
    sibling = tmp_path / "data-out"
    for inputs in ([str(data)], [str(data / "*.jsonl")]):
        assert refuse_inside_input(str(sibling), inputs) is None
        plan = checked(_config(tmp_path, inputs, sibling))
        assert [f.rel for f in plan.inputs] == ["a.jsonl"] and plan.config.output == str(sibling)
    with pytest.raises(CurateError, match="overlaps input"):  # the same check does refuse the real thing
        refuse_inside_input(str(data / "out"), [str(data)])


def test_a_non_empty_output_needs_a_flag_and_overwrite_needs_a_curate_output(tmp_path):
    output = tmp_path / "out"
    output.mkdir()
    precious = output / "thesis.tex"
    precious.write_text("years of work")
    out = Output(str(output))
    with pytest.raises(CurateError, match="not empty: pass --resume"):
        out.prepare("hash", [], resume=False, overwrite=False)
    with pytest.raises(CurateError, match="not a curate output; refusing to delete it"):
        out.prepare("hash", [], resume=False, overwrite=True)
    with pytest.raises(CurateError, match="holds no curate run"):
        out.prepare("hash", [], resume=True, overwrite=False)
    assert precious.read_text() == "years of work"


def test_overwrite_replaces_a_curate_output_and_resume_refuses_other_inputs(tmp_path):
    output = tmp_path / "out"
    out = Output(str(output))
    assert out.prepare("hash", [{"path": "a"}], resume=False, overwrite=False) is False
    (output / "documents").mkdir()
    (output / "documents" / "old.parquet").write_bytes(b"old")
    with pytest.raises(CurateError, match="input files changed"):
        out.prepare("hash", [{"path": "b"}], resume=True, overwrite=False)
    with pytest.raises(CurateError, match="config changed"):
        out.prepare("other", [{"path": "a"}], resume=True, overwrite=False)
    assert out.prepare("hash", [{"path": "a"}], resume=True, overwrite=False) is True
    assert out.prepare("hash", [{"path": "b"}], resume=False, overwrite=True) is False
    assert sorted(p.name for p in output.iterdir()) == [RUN]
    assert json.loads((output / RUN).read_text())["inputs"] == [{"path": "b"}]


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_run_killed_before_its_first_commit_can_be_restarted(tmp_path, overwrite):
    output = tmp_path / "out"
    output.mkdir()
    (output / f"{RUN}.tmp-0123456789ab").write_bytes(b'{"config_ha')  # SIGKILL inside write_json(RUN)
    # the same command again (with or without --overwrite) starts afresh: no flag is needed, nothing is resumed
    assert Output(str(output)).prepare("hash", [{"path": "a"}], resume=False, overwrite=overwrite) is False
    assert [p.name for p in output.iterdir()] == [RUN]  # the torn temporary file is gone
    started = json.loads((output / RUN).read_text())
    assert (started["config_hash"], started["inputs"]) == ("hash", [{"path": "a"}])


def test_an_overwrite_killed_midway_leaves_a_curate_output(tmp_path, monkeypatch):
    output = tmp_path / "out"
    out = Output(str(output))
    out.prepare("hash", [], resume=False, overwrite=False)
    (output / "documents").mkdir()
    (output / "documents" / "part.parquet").write_bytes(b"x")
    removed = []

    def rm_then_die(path, recursive=False):  # the first thing removed is the last: SIGKILL after it
        removed.append(path)
        import shutil
        shutil.rmtree(path) if Path(path).is_dir() else Path(path).unlink()
        raise KeyboardInterrupt

    monkeypatch.setattr(out.fs, "rm", rm_then_die)
    with pytest.raises(KeyboardInterrupt):
        out.prepare("hash", [], resume=False, overwrite=True)
    assert (output / RUN).exists(), f"removed {removed}"


# --- stage lists: an empty pattern, a FIFO -------------------------------------------------------------------


@pytest.mark.parametrize("stage, message", [
    ({"name": "url_filter", "substrings": [""]}, "substrings: Value error, entry 0 ('') is empty"),
    ({"name": "url_filter", "domain_files": ["{fifo}"]}, "is not a regular file but a FIFO"),
    ({"name": "opt_out", "robots": ["{fifo}"], "header": False, "meta": False}, "is not a regular file but a FIFO"),
])
def test_an_empty_pattern_or_a_fifo_list_is_one_line_with_exit_status_2(tmp_path, stage, message):
    """An empty substring would reject every URL; a FIFO would block the worker that opens it."""
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "in.jsonl").write_text('{"text": "one", "url": "https://a.example/"}\n')
    stage = json.loads(json.dumps(stage).replace("{fifo}", str(tmp_path / "fifo")))
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"input": {"paths": [str(tmp_path / "in.jsonl")], "dataset": "d"},
                                    "output": str(tmp_path / "out"), "stages": [stage]}))
    done = subprocess.run([sys.executable, "-m", "curate.cli.main", "run", str(path)], capture_output=True,
                          text=True, timeout=120)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    assert not (tmp_path / "out").exists()
