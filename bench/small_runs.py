"""The fixed cost of a run: small pipelines on a few dozen documents, on both engines, and a config error.

    python bench/small_runs.py [--repeat 3] [--cases exact,minhash,safety,config_error] [--engines spark,beam]
                               [--curate .venv/bin/curate --curate /tmp/base/.venv/bin/curate] [--jobs]

Cases, on real pages: the two WARC files of `../shared/data/warc/sample-000[01].warc.gz` (37 responses, wget 2024,
from dolma's tests; two of them exact copies): `exact` (extract → exact_dedup), `minhash` (extract → minhash_dedup),
`safety` (`examples/safety.yaml` as shipped: URL lists, opt-outs, extraction, langid, the Gopher rules, PII, exact
dedup), and `config_error` (a pipeline naming a stage that does not exist: the time to a one-line error with exit
status 2).

Every run is one `curate run` in a fresh process (imports, JVM and worker start-up count). Several `--curate`
executables (this checkout's and an older checkout's) are measured alternately, case by case, so a before/after
comparison sees the same machine load; each is run `--repeat` times. Printed per case, engine and executable: the
best and median wall seconds and CPU seconds of the whole process tree (JVM and workers included: the bench is
their subreaper), with the load average; `--jobs` also counts the Spark jobs and SQL queries of one more run (from Spark's
event log) and checks that every executable kept the same documents with the same reject reasons.
"""
from __future__ import annotations

import argparse
import ctypes
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
WARCS = [ROOT.parent / "shared" / "data" / "warc" / f"sample-000{i}.warc.gz" for i in (0, 1)]
CASES = {
    "exact": [{"name": "extract"}, {"name": "exact_dedup"}],
    "minhash": [{"name": "extract"}, {"name": "minhash_dedup"}],
    "safety": None,  # examples/safety.yaml's stages
    "config_error": [{"name": "extract"}, {"name": "exact_dedupe"}],
}


def pipeline_file(work: Path, case: str) -> Path:
    if CASES[case] is None:
        stages = yaml.safe_load((ROOT / "examples" / f"{case}.yaml").read_text())["stages"]
    else:
        stages = CASES[case]
    path = work / f"{case}.yaml"
    path.write_text(yaml.safe_dump({"input": {"paths": [str(w) for w in WARCS]}, "output": str(work / "out"),
                                    "stages": stages}))
    return path


def run_once(curate: str, pipeline: Path, engine: str, output: Path, conf: dict | None = None) -> dict:
    """One `curate run` in a fresh process: wall and CPU seconds of its whole process tree, exit status, and what it
    kept. CPU is exact: this process is the tree's subreaper (Linux), so every descendant, orphaned or not (the JVM,
    PySpark's daemon, Beam's workers), is reaped here with its resource usage."""
    command = [curate, "run", str(pipeline), "--engine", engine, "--output", str(output), "--overwrite"]
    if conf:  # an event log: written by the JVM, read here
        config = yaml.safe_load(pipeline.read_text())
        config["engine"] = {"name": engine, "conf": conf}
        command[2] = str(output.parent / f"{pipeline.stem}-conf.yaml")
        Path(command[2]).write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    err = process.stderr.read()
    cpu, status, wall = 0.0, None, None
    while True:
        try:
            pid, code, usage = os.wait4(-1, 0)
        except ChildProcessError:
            break
        cpu += usage.ru_utime + usage.ru_stime
        if pid == process.pid:
            status, wall = os.waitstatus_to_exitcode(code), time.perf_counter() - started
    process.returncode = status  # reaped above, not by Popen
    result = {"wall": wall, "cpu": cpu, "status": status, "error": (err.strip().splitlines() or [""])[-1]}
    if status == 0:
        result["outcome"] = outcome(output)
    return result


def outcome(output: Path) -> tuple:
    """Kept ids and (id, reason) of every reject: what must not change between versions and engines."""
    manifest = json.loads((output / "manifest.json").read_text())
    kept = sorted(i for p in manifest["documents"] for i in pq.read_table(output / p, columns=["id"])["id"].to_pylist())
    rejects = sorted((r["id"], r["reject_reason"]) for p in manifest["rejects"]
                     for r in pq.read_table(output / p, columns=["id", "reject_reason"]).to_pylist())
    return tuple(kept), tuple(rejects)


def spark_jobs(event_dir: Path) -> tuple[int, int]:
    """(jobs, SQL queries) in the one event log under `event_dir`."""
    import zstandard

    jobs = queries = 0
    for log in event_dir.rglob("events_*"):
        raw = log.read_bytes()
        if log.name.endswith(".zstd"):
            raw = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
        for line in raw.decode().splitlines():
            event = json.loads(line)["Event"]
            jobs += event == "SparkListenerJobStart"
            queries += event.endswith("SQLExecutionStart")
    return jobs, queries


def _best(runs: list[dict], key: str) -> float:
    return min(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--engines", default="spark,beam")
    parser.add_argument("--curate", action="append", help="a curate executable (repeat to compare checkouts)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", action="store_true", help="count Spark jobs (one more run, with an event log)")
    args = parser.parse_args()
    executables = args.curate or [str(Path(sys.executable).parent / "curate")]
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: see run_once
    missing = [str(w) for w in WARCS if not w.is_file()]
    if missing:
        sys.exit(f"missing input: {missing[0]} (../shared/data beside the checkout)")
    with tempfile.TemporaryDirectory(prefix="curate-small-") as tmp:
        work = Path(tmp)
        print(f"input: {', '.join(w.name for w in WARCS)}; {os.cpu_count()} cores; "
              f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
        outcomes: dict[tuple[str, str], set] = {}
        for case in args.cases.split(","):
            pipeline = pipeline_file(work, case)
            for engine in args.engines.split(","):
                if case == "config_error" and engine != args.engines.split(",")[0]:
                    continue  # refused before any engine starts
                runs: dict[str, list[dict]] = {curate: [] for curate in executables}
                for _ in range(args.repeat):
                    for curate in executables:  # alternate: each executable sees the same load
                        run = run_once(curate, pipeline, engine, work / "out")
                        if (run["status"] != 0) != (case == "config_error"):
                            sys.exit(f"{case} on {engine} with {curate}: exit {run['status']}: {run['error']}")
                        runs[curate].append(run)
                        if "outcome" in run:
                            outcomes.setdefault((case, engine), set()).add(run["outcome"])
                for curate, done in runs.items():
                    line = (f"{case:12s} {engine:5s} {curate:40s} wall best {_best(done, 'wall'):6.1f} s median "
                            f"{statistics.median(r['wall'] for r in done):6.1f} s | tree CPU best "
                            f"{_best(done, 'cpu'):6.1f} s median {statistics.median(r['cpu'] for r in done):6.1f} s | "
                            f"load {os.getloadavg()[0]:.1f}")
                    if args.jobs and engine == "spark" and case != "config_error":
                        events = work / "events"
                        shutil.rmtree(events, ignore_errors=True)
                        events.mkdir()
                        run_once(curate, pipeline, engine, work / "out",
                                 {"spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri()})
                        line += " | Spark jobs %d, SQL queries %d" % spark_jobs(events)
                    print(line, flush=True)
                if len(executables) > 1:
                    first, *others = (runs[curate] for curate in executables)
                    for curate, other in zip(executables[1:], others):
                        print(f"{'':18s} {executables[0]} / {curate}: wall {_best(first, 'wall') / _best(other, 'wall'):.2f}, "
                              f"CPU {_best(first, 'cpu') / _best(other, 'cpu'):.2f}", flush=True)
        by_case: dict[str, set] = {}
        for (case, _), seen in outcomes.items():
            by_case.setdefault(case, set()).update(seen)
        print(f"same kept documents and reject reasons: for every executable "
              f"{all(len(seen) == 1 for seen in outcomes.values())}, on both engines "
              f"{all(len(seen) == 1 for seen in by_case.values())}", flush=True)


if __name__ == "__main__":
    main()
