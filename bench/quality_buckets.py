"""Ensemble quality buckets on real text: two classifiers, token-weighted percentile buckets on Spark and on Beam,
checked document by document against a NumPy sort over all scores.

The corpus: pieces of 20 to 300 words (seeded lengths) of every text of bench/quality.py's labelled set (WikiText-2
sections and the raw text of web pages), >= 10,000 documents in 10 JSONL files. The two models, trained here by
`curate quality train`'s code: `wiki` (Wikipedia sections against raw web pages: bench/quality.py's) and `order`
(Wikipedia sections against the same sections' words shuffled: word order, a different notion of quality). The
pipeline: one `quality_classifier` stage with `models: [wiki, order]`, `buckets: 20`, `combine: max`, `by:
characters`, run on each engine twice: scores and buckets only (every document kept, with its columns), then with
`keep_buckets: [10..19]`. Shown:
- the two engines' outputs are the same, every document: scores, each model's bucket, quality_bucket, and the kept ids
  of the selection;
- the selection keeps exactly the documents whose quality_bucket (of the first run) is 10 or more;
- each model's bucket of every document equals floor(20 x characters ranked below / all characters), from a NumPy
  argsort and cumsum over all scores (ranks: score, then the uid hash, as the stage defines them);
- each bucket's characters differ from 1/20 of the total by at most one document's characters (the largest is shown);
- the per-bucket units the manifest reports equal those counted from the documents.

    python bench/quality_buckets.py [--work /tmp/curate-buckets] [--documents 12000] [--by tokens]

`--by tokens`: a byte-level BPE (8,192) trained here on the corpus, `tokenize` before the classifier, and the
percentiles weighed by each document's `n_tokens` (what the stage reads then) instead of its characters.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.cli.quality_train import train_quality
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.stages.quality_classifier import ranks
from quality import DATA, labelled_set  # bench/quality.py, beside this file

BUCKETS = 20
FILES = 10


def train_models(work: Path, labelled: dict, seed: int) -> dict[str, Path]:
    rng = random.Random(seed)
    positive = work / "wiki.jsonl"
    positive.write_text("".join(json.dumps({"text": t}) + "\n" for t in labelled["positive"]["train"]))
    web = work / "web.jsonl"
    web.write_text("".join(json.dumps({"text": t}) + "\n" for t in labelled["negative"]["train"]))
    shuffled = work / "shuffled.jsonl"
    shuffled.write_text("".join(json.dumps({"text": " ".join(rng.sample(t.split(), len(t.split())))}) + "\n"
                                for t in labelled["positive"]["train"]))
    models = {}
    for name, negative in (("wiki", web), ("order", shuffled)):
        models[name] = work / f"{name}.bin"
        train_quality(str(positive), str(negative), str(models[name]), seed=seed, log=lambda line: None)
    return models


def corpus(work: Path, labelled: dict, documents: int, seed: int) -> Path:
    rng = random.Random(seed)
    words = [t.split() for side in labelled.values() for part in ("train", "test") for t in side[part]]
    pieces = []
    for w in words:
        at = 0
        while at < len(w) - 20:
            size = rng.randint(20, 300)
            pieces.append(" ".join(w[at: at + size]))
            at += size
    rng.shuffle(pieces)
    while len(pieces) < documents:  # not enough text: the pieces again, cut at other places
        pieces += [p[len(p) // 3:] for p in pieces[: documents - len(pieces)]]
    folder = work / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        with open(folder / f"part-{f:02d}.jsonl", "w") as out:
            out.writelines(json.dumps({"text": p}) + "\n" for p in pieces[f::FILES])
    return folder


def outputs(out: Path, by: str) -> pa.Table:
    """The kept documents' ids, units and quality columns, in id order."""
    manifest = json.loads((out / MANIFEST).read_text())
    columns = ["id", "uid", "n_tokens" if by == "tokens" else "text", "quality_score_wiki", "quality_score_order",
               "quality_bucket_wiki", "quality_bucket_order", "quality_bucket"]
    return pa.concat_tables([pq.read_table(out / p, columns=columns) for p in manifest["documents"]]).sort_by("id")


def reference(scores: np.ndarray, uids: pa.Array, units: np.ndarray) -> np.ndarray:
    rank = ranks(scores, uids)
    order = np.argsort(rank, kind="stable")
    below = np.empty(len(rank), np.int64)
    below[order] = np.cumsum(units[order]) - units[order]
    return BUCKETS * below // units.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-buckets"))
    parser.add_argument("--documents", type=int, default=12_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--by", choices=["characters", "tokens"], default="characters")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    labelled = labelled_set(args.data, args.seed)
    models = train_models(args.work, labelled, args.seed)
    folder = corpus(args.work, labelled, args.documents, args.seed)
    stage = {"name": "quality_classifier", "models": [{"name": n, "model": str(p)} for n, p in models.items()],
             "buckets": BUCKETS, "combine": "max", "by": args.by}
    before = []
    if args.by == "tokens":
        from curate.pipeline.tokenizer import train_bpe

        tokenizer = args.work / "tokenizer.json"
        texts = [json.loads(line)["text"] for path in sorted(folder.glob("*.jsonl")) for line in open(path)]
        train_bpe(texts[:5000], vocab_size=8192).save(str(tokenizer))
        before = [{"name": "tokenize", "tokenizer": str(tokenizer)}]
    print("stage:", json.dumps(stage), "then with keep_buckets: [10..19]")
    tables, seconds = {}, {}
    for engine in ("spark", "beam"):
        for select in (False, True):
            name = f"run-{engine}" + ("-selected" if select else "")
            raw = {"input": {"paths": [str(folder)], "dataset": "buckets"}, "output": str(args.work / name),
                   "engine": {"name": engine},
                   "stages": before + [{**stage, "keep_buckets": list(range(10, BUCKETS))} if select else stage]}
            started = time.time()
            run(pipeline_config.parse(raw), overwrite=True)
            seconds[name] = round(time.time() - started, 1)
            tables[name] = outputs(args.work / name, args.by)
    spark, beam = tables["run-spark"], tables["run-beam"]
    print(f"documents: {spark.num_rows:,} in {FILES} files; seconds: {seconds}; load {os.getloadavg()}")
    print("identical on Spark and Beam (every column of every document):", spark.equals(beam),
          "; the selection's kept documents identical:",
          tables["run-spark-selected"].equals(tables["run-beam-selected"]))
    if args.by == "tokens":
        units = np.maximum(spark.column("n_tokens").to_numpy().astype(np.int64), 1)
    else:
        units = np.maximum(np.array([len(t or "") for t in spark.column("text").to_pylist()]), 1)
    total = int(units.sum())
    for name in models:
        placed = spark.column(f"quality_bucket_{name}").to_numpy()
        expected = reference(spark.column(f"quality_score_{name}").to_numpy(), spark.column("uid"), units)
        per_bucket = np.bincount(placed, weights=units, minlength=BUCKETS).astype(np.int64)
        manifest = json.loads((args.work / "run-beam" / MANIFEST).read_text())
        reported = manifest["quality_classifier"]["quality_classifier"]["buckets"]["models"][name]["units"]
        worst = np.abs(per_bucket - total / BUCKETS).max()
        print(f"{name}: buckets equal to NumPy's for {int((placed == expected).sum()):,} of {len(placed):,} documents; "
              f"{args.by} per bucket {per_bucket.min():,}..{per_bucket.max():,} (1/20 of {total:,} = "
              f"{total / BUCKETS:,.1f}); largest deviation {worst:,.1f} <= largest document {units.max():,}: "
              f"{worst <= units.max()}; manifest's units per bucket equal: {reported == per_bucket.tolist()}")
    combined = spark.column("quality_bucket").to_numpy()
    both = np.maximum(spark.column("quality_bucket_wiki").to_numpy(), spark.column("quality_bucket_order").to_numpy())
    kept = np.isin(spark.column("id").to_numpy(zero_copy_only=False),
                   tables["run-spark-selected"].column("id").to_numpy(zero_copy_only=False))
    print(f"quality_bucket = max of the two: {bool((combined == both).all())}; kept by keep_buckets = bucket >= 10: "
          f"{bool((kept == (combined >= 10)).all())}; kept {int(kept.sum()):,} documents, "
          f"{units[kept].sum() / total:.1%} of the {args.by}")
    print("documents per quality_bucket:", np.bincount(combined, minlength=BUCKETS).tolist())


if __name__ == "__main__":
    main()
