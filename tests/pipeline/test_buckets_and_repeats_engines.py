"""An ensemble's quality buckets and balance's repeat counts through both engines: two fastText models, buckets with
keep_buckets, then balance repeating the best buckets (by_bucket, capped), then tokenize. Spark and Beam write the same
documents, buckets and counts; every bucket is the one a NumPy sort over all scores gives; the counts reach the
shards and the manifest, and the balance summary reports the inflation per domain and bucket."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.testing import demo_texts
from curate.cli.quality_train import train_quality
from curate.pipeline.tokenizer import train_bpe
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.stages.quality_classifier import ranks

BUCKETS = 5
TABLE = {4: 3, 3: 2}


def build(root: Path) -> dict:
    rng, texts = random.Random(7), demo_texts()

    def prose(k: int) -> str:
        return " ".join(rng.sample(texts, k))

    def shuffled(k: int) -> str:
        return " ".join(rng.sample(prose(k).split(), 10 * k))

    def menu(k: int) -> str:
        return " | ".join(rng.choice(["home", "login", "cart", "share", "menu"]) for _ in range(8 * k))

    for name, make in (("prose", prose), ("shuffled", shuffled), ("menu", menu)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps({"text": make(3)}) + "\n" for _ in range(60)))
    models = {}
    for name, negative in (("order", "shuffled"), ("menus", "menu")):
        models[name] = root / f"{name}.bin"
        train_quality(str(root / "prose.jsonl"), str(root / f"{negative}.jsonl"), str(models[name]),
                      overrides={"bucket": 10_000}, log=lambda line: None)
    (root / "input").mkdir()
    for part in range(4):
        rows = [{"text": (prose, shuffled, menu)[i % 3](rng.randint(1, 4)), "domain": ("a", "b")[i % 2]}
                for i in range(30)]
        (root / "input" / f"part-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tokenizer = root / "tokenizer.json"
    train_bpe(texts, vocab_size=512).save(str(tokenizer))
    return {"models": models, "tokenizer": tokenizer}


def stages(files: dict, keep: bool) -> list[dict]:
    classifier = {"name": "quality_classifier", "buckets": BUCKETS, "combine": "max",
                  "models": [{"name": n, "model": str(p)} for n, p in files["models"].items()]}
    if not keep:
        return [classifier]
    return [{**classifier, "keep_buckets": [1, 2, 3, 4]},
            {"name": "balance", "temperature": 1, "by": "characters",
             "repeats": {"by_bucket": TABLE, "max_repeats": 2}},
            {"name": "tokenize", "tokenizer": str(files["tokenizer"]), "validation_fraction": 0.0}]


@pytest.fixture(scope="module")
def outputs(spark, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("buckets")
    files = build(root)
    out = {}
    for engine in ("spark", "beam"):
        for keep in (False, True):
            name = f"{engine}-{'selected' if keep else 'all'}"
            run(pipeline_config.parse({"input": {"paths": [str(root / "input")], "dataset": "q", "fields": ["domain"]},
                                       "output": str(root / name), "engine": {"name": engine},
                                       "stages": stages(files, keep)}))
            out[name] = root / name
    return out


def documents(out: Path) -> pa.Table:
    manifest = json.loads((out / MANIFEST).read_text())
    table = pa.concat_tables([pq.read_table(out / p) for p in manifest["documents"]])
    return table.drop_columns([c for c in ("tokens",) if c in table.column_names]).sort_by("id")


def test_both_engines_write_the_same_buckets_and_counts(outputs):
    for kind in ("all", "selected"):
        spark, beam = documents(outputs[f"spark-{kind}"]), documents(outputs[f"beam-{kind}"])
        columns = [c for c in spark.column_names if c.startswith(("quality_", "repeats")) or c == "id"]
        assert spark.num_rows > 0 and spark.select(columns).equals(beam.select(columns)), kind


def test_the_plans_return_the_same_buckets_into_the_manifest(outputs):
    """The plan's result (`plans.<id>.buckets`): per model the total units, the units per bucket and the cuts, the
    same from both engines; the stage's own section shows the same units per bucket."""
    planned = {engine: json.loads((outputs[f"{engine}-all"] / MANIFEST).read_text())["plans"]["quality_classifier"]
               for engine in ("spark", "beam")}
    assert planned["spark"] == planned["beam"] and set(planned["spark"]) == {"buckets"}
    shown = json.loads((outputs["spark-all"] / MANIFEST).read_text())["quality_classifier"]["quality_classifier"]
    for name, info in planned["spark"]["buckets"].items():
        assert len(info["units"]) == BUCKETS and sum(info["units"]) == info["total"] > 0
        assert len(info["cuts"]) == BUCKETS - 1 and info["cuts"] == sorted(info["cuts"])
        assert shown["buckets"]["models"][name]["units"] == info["units"]


def test_every_bucket_is_the_one_a_full_sort_gives_and_the_selection_keeps_its_buckets(outputs):
    table = documents(outputs["spark-all"])
    assert table.num_rows == 120
    units = np.maximum(np.array([len(t) for t in table.column("text").to_pylist()]), 1)
    placed = {}
    for name in ("order", "menus"):
        rank = ranks(table.column(f"quality_score_{name}").to_numpy(), table.column("uid"))
        order = np.argsort(rank, kind="stable")
        below = np.empty(len(rank), np.int64)
        below[order] = np.cumsum(units[order]) - units[order]
        placed[name] = table.column(f"quality_bucket_{name}").to_numpy()
        assert placed[name].tolist() == (BUCKETS * below // units.sum()).tolist()
    best = np.maximum(placed["order"], placed["menus"])
    assert table.column("quality_bucket").to_numpy().tolist() == best.tolist()
    selected = set(documents(outputs["spark-selected"]).column("id").to_pylist())
    assert selected == {i for i, b in zip(table.column("id").to_pylist(), best) if b >= 1}


def test_the_report_shows_the_buckets(outputs):
    from curate.cli.report import write_report

    out = outputs["spark-selected"]
    manifest = json.loads((out / MANIFEST).read_text())
    buckets = manifest["quality_classifier"]["quality_classifier"]["buckets"]
    kept = documents(out)
    for row in buckets["quality_bucket"]:
        mine = kept.column("quality_bucket").to_numpy() == row["bucket"]
        assert row["kept_documents"] == int(mine.sum()) and (row["kept_documents"] == 0) == (row["bucket"] == 0)
    page = Path(write_report(str(out))).read_text()
    assert "order: characters (from score)" in page and "quality_bucket" in page


def test_repeat_counts_reach_the_shards_and_the_inflation_is_reported(outputs):
    out = outputs["beam-selected"]
    table = documents(out)
    expected = [min(TABLE.get(b, 1), 2) for b in table.column("quality_bucket").to_pylist()]
    assert table.column("repeats").to_pylist() == expected and 2 in expected and 1 in expected
    manifest = json.loads((out / MANIFEST).read_text())
    shards = pa.concat_tables([pq.read_table(out / e["path"]) for e in manifest["shards"]]).sort_by("id")
    assert shards.column("repeats").to_pylist() == expected
    n_tokens = shards.column("n_tokens").to_numpy()
    assert sum(e["repeated_tokens"] for e in manifest["shards"]) == int((n_tokens * np.array(expected)).sum())
    report = json.loads((out / manifest["balance"]).read_text())["repeats"]
    characters = np.array([len(t) for t in table.column("text").to_pylist()])
    for domain in ("a", "b"):
        mine = table.column("domain").to_numpy(zero_copy_only=False) == domain
        assert report["domains"][domain]["units"] == int(characters[mine].sum())
        assert report["domains"][domain]["repeated_units"] == int((characters * expected)[mine].sum())
    assert report["quality_bucket"]["4"]["inflation"] == 2.0 and report["quality_bucket"]["1"]["inflation"] == 1.0
    from curate.cli.report import write_report

    page = Path(write_report(str(out))).read_text()
    assert "Repeats (by_bucket, at most 2 a document)" in page and "inflation" in page


@pytest.mark.beam
def test_rehydration_repeats_by_the_duplicate_cluster_size_exact_dedup_wrote(tmp_path):
    """FineWeb-2's rehydration on this run's own clusters: a document kept for a cluster of size s gets the table's
    count for s (the largest size named at or below s), its copies removed by exact_dedup."""
    (tmp_path / "in").mkdir()
    rows = []
    for i, copies in enumerate([1, 2, 3, 4, 6, 1]):
        rows += [{"text": f"document number {i} says something of its own, with words.", "domain": "web"}] * copies
    (tmp_path / "in" / "part.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    table = tmp_path / "up_to_5_reps.json"
    table.write_text(json.dumps({"1": 1, "2": 3, "4": 5, "6": 2}))
    run(pipeline_config.parse({
        "input": {"paths": [str(tmp_path / "in")], "dataset": "d", "fields": ["domain"]},
        "output": str(tmp_path / "out"), "engine": {"name": "beam"},
        "stages": [{"name": "exact_dedup"},
                   {"name": "balance", "by": "characters", "temperature": 1,
                    "repeats": {"by_cluster_size": str(table), "max_repeats": 4}}]}))
    kept = documents(tmp_path / "out")
    got = sorted(zip(kept.column("dup_cluster_size").to_pylist(), kept.column("repeats").to_pylist()))
    assert got == [(1, 1), (1, 1), (2, 3), (3, 3), (4, 4), (6, 2)]  # 4 -> 5 capped at 4; 3 takes 2's count
