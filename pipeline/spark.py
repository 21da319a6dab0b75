"""The Spark engine: phase A as a DataFrame of input files -> mapInArrow, one task per file.

HTML and text never enter the JVM: each Python task reads its file, runs the fused map stages, writes the file's
documents and ledgers itself, and returns only the file's key. Embedded `local[*]` by default; any master URL
(spark://, yarn, k8s://) runs the same plan on a cluster.
"""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from importlib import resources

import pyarrow as pa

from curate.pipeline.config import EngineConfig, PipelineConfig, parse
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import Output
from curate.pipeline.phase_a import run_file

_FILES_SCHEMA = "index long, file string"
_RESULT_SCHEMA = "key string"


def session(engine: EngineConfig):
    """The active SparkSession (tests share one), or a new one for this run; second value: whether we own it."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    master = engine.master or "local[*]"
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = resources.files("curate.pipeline").joinpath("log4j2.properties")
    builder = (
        SparkSession.builder.master(master)
        .appName("curate")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
        .config("spark.python.worker.reuse", "true")
    )
    for key, value in engine.conf.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: almost always a missing or wrong Java
        if "JAVA_HOME" in str(error) or "Java gateway" in str(error):
            raise CurateError("Spark could not start a JVM: install Java 17 (e.g. `apt-get install openjdk-17-jre`) "
                              "or set JAVA_HOME") from None
        raise
    spark.sparkContext.setLogLevel("ERROR")
    return spark, True


def _task(raw_config: dict, output_uri: str) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        config, output = parse(raw_config), Output(output_uri)
        for batch in batches:
            for spec in batch.column("file").to_pylist():
                record = run_file(config, InputFile(**json.loads(spec)), output)
                yield pa.RecordBatch.from_pydict({"key": [record["key"]]})

    return run


class SparkEngine:
    """One SparkSession for a whole run (or the caller's active session), stopped at the end if the run made it."""

    def __init__(self, engine: EngineConfig, progress=None):
        self.engine, self.progress = engine, progress
        self.spark, self.owned = None, False

    def __enter__(self) -> SparkEngine:
        self.spark, self.owned = session(self.engine)
        return self

    def __exit__(self, *exc) -> None:
        if self.owned:
            self.spark.stop()

    def run_phase_a(self, config: PipelineConfig, files: list[InputFile], output: Output) -> None:
        """Phase A over `files`, one task per file; each file commits its own record in `output`."""
        if not files:
            return
        sc = self.spark.sparkContext
        rows = [(i, json.dumps(f.__dict__)) for i, f in enumerate(files)]
        frame = self.spark.createDataFrame(sc.parallelize(rows, len(rows)), _FILES_SCHEMA)
        sc.setJobGroup("curate-phase-a", f"phase A: {len(files)} input files")
        job = frame.mapInArrow(_task(config.to_json(), output.uri), _RESULT_SCHEMA)
        if self.progress is None:
            job.collect()
            return
        with self.progress.track_spark(sc, "curate-phase-a", "phase A", len(files)):
            job.collect()
