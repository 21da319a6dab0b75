"""A run sizes its engine to its input: a small input does without what pays only on a large one (Beam's worker
processes, the Spark driver's optimising JIT), and gives the same output (bench/small_runs.py has the figures;
test_engines_conformance.py runs Beam both ways against Spark)."""
from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.engines.beam import WORKERS_INPUT_BYTES, BeamEngine
from curate.engines.spark import JIT_INPUT_BYTES, SparkEngine
from curate.pipeline import config as config_module
from curate.pipeline.inputs import InputFile, Range
from curate.pipeline.passes import Pipeline
from curate.pipeline.run import run

_popen: dict = {"argv": None}  # what the audit hook below records while a test listens


def _record_popen(event: str, args: tuple) -> None:
    if event == "subprocess.Popen" and _popen["argv"] is not None:
        _popen["argv"].append(" ".join(map(str, args[1] if isinstance(args[1], (list, tuple)) else [args[1]])))


sys.addaudithook(_record_popen)  # permanent, as audit hooks are: records nothing outside `_started`


def _config(engine: str, stages: list, folder: Path = Path("/nonexistent")) -> config_module.PipelineConfig:
    return config_module.parse({"input": str(folder / "in"), "output": str(folder / "out"),
                                "engine": {"name": engine}, "stages": stages})


def _files(*sizes: int) -> list[InputFile]:
    return [InputFile(f"/in/{i}.jsonl", f"{i}.jsonl", size, "jsonl") for i, size in enumerate(sizes)]


def test_the_spark_driver_compiles_fully_only_for_a_large_input_with_a_global_stage():
    dedup = Pipeline(_config("spark", [{"name": "exact_dedup"}]))
    map_only = Pipeline(_config("spark", [{"name": "langid"}]))
    assert not SparkEngine(dedup, _files(1000, JIT_INPUT_BYTES - 2000)).jvm_work
    assert SparkEngine(dedup, _files(1000, JIT_INPUT_BYTES)).jvm_work
    assert not SparkEngine(map_only, _files(JIT_INPUT_BYTES)).jvm_work  # the driver only schedules tasks


def test_beam_runs_in_this_process_for_a_small_input_or_one_file():
    pipeline = Pipeline(_config("beam", [{"name": "exact_dedup"}]))
    assert BeamEngine(pipeline, _files(1000, 1000)).in_process
    assert BeamEngine(pipeline, _files(10 * WORKERS_INPUT_BYTES)).in_process  # one file: one worker at a time
    assert not BeamEngine(pipeline, _files(WORKERS_INPUT_BYTES, 1)).in_process


def test_ranges_of_one_file_are_sized_by_their_own_bytes():
    pipeline = Pipeline(_config("beam", [{"name": "exact_dedup"}]))
    small, large = (InputFile("/in/a.jsonl", "a.jsonl", size, "jsonl") for size in (WORKERS_INPUT_BYTES - 2,
                                                                                  4 * WORKERS_INPUT_BYTES))
    halves = [dataclasses.replace(small, part=Range(i, i * small.size // 2, (i + 1) * small.size // 2)) for i in (0, 1)]
    assert BeamEngine(pipeline, halves).in_process  # the file's bytes, once: a small input
    quarters = [dataclasses.replace(large, part=Range(i, i * WORKERS_INPUT_BYTES, (i + 1) * WORKERS_INPUT_BYTES))
                for i in range(4)]
    assert not BeamEngine(pipeline, quarters).in_process  # one large file in ranges keeps every worker busy


def _started(config) -> list[str]:
    """The commands of the processes a run starts."""
    _popen["argv"] = []
    try:
        run(config)
        return _popen["argv"]
    finally:
        _popen["argv"] = None


@pytest.mark.beam
def test_a_small_beam_run_starts_no_worker_process_and_a_large_one_does(tmp_path, monkeypatch):
    kept = {}
    for size in ("small", "large"):
        folder = tmp_path / size
        (folder / "in").mkdir(parents=True)
        for name in ("a", "b"):
            (folder / "in" / f"{name}.jsonl").write_text("".join(
                json.dumps({"text": f"Document {i % 4} about rivers, boats and the long summer evenings."}) + "\n"
                for i in range(12)))
        if size == "large":
            monkeypatch.setattr("curate.engines.beam.WORKERS_INPUT_BYTES", 0)
        started = _started(_config("beam", [{"name": "exact_dedup"}], folder))
        workers = [command for command in started if "sdk_worker_main" in command]
        assert (len(workers) > 0) == (size == "large"), started
        manifest = json.loads((folder / "out" / "manifest.json").read_text())
        kept[size] = sorted(i for p in manifest["documents"]
                            for i in pq.read_table(folder / "out" / p, columns=["id"])["id"].to_pylist())
    assert kept["small"] == kept["large"] and len(kept["small"]) == 4
