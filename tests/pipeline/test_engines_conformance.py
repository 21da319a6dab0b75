"""Same input, same output on both engines: kept ids, the reason for every rejected id, and stats counts."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.pipeline.demo import demo_texts, generate_crawl
from curate.pipeline.tokenizer_train import train_bpe
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run

STAGES = [{"name": "extract"}, {"name": "langid", "threshold": 0.5}, {"name": "exact_dedup"},
          {"name": "gopher_quality"}, {"name": "exact_dedup", "id": "url_dedup", "on": "url"},
          {"name": "domain", "column": "lang"}, {"name": "tokenize", "validation_fraction": 0.1},
          {"name": "balance", "temperature": 2.0, "max_epochs": 2}]


def outcome(output: Path) -> tuple[dict, dict, dict]:
    manifest = json.loads((output / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]])
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]])
    stats = json.loads((output / "stats.json").read_text())
    kept_rows = {row["id"]: (row["text"], row["dup_cluster_size"]) for row in kept.to_pylist()}
    reasons = dict(zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist()))
    counts = {k: stats[k] for k in ("input", "kept", "rejected")}
    counts["stages"] = [(s["name"], s["in"], s["out"]) for s in stats["stages"]]
    shards = pa.concat_tables([pq.read_table(output / s["path"]) for s in manifest["shards"]])
    tokens = {row["id"]: (row["domain"], row["split"], row["tokens"]) for row in shards.to_pylist()}
    counts["domains"] = manifest["domains"]
    return kept_rows, reasons, counts, tokens


def both_engines(inputs: Path, tmp_path: Path) -> tuple:
    tokenizer = tmp_path / "tokenizer.json"
    train_bpe(demo_texts(), vocab_size=1024).save(str(tokenizer))
    stages = [{**s, "tokenizer": str(tokenizer)} if s["name"] == "tokenize" else s for s in STAGES]
    results = []
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(inputs)], "dataset": "cc"}, "output": str(tmp_path / engine),
               "engine": {"name": engine}, "stages": stages}
        run(pipeline_config.parse(raw))
        results.append(outcome(tmp_path / engine))
    return tuple(results)


def assert_same(spark, beam):
    assert spark[2] == beam[2]  # stats counts, per-domain tokens and mixture weights
    assert spark[0] == beam[0]  # kept documents
    assert spark[1] == beam[1]  # the reason of every rejected id
    assert spark[3] == beam[3]  # shard contents: domain, split and tokens of every document
    assert len(spark[3]) == spark[2]["kept"]


def test_demo_crawl_same_on_spark_and_beam(spark, tmp_path):
    generate_crawl(tmp_path / "crawl")
    on_spark, on_beam = both_engines(tmp_path / "crawl", tmp_path)
    assert_same(on_spark, on_beam)
    assert on_spark[2]["rejected"]["exact_dedup:duplicate"] >= 20
    assert on_spark[2]["rejected"].get("balance:downsample", 0) > 0


def test_real_crawls_same_on_spark_and_beam(spark, shared_data, tmp_path):
    on_spark, on_beam = both_engines(shared_data / "warc", tmp_path)
    assert_same(on_spark, on_beam)
    assert on_spark[2]["input"] == 83
