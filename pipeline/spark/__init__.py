"""The Spark engine: per-file passes as an RDD of input-file tasks -> mapPartitions, global stages as DataFrame plans.

HTML and text never enter the JVM: each Python task reads its file (or the rows the previous pass kept), runs the
fused map stages, writes its own output and ledgers, and returns only the file's key. A pass is a plain RDD job, not a
DataFrame `mapInArrow`: nothing in it is relational, and the SQL layer's planning and code generation cost ~11 s of
JVM CPU per pass for nothing (measured on a 2-core machine: 22 vs 33 CPU-s for a session plus one 8-task job). A global stage's plan is
listed in `curate.pipeline.spark.plans`: `plan(stage, keys, output)` turns the keys of all files into a decision
table keyed by `uid` (`output` is the run's root, for what a plan reports beside its decisions).
Embedded `local[*]` by default; any master URL (spark://, yarn, k8s://) runs the same plan on a cluster.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from importlib import resources


from curate.pipeline.config import EngineConfig, PipelineConfig, parse
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import Output
from curate.pipeline.passes import Pass, decision_listing, global_plan, passes, run_pass
from curate.pipeline.progress import RunProgress
from curate.pipeline.schema import LINEAGE
from curate.pipeline.spark import class_archive, quiet


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
    log4j = resources.files("curate.pipeline").joinpath("log4j2.properties")
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
        .config("spark.python.daemon.module", "curate.pipeline.spark.daemon")  # workers fork with imports done
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
    """The partition function of a pass: each task spec (JSON) run through `run_pass`; yields the committed keys."""

    def run(specs: Iterator[str]) -> Iterator[str]:
        config, output = parse(raw_config), Output(output_uri)
        step = passes(config)[index]
        for spec in specs:
            task = json.loads(spec)
            record = run_pass(config, step, InputFile.from_json(task["file"]), output, task["previous"], task["decisions"],
                              task["progress_every"])
            yield record["key"]

    return run


class SparkEngine:
    """One SparkSession for a whole run (or the caller's active session), stopped at the end if the run made it."""

    name = "spark"

    def __init__(self, engine: EngineConfig, progress: RunProgress | None = None, jvm_work: bool = True):
        self.engine, self.progress, self.jvm_work = engine, progress or RunProgress(None), jvm_work
        self.spark, self.owned = None, False

    def __enter__(self) -> SparkEngine:
        self.spark, self.owned = session(self.engine, self.jvm_work)
        return self

    def __exit__(self, kind, *exc) -> None:
        if not self.owned:
            return
        interrupted = kind is not None and (issubclass(kind, KeyboardInterrupt) or _interrupted.is_set())
        if interrupted:
            try:  # the interrupted call may have cut the connection to the JVM: stopping then fails, and must not
                self.spark.stop()  # turn the interruption into a failed job
            except Exception:  # noqa: BLE001
                pass
            if class_archive.writing():  # no JVM left behind writing an archive after an interrupted command
                from pyspark import SparkContext

                class_archive.abandon(SparkContext._gateway.proc)
            if not issubclass(kind, KeyboardInterrupt):
                raise KeyboardInterrupt from None
            return
        self.spark.stop()  # the class-data archive, if asked of this JVM, is written by `finish_archive`

    def run_pass(self, config: PipelineConfig, step: Pass, files: list[InputFile], output: Output,
                 previous: dict[str, dict], decisions: dict[str, list[str]]) -> None:
        """One pass over `files`, one task per file; each file commits its own record in `output`."""
        if not files:
            return
        sc = self.spark.sparkContext
        specs = [json.dumps({"file": f.to_json(), "previous": previous.get(f.key),
                             "decisions": decisions.get(f.key, []),
                             "progress_every": self.progress.task_every}) for f in files]
        sc.setJobGroup(f"curate-pass-{step.index}", f"pass {step.index}: {len(files)} input files")
        job = sc.parallelize(specs, len(specs)).mapPartitions(_pass_task(config.to_json(), step.index, output.uri))
        with self.progress.pass_of(step, output, len(files)):
            job.collect()

    def run_global(self, config: PipelineConfig, step: Pass, key_files: list[str], output: Output) -> dict[str, list[str]]:
        """Phase B of the global stage `step.feeds`: its plan over every file's keys, written per input file."""
        spec = step.feeds
        stage = spec.build()
        target = f"work/decisions/{spec.id}"
        if not key_files:
            return {}
        plan = global_plan("spark", spec.stage_class)
        sc = self.spark.sparkContext
        sc.setCheckpointDir(output.uri_of("work", "checkpoints", spec.id))
        sc.setJobGroup(f"curate-{spec.id}", f"global stage {spec.id}")
        with self.progress.global_stage(spec.id):
            keys = self.spark.read.parquet(*[output.uri_of(path) for path in key_files])
            decisions = plan(stage, keys, output)
            columns = ["uid", "file_key", "reject_reason", *stage.adds(),
                       *(name for name in LINEAGE.names if name in decisions.columns)]
            decisions.select(*columns).repartition("file_key").write.mode("overwrite") \
                .partitionBy("file_key").parquet(output.uri_of(target))
        return decision_listing(output, target)


def finish_archive() -> None:
    """End a stopped run's JVM that was asked to write the class-data archive, waiting while it writes: after the
    run's output is complete (its time is not the run's), and not by a JVM left behind after the command returns."""
    from pyspark import SparkContext

    if not class_archive.writing() or SparkContext._gateway is None or SparkContext._active_spark_context is not None:
        return
    class_archive.finish(SparkContext._gateway.proc)
    SparkContext._gateway = SparkContext._jvm = None  # that JVM is gone: a next session starts its own
