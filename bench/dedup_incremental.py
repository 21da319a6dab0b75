"""Incremental MinHash dedup = global: 5 runs each `against:` all earlier ones vs one run over everything.

    python bench/dedup_incremental.py [--docs 100000] [--runs 5] [--files-per-run 2] [--keep DIR] [--out result.json]

Corpus: `bench/dedup_scale.py`'s generator (150-400 Zipf words per text, 10% planted near-duplicates in clusters of
Zipf(2) sizes, members shuffled over all files), written as `runs x files-per-run` Parquet files; run k's input
folder holds files k·f .. k·f + f − 1, so planted clusters cross the split. File names sort in run order, so with
`keep: min_id` the global run keeps in every cluster the member of the earliest run (the smallest id) — the member
the incremental runs keep, since an earlier run's document always wins: the rejected *sets* must be equal, not just
the counts per cluster. (With `keep: longest` they differ by design: a run cannot reject what an earlier run kept,
so the incremental runs keep the earliest member, the global run the longest; the count per cluster is what stays.)

Each run is `curate.pipeline.run.run` in-process on one SparkSession (`local[<cores>]`, UI on for the monitoring
API): shuffle bytes written and input bytes read by Spark's stages per run, wall time, and the global stage's own
seconds. While run k runs, every earlier output keeps only `manifest.json` and `stages/` (its index): `documents/`,
`ledger/` and `work/` are moved aside and put back after, so run k cannot have read them. Bytes read by run k =
its own input files (pass 0) + the earlier indexes its plan read (both listed, sizes from the file system), beside
Spark's own input-bytes count.
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
import pyarrow.dataset as ds
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_scale import SEED, Words, generate  # noqa: E402

HIDDEN = ("documents", "ledger", "work")


def spark_totals(spark) -> tuple[int, int]:
    """(shuffle bytes written, input bytes read) by every completed stage so far (Spark's monitoring API)."""
    url, app = spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete") as response:
        stages = json.load(response)
    return sum(s["shuffleWriteBytes"] for s in stages), sum(s["inputBytes"] for s in stages)


def config_for(inputs: list[Path], out: Path, cores: int, against: list[Path]):
    from curate.pipeline.config import parse

    stage = {"name": "minhash_dedup", "against": [str(p) for p in against]} if against else {"name": "minhash_dedup"}
    return parse({"input": {"paths": [str(p) for p in inputs], "format": "parquet", "dataset": "bench"},
                  "output": str(out),
                  "engine": {"name": "spark", "master": f"local[{cores}]",
                             "conf": {"spark.ui.enabled": "true", "spark.sql.shuffle.partitions": str(4 * cores),
                                      "spark.driver.memory": "4g"}},
                  "stages": [stage]})


def size(paths) -> int:
    return sum(p.stat().st_size for p in paths)


def index_files(out: Path) -> list[Path]:
    manifest = json.loads((out / "manifest.json").read_text())
    return [out / f for section in manifest["stage_outputs"].values() for f in section["files"]]


def outcome(out: Path) -> tuple[set, np.ndarray]:
    """(rejected ids, planted cluster of every kept document)."""
    manifest = json.loads((out / "manifest.json").read_text())
    rejected = set()
    for path in manifest["rejects"]:
        rejected.update(pq.read_table(out / path, columns=["id"]).column("id").to_pylist())
    kept = ds.dataset([str(out / p) for p in manifest["documents"]], format="parquet").to_table(columns=["planted"])
    return rejected, kept.column("planted").to_numpy()


def crossing(splits: list[Path], clusters: int) -> int:
    """Planted clusters with members in more than one run's input."""
    runs_of = np.zeros(clusters, np.int64)
    for folder in splits:
        planted = ds.dataset(str(folder), format="parquet").to_table(columns=["planted"]).column("planted").to_numpy()
        runs_of += np.bincount(planted[planted >= 0], minlength=clusters) > 0
    return int((runs_of > 1).sum())


def one_run(spark, inputs: list[Path], out: Path, cores: int, against: list[Path]) -> dict:
    from curate.pipeline.run import run

    hidden = []
    for earlier in against:  # what run k must not read
        for name in HIDDEN:
            if (earlier / name).exists():
                (earlier / name).rename(earlier / f"{name}.hidden")
                hidden.append(earlier / name)
    shuffle0, input0 = spark_totals(spark)
    load = os.getloadavg()[0]
    started = time.time()
    try:
        result = run(config_for(inputs, out, cores, against))
    finally:
        for path in hidden:
            path.with_name(f"{path.name}.hidden").rename(path)
    wall = time.time() - started
    shuffle1, input1 = spark_totals(spark)
    index = [f for f in index_files(out) if f.suffix == ".parquet"]
    kept_in_index = sum(pq.ParquetFile(f).metadata.num_rows for f in index)
    own_input = [f for folder in inputs for f in folder.glob("*.parquet")]
    earlier_index = [f for earlier in against for f in index_files(earlier)]
    decisions = json.loads((out / "ledger" / "decisions-minhash_dedup.json").read_text())
    return {"documents": result.stats["input"], "rejected": result.stats["rejected"],
            "wall_s": round(wall, 1), "global_stage_s": decisions["seconds"],
            "shuffle_bytes": shuffle1 - shuffle0, "spark_input_bytes": input1 - input0,
            "read_own_input_bytes": size(own_input), "read_earlier_index_bytes": size(earlier_index),
            "earlier_outputs_total_bytes": sum(size(p for p in e.rglob("*") if p.is_file()) for e in against),
            "index_bytes": size(index), "index_documents": kept_in_index,
            "index_bytes_per_document": round(size(index) / max(1, kept_in_index), 1),
            "load_average_1m_at_start": round(load, 1), "load_average_1m_at_end": round(os.getloadavg()[0], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--files-per-run", type=int, default=2)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="work folder kept after the bench (default: a temporary one)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    work = args.keep or Path(tempfile.mkdtemp(prefix="dedup-incremental-"))
    try:
        rng = np.random.default_rng(SEED)
        files = args.runs * args.files_per_run
        truth = generate(work / "all", args.docs, files, Words(rng), rng)
        splits = []
        for k in range(args.runs):
            folder = work / f"input-{k + 1}"
            folder.mkdir()
            for f in range(k * args.files_per_run, (k + 1) * args.files_per_run):
                (work / "all" / f"docs-{f:03d}.parquet").rename(folder / f"docs-{f:03d}.parquet")
            splits.append(folder)
        print(f"corpus: {json.dumps(truth)}", flush=True)

        from curate.engines.spark import session

        spark, _ = session(config_for(splits, work / "x", args.cores, []).engine)
        runs = []
        for k, folder in enumerate(splits):
            runs.append(one_run(spark, [folder], work / f"run-{k + 1}", args.cores,
                                [work / f"run-{j + 1}" for j in range(k)]))
            print(f"run {k + 1}: {json.dumps(runs[-1])}", flush=True)
        whole = one_run(spark, splits, work / "global", args.cores, [])
        print(f"global: {json.dumps(whole)}", flush=True)
        spark.stop()

        global_rejected, global_kept = outcome(work / "global")
        incremental_rejected, incremental_kept = set(), []
        for k in range(args.runs):
            rejected, kept = outcome(work / f"run-{k + 1}")
            incremental_rejected |= rejected
            incremental_kept.append(kept)
        incremental_kept = np.concatenate(incremental_kept)
        clusters = truth["planted_clusters"]
        per_global = np.bincount(global_kept[global_kept >= 0], minlength=clusters)
        per_incremental = np.bincount(incremental_kept[incremental_kept >= 0], minlength=clusters)
        comparison = {
            "global_rejected": len(global_rejected), "incremental_rejected": len(incremental_rejected),
            "same_rejected_set": global_rejected == incremental_rejected,
            "only_global": len(global_rejected - incremental_rejected),
            "only_incremental": len(incremental_rejected - global_rejected),
            "clusters_with_other_kept_count": int((per_global != per_incremental).sum()),
            "planted_clusters_crossing_runs": crossing(splits, clusters),
        }
        result = {"corpus": truth, "runs": runs, "global": whole, "comparison": comparison,
                  "cores": args.cores, "machine_cores": os.cpu_count()}
        print(f"comparison: {json.dumps(comparison)}", flush=True)
        if args.out:
            args.out.write_text(json.dumps(result, indent=2))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
