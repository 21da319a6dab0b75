"""Near-duplicate detection against datasketch and datatrove: signature speed, cluster accuracy, components at scale.

    python bench/dedup.py [--docs 400] [--scale-edges 10000000] [--datatrove PATH] [--out result.json]

Every figure is a ratio against a peer measured in the same run, on the same texts (real pages of
`../shared/data/extraction/`, text extracted with resiliparse) and the same number of permutations (112).

- speed: documents/s from text to signature on one core — curate's batch core; datasketch `MinHash` with one
  `update` per shingle and with `update_batch` (shingles made the usual way: lowercased words, 5-grams joined);
  datatrove's `MinhashDedupSignature.get_shingles` + `get_signature` (its own normalisation, spaCy word tokenizer,
  xxhash). datatrove is optional (`--datatrove`: a folder it is installed in, e.g. by
  `pip install --target DIR datatrove==0.10.1 spacy==3.8.18`); without it that row is skipped.
- accuracy: pages with controlled word substitutions (variants at known 5-gram Jaccard 0.5-1.0 to their page and to
  each other), clustered by curate's Spark plan (local[2]), by datasketch `MinHashLSH` (14 x 8 bands, and the
  bands its own `threshold` derives) with union-find over query results, and by datatrove's rule (documents
  sharing a band are one cluster; its bucket + cluster steps) on datatrove's signatures. Reported: recall of pairs
  at Jaccard >= threshold + 0.05, the share of pairs below threshold - 0.05 merged, and cluster precision (share of
  same-cluster pairs whose true Jaccard >= threshold; true Jaccard computed exactly for every merged pair).
- Clough & Stevenson: the share of answers that end in their source text's cluster, per grade.
- scale: connected components of a random graph with `--scale-edges` edges on local[2]: time, rounds, the JVM's
  peak resident memory; shuffle bytes written per document by the dedup plan (Spark's monitoring API).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import sys
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.filters.minhash import MinHasher
from curate.pipeline.schema import uid_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
THRESHOLD = 0.8
_WORD = re.compile(r"\w+")


def page_texts(limit: int) -> list[str]:
    from resiliparse.extract.html2text import extract_plain_text

    index = DATA / "extraction" / "trafilatura-eval" / "index.jsonl"
    texts = []
    for line in index.open():
        html = gzip.decompress((index.parent / json.loads(line)["html"]).read_bytes()).decode("utf-8", "replace")
        text = extract_plain_text(html, main_content=True)
        if len(text.split()) >= 150:
            texts.append(text)
        if len(texts) >= limit:
            break
    return texts


# --- peers ----------------------------------------------------------------------------------------------------------

def datasketch_shingles(text: str) -> list[bytes]:
    words = _WORD.findall(text.lower())
    return [" ".join(words[i: i + 5]).encode() for i in range(max(1, len(words) - 4))]


def datasketch_signatures(texts: list[str], batch: bool):
    from datasketch import MinHash

    out = []
    for text in texts:
        m = MinHash(num_perm=112)
        if batch:
            m.update_batch(datasketch_shingles(text))
        else:
            for s in datasketch_shingles(text):
                m.update(s)
        out.append(m)
    return out


def datatrove_signer(path: str | None):
    if not path:
        return None
    sys.path.append(path)
    try:
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature
    except ImportError as error:
        print(f"datatrove not importable from {path}: {error}", file=sys.stderr)
        return None
    signer = MinhashDedupSignature(output_folder="/tmp/curate-bench-datatrove", config=MinhashConfig())
    signer.get_signature(signer.get_shingles("warm up the tokenizer " * 3))
    return signer


def datatrove_signatures(signer, texts: list[str]) -> list[list[list[int]]]:
    return [signer.get_signature(signer.get_shingles(t)) for t in texts]


def best_of(runs: int, fn, *args) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - started)
    return best


def speed(texts: list[str], signer) -> dict:
    hasher = MinHasher()
    ours = best_of(3, hasher.signatures, texts)
    sample = texts[: max(20, len(texts) // 4)]  # the slow peers run on a quarter of the texts
    scale = len(texts) / len(sample)
    result = {"docs": len(texts), "curate_docs_per_s": round(len(texts) / ours, 1)}
    for name, fn in [("datasketch_update", lambda: datasketch_signatures(sample, batch=False)),
                     ("datasketch_update_batch", lambda: datasketch_signatures(sample, batch=True))] + \
            ([("datatrove", lambda: datatrove_signatures(signer, sample))] if signer else []):
        seconds = best_of(2, fn) * scale
        result[f"{name}_docs_per_s"] = round(len(texts) / seconds, 1)
        result[f"speedup_vs_{name}"] = round(seconds / ours, 2)
    return result


# --- accuracy -------------------------------------------------------------------------------------------------------

def shingle_sets(texts: list[str]) -> list[set]:
    shingles = MinHasher().shingles(texts)
    return [set(shingles.hashes[a:b].tolist()) for a, b in zip(shingles.offsets[:-1], shingles.offsets[1:])]


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def variants(texts: list[str], rng: random.Random) -> tuple[list[str], list[int]]:
    """Each page and 2 variants, each with a share of its words replaced (rates chosen to spread the variants'
    5-gram Jaccard over 0.5-1.0); returns the texts and each text's group."""
    out, group = [], []
    vocabulary = [w for t in texts[:50] for w in t.split()]
    for g, text in enumerate(texts):
        words = text.split()
        out.append(text)
        group.append(g)
        for _ in range(2):
            rate = rng.uniform(0.0, 0.045)
            edited = [rng.choice(vocabulary) if rng.random() < rate else w for w in words]
            out.append(" ".join(edited))
            group.append(g)
    return out, group


def union_find(n: int, pairs) -> list[int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


def datasketch_clusters(texts: list[str], params) -> list[int]:
    from datasketch import MinHashLSH

    signatures = datasketch_signatures(texts, batch=True)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=112, params=params)
    for i, m in enumerate(signatures):
        lsh.insert(i, m)
    return union_find(len(texts), [(i, j) for i, m in enumerate(signatures) for j in lsh.query(m) if j != i])


def datatrove_clusters(signer, texts: list[str]) -> list[int]:
    """datatrove's rule: documents with an equal band (bucket) signature are duplicates; union-find over those."""
    signatures = datatrove_signatures(signer, texts)
    buckets = defaultdict(list)
    for i, sig in enumerate(signatures):
        for band, values in enumerate(sig):
            buckets[(band, tuple(values))].append(i)
    return union_find(len(texts), [(m[0], x) for m in buckets.values() for x in m[1:]])


def spark_session():
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("curate-bench-dedup")
             .config("spark.driver.memory", "8g").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def shuffle_bytes(spark) -> int:
    """Shuffle bytes written by every stage so far (Spark's monitoring REST API on the driver's UI)."""
    url = spark.sparkContext.uiWebUrl
    if not url:
        return -1
    app = spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete") as response:
        return sum(stage["shuffleWriteBytes"] for stage in json.load(response))


def curate_clusters(spark, texts: list[str], workdir: Path) -> tuple[list[int], dict]:
    from curate.pipeline.output import Output
    from curate.engines.spark import SparkJob
    from curate.engines.spark.minhash_dedup import minhash_dedup as plan

    ids = [f"bench/{i:06d}" for i in range(len(texts))]
    stage = MinHashDedup(MinHashDedupParams(threshold=THRESHOLD))
    batch = pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                        "text": texts})
    keys = pa.Table.from_batches([stage.keys(batch)])
    keys = keys.append_column("file_key", pa.array(["f"] * len(texts)))
    directory = workdir / f"keys-{time.time_ns()}"
    directory.mkdir(parents=True)
    pq.write_table(keys, directory / "keys.parquet")
    spark.sparkContext.setCheckpointDir(str(workdir / "checkpoints"))
    before = shuffle_bytes(spark)
    started = time.perf_counter()
    output = Output(str(workdir / f"out-{time.time_ns()}"))  # where the plan writes its components.json
    planned = plan(stage.policy(), spark.read.parquet(str(directory)), SparkJob(spark, output, "stages/minhash_dedup"))
    rows = planned.decisions.select("uid", "dup_cluster").collect()  # bench only
    seconds = time.perf_counter() - started
    shuffled = shuffle_bytes(spark) - before
    index = {uid_of(i): n for n, i in enumerate(ids)}
    labels = list(range(len(texts)))
    for r in rows:
        labels[index[r["uid"]]] = index[r["dup_cluster"]]
    return labels, {"plan_seconds": round(seconds, 1), "shuffle_bytes_per_doc": round(shuffled / len(texts), 1)}


def score(labels: list[int], sets: list[set], known: dict[tuple[int, int], float]) -> dict:
    members = defaultdict(list)
    for i, label in enumerate(labels):
        members[label].append(i)
    merged = [(a, b) for m in members.values() for k, a in enumerate(m) for b in m[k + 1:]]
    true = [known.get((a, b)) if (a, b) in known else jaccard(sets[a], sets[b]) for a, b in merged]
    same = {(a, b) for a, b in merged}
    high = [p for p, j in known.items() if j >= THRESHOLD + 0.05]
    low = [p for p, j in known.items() if j < THRESHOLD - 0.05]
    return {
        "recall_at_threshold_plus_0.05": round(sum(p in same for p in high) / max(1, len(high)), 4),
        "merged_below_threshold_minus_0.05": round(sum(p in same for p in low) / max(1, len(low)), 4),
        "cluster_precision": round(sum(j >= THRESHOLD for j in true) / max(1, len(true)), 4),
        "merged_pairs": len(merged),
    }


def accuracy(spark, texts: list[str], signer, workdir: Path) -> dict:
    corpus, group = variants(texts, random.Random(7))
    sets = shingle_sets(corpus)
    by_group = defaultdict(list)
    for i, g in enumerate(group):
        by_group[g].append(i)
    known = {(a, b): jaccard(sets[a], sets[b]) for m in by_group.values() for k, a in enumerate(m) for b in m[k + 1:]}
    values = np.array(list(known.values()))
    result = {"docs": len(corpus), "pairs": len(known),
              "pairs_by_jaccard": {f"{lo:.1f}-{lo + 0.1:.1f}": int(((values >= lo) & (values < lo + 0.1)).sum())
                                   for lo in np.arange(0.4, 1.0, 0.1)},
              "pairs_at_or_above_threshold_plus_0.05": int((values >= THRESHOLD + 0.05).sum())}
    labels, plan_stats = curate_clusters(spark, corpus, workdir)
    result["curate"] = {**score(labels, sets, known), **plan_stats}
    result["datasketch_lsh_14x8"] = score(datasketch_clusters(corpus, (14, 8)), sets, known)
    result["datasketch_lsh_own_bands"] = score(datasketch_clusters(corpus, None), sets, known)
    if signer:
        result["datatrove"] = score(datatrove_clusters(signer, corpus), sets, known)
    return result


def clough_stevenson(spark, signer, workdir: Path) -> dict:
    path = DATA / "neardup" / "clough-stevenson-pairs.jsonl"
    if not path.exists():
        return {}
    pairs = [json.loads(line) for line in path.open()]
    sources = sorted({p["source_file"]: p["source_text"] for p in pairs}.items())
    texts = [t for _, t in sources] + [p["text"] for p in pairs]
    source_index = {name: i for i, (name, _) in enumerate(sources)}
    runs = {"curate": curate_clusters(spark, texts, workdir)[0],
            "datasketch_lsh_14x8": datasketch_clusters(texts, (14, 8))}
    if signer:
        runs["datatrove"] = datatrove_clusters(signer, texts)
    out = {}
    for name, labels in runs.items():
        grades = defaultdict(list)
        for k, p in enumerate(pairs):
            grades[p["category"]].append(labels[len(sources) + k] == labels[source_index[p["source_file"]]])
        out[name] = {g: f"{sum(v)}/{len(v)}" for g, v in sorted(grades.items())}
    return out


# --- scale ----------------------------------------------------------------------------------------------------------

def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def scale(spark, edges: int, workdir: Path) -> dict:
    """A random graph of `edges` edges over 3 x edges vertices (uids as binary(16)): sparse, many small trees."""
    from pyspark.sql import functions as F

    from curate.engines.spark import components

    spark.sparkContext.setCheckpointDir(str(workdir / "checkpoints-scale"))
    vertices = 3 * edges

    def uid(column):
        return F.expr(f"substring(unhex(sha2(cast({column} as string), 256)), 1, 16)")

    graph = spark.range(edges).select(F.pmod(F.xxhash64("id", F.lit(1)), F.lit(vertices)).alias("a"),
                                      F.pmod(F.xxhash64("id", F.lit(2)), F.lit(vertices)).alias("b")) \
        .select(uid("a").alias("src"), uid("b").alias("dst"))
    graph = components.checkpoint(graph, "scale-edges")
    started = time.perf_counter()
    labels, rounds = components.connected_components(graph, max_rounds=40)
    summary = labels.groupBy("component").count().agg(F.count("*").alias("components"),
                                                      F.sum("count").alias("vertices"),
                                                      F.max("count").alias("largest")).first()
    seconds = time.perf_counter() - started
    pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    return {"edges": edges, "seconds": round(seconds, 1), "rounds": rounds,
            "components": summary["components"], "vertices_with_edges": summary["vertices"],
            "largest_component": summary["largest"], "jvm_peak_rss_mib": peak_rss_mib(pid),
            "python_peak_rss_mib": peak_rss_mib(os.getpid())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=400)
    parser.add_argument("--scale-edges", type=int, default=10_000_000)
    parser.add_argument("--datatrove", default=os.environ.get("DATATROVE_PATH"))
    parser.add_argument("--workdir", default="/tmp/curate-bench-dedup")
    parser.add_argument("--out")
    args = parser.parse_args()
    workdir = Path(args.workdir)
    texts = page_texts(args.docs)
    signer = datatrove_signer(args.datatrove)
    result = {"speed": speed(texts, signer)}
    print(json.dumps(result, indent=1), flush=True)
    spark = spark_session()
    result["accuracy"] = accuracy(spark, texts, signer, workdir)
    print(json.dumps(result["accuracy"], indent=1), flush=True)
    result["clough_stevenson"] = clough_stevenson(spark, signer, workdir)
    print(json.dumps(result["clough_stevenson"], indent=1), flush=True)
    if args.scale_edges:
        result["scale"] = scale(spark, args.scale_edges, workdir)
        print(json.dumps(result["scale"], indent=1), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
