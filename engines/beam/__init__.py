"""The Beam engine: the same passes and global stages as Spark, as Beam pipelines.

A pass reads as a sentence: input files | Reshuffle | run the pass on each file. Each file's task is the
engine-neutral `run_pass` (reader, map stages over Arrow batches, writers, commit), so no stage knows which engine
runs it. A global stage's plan is registered with `@plan("beam", StageClass)` (`curate.pipeline.engine`):
`plan(policy, keys, job)`, keys rows in, decision rows and the plan's result out, in Beam's own transforms
(GroupByKey, CombinePerKey, CoGroupByKey). Locally the Python SDK's in-process FnApiRunner
runs it (never the Prism runner, which downloads a binary); `conf: {runner: DataflowRunner, project: …}` or
`FlinkRunner` run it remotely. A plan may run pipelines of its own before the decision pipeline (`BeamJob.run`), for
work that loops until a count read back says it is done (MinHash's connected-components rounds).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from curate.pipeline.config import EngineConfig
from curate.pipeline.engine import Engine, plan_of, register_engine
from curate.pipeline.errors import job_failed
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import WORK, Output, attempt_id, stage_outputs
from curate.pipeline.passes import Pass, Pipeline, decision_listing, run_pass, worker_pipeline
from curate.pipeline.progress import RunProgress
from curate.pipeline.schema import LINEAGE
from curate.pipeline.stage import GlobalStage


class RunPass(beam.DoFn):
    """One input file through one pass; the pipeline is built once per worker process (`worker_pipeline`)."""

    def __init__(self, raw_config: dict, index: int, output_uri: str):
        self.raw_config, self.index, self.output_uri = raw_config, index, output_uri

    def setup(self) -> None:
        self.pipeline = worker_pipeline(self.raw_config)
        self.step = self.pipeline.passes[self.index]
        self.output = Output(self.output_uri)

    def process(self, spec: str):
        task = json.loads(spec)
        record = run_pass(self.pipeline, self.step, InputFile.from_json(task["file"]), self.output, task["previous"],
                          task["decisions"], task["progress_every"])
        yield record["key"]


def read_keys(path_and_root: tuple[str, str]):
    """Every row of one keys file, as a dict."""
    path, root = path_and_root
    output = Output(root)
    with output.fs.open(output.path(path), "rb") as f:
        yield from pq.read_table(f).to_pylist()


class WriteDecisions(beam.DoFn):
    """The decision rows of one input file, as one Parquet file under `<target>/file_key=<key>/`."""

    def __init__(self, output_uri: str, target: str, schema: pa.Schema):
        self.output_uri, self.target, self.schema = output_uri, target, schema

    def process(self, item):
        file_key, rows = item
        write_rows(self.output_uri, f"{self.target}/file_key={file_key}/part-{attempt_id()}.parquet", rows, self.schema)
        yield file_key


def write_rows(output_uri: str, path: str, rows, schema: pa.Schema) -> None:
    """Rows (dicts) as one Parquet file at `path` under the output, in uid order."""
    table = pa.Table.from_pylist(sorted(rows, key=lambda r: r["uid"]), schema=schema)
    with Output(output_uri).open_write(path) as f:
        pq.write_table(table, f)


@contextlib.contextmanager
def _worker_logs_to_file():
    """The local runner's worker processes log every step to stderr; send that to a file, shown on failure."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.NamedTemporaryFile("w+", prefix="curate-beam-", suffix=".log", delete=False) as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except Exception as error:
            os.dup2(saved, 2)
            if _interrupted(error):  # Ctrl-C in the runner's thread, which Beam wraps in a RuntimeError
                raise KeyboardInterrupt from error
            raise job_failed("the Beam pipeline failed", _last_line(error), f" (worker log: {log.name})",
                             raised=error) from error
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    os.unlink(log.name)


def _interrupted(error: BaseException | None) -> bool:
    while error is not None:
        if isinstance(error, KeyboardInterrupt):
            return True
        error = error.__cause__ or error.__context__
    return False


def _last_line(error: Exception) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[-1] if lines else type(error).__name__)[:500]


# Below this much input (or with one input file, which one worker runs alone anyway) the local runner runs in this
# process: its worker processes each import Beam and the stages again (~3 CPU-s each, two per pipeline and three
# pipelines in a run with one global stage), more than a small input's work (bench/small_runs.py, BENCHMARKS.md).
WORKERS_INPUT_BYTES = 32 * 2 ** 20


@dataclass
class BeamJob:
    """What a Beam plan gets besides its stage's decision and the keys: the run's output (its URI, for the DoFns that
    write), the stage's folder in it (for files that are part of the result: a dedup index), the keys files, and
    `run(build)`, which runs a pipeline of its own before the decision pipeline (for work that loops until a count
    read back says it is done: MinHash's connected-components rounds)."""

    output_uri: str
    folder: str
    key_files: list[str]
    run: Callable[[Callable[[beam.Pipeline], None]], None]

    @property
    def output(self) -> Output:
        return Output(self.output_uri)

    def read_keys(self, p: beam.Pipeline, label: str = "Keys"):
        """Every keys row of the run (dicts), in pipeline `p`."""
        return (p
                | f"{label}: files" >> beam.Create([(path, self.output_uri) for path in self.key_files])
                | f"{label}: read" >> beam.FlatMap(read_keys))


@register_engine
class BeamEngine(Engine):
    """Each pass and each plan a Beam pipeline, on the local runner (sized to the input) or the runner `conf` names."""

    name = "beam"

    def __init__(self, pipeline: Pipeline, inputs: list[InputFile], progress: RunProgress | None = None):
        self.pipeline, self.progress = pipeline, progress or RunProgress(None)
        self.conf = pipeline.config.engine.conf
        self.in_process = len(inputs) < 2 or sum(f.stored_size for f in inputs) < WORKERS_INPUT_BYTES
        logging.getLogger("apache_beam").setLevel(logging.ERROR)

    def close(self, error: BaseException | None) -> None:
        """Nothing outlives a pipeline."""

    @classmethod
    def check(cls, settings: EngineConfig) -> None:
        if settings.master:
            raise ValueError("master is a Spark setting; for Beam set conf.runner (e.g. DataflowRunner, FlinkRunner)")

    @classmethod
    def kept_open(cls, settings: EngineConfig) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()

    def _pipeline(self) -> beam.Pipeline:
        args = [f"--{key}={value}" for key, value in self.conf.items()]
        options = PipelineOptions(args)
        if "runner" in self.conf:
            return beam.Pipeline(options=options)
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        # The local runner, never the Prism download: one worker per core in separate processes, or (`in_process`)
        # one in this process.
        workers = ["--direct_num_workers=1", "--direct_running_mode=in_memory"] if self.in_process else \
            [f"--direct_num_workers={os.cpu_count() or 1}", "--direct_running_mode=multi_processing"]
        options = PipelineOptions(args + workers + ["--default_sdk_harness_log_level=ERROR"])
        return beam.Pipeline(runner=FnApiRunner(), options=options)

    def _run(self, build: Callable[[beam.Pipeline], None]) -> None:
        """One pipeline, built by `build(pipeline)`, run to completion with the worker logs kept aside."""
        with _worker_logs_to_file(), self._pipeline() as p:
            build(p)

    def run_pass(self, step: Pass, files: list[InputFile], output: Output, previous: dict[str, dict],
                 decisions: dict[str, list[str]]) -> None:
        if not files:
            return
        tasks = [json.dumps({"file": f.to_json(), "previous": previous.get(f.key),
                             "decisions": decisions.get(f.key, []),
                             "progress_every": self.progress.task_every}) for f in files]
        with self.progress.pass_of(step, output, files), _worker_logs_to_file(), self._pipeline() as p:
            _ = (p
                 | "Input files" >> beam.Create(tasks)
                 | "One file per worker" >> beam.Reshuffle()
                 | f"Pass {step.index}" >> beam.ParDo(RunPass(self.pipeline.config.to_json(), step.index,
                                                               output.uri)))

    def run_plan(self, stage: GlobalStage, key_files: list[str], output: Output) -> tuple[dict[str, list[str]], Any]:
        if not key_files:
            return {}, None
        plan = plan_of(self.name, type(stage))
        target = f"{WORK}/decisions/{stage.id}"
        reported = f"{WORK}/plans/{stage.id}.json"  # the plan's result, read back once the pipeline has run
        for path in (target, reported):
            if output.exists(path):
                output.fs.rm(output.path(path), recursive=True)
        schema = pa.schema([pa.field("uid", pa.binary(16)), pa.field("file_key", pa.string()),
                            pa.field("reject_reason", pa.string()),
                            *(pa.field(k, v) for k, v in stage.adds().items()), *LINEAGE])
        job = BeamJob(output.uri, stage_outputs(stage.id), key_files, self._run)
        policy = stage.policy()

        def decisions(p: beam.Pipeline) -> None:
            planned = plan(policy, job.read_keys(p), job)
            _ = (planned.decisions
                 | "By input file" >> beam.Map(lambda row: (row["file_key"], row))
                 | "Group by file" >> beam.GroupByKey()
                 | "Write decisions" >> beam.ParDo(WriteDecisions(output.uri, target, schema)))
            if isinstance(planned.result, beam.PCollection):
                _ = planned.result | "Report" >> beam.Map(lambda value: Output(output.uri).write_json(reported, value))
            elif planned.result is not None:
                output.write_json(reported, planned.result)

        with self.progress.global_stage(stage.id):
            self._run(decisions)
        return decision_listing(output, target), output.read_json(reported) if output.exists(reported) else None


# the plans of the built-in global stages register themselves (`curate.pipeline.engine.plan`)
from curate.engines.beam import (balance, exact_dedup, minhash_dedup, paragraph_dedup,  # noqa: E402,F401
                                 quality_classifier)
