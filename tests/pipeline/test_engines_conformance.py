"""Same input, same output on both engines: kept ids, the reason for every rejected id, and stats counts."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.demo import generate_crawl
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run

STAGES = [{"name": "extract"}, {"name": "langid", "threshold": 0.5}, {"name": "exact_dedup"},
          {"name": "gopher_quality"}, {"name": "exact_dedup", "id": "url_dedup", "on": "url"}]


def outcome(output: Path) -> tuple[dict, dict, dict]:
    manifest = json.loads((output / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]])
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]])
    stats = json.loads((output / "stats.json").read_text())
    kept_rows = {row["id"]: (row["text"], row["dup_cluster_size"]) for row in kept.to_pylist()}
    reasons = dict(zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist()))
    counts = {k: stats[k] for k in ("input", "kept", "rejected")}
    counts["stages"] = [(s["name"], s["in"], s["out"]) for s in stats["stages"]]
    return kept_rows, reasons, counts


def both_engines(inputs: Path, tmp_path: Path) -> tuple:
    results = []
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(inputs)], "dataset": "cc"}, "output": str(tmp_path / engine),
               "engine": {"name": engine}, "stages": STAGES}
        run(pipeline_config.parse(raw))
        results.append(outcome(tmp_path / engine))
    return tuple(results)


def assert_same(spark, beam):
    assert spark[2] == beam[2]
    assert spark[0] == beam[0]
    assert spark[1] == beam[1]


def test_demo_crawl_same_on_spark_and_beam(spark, tmp_path):
    generate_crawl(tmp_path / "crawl")
    on_spark, on_beam = both_engines(tmp_path / "crawl", tmp_path)
    assert_same(on_spark, on_beam)
    assert on_spark[2]["rejected"]["exact_dedup:duplicate"] >= 20


def test_real_crawls_same_on_spark_and_beam(spark, shared_data, tmp_path):
    on_spark, on_beam = both_engines(shared_data / "warc", tmp_path)
    assert_same(on_spark, on_beam)
    assert on_spark[2]["input"] == 83
