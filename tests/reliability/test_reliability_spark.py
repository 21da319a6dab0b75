"""Crash and resume on Spark: the driver killed with SIGKILL, task attempts that fail, a worker lost mid-stage.

Every run here is `curate run` in a child process (its own session, so the whole process tree — driver, JVM, the
PySpark daemon that moves itself to its own process group, its workers and their extraction sandboxes — can be found
and killed), over the demo crawl split into 6 WARC files, through a pipeline with a global stage between two passes:
extract -> reliability_faults -> exact_dedup -> reliability_faults -> gopher_quality. The reference is one
uninterrupted run in-process on the shared session. "Same output" is: the same kept documents (every column), the
same reject reason for every rejected id, no id twice, every input record kept or rejected, and stats.json balancing
with the reference's counts. Kill points are drawn from a seeded RNG (CURATE_KILL_SEED, default 10; CURATE_KILLS,
default 2) over the run's commit points: the k-th input file of pass 0, the global stage, the k-th file of pass 1.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate.pipeline import config as pipeline_config
from curate.testing import generate_crawl
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, STATS
from curate.pipeline.run import run

HERE = Path(__file__).resolve().parent
FILES = 6
RECORDS = 218  # the demo crawl: every response record, whatever the split
KILL_SEED = int(os.environ.get("CURATE_KILL_SEED", "10"))
KILLS = max(2, int(os.environ.get("CURATE_KILLS", "2")))


def pipeline(crawl: Path, output: Path, markers: Path, *, master: str | None = None,
             fail_a: list[str] | None = None, fail_b: list[str] | None = None, files: list[str] | None = None) -> dict:
    engine = {"conf": {"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"}}
    if master:
        engine["master"] = master
    # on_error: fail, so an injected exception fails the task (the default would reject the rows and go on)
    faults = {"name": "reliability_faults", "on_error": "fail", "markers": str(markers), "files": files or []}
    return {
        "input": {"paths": [str(crawl)], "dataset": "demo"},
        "output": str(output),
        "plugins": ["reliability_faults"],
        "engine": engine,
        "stages": [
            {"name": "extract", "backend": "resiliparse", "timeout": 120},  # no timeout rejects on a busy machine
            {**faults, "id": "faults_a", "fail": fail_a or []},
            {"name": "exact_dedup"},
            {**faults, "id": "faults_b", "fail": fail_b or []},
            {"name": "gopher_quality"},
        ],
    }


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("crawl")
    generate_crawl(directory, files=FILES)
    return directory


@pytest.fixture(scope="module")
def reference(spark, crawl, tmp_path_factory) -> Path:
    """One uninterrupted run, in-process on the shared session (the fault module shipped to its workers)."""
    root = tmp_path_factory.mktemp("reference")
    spark.sparkContext.addPyFile(str(HERE / "reliability_faults.py"))
    shuffle = spark.conf.get("spark.sql.shuffle.partitions")
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    try:
        run(pipeline_config.parse(pipeline(crawl, root / "out", root)))
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", shuffle)
    return root / "out"


# --- child runs ------------------------------------------------------------------------------------------------


def start(config: dict, directory: Path, *flags: str) -> tuple[subprocess.Popen, Path]:
    path = directory / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    log = directory / f"run-{time.monotonic_ns()}.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "SPARK_LOCAL_IP": "127.0.0.1"}
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "curate.cli.main", "run", str(path), *flags],
                                   stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    return process, log


def finish(process: subprocess.Popen, log: Path, timeout: float = 600) -> None:
    try:
        code = process.wait(timeout)
    finally:
        kill_session(process)
    assert code == 0, log.read_text()[-4000:]


def _session_of(pid: int) -> tuple[int, str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[3]), fields[0]  # session id, state


def session_members(sid: int) -> list[int]:
    """Live processes of session `sid` (zombies aside): what a killed run leaves behind."""
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _session_of(int(entry))
            if found and found[0] == sid and found[1] != "Z":
                members.append(int(entry))
    return members


def kill_session(process: subprocess.Popen) -> list[int]:
    """SIGKILL the run's process group, then anything of its session that outlives it (the PySpark daemon moves to
    a group of its own); returns the pids that had to be killed one by one. Fails if any survives."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    stragglers = session_members(process.pid)
    give_up = time.monotonic() + 30
    while True:
        left = session_members(process.pid)
        if not left:
            return stragglers
        assert time.monotonic() < give_up, f"processes of a killed run survive SIGKILL: {left}"
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)


def progress(output: Path) -> int:
    """Commit points reached: files of pass 0, the global stage, files of pass 1, passes.json, stats, manifest."""
    done = sum(1 for _ in (output / "ledger" / "reader").glob("*.json")) if output.exists() else 0
    done += sum(1 for _ in (output / "ledger" / "pass-1").glob("*.json")) if output.exists() else 0
    for name in ("ledger/decisions-exact_dedup.json", "ledger/passes.json", STATS, MANIFEST):
        done += (output / name).exists()
    return done


# --- comparing outputs -----------------------------------------------------------------------------------------


def documents(output: Path) -> pa.Table:
    manifest = json.loads((output / MANIFEST).read_text())
    table = pa.concat_tables([pq.read_table(output / path) for path in manifest["documents"]])
    return table.sort_by("id")


def rejects(output: Path) -> list[tuple[str, str]]:
    manifest = json.loads((output / MANIFEST).read_text())
    rows = []
    for path in manifest["rejects"]:
        table = pq.read_table(output / path, columns=["id", "reject_reason"])
        rows += zip(table.column("id").to_pylist(), table.column("reject_reason").to_pylist())
    return sorted(rows)


def assert_same_output(output: Path, reference: Path) -> None:
    kept, expected = documents(output), documents(reference)
    ids = kept.column("id").to_pylist()
    assert len(ids) == len(set(ids)), "a kept document appears twice"
    assert kept.schema == expected.schema
    assert kept.to_pydict() == expected.to_pydict()
    rejected = rejects(output)
    rejected_ids = [i for i, _ in rejected]
    assert len(rejected_ids) == len(set(rejected_ids)), "a document is rejected twice"
    assert set(rejected_ids).isdisjoint(ids)
    assert rejected == rejects(reference)
    assert len(ids) + len(rejected_ids) == RECORDS
    stats, want = (json.loads((o / STATS).read_text()) for o in (output, reference))
    assert stats["input"] == RECORDS == stats["kept"] + sum(stats["rejected"].values())
    assert (stats["kept"], stats["rejected"]) == (want["kept"], want["rejected"])
    assert [(s["name"], s["in"], s["out"]) for s in stats["stages"]] == \
        [(s["name"], s["in"], s["out"]) for s in want["stages"]]


# --- the tests -------------------------------------------------------------------------------------------------


def test_driver_killed_at_random_points_then_resumed_gives_the_same_output(crawl, reference, tmp_path):
    rng = random.Random(KILL_SEED)
    # one kill in pass 0 (after 1..5 of 6 files), one around the global stage or in pass 1; CURATE_KILLS=n for more
    targets = sorted([rng.randint(1, FILES - 1), rng.randint(FILES, 2 * FILES)]
                     + [rng.randint(1, 2 * FILES) for _ in range(KILLS - 2)])
    output, markers = tmp_path / "out", tmp_path / "markers"
    markers.mkdir()
    config = pipeline(crawl, output, markers)
    killed = []
    for target in targets:
        process, log = start(config, tmp_path, *(["--resume"] if output.exists() else []))
        while process.poll() is None and progress(output) < target:
            time.sleep(0.05)
        time.sleep(rng.uniform(0, 0.5))
        if process.poll() is None:
            killed.append((target, progress(output), len(kill_session(process))))
        else:  # the run got past the target between two looks and finished: it must have finished well
            finish(process, log)
    assert len(killed) >= min(2, len(set(targets))), f"the runs ended before the kill points: {killed}"
    assert not (output / MANIFEST).exists() or len(killed) < len(targets)
    process, log = start(config, tmp_path, "--resume")
    finish(process, log)
    assert_same_output(output, reference)
    assert "task(s) kept from the attempt before" in log.read_text()


def test_task_failures_and_a_lost_worker_are_retried_to_the_same_output(crawl, reference, tmp_path):
    # local[2,3]: three attempts per task. In pass 0, two files fail twice: an exception, then the worker process
    # exits mid-stage (os._exit); in pass 1 (after the global stage), two files lose their worker once.
    output, markers = tmp_path / "out", tmp_path / "markers"
    markers.mkdir()
    names = sorted(p.name for p in crawl.iterdir())
    config = pipeline(crawl, output, markers, master="local[2,3]", fail_a=["raise", "exit"], fail_b=["exit"],
                      files=[names[1], names[4]])
    process, log = start(config, tmp_path)
    finish(process, log)
    assert sorted(p.name for p in markers.iterdir()) == sorted(
        [f"faults_a--{names[i]}--{k}" for i in (1, 4) for k in (0, 1)] + [f"faults_b--{names[i]}--0" for i in (1, 4)])
    assert_same_output(output, reference)
    # the failed attempts wrote files of their own (rejects written before the failure); the run removes every file
    # no commit record lists before it writes the manifest, so `documents/*.parquet` read directly is the output
    manifest = json.loads((output / MANIFEST).read_text())
    listed = set(manifest["documents"]) | set(manifest["rejects"])
    on_disk = {str(p.relative_to(output)) for folder in ("documents", "ledger/rejects")
               for p in (output / folder).glob("*.parquet")}
    assert on_disk == listed
    committed = {(r["key"], r["pass"]): r["attempt"] for folder in ("reader", "pass-1")
                 for r in map(json.loads, (p.read_text() for p in (output / "ledger" / folder).glob("*.json")))}
    for path in on_disk:  # every file left is its file's committed attempt
        key, index, attempt = re.fullmatch(r"part-(.+)-p(\d)-([0-9a-f]{12})\.parquet", Path(path).name).groups()
        assert committed[key, int(index)] == attempt


def test_a_failed_task_without_retries_fails_the_run_cleanly_and_resume_finishes_it(spark, crawl, reference,
                                                                                  tmp_path):
    # In-process on the shared local[2] session: one attempt per task, so the injected exception fails the job;
    # the run stops with one CurateError naming it, and --resume redoes only the files that did not commit.
    output, markers = tmp_path / "out", tmp_path / "markers"
    markers.mkdir()
    names = sorted(p.name for p in crawl.iterdir())
    config = pipeline_config.parse(pipeline(crawl, output, markers, fail_b=["raise"], files=[names[2]]))
    with pytest.raises(CurateError, match="InjectedFailure: faults_b: injected failure, attempt 0"):
        run(config)
    assert not (output / MANIFEST).exists()
    result = run(config, resume=True)
    assert result.resumed_tasks == FILES
    assert_same_output(output, reference)
