"""The minimal pipeline (`input`, `output`, `stages`), `input:` as a path or a list, the default dataset name, and a
command-line engine switch that drops the other engine's settings (issue #17, items 3 and 4)."""
from __future__ import annotations

from pathlib import Path

import pytest

from curate.pipeline import config


def load(tmp_path: Path, text: str, overrides: dict | None = None, notices: list | None = None):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    return config.load(path, overrides, notice=None if notices is None else notices.append)


def test_input_as_a_path_or_a_list(tmp_path):
    one = load(tmp_path, "input: crawl/*.warc.gz\noutput: out\nstages: [{name: extract}]\n")
    assert one.input.paths == ["crawl/*.warc.gz"] and one.input.dataset == "crawl"
    many = load(tmp_path, "input: [data/cc-2024-10.jsonl.gz, more/]\noutput: out\n")
    assert many.input.paths == ["data/cc-2024-10.jsonl.gz", "more/"] and many.input.dataset == "cc-2024-10"
    named = load(tmp_path, "input: {paths: s3://bucket/cc/2024-10/, dataset: mine}\noutput: out\n")
    assert named.input.paths == ["s3://bucket/cc/2024-10/"] and named.input.dataset == "mine"


@pytest.mark.parametrize("path, dataset", [
    ("crawl/", "crawl"), ("crawl/*.warc.gz", "crawl"), ("crawl/part-*.jsonl", "crawl"), ("data.jsonl", "data"),
    ("s3://bucket/cc/2024-10/", "2024-10"), ("*.parquet", "input"), ("/", "input"), ("my data/x.WARC.GZ", "x"),
    ("Ärger/", "rger"),
])
def test_default_dataset(path, dataset):
    assert config.default_dataset(path) == dataset


def test_input_override_on_a_plain_path(tmp_path):
    parsed = load(tmp_path, "input: crawl/\noutput: out\n", {"input.paths": ["other/*.warc.gz"]})
    assert parsed.input.paths == ["other/*.warc.gz"] and parsed.input.dataset == "other"


def test_engine_switch_drops_the_other_engines_settings(tmp_path):
    spark_file = "input: crawl/\noutput: out\nengine: {name: spark, master: 'local[2]', conf: {spark.x: '1'}}\n"
    notices: list[str] = []
    parsed = load(tmp_path, spark_file, {"engine.name": "beam"}, notices)
    assert parsed.engine.name == "beam" and parsed.engine.master is None and parsed.engine.conf == {}
    assert notices == ["--engine beam: ignoring the pipeline's spark settings (engine.master, engine.conf)"]
    notices.clear()
    assert load(tmp_path, spark_file, {"engine.name": "spark"}, notices).engine.master == "local[2]"
    assert notices == []  # no switch, nothing dropped
    with pytest.raises(config.ConfigError, match="master is a Spark setting"):  # asked for both: still an error
        load(tmp_path, spark_file, {"engine.name": "beam", "engine.master": "local[2]"})
