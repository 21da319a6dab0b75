"""The Spark engine: per-file passes as an RDD of input-file tasks -> mapPartitions, global stages as DataFrame plans.

HTML and text never enter the JVM: each Python task reads its file (or the rows the previous pass kept), runs the
fused map stages, writes its own output and ledgers, and returns only the file's key. A pass is a plain RDD job, not a
DataFrame `mapInArrow`: nothing in it is relational, and the SQL layer's planning and code generation cost ~11 s of
JVM CPU per pass for nothing (measured on a 2-core machine: 22 vs 33 CPU-s for a session plus one 8-task job). A
global stage's plan is registered with `@plan("spark", StageClass)` (`curate.pipeline.engine`): `plan(policy, keys,
job)` turns the keys of all files (a DataFrame) into a decision table keyed by `uid`, and its result.
Embedded `local[*]` by default; any master URL (spark://, yarn, k8s://) runs the same plan on a cluster.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from curate.engines.spark import class_archive, quiet
from curate.pipeline.config import EngineConfig
from curate.pipeline.engine import Engine, plan_of, register_engine
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import WORK, Output, stage_outputs
from curate.pipeline.passes import Pass, Pipeline, decision_listing, run_pass, worker_pipeline
from curate.pipeline.progress import RunProgress
from curate.pipeline.schema import LINEAGE
from curate.pipeline.stage import GlobalStage

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


# Below this much input a global stage's plan gives the driver JVM too little work for its optimising JIT to pay for
# its compiling. On 2 cores, JVM CPU-s with it and without: exact_dedup over 37 pages 17.3 and 8.2, minhash_dedup over
# 100,000 documents (97 MB of Parquet) 76.9 and 60.8, over 300,000 (292 MB) 133.6 and 129.7 (BENCHMARKS.md).
JIT_INPUT_BYTES = 256 * 2 ** 20


def session(engine: EngineConfig, jvm_work: bool = True):
    """The active SparkSession (tests share one), or a new one for this run; second value: whether we own it.

    `jvm_work=False` stops the driver's JIT at its first tier: the optimising compiler would otherwise spend ~8
    CPU-s compiling Spark's start-up, which pays only when the JVM then works long enough (measured: 22 → 14 JVM
    CPU-s for a session and one 8-task job on 2 cores). A run asks for it when it has no global stage (the JVM only
    schedules one task per file) or a small input (`JIT_INPUT_BYTES`). An `engine.conf` of
    `spark.driver.extraJavaOptions` replaces this choice, and the class-data archive (`class_archive`) that halves
    the driver JVM's start."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active, False
    master = engine.master or "local[*]"
    _require_java()
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    log4j = resources.files("curate.engines.spark").joinpath("log4j2.properties")
    java_options = " ".join(filter(None, [
        f"-Dlog4j2.configurationFile=file:{log4j}",
        "" if jvm_work else "-XX:TieredStopAtLevel=1",
        class_archive.java_options(_java()),
    ]))
    builder = (
        SparkSession.builder.master(master)
        .appName("curate")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.python.worker.reuse", "true")
        .config("spark.python.daemon.module", "curate.engines.spark.daemon")  # workers fork with imports done
        # PySpark starts one worker daemon per worker environment, and a plan's Arrow UDF (the dedup verdicts) adds
        # SPARK_SIMPLIFIED_TRACEBACK to its workers' environment, which the passes' workers lack: a second daemon
        # importing everything again (~2.5 CPU-s a run). curate reports a task's error by its last line anyway.
        .config("spark.sql.execution.pyspark.udf.simplifiedTraceback.enabled", "false")
    )
    for key, value in engine.conf.items():
        builder = builder.config(key, value)
    try:
        with quiet.child_stderr():
            spark = builder.getOrCreate()
    except Exception as error:  # the JVM did not start: almost always a missing or wrong Java
        if "JAVA_HOME" in str(error) or "Java gateway" in str(error):
            raise CurateError("Spark could not start a JVM: install Java 17 (e.g. `apt-get install openjdk-17-jre`) "
                              "or set JAVA_HOME") from None
        raise
    spark.sparkContext.setLogLevel("FATAL")  # failures reach the user as one line; --verbose for the rest
    if threading.current_thread() is threading.main_thread():
        # PySpark's own handler calls into the JVM from inside the signal handler, while the interrupted call still
        # holds the connection: four py4j tracebacks. A plain KeyboardInterrupt ends the run; `stop` cancels its jobs.
        _interrupted.clear()
        signal.signal(signal.SIGINT, _on_interrupt)
    return spark, True


_interrupted = threading.Event()


def _on_interrupt(signum, frame) -> None:
    """Ctrl-C: remembered, for when py4j turns the KeyboardInterrupt raised inside its socket read into an error
    of its own ("Answer from Java side is empty"), so the run still ends as interrupted."""
    _interrupted.set()
    raise KeyboardInterrupt


def _java() -> str | None:
    """The java that spark-class starts: JAVA_HOME's, else the one on PATH."""
    home = os.environ.get("JAVA_HOME")
    return os.path.join(home, "bin", "java") if home else shutil.which("java")


def _require_java() -> None:
    """Fail in one line before spark-class does (it prints its own errors): the JVM comes from JAVA_HOME, else PATH."""
    home = os.environ.get("JAVA_HOME")
    java = _java()
    if java and os.access(java, os.X_OK):
        return
    where = f"JAVA_HOME ({home}) has no bin/java" if home else "there is no `java` on PATH and JAVA_HOME is not set"
    raise CurateError(f"Spark needs Java 17 or later, but {where}: install it (e.g. `apt-get install "
                      "openjdk-17-jre-headless`) and set JAVA_HOME to its folder, or run with --engine beam")


def _pass_task(raw_config: dict, index: int, output_uri: str) -> Callable[[Iterator[str]], Iterator[str]]:
    """The partition function of a pass: each task spec (JSON) run through `run_pass` with the worker's pipeline
    (built once per worker process); yields the committed keys."""

    def run(specs: Iterator[str]) -> Iterator[str]:
        pipeline, output = worker_pipeline(raw_config), Output(output_uri)
        step = pipeline.passes[index]
        for spec in specs:
            task = json.loads(spec)
            record = run_pass(pipeline, step, InputFile.from_json(task["file"]), output, task["previous"],
                              task["decisions"], task["progress_every"])
            yield record["key"]

    return run


@dataclass
class SparkJob:
    """What a Spark plan gets besides its stage's decision and the keys: the session, the run's output and the
    stage's folder in it (for files that are part of the result: a dedup index)."""

    spark: SparkSession
    output: Output
    folder: str


@register_engine
class SparkEngine(Engine):
    """One SparkSession for a whole run (or the caller's active session), started at the run's first job and stopped
    when the run is over if the run made it."""

    name = "spark"

    def __init__(self, pipeline: Pipeline, inputs: list[InputFile], progress: RunProgress | None = None):
        self.pipeline, self.progress = pipeline, progress or RunProgress(None)
        # a run with global stages over a large input has JVM work to compile for (see `session`)
        self.jvm_work = len(pipeline.passes) > 1 and sum(f.stored_size for f in inputs) >= JIT_INPUT_BYTES
        self.spark, self.owned = None, False

    def _session(self) -> SparkSession:
        if self.spark is None:
            self.spark, self.owned = session(self.pipeline.config.engine, self.jvm_work)
        return self.spark

    def close(self, error: BaseException | None) -> None:
        """Stop the session the run made; then, once the run's output is written, let a JVM asked to write the
        class-data archive write it (`class_archive`). After an interruption, no JVM is left writing one."""
        if self.spark is not None and self.owned:
            kind = type(error) if error is not None else None
            interrupted = kind is not None and (issubclass(kind, KeyboardInterrupt) or _interrupted.is_set())
            if interrupted:
                try:  # the interrupted call may have cut the connection to the JVM: stopping then fails, and must
                    self.spark.stop()  # not turn the interruption into a failed job
                except Exception:  # noqa: BLE001
                    pass
                if class_archive.writing():
                    from pyspark import SparkContext

                    class_archive.abandon(SparkContext._gateway.proc)
                if not issubclass(kind, KeyboardInterrupt):
                    raise KeyboardInterrupt from None
                return
            self.spark.stop()
        finish_archive()

    @classmethod
    def resources(cls, settings: EngineConfig):
        """What a plan gets (`curate.pipeline.estimate`): embedded (`local[N]`), one worker, the driver, running N
        tasks with `spark.driver.memory`; on a cluster, executors of `spark.executor.cores` tasks and
        `spark.executor.memory`. Of that heap, plans may use what Spark's unified memory gives execution and storage,
        (heap - 300 MiB) x `spark.memory.fraction`; each sort or aggregation takes at least one page
        (`spark.buffer.pageSize`, else as Spark sizes it: that memory / tasks / 16, a power of two from 1 to 64 MiB).
        Spark's defaults where unset (1g, 200 shuffle partitions, fraction 0.6)."""
        try:
            return _resources(settings)
        except (ValueError, ZeroDivisionError) as error:
            raise ConfigError(f"engine: a Spark setting that sizes its tasks and memory is not a size or number "
                              f"({error}): spark.driver.memory/spark.executor.memory as 4g or 512m, "
                              f"spark.executor.cores and local[N] as whole numbers above 0") from None

    @classmethod
    def check(cls, settings: EngineConfig) -> None:
        """Any master URL Spark takes (local[*], spark://, yarn, k8s://) and any `spark.*` configuration."""

    @classmethod
    @contextlib.contextmanager
    def kept_open(cls, settings: EngineConfig) -> Iterator[None]:
        """One session for every run inside (a JVM start is ~10 s): each run finds it active and leaves it open."""
        spark, owned = session(settings, jvm_work=True)
        try:
            yield
        finally:
            if owned:
                spark.stop()

    def run_pass(self, step: Pass, files: list[InputFile], output: Output, previous: dict[str, dict],
                 decisions: dict[str, list[str]]) -> None:
        """One pass over `files`, one task per file; each file commits its own record in `output`."""
        if not files:
            return
        sc = self._session().sparkContext
        specs = [json.dumps({"file": f.to_json(), "previous": previous.get(f.key),
                             "decisions": decisions.get(f.key, []),
                             "progress_every": self.progress.task_every}) for f in files]
        sc.setJobGroup(f"curate-pass-{step.index}", f"pass {step.index}: {len(files)} tasks")
        task = _pass_task(self.pipeline.config.to_json(), step.index, output.uri)
        job = sc.parallelize(specs, len(specs)).mapPartitions(task)
        with self.progress.pass_of(step, output, files):
            job.collect()

    def run_plan(self, stage: GlobalStage, key_files: list[str], output: Output) -> tuple[dict[str, list[str]], Any]:
        """The plan of global stage `stage` over every file's keys, its decisions written per input file."""
        if not key_files:
            return {}, None
        plan = plan_of(self.name, type(stage))
        spark = self._session()
        target = f"{WORK}/decisions/{stage.id}"
        sc = spark.sparkContext
        sc.setCheckpointDir(output.uri_of(WORK, "checkpoints", stage.id))
        sc.setJobGroup(f"curate-{stage.id}", f"global stage {stage.id}")
        with self.progress.global_stage(stage.id):
            keys = spark.read.parquet(*[output.uri_of(path) for path in key_files])
            planned = plan(stage.policy(), keys, SparkJob(spark, output, stage_outputs(stage.id)))
            decisions = planned.decisions
            columns = ["uid", "file_key", "reject_reason", *stage.adds(),
                       *(name for name in LINEAGE.names if name in decisions.columns)]
            decisions.select(*columns).repartition("file_key").write.mode("overwrite") \
                .partitionBy("file_key").parquet(output.uri_of(target))
        return decision_listing(output, target), planned.result


def _resources(settings: EngineConfig):
    """`SparkEngine.resources` read from the settings; ValueError where one is not a number."""
    from curate.pipeline.estimate import Resources

    conf, master = settings.conf, settings.master or "local[*]"
    if master.startswith("local"):
        threads = master.partition("[")[2].partition(",")[0].rstrip("]") or "1"
        tasks = (os.cpu_count() or 1) if threads == "*" else int(threads)
        key = "spark.driver.memory"
    else:
        tasks, key = int(conf.get("spark.executor.cores", "1")), "spark.executor.memory"
    given = conf.get(key, "1g")
    usable = int((_jvm_size(given, 1 << 20) - (300 << 20)) * float(conf.get("spark.memory.fraction", "0.6")))
    page = conf.get("spark.buffer.pageSize")
    page = _jvm_size(page, 1) if page else min(64 << 20, max(1 << 20, 1 << max(0, usable // tasks // 16 - 1)
                                                               .bit_length()))
    return Resources(tasks, int(conf.get("spark.sql.shuffle.partitions", "200")), usable,
                     f"{key} {given}: (heap - 300 MiB) x spark.memory.fraction", page)


def _jvm_size(text: str, unit: int) -> int:
    """A JVM size setting in bytes: `4g`, `512m`, `64k`, `1t` (powers of 1,024), or a number of `unit`s."""
    text = text.strip().lower().removesuffix("b")
    power = "kmgt".find(text[-1:]) + 1 if text else 0
    return int(float(text[:-1]) * 1024 ** power) if power else int(float(text) * unit)


def finish_archive() -> None:
    """End a stopped run's JVM that was asked to write the class-data archive, waiting while it writes: after the
    run's output is complete (its time is not the run's), and not by a JVM left behind after the command returns."""
    from pyspark import SparkContext

    if not class_archive.writing() or SparkContext._gateway is None or SparkContext._active_spark_context is not None:
        return
    class_archive.finish(SparkContext._gateway.proc)
    SparkContext._gateway = SparkContext._jvm = None  # that JVM is gone: a next session starts its own


# the plans of the built-in global stages register themselves (`curate.pipeline.engine.plan`)
from curate.engines.spark import (balance, exact_dedup, minhash_dedup, paragraph_dedup,  # noqa: E402,F401
                                  quality_classifier)
