"""Errors a person understands: the `curate` command, run as a user runs it, says what to do in one line on stderr
and exits with status 2; `--verbose` adds the traceback. Each case is one a user meets on day one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The console script beside this Python (what a user types), else the same entry point through -c.
_SCRIPT = Path(sys.executable).with_name("curate")
CURATE = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from curate.cli.main import main; main()"]


def curate(*args: str, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*CURATE, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a failed command (stdout empty), without the `curate: error:` prefix."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2, result.stderr[-3000:]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("curate: error: "), lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0].removeprefix("curate: error: ")


def pipeline(tmp_path: Path, *, stages: list | None = None, inputs: str | None = None, output: str | None = None,
             engine: str = "beam") -> Path:
    crawl = tmp_path / "in"
    crawl.mkdir(exist_ok=True)
    (crawl / "a.jsonl").write_text(json.dumps({"text": "a short document about rivers and boats"}) + "\n")
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({  # JSON is YAML
        "input": {"paths": [inputs or str(crawl)], "dataset": "t"}, "output": output or str(tmp_path / "out"),
        "engine": {"name": engine}, "stages": stages or []}))
    return path


def test_bad_yaml_names_the_line_and_verbose_shows_the_traceback(tmp_path):
    path = tmp_path / "pipeline.yaml"
    path.write_text("input:\n  paths: [crawl\n  dataset: t\n")
    message = one_line_error(curate("run", str(path)))
    assert message == f"{path}: invalid YAML at line 3, column 10: expected ',' or ']', but got ':'"
    verbose = curate("--verbose", "run", str(path))
    assert verbose.returncode == 2
    assert "Traceback (most recent call last)" in verbose.stderr and "ConfigError" in verbose.stderr
    assert verbose.stderr.rstrip().splitlines()[-1].startswith("curate: error: ")


def test_unknown_key_names_its_path(tmp_path):
    path = pipeline(tmp_path, stages=[{"name": "langid", "threshhold": 0.5}])
    assert one_line_error(curate("run", str(path))) == "stages[0] (langid).threshhold: unknown key (did you mean 'threshold'?)"


def test_missing_input_path(tmp_path):
    path = pipeline(tmp_path, inputs=str(tmp_path / "no-such-crawl"))
    assert one_line_error(curate("run", str(path))) == f"input path {str(tmp_path / 'no-such-crawl')!r} does not exist"


def test_unreachable_input_uri(tmp_path):
    path = pipeline(tmp_path, inputs="http://127.0.0.1:9/crawl.jsonl")
    message = one_line_error(curate("run", str(path)))
    assert "http://127.0.0.1:9/crawl.jsonl" in message and "cannot be read" in message


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_input_file(tmp_path):
    path = pipeline(tmp_path)
    (tmp_path / "in" / "a.jsonl").chmod(0)
    message = one_line_error(curate("run", str(path)))
    assert "a.jsonl" in message and "permission" in message.lower()


def test_output_inside_the_input(tmp_path):
    path = pipeline(tmp_path, output=str(tmp_path / "in" / "out"))
    assert one_line_error(curate("run", str(path))) == (
        f"output {str(tmp_path / 'in' / 'out')!r} overlaps input {str(tmp_path / 'in')!r}: "
        "write the output somewhere else")


def test_missing_model_file(tmp_path):
    model = tmp_path / "models" / "lid.176.bin"
    path = pipeline(tmp_path, stages=[{"name": "langid", "model_path": str(model)}])
    message = one_line_error(curate("run", str(path)))
    assert message.startswith(f"stages[0] (langid).model_path: no file or folder {str(model)!r}")


def _path_without_java(tmp_path: Path) -> str:
    """A PATH with every program of the usual folders but `java`."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory) or "java" in directory or "jvm" in directory:
            continue
        for entry in os.scandir(directory):
            target = folder / entry.name
            if entry.name != "java" and not target.exists():
                target.symlink_to(entry.path)
    return str(folder)


@pytest.mark.parametrize("java", ["JAVA_HOME elsewhere", "no java on PATH"])
def test_missing_java(tmp_path, java):
    path = pipeline(tmp_path, engine="spark")
    if java == "JAVA_HOME elsewhere":
        env = {"JAVA_HOME": str(tmp_path / "no-jdk")}
    else:
        env = {"JAVA_HOME": "", "PATH": _path_without_java(tmp_path)}
    message = one_line_error(curate("run", str(path), env=env))
    assert "Java" in message and "JAVA_HOME" in message and "--engine beam" in message

