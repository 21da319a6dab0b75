"""The engine boundary (`curate.pipeline.engine`): the core runs a pipeline on any registered engine, found by the
name the pipeline gives; an engine it does not know is a config error naming the ones it does."""
from __future__ import annotations

import contextlib
import json

import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.engine import Engine, engine_names, register_engine
from curate.pipeline.errors import ConfigError
from curate.pipeline.passes import run_pass
from curate.pipeline.run import run
from curate.testing import demo_texts


@register_engine
class InProcess(Engine):
    """Each pass's tasks one after the other, in this process; no plans (a pipeline of map stages only)."""

    name = "in_process_test"
    closed: list = []

    def __init__(self, pipeline, inputs, progress):
        self.pipeline = pipeline

    def run_pass(self, step, files, output, previous, decisions):
        for file in files:
            run_pass(self.pipeline, step, file, output, previous.get(file.key), decisions.get(file.key, []))

    def run_plan(self, stage, key_files, output):
        raise AssertionError("no global stage here")

    def close(self, error):
        InProcess.closed.append(error)

    @classmethod
    def check(cls, settings):
        if settings.master:
            raise ValueError("in_process_test runs here: no master")

    @classmethod
    def kept_open(cls, settings):
        return contextlib.nullcontext()


def test_a_registered_engine_runs_a_pipeline_the_core_never_named(tmp_path):
    source = tmp_path / "in.jsonl"
    prose = demo_texts()
    texts = ["short", " ".join(prose[:8]), " ".join(prose[8:16])]
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    raw = {"input": {"paths": [str(source)]}, "output": str(tmp_path / "out"), "engine": {"name": "in_process_test"},
           "stages": [{"name": "gopher_quality"}]}
    result = run(pipeline_config.parse(raw))
    assert result.stats["kept"] == 2 and result.stats["rejected"] == {"gopher_quality:word_count": 1}
    assert InProcess.closed == [None]  # closed once, after the manifest, without an error
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["config"]["engine"]["name"] == "in_process_test"


def test_an_unknown_engine_or_settings_it_refuses_are_config_errors(tmp_path):
    assert {"spark", "beam", "in_process_test"} <= set(engine_names())
    base = {"input": {"paths": [str(tmp_path)]}, "output": str(tmp_path / "out"), "stages": []}
    with pytest.raises(ConfigError, match=r"no engine named 'flink'; engines: .*beam.*spark"):
        pipeline_config.parse({**base, "engine": {"name": "flink"}})
    with pytest.raises(ConfigError, match="in_process_test runs here: no master"):
        pipeline_config.parse({**base, "engine": {"name": "in_process_test", "master": "local[2]"}})
