"""The Beam engine: the same passes and global stages as Spark, as Beam pipelines.

A pass reads as a sentence: input files | Reshuffle | run the pass on each file. Each file's task is the
engine-neutral `run_pass` (reader, map stages over Arrow batches, writers, commit), so no stage knows which engine
runs it. A global stage's plan is listed in `curate.pipeline.beam.plans`: keys rows in, decision rows out, in
Beam's own transforms (GroupByKey, CombinePerKey, CoGroupByKey). Locally the Python SDK's in-process FnApiRunner
runs it (never the Prism runner, which downloads a binary); `conf: {runner: DataflowRunner, project: …}` or
`FlinkRunner` run it remotely. A stage may also have a `prepare(stage, key_files, output, run)` there: pipelines run
before the decision pipeline (`run(build)` runs one), for work that loops until a count read back says it is done
(MinHash's connected-components rounds).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from curate.pipeline.config import EngineConfig, PipelineConfig, parse
from curate.pipeline.errors import CurateError, RunFailed, job_failed
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import Output, attempt_id
from curate.pipeline.passes import Pass, decision_listing, global_plan, passes, run_pass
from curate.pipeline.progress import RunProgress
from curate.pipeline.schema import LINEAGE


class RunPass(beam.DoFn):
    """One input file through one pass; the config is parsed once per worker."""

    def __init__(self, raw_config: dict, index: int, output_uri: str):
        self.raw_config, self.index, self.output_uri = raw_config, index, output_uri

    def setup(self) -> None:
        self.config = parse(self.raw_config)
        self.step = passes(self.config)[self.index]
        self.output = Output(self.output_uri)

    def process(self, spec: str):
        task = json.loads(spec)
        record = run_pass(self.config, self.step, InputFile.from_json(task["file"]), self.output, task["previous"],
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
            line = _last_line(error)
            if isinstance(error, CurateError):  # raised in this process (the runner in-process): as a worker's reads
                line = f"curate.pipeline.errors.{(RunFailed if isinstance(error, RunFailed) else CurateError).__name__}: {line}"
            raise job_failed("the Beam pipeline failed", line, f" (worker log: {log.name})") from error
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


class BeamEngine:
    name = "beam"

    def __init__(self, engine: EngineConfig, progress: RunProgress | None = None, in_process: bool = False):
        self.engine, self.progress, self.in_process = engine, progress or RunProgress(None), in_process

    def __enter__(self) -> BeamEngine:
        logging.getLogger("apache_beam").setLevel(logging.ERROR)
        return self

    def __exit__(self, *exc) -> None:
        pass

    def _pipeline(self) -> beam.Pipeline:
        args = [f"--{key}={value}" for key, value in self.engine.conf.items()]
        options = PipelineOptions(args)
        if "runner" in self.engine.conf:
            return beam.Pipeline(options=options)
        from apache_beam.runners.portability.fn_api_runner import FnApiRunner

        # The local runner, never the Prism download: one worker per core in separate processes, or (`in_process`)
        # one in this process.
        workers = ["--direct_num_workers=1", "--direct_running_mode=in_memory"] if self.in_process else \
            [f"--direct_num_workers={os.cpu_count() or 1}", "--direct_running_mode=multi_processing"]
        options = PipelineOptions(args + workers + ["--default_sdk_harness_log_level=ERROR"])
        return beam.Pipeline(runner=FnApiRunner(), options=options)

    def _run(self, build) -> None:
        """One pipeline, built by `build(pipeline)`, run to completion with the worker logs kept aside."""
        with _worker_logs_to_file(), self._pipeline() as p:
            build(p)

    def run_pass(self, config: PipelineConfig, step: Pass, files: list[InputFile], output: Output,
                 previous: dict[str, dict], decisions: dict[str, list[str]]) -> None:
        if not files:
            return
        tasks = [json.dumps({"file": f.to_json(), "previous": previous.get(f.key),
                             "decisions": decisions.get(f.key, []),
                             "progress_every": self.progress.task_every}) for f in files]
        with self.progress.pass_of(step, output, len(files)), _worker_logs_to_file(), self._pipeline() as p:
            _ = (p
                 | "Input files" >> beam.Create(tasks)
                 | "One file per worker" >> beam.Reshuffle()
                 | f"Pass {step.index}" >> beam.ParDo(RunPass(config.to_json(), step.index, output.uri)))

    def run_global(self, config: PipelineConfig, step: Pass, key_files: list[str],
                   output: Output) -> dict[str, list[str]]:
        spec = step.feeds
        stage = spec.build()
        target = f"work/decisions/{spec.id}"
        if not key_files:
            return {}
        plan = global_plan("beam", spec.stage_class)
        if output.exists(target):
            output.fs.rm(output.path(target), recursive=True)
        schema = pa.schema([pa.field("uid", pa.binary(16)), pa.field("file_key", pa.string()),
                            pa.field("reject_reason", pa.string()),
                            *(pa.field(k, v) for k, v in stage.adds().items()), *LINEAGE])
        from curate.pipeline.beam.plans import PREPARE

        prepare = PREPARE.get(spec.stage_class)

        def decisions(p: beam.Pipeline) -> None:
            keys = (p
                    | "Keys files" >> beam.Create([(path, output.uri) for path in key_files])
                    | "Read keys" >> beam.FlatMap(read_keys))
            _ = (plan(stage, keys, output)
                 | "By input file" >> beam.Map(lambda row: (row["file_key"], row))
                 | "Group by file" >> beam.GroupByKey()
                 | "Write decisions" >> beam.ParDo(WriteDecisions(output.uri, target, schema)))

        with self.progress.global_stage(spec.id):
            if prepare is not None:
                prepare(stage, key_files, output, self._run)
            self._run(decisions)
        return decision_listing(output, target)
