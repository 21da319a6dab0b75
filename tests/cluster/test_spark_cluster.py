"""A real Spark standalone cluster on 127.0.0.1: one master and two workers started from the pip package's
`spark-class`, the demo pipeline submitted with `spark-submit jobs/spark_pipeline.py`, executors running the Python
environment shipped as a packed archive (`--archives env.tar.gz#env`, built by jobs/pack_env.py), and the same
output as the embedded run of the same config."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from curate.pipeline import config as pipeline_config
from curate.pipeline.commands.demo import generate_crawl
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run

ROOT = Path(__file__).resolve().parents[2]
STAGES = [
    {"name": "extract", "backend": "trafilatura"},
    {"name": "langid", "languages": ["en", "de", "fr", "es"], "threshold": 0.65},
    {"name": "exact_dedup"},
    {"name": "gopher_quality"},
]
CLUSTER_UP_S = 150      # master + two workers registered (JVM starts on a busy 2-core machine)
PACK_S = 420            # first build of the archive: pip installs of the slim venv and the pack
SUBMIT_S = 420          # spark-submit of the pipeline, executors unpacking the archive included
# Every JVM of the cluster (master, workers, driver, executors) with the first JIT tier only: on a few documents the
# optimising compiler's work is most of their CPU, and which tier runs Spark changes nothing the test checks.
QUICK_JVM = "-XX:TieredStopAtLevel=1"


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    return java if java and os.access(java, os.X_OK) else None


pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(_java() is None, reason="no Java (JAVA_HOME or `java` on PATH): Spark cannot start")]


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _free_ports(n: int) -> list[int]:
    """Ports free now and outside the kernel's ephemeral range, so no outgoing connection takes one while the JVMs
    start (a port taken meanwhile would make Spark bind the next one, where nobody looks)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    candidates = [p for p in range(20000, 65536) if not low <= p <= high]
    rng, ports = random.Random(), []
    while len(ports) < n:
        port = rng.choice(candidates)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if port not in ports:
            ports.append(port)
    return ports


def _clean_env(spark_home: Path, local_dirs: Path) -> dict[str, str]:
    """The processes' environment without anything that points Python at the developer's venv; Spark's scratch
    space (shuffle files, fetched archives) inside the test's folder, not in /tmp."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update(SPARK_HOME=str(spark_home), SPARK_LOCAL_IP="127.0.0.1", SPARK_LOCAL_DIRS=str(local_dirs),
               SPARK_DAEMON_JAVA_OPTS=QUICK_JVM)  # the master and the workers
    return env


def _stop(process: subprocess.Popen, grace: float = 10) -> None:
    """SIGTERM the process's whole group (a worker's executors and their Python workers are in it), then SIGKILL."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # whatever of the group outlived its leader
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Cluster:
    """Master and workers as separate process groups, logs under `directory`; `stop()` ends them all."""

    def __init__(self, directory: Path, workers: int = 2):
        self.directory, self.spark_home = directory, _spark_home()
        self.local_dirs = directory / "local"
        self.local_dirs.mkdir()
        self.env = _clean_env(self.spark_home, self.local_dirs)
        port, self.ui_port = _free_ports(2)
        self.url = f"spark://127.0.0.1:{port}"
        self.processes: list[tuple[subprocess.Popen, Path]] = []
        self._start("master", ["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                               "--webui-port", str(self.ui_port)])
        for i in range(workers):
            work = directory / f"worker-{i}"
            work.mkdir()
            # the workers' own ports are any free ones: they register with the master, nobody dials them first
            self._start(f"worker-{i}", ["org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                                        "--port", "0", "--webui-port", "0", "--cores", "1", "--memory", "1g",
                                        "--work-dir", str(work), self.url])

    def _start(self, name: str, args: list[str]) -> None:
        log = self.directory / f"{name}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen([str(self.spark_home / "bin" / "spark-class"), *args], stdout=out,
                                       stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
                                       cwd=self.directory, start_new_session=True)
        self.processes.append((process, log))

    def state(self) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=5) as response:
            return json.load(response)

    def wait_ready(self, workers: int, timeout: float) -> None:
        deadline, last = time.time() + timeout, None
        while time.time() < deadline:
            dead = [log.stem for process, log in self.processes if process.poll() is not None]
            if dead:
                raise AssertionError(f"{dead} exited before the cluster came up:\n{self.logs()}")
            try:
                last = self.state()
                if last.get("status") == "ALIVE" and sum(w["state"] == "ALIVE" for w in last["workers"]) >= workers:
                    return
            except OSError as error:
                last = repr(error)
            time.sleep(1)
        raise AssertionError(f"cluster not up after {timeout:.0f} s (last state: {last}):\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{_tail(log)}" for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in reversed(self.processes):  # workers (and their executors) first, the master last
            _stop(process, grace=3)
        # Each executor and the driver unpacked the archive (~360 MB each): keep the logs, not those copies.
        shutil.rmtree(self.local_dirs, ignore_errors=True)
        for env in self.directory.glob("worker-*/app-*/*/env"):
            shutil.rmtree(env, ignore_errors=True)


def _pipeline(crawl: Path, output: Path) -> dict:
    return {"input": {"paths": [str(crawl)], "dataset": "demo"}, "output": str(output),
            "engine": {"name": "spark"}, "stages": STAGES}


def _outcome(output: Path) -> dict:
    """What must not depend on the engine's deployment: kept ids, each reject's reason, the stats' counts."""
    manifest = json.loads((output / MANIFEST).read_text())
    kept = sorted(i for path in manifest["documents"]
                  for i in pq.read_table(output / path, columns=["id"]).column("id").to_pylist())
    rejected = {}
    for path in manifest["rejects"]:
        table = pq.read_table(output / path, columns=["id", "reject_reason"])
        rejected.update(zip(table.column("id").to_pylist(), table.column("reject_reason").to_pylist()))
    stats = json.loads((output / manifest["stats"]).read_text())
    return {"kept": kept, "rejected": rejected,
            "counts": {k: stats[k] for k in ("input", "kept", "rejected")},
            "stages": [(s["name"], s["in"], s["out"]) for s in stats["stages"]]}


def test_pipeline_on_a_standalone_cluster_matches_the_embedded_run(spark, tmp_path):
    started, phases = time.time(), {}
    crawl = tmp_path / "crawl"
    generate_crawl(crawl, files=4)
    pack_log = tmp_path / "pack_env.log"
    with open(pack_log, "wb") as log:  # the archive builds (or is found in its cache) while the cluster starts
        pack = subprocess.Popen([sys.executable, str(ROOT / "jobs" / "pack_env.py")], stdout=subprocess.PIPE,
                                stderr=log, start_new_session=True)
    cluster_dir = tmp_path / "cluster"
    cluster_dir.mkdir()
    cluster = Cluster(cluster_dir)
    submit = None
    try:
        embedded = tmp_path / "embedded"
        run(pipeline_config.parse(_pipeline(crawl, embedded)))  # the shared embedded session (tests/conftest.py)
        phases["embedded run"] = time.time() - started

        try:
            archive_path, _ = pack.communicate(timeout=PACK_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"jobs/pack_env.py took over {PACK_S} s:\n{_tail(pack_log)}") from None
        assert pack.returncode == 0, f"jobs/pack_env.py failed:\n{_tail(pack_log)}"
        archive = Path(archive_path.decode().strip().splitlines()[-1])
        assert archive.is_file() and archive.name.endswith(".tar.gz")
        phases["archive"] = time.time() - started

        cluster.wait_ready(workers=2, timeout=CLUSTER_UP_S)
        phases["cluster up"] = time.time() - started

        output = tmp_path / "cluster-out"
        pipeline_yaml = tmp_path / "pipeline.yaml"
        pipeline_yaml.write_text(yaml.safe_dump(_pipeline(crawl, output)))
        submit_log = tmp_path / "spark-submit.log"
        command = [
            str(cluster.spark_home / "bin" / "spark-submit"), "--master", cluster.url,
            "--archives", f"{archive}#env",
            "--conf", "spark.pyspark.python=./env/bin/python",       # executors: the unpacked archive
            "--conf", f"spark.pyspark.driver.python={sys.executable}",  # client-mode driver: this checkout
            "--conf", "spark.executor.memory=768m", "--conf", "spark.executor.cores=1",
            # both workers' executors registered before the first task
            "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
            "--conf", "spark.scheduler.maxRegisteredResourcesWaitingTime=60s",
            "--conf", "spark.ui.enabled=false",
            "--conf", f"spark.driver.extraJavaOptions={QUICK_JVM}",
            "--conf", f"spark.executor.extraJavaOptions={QUICK_JVM}",
            str(ROOT / "jobs" / "spark_pipeline.py"), str(pipeline_yaml),
        ]
        with open(submit_log, "wb") as log:
            submit = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=cluster.env, cwd=tmp_path, start_new_session=True)
        try:
            submit.wait(SUBMIT_S)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"spark-submit took over {SUBMIT_S} s:\n{_tail(submit_log)}\n{cluster.logs()}") \
                from None
        assert submit.returncode == 0, f"spark-submit failed:\n{_tail(submit_log, 80)}\n{cluster.logs()}"
        phases["spark-submit done"] = time.time() - started
        print("cluster test, seconds since start:", {k: round(v) for k, v in phases.items()})

        # Tasks ran on both workers' executors, each executor from its own unpacked copy of the archive.
        executors = sorted(cluster_dir.glob("worker-*/app-*/*/"))
        assert {p.parts[-3] for p in executors} == {"worker-0", "worker-1"}, executors
        for executor in executors:
            assert (executor / "env" / "bin" / "python").exists(), f"archive not unpacked in {executor}"
            assert "Running task" in (executor / "stderr").read_text(errors="replace"), f"no task ran in {executor}"

        expected, got = _outcome(embedded), _outcome(output)
        assert got["counts"] == expected["counts"]
        assert got["stages"] == expected["stages"]
        assert got["rejected"] == expected["rejected"]
        assert got["kept"] == expected["kept"]
        assert expected["counts"]["input"] == 218
    finally:
        if submit is not None:
            _stop(submit)
        _stop(pack, grace=5)
        cluster.stop()
