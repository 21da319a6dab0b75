"""What a stage publishes and consumes (`Stage.publishes`, `Stage.consumes`): a consumer without a producer before it
is refused before the run, like a column nothing adds; a collector writes into the folder the framework gives it,
and the run sweeps that folder of what a failed attempt left. The stages are a plugin's (`samples_stage.py`)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curate.cli.main import main
from curate.pipeline import config as pipeline_config
from curate.pipeline.check import check
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.run import run

HERE = Path(__file__).resolve().parent


def config_of(tmp_path: Path, stages: list[dict]):
    source = tmp_path / "in"
    if not source.exists():
        source.mkdir()
        for name in ("a", "b"):
            (source / f"{name}.jsonl").write_text(
                "".join(json.dumps({"text": f"document {i} of {name}"}) + "\n" for i in range(5)))
    return pipeline_config.parse({"input": str(source), "output": str(tmp_path / "out"), "engine": {"name": "beam"},
                                  "plugins": ["samples_stage"], "stages": stages})


def test_a_consumer_without_a_producer_before_it_is_refused_before_the_run(tmp_path):
    for stages in ([{"name": "sample_count"}], [{"name": "sample_count"}, {"name": "samples"}]):
        with pytest.raises(ConfigError) as refused:
            check(config_of(tmp_path, stages), [], "jsonl")
        assert str(refused.value) == ("stages[0] (sample_count): consumes 'samples', which no stage before it "
                                      "publishes (add samples before it)")
    check(config_of(tmp_path, [{"name": "samples"}, {"name": "sample_count"}]), [], "jsonl")  # in order: fine
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["documents", "ledger", "../elsewhere", "a/b", ""])
def test_a_published_name_must_be_a_folder_of_its_own(tmp_path, monkeypatch, name):
    from samples_stage import Samples

    monkeypatch.setattr(Samples, "publishes", (name,))
    with pytest.raises(ConfigError, match=r"^stages\[0\] \(samples\): publishes .*, which cannot be a folder of the "
                                          r"output \(a plain name, not documents, ledger, work, stages\)$"):
        check(config_of(tmp_path, [{"name": "samples"}]), [], "jsonl")


def test_the_command_says_so_in_one_line_and_exits_2(tmp_path, capsys):
    pipeline = tmp_path / "pipeline.yaml"
    config_of(tmp_path, [])  # the input
    pipeline.write_text(json.dumps({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                    "plugins": ["samples_stage"], "stages": [{"name": "sample_count"}]}))
    with pytest.raises(SystemExit) as done:
        main(["run", str(pipeline)])
    assert done.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "consumes 'samples', which no stage before it publishes" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.beam
def test_the_sweep_removes_a_plugin_collectors_files_after_a_failed_attempt(tmp_path, monkeypatch):
    # the Beam workers import the plugin too: this folder goes on their PYTHONPATH, as a user's package would
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    marker = tmp_path / "fail-once"
    marker.touch()
    monkeypatch.setenv("SAMPLES_FAIL_ONCE", str(marker))
    config = config_of(tmp_path, [{"name": "samples"}, {"name": "sample_count"}])
    with pytest.raises(CurateError, match="No space left on device"):
        run(config)
    folder = tmp_path / "out" / "samples"
    failed = Path(f"{marker}.failed").read_text()
    assert (tmp_path / "out" / failed).is_file() and not marker.exists()  # written before the attempt failed

    run(config, resume=True)

    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    there = {f"samples/{p.name}" for p in folder.iterdir()}
    assert there == set(manifest["samples"]) and len(there) == 2  # one per input file, committed
    assert failed not in there and not (tmp_path / "out" / failed).exists()  # the failed attempt's file is gone
    ids = sorted(i for path in there for i in json.loads((tmp_path / "out" / path).read_text()))
    assert ids == sorted(f"in/{name}.jsonl:{i}" for name in "ab" for i in range(5))  # every kept document, once
    assert manifest["sample_count"] == {"from": "samples", "files": 2}  # consumed what samples published
