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
    assert one.input.paths == [str(tmp_path / "crawl/*.warc.gz")] and one.input.dataset == "crawl"  # beside the file
    many = load(tmp_path, "input: [data/cc-2024-10.jsonl.gz, more/]\noutput: out\n")
    assert many.input.paths == [str(tmp_path / "data/cc-2024-10.jsonl.gz"), str(tmp_path / "more")]
    assert many.input.dataset == "cc-2024-10"
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


def test_yaml_words_are_read_as_written(tmp_path):
    """YAML 1.1 (PyYAML's default) reads on/off/yes/no as booleans: `on: url`, as the docs write it, named the key
    True ("Keys should be strings"), and Norwegian's label `no` became false. A pipeline file reads booleans as YAML
    1.2 does (true/false only); a yes or off where a switch is expected is still read as one."""
    parsed = load(tmp_path, "input: crawl/\noutput: out\nwrite_rejects: yes\nstages:\n"
                            "  - name: exact_dedup\n    on: url\n"
                            "  - {name: langid, languages: [no, nn, en], threshold: {no: 0.5, default: 0.6}}\n"
                            "  - {name: gopher_quality, keep_signals: off}\n"
                            "  - {name: c4_quality, keep_signals: TRUE}\n")
    dedup, langid, gopher, c4 = (spec.params for spec in parsed.stages)
    assert dedup.on == "url"
    assert langid.languages == ["no", "nn", "en"] and langid.threshold == {"no": 0.5, "default": 0.6}
    assert parsed.write_rejects is True and gopher.keep_signals is False and c4.keep_signals is True
