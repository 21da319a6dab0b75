"""Exit status of every `curate` command: 0 only on success, 2 on a usage or config error, 130 on Ctrl-C (one line,
`curate: interrupted`), non-zero on any other failure. In-process through `main()`; the two interruptions are real
processes (a Spark run and a Beam run) sent SIGINT as a terminal sends it, to the whole process group."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curate.pipeline.commands.cli import main

ROOT = Path(__file__).resolve().parents[2]
CURATE = [sys.executable, "-c", "from curate.pipeline.commands.cli import main; main()"]


def curate(capsys, *args: str) -> tuple[int, str, str]:
    """Run `curate ARGS` in this process: its exit status, stdout and stderr."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def write_pipeline(folder: Path, engine: str = "beam", stages: list | None = None, plugins: list | None = None,
                   rows: int = 3, files: int = 1) -> Path:
    crawl = folder / "in"
    crawl.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        with open(crawl / f"{f}.jsonl", "w") as out:
            for i in range(rows):
                out.write(json.dumps({"text": f"document {f}-{i} about rivers, boats and the long summer evenings."})
                          + "\n")
    path = folder / "pipeline.yaml"
    path.write_text(json.dumps({"input": str(crawl), "output": str(folder / "out"), "engine": {"name": engine},
                                "plugins": plugins or [], "stages": stages or []}))
    return path


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished Beam run's output."""
    folder = tmp_path_factory.mktemp("finished")
    with pytest.raises(SystemExit) as done:
        main(["run", str(write_pipeline(folder))])
    assert done.value.code == 0
    return folder / "out"


@pytest.mark.beam
def test_run(capsys, tmp_path, finished):
    assert (finished / "manifest.json").is_file()  # the fixture's run exited 0 and finished
    path = write_pipeline(tmp_path)
    path.write_text(path.read_text().replace('"output"', '"outptu"'))
    code, out, err = curate(capsys, "run", str(path))
    assert (code, out) == (2, "")
    assert err.strip() == "curate: error: unknown key 'outptu' (did you mean 'output'?); a pipeline has: input, " \
                          "output, engine, write_rejects, plugins, stages"
    assert curate(capsys, "run", str(path), "--no-such-option")[0] == 2


_FAILING = """
from curate.pipeline.registry import register
from curate.pipeline.stage import Stage

@register
class Failing(Stage):
    '''Raises on every batch (a test of a failed run).'''
    name = "failing_for_test"

    def process(self, batch):
        raise RuntimeError("this stage always fails")
"""


@pytest.mark.beam
def test_run_that_fails_is_not_0(capsys, tmp_path, monkeypatch):
    (tmp_path / "failing_plugin.py").write_text(_FAILING)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    path = write_pipeline(tmp_path, stages=[{"name": "failing_for_test", "on_error": "fail"}],
                          plugins=["failing_plugin"])
    code, out, err = curate(capsys, "run", str(path))
    assert code == 1, err  # a run its data stopped (on_error: fail), not a config error
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_explain(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no crawl/ here either: the input is the one beside the pipeline file
    code, out, err = curate(capsys, "explain", str(ROOT / "examples" / "fineweb.yaml"))  # its crawl/ is not there
    assert code == 0, err
    assert f"input   {ROOT / 'examples' / 'crawl'} (not listed: checked as warc input)" in out
    assert curate(capsys, "explain", str(tmp_path / "missing.yaml"))[0] == 2


def test_stages(capsys):
    code, out, err = curate(capsys, "stages")
    assert code == 0 and "lexicon_paths" in out
    assert curate(capsys, "stages", "--bogus")[0] == 2


def test_unknown_command(capsys):
    code, out, err = curate(capsys, "bogus")
    assert code == 2 and "No such command 'bogus'" in err and "Traceback" not in err


def test_demo(capsys, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    code, out, err = curate(capsys, "demo", "--workdir", str(blocked))
    assert code not in (0, 130) and len(err.strip().splitlines()) == 1, err


@pytest.mark.beam
def test_report(capsys, tmp_path, finished):
    code, out, err = curate(capsys, "report", str(finished))
    assert code == 0 and "report:" in out, err
    code, out, err = curate(capsys, "report", str(tmp_path))
    assert code == 2 and "manifest.json is missing" in err


@pytest.mark.beam
def test_inspect(capsys, tmp_path, finished):
    code, out, err = curate(capsys, "inspect", str(finished), "-n", "2")
    assert code == 0 and "rivers" in out, err
    assert curate(capsys, "inspect", str(tmp_path))[0] == 2


def test_tokenizer_train(capsys, tmp_path):
    assert curate(capsys, "tokenizer", "train", str(tmp_path))[0] == 2


@pytest.mark.beam
def test_export_megatron(capsys, tmp_path, finished):
    code, out, err = curate(capsys, "export", "megatron", str(finished), str(tmp_path / "megatron"))
    assert code == 2 and err.startswith("curate: error:"), err  # a run without token shards


def test_train(capsys, tmp_path):
    # was exit 0: main() dropped the status the train command returned
    code, out, err = curate(capsys, "train", str(ROOT / "examples" / "train_tiny.yaml"),
                            f"data.manifest={tmp_path}/manifest.json")
    assert code == 2 and "manifest" in err
    assert curate(capsys, "train", str(ROOT / "examples" / "train_tiny.yaml"), "no.such.key=1")[0] == 2


# A stage that marks when its first batch arrives, then works (sleeps) long: the run is surely inside a job when
# the signal comes.
_SLOW = """
import os, time
from curate.pipeline.registry import register
from curate.pipeline.stage import Stage, emit

@register
class Slow(Stage):
    '''Sleeps on every batch (a test of interruption).'''
    name = "slow_for_test"

    def process(self, batch):
        open(os.environ["CURATE_TEST_MARK"], "a").close()
        for _ in range(300):
            time.sleep(0.1)
        return emit(batch, [None] * batch.num_rows)
"""


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_ctrl_c_is_one_line_and_130(tmp_path, engine):
    (tmp_path / "slow_plugin.py").write_text(_SLOW)
    path = write_pipeline(tmp_path, engine, stages=[{"name": "slow_for_test"}], plugins=["slow_plugin"], files=2)
    mark = tmp_path / "started"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
           "CURATE_TEST_MARK": str(mark), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    process = subprocess.Popen([*CURATE, "run", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=env, start_new_session=True)
    deadline = time.time() + 240
    while not mark.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    assert mark.exists(), process.communicate(timeout=30)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-3000:]
    assert err.strip() == "curate: interrupted", err[-3000:]


def test_an_error_quoting_brackets_prints_them(tmp_path, capsys):
    """Error text is not console markup: a value like `[bad]` reaches the user as written."""
    pipeline = write_pipeline(tmp_path, stages=[{"name": "langid", "languages": ["en"], "threshold": "[bad]"}])
    status, _, err = curate(capsys, "explain", str(pipeline))
    assert status == 2 and "'[bad]'" in err and len(err.strip().splitlines()) == 1
