"""Estimate vs measured: `curate explain --estimate`'s figures for every global stage against what a Spark run measures.

    python bench/estimate.py [--sizes 10000 100000 1000000] [--stages exact_dedup,minhash_dedup,...] [--files 8]
                             [--cores 2] [--keep DIR [--reuse]] [--out result.json]

Input per size: `bench/dedup_scale.py`'s generated documents (Zipf pseudo-words, 10 % planted near-copies), each text
cut into lines of 40 words, 20 % of them ending with one boilerplate line (a unit repeated in a fifth of the corpus:
paragraph dedup's hot group), and a `domain` column (20 domains, Zipf shares) for `balance`. One pipeline runs every
global stage named in `--stages`, in this order: exact_dedup, minhash_dedup, paragraph_dedup, quality_classifier
(keep_fraction 0.8: the radix selection's rounds; a fastText model trained first on the corpus against its words
shuffled), balance (temperature 2, by characters).

Estimate: `curate.pipeline.estimate.estimate` on the checked pipeline, as `curate explain --estimate` runs it (its
own wall time is printed). Measured, per global stage, from the same run (Spark `local[<cores>]`, UI on, 4 GB driver,
`spark.sql.shuffle.partitions` 4 x cores, work/ kept):
- key bytes: the stage's key files of the whole run read back, as Arrow holds them;
- shuffle bytes: `shuffleWriteBytes` of every Spark stage in the jobs of the stage's job group (`curate-<id>`), from
  the monitoring REST API;
- largest group, from the whole run's keys and decisions: exact_dedup the most repeated hash, minhash_dedup the largest
  `dup_cluster_size`, paragraph_dedup the most documents of one unit hash, quality_classifier the most distinct
  values of one radix digit (the largest histogram a selection round can collect), balance the distinct (domain,
  bucket) rows;
- memory per worker: the largest `peakExecutionMemory` of one task of the stage's jobs (Spark's measure of what a
  task's shuffles, aggregations, joins and windows hold) x the tasks a worker runs at once (cores); beside it, for
  scale, the JVM's resident peak during the stage (`procmem`);
- rounds: minhash_dedup's connected-components rounds (`work/components/<id>/components.json`).
The factor is estimate / measured (> 1: the estimate is above). With `--keep DIR --reuse`, a size whose measured run
is in DIR (`measured.json`, the output's `work/`) is estimated again against it without running it again.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_scale import SEED, Words, generate, spark_worker  # noqa: E402
from procmem import TreeMemory  # noqa: E402

STAGES = ["exact_dedup", "minhash_dedup", "paragraph_dedup", "quality_classifier", "balance"]
BOILERPLATE = "share this page with your friends and follow us for more stories like this one every day"
DOMAINS = 20


def shape(folder: Path, seed: int = SEED) -> None:
    """Each generated file rewritten: lines of 40 words, a boilerplate last line in 20 % of the texts, a domain."""
    rng = np.random.default_rng(seed + 2)
    weights = 1.0 / np.arange(1, DOMAINS + 1)
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        text = pc.replace_substring_regex(table.column("text"), r"((?:\S+ ){39}\S+) ", "\\1\n")
        footer = rng.random(len(table)) < 0.2
        text = pc.if_else(pa.array(footer), pc.binary_join_element_wise(text, BOILERPLATE, "\n"), text)
        domain = pa.array([f"site{d:02d}.example" for d in rng.choice(DOMAINS, len(table), p=weights / weights.sum())])
        table = table.set_column(0, "text", text).append_column("domain", domain)
        pq.write_table(table, path, row_group_size=2_000)


def train_model(inputs: Path, work: Path) -> Path:
    """A fastText quality model: 2,000 of the corpus's texts against the same texts' words shuffled."""
    from curate.cli.quality_train import train_quality

    texts = pq.read_table(next(inputs.glob("*.parquet")), columns=["text"]).column("text").to_pylist()[:2_000]
    rng = np.random.default_rng(SEED)
    shuffled = [" ".join(rng.permutation(t.split())) for t in texts]
    for name, rows in (("good", texts), ("bad", shuffled)):
        (work / f"{name}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in rows))
    model = work / "quality.bin"
    train_quality(str(work / "good.jsonl"), str(work / "bad.jsonl"), str(model), overrides={"bucket": 100_000},
                  log=lambda line: None)
    return model


def pipeline_yaml(inputs: Path, output: Path, cores: int, stages: list[str], model: Path | None) -> dict:
    entries = {"exact_dedup": {"name": "exact_dedup"}, "minhash_dedup": {"name": "minhash_dedup"},
               "paragraph_dedup": {"name": "paragraph_dedup", "min_words": 0},
               "quality_classifier": {"name": "quality_classifier", "model": str(model), "keep_fraction": 0.8},
               "balance": {"name": "balance", "temperature": 2.0, "by": "characters"}}
    return {"input": {"paths": [str(inputs)], "format": "parquet", "dataset": "bench", "fields": ["domain"]},
            "output": str(output),
            "engine": {"name": "spark", "master": f"local[{cores}]",
                       "conf": {"spark.ui.enabled": "true", "spark.sql.shuffle.partitions": str(4 * cores),
                                "spark.driver.memory": "4g"}},
            "stages": [entries[name] for name in stages]}


class JvmCurve(TreeMemory):
    """TreeMemory that also keeps (time, resident bytes of the JVMs) at every sample."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.curve: list[tuple[float, int]] = []

    def sample(self) -> None:
        super().sample()
        rss = 0
        for pid in self.jvm_pids:
            try:
                rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            except OSError:
                pass
        self.curve.append((time.time(), rss))

    def peak_between(self, begin: float, end: float) -> int:
        return max((rss for t, rss in self.curve if begin - 0.5 <= t <= end + 0.5), default=0)


def _get(spark, path: str):
    url, app = spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/{path}") as response:
        return json.load(response)


def spark_figures(spark, stage_id: str) -> dict:
    """Shuffle bytes written and the largest task's peak execution memory, over the jobs of a global stage."""
    jobs = [j for j in _get(spark, "jobs") if j.get("jobGroup") == f"curate-{stage_id}"]
    stage_ids = sorted({s for j in jobs for s in j["stageIds"]})
    shuffle = peak = 0
    for number in stage_ids:
        for attempt in _get(spark, f"stages/{number}"):
            if attempt.get("status") == "SKIPPED":
                continue
            shuffle += attempt.get("shuffleWriteBytes", 0)
            tasks = _get(spark, f"stages/{number}/{attempt['attemptId']}/taskList?length=1000000")
            peak = max([peak, *(t.get("taskMetrics", {}).get("peakExecutionMemory", 0) for t in tasks)])
    return {"shuffle_bytes": shuffle, "task_peak_execution_memory": peak, "jobs": len(jobs)}


def _keys(out: Path, stage_index: int) -> pa.Table:
    return ds.dataset(out / "work" / f"pass-{stage_index}" / "keys", format="parquet").to_table()


def largest_group(name: str, keys: pa.Table, out: Path, stage_id: str) -> int:
    """The largest group the stage's plan held, from the whole run's keys (and minhash's decisions)."""
    if name == "exact_dedup":
        return pc.max(pc.value_counts(keys.column("hash").drop_null().combine_chunks()).field("counts")).as_py()
    if name == "minhash_dedup":
        decided = ds.dataset(out / "work" / "decisions" / stage_id, format="parquet").to_table(
            columns=["dup_cluster_size"])
        return pc.max(decided.column("dup_cluster_size")).as_py() or 1
    if name == "paragraph_dedup":
        units = pc.list_flatten(keys.column("units").combine_chunks()).field("hash")
        return pc.max(pc.value_counts(units).field("counts")).as_py()
    if name == "quality_classifier":  # the largest histogram a selection round can collect: one digit's values
        return max(pc.count_distinct(keys.column(c)).as_py() for c in keys.column_names if c[:1] == "d" and
                   c[1:2].isdigit())
    if name == "balance":
        return len(keys.group_by(["domain", "bucket"]).aggregate([]))
    return 0


def measure(config, cores: int) -> dict:
    """Run the pipeline and read, per global stage, what Spark measured (shuffle, task memory, the JVM's peak)."""
    from curate.engines.spark import session
    from curate.pipeline.run import run

    with JvmCurve(os.getpid(), is_worker=spark_worker) as memory:
        spark, _ = session(config.engine)
        started = time.time()
        run(config, keep_work=True)
        finished = time.time()
        out = Path(config.output)
        figures = {}
        for spec in config.stages:
            manifest = json.loads((out / "ledger" / f"decisions-{spec.id}.json").read_text())
            end = (out / "ledger" / f"decisions-{spec.id}.json").stat().st_mtime
            spark_side = spark_figures(spark, spec.id)
            components = out / "work" / "components" / spec.id / "components.json"
            figures[spec.id] = {
                "shuffle_bytes": spark_side["shuffle_bytes"],
                "memory_per_worker": spark_side["task_peak_execution_memory"] * cores,
                "task_peak_execution_memory": spark_side["task_peak_execution_memory"],
                "jvm_peak_rss": memory.peak_between(end - manifest["seconds"], end),
                "rounds": json.loads(components.read_text())["rounds"] if components.exists() else None,
                "plan_seconds": manifest["seconds"]}
    spark.stop()
    return {"run_wall_s": round(finished - started, 1), "stages": figures}


def from_files(config, measured: dict) -> dict:
    """The measured figures with those read from the run's own files added: each stage's keys (documents, bytes)
    and its largest group."""
    out = Path(config.output)
    for index, spec in enumerate(config.stages):
        keys = _keys(out, index)
        measured["stages"][spec.id].update(documents=keys.num_rows, key_bytes=keys.nbytes,
                                           largest_group=largest_group(spec.name, keys, out, spec.id))
    return measured


def table(size: int, estimated: dict, measured: dict) -> list[str]:
    def mib(b): return f"{b / 2 ** 20:,.2f} MiB"
    rows = []
    for stage_id, got in measured["stages"].items():
        guess = estimated["stages"].get(stage_id)
        if guess is None:
            rows.append(f"| {size:,} | {stage_id} | no estimate | | | |")
            continue
        for metric, shown in (("documents", str), ("key_bytes", mib), ("shuffle_bytes", mib),
                              ("largest_group", str), ("memory_per_worker", mib), ("rounds", str)):
            e, m = guess[metric], got[metric]
            if m is None:
                continue
            factor = f"{e / m:.2f}" if m else "-"
            rows.append(f"| {size:,} | {stage_id} | {metric} | {shown(e)} | {shown(m)} | {factor} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work folder to keep (input, output)")
    parser.add_argument("--reuse", action="store_true", help="with --keep: estimate again, but take the measured "
                        "run of a size from the folder when it holds one (its measured.json and output/work)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from curate.pipeline.config import parse
    from curate.pipeline.estimate import estimate
    from curate.pipeline.run import checked

    stages = [s for s in STAGES if s in args.stages.split(",")]
    results, lines = [], ["| documents | stage | figure | estimate | measured | factor |", "|---|---|---|---|---|---|"]
    for size in args.sizes:
        work = (args.keep or Path(tempfile.mkdtemp(prefix="curate-estimate-"))) / f"n{size}"
        started = time.perf_counter()
        saved = work / "measured.json"
        reused = args.reuse and saved.exists()
        if not reused:
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            generate(work / "input", size, args.files, Words(np.random.default_rng(SEED)),
                     np.random.default_rng(SEED + 1))
            shape(work / "input")
            if "quality_classifier" in stages:
                train_model(work / "input", work)
            print(f"{size:,} documents generated in {time.perf_counter() - started:.0f} s; load average "
                  f"{os.getloadavg()[0]:.2f}", flush=True)
        model = work / "quality.bin" if "quality_classifier" in stages else None
        config = parse(pipeline_yaml(work / "input", work / "output", args.cores, stages, model))
        started = time.perf_counter()
        plan = checked(config)
        estimated = estimate(plan.pipeline, plan.inputs).to_json()
        estimate_s = time.perf_counter() - started
        print(f"estimate in {estimate_s:.1f} s from {estimated['sampled_documents']:,} documents", flush=True)
        if reused:
            measured = json.loads(saved.read_text())
        else:
            measured = measure(config, args.cores)
            saved.write_text(json.dumps(measured))
        measured = from_files(config, measured)
        rows = table(size, estimated, measured)
        print("\n".join(rows), flush=True)
        lines += rows
        results.append({"documents": size, "estimate_s": round(estimate_s, 1), "estimate": estimated,
                        "measured": measured, "load_average": os.getloadavg()})
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))
    print(f"load average {os.getloadavg()}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
