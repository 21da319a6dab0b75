"""A repeat count per document, set today by an input field (`fields: [repeats]`), travels from the kept documents into
the token shards (`repeats` column) and the manifest (`repeated_tokens` beside the unique `tokens`), a bad count is
rejected by the tokenize stage with its reason, and the trainer's document index names each document k times an
epoch. Run on Spark; the shard writer is the same code on Beam (`run_pass`)."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.tokenizer import train_bpe
from curate.pipeline.run import run
from curate.stages.shards import shard_schema
from curate.trainer import data

WORDS = "the river runs past old mills and quiet farms where people grow wheat every year".split()


@pytest.fixture(scope="module")
def output(spark, tmp_path_factory) -> tuple[Path, dict[str, int | None]]:
    """Two JSONL files over two domains; counts 1-7 (as JSON numbers and as text), some missing (count 1), three bad
    ones; returns the output and the count each document's id was given (None: missing)."""
    root = tmp_path_factory.mktemp("repeats")
    rng = random.Random(3)
    (root / "in").mkdir()
    given: dict[str, int | str | None] = {}
    for f in range(2):
        rows = []
        for i in range(40):
            count: int | str | None = 1 + (i % 7)
            if i % 10 == 9:
                count = None  # no field: count 1
            elif i % 5 == 3:
                count = str(count)  # text, as a CSV-born JSONL has it
            row = {"text": " ".join(rng.choices(WORDS, k=rng.randint(5, 30))), "domain": ("web", "wiki")[i % 2]}
            if count is not None:
                row["repeats"] = count
            rows.append(row)
            given[f"t/part-{f}.jsonl:{i}"] = int(count) if count is not None else None
        for i, bad in enumerate(("many", 0, 2.5)):
            rows.append({"text": "a document with a count that is not one", "domain": "web", "repeats": bad})
            given[f"t/part-{f}.jsonl:{40 + i}"] = bad
        (root / "in" / f"part-{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    tokenizer = root / "tokenizer.json"
    train_bpe([" ".join(WORDS)] * 20, vocab_size=300).save(str(tokenizer))
    run(pipeline_config.parse({
        "input": {"paths": [str(root / "in")], "dataset": "t", "fields": ["repeats", "domain"]},
        "output": str(root / "out"),
        "stages": [{"name": "tokenize", "tokenizer": str(tokenizer), "shard_tokens": 300,
                    "validation_fraction": 0.1}]}))
    return root / "out", given


def test_counts_travel_into_the_shards_and_bad_counts_are_rejected(output):
    out, given = output
    manifest = json.loads((out / "manifest.json").read_text())
    rows = {}  # id -> (count, domain, split, n_tokens)
    for entry in manifest["shards"]:
        table = pq.read_table(out / entry["path"])
        assert table.schema == shard_schema("uint16", repeats=True)
        repeats, n_tokens = table.column("repeats").to_numpy(), table.column("n_tokens").to_numpy()
        assert entry["repeated_tokens"] == int((repeats * n_tokens).sum()) > entry["tokens"]
        rows.update(zip(table.column("id").to_pylist(), zip(repeats.tolist(), table.column("domain").to_pylist(),
                                                             table.column("split").to_pylist(), n_tokens.tolist())))
    good = {i: k or 1 for i, k in given.items() if k is None or isinstance(k, int) and k >= 1}
    assert {i: k for i, (k, _, _, _) in rows.items()} == good
    stats = json.loads((out / "stats.json").read_text())
    assert stats["rejected"] == {"tokenize:bad_repeats": 6}  # "many", 0 and 2.5 in each file
    for domain, info in manifest["domains"].items():
        mine = [(k, s, n) for k, d, s, n in rows.values() if d == domain]
        assert (info["tokens"], info["repeated_tokens"]) == (sum(n for _, _, n in mine),
                                                             sum(k * n for k, _, n in mine))
    for split in ("train", "validation"):
        mine = [(k, n) for k, _, s, n in rows.values() if s == split]
        assert manifest["splits"][split] == {"documents": len(mine), "tokens": sum(n for _, n in mine),
                                             "repeated_tokens": sum(k * n for k, n in mine)}
    # the natural mixture counts every copy: a domain's weight is its share of the repeated training tokens
    train = {d: sum(k * n for k, dd, s, n in rows.values() if dd == d and s == "train") for d in manifest["domains"]}
    for domain, info in manifest["domains"].items():
        assert info["weight"] == pytest.approx(train[domain] / sum(train.values()))


def test_the_trainer_names_each_document_its_count_of_times_an_epoch(output, tmp_path):
    out, given = output
    manifest = data.read_manifest(out / "manifest.json")
    caches = data._shard_caches(manifest, tmp_path)
    for domain in manifest.domains:
        shards = [(e, c) for e, c in zip(manifest.shards, caches) if e["domain"] == domain]
        ds = data.DomainDataset(domain, [c for _, c in shards], [e["sha256"] for e, _ in shards], "train", 8, 1,
                                seed=1, cache_dir=tmp_path)
        assert ds.epochs == 1
        ids = [i for e, _ in shards for i, s in zip(*(pq.read_table(out / e["path"]).column(c).to_pylist()
                                                      for c in ("id", "split"))) if s == "train"]
        named = np.bincount(np.asarray(ds.doc_idx), minlength=len(ids))
        assert {i: int(n) for i, n in zip(ids, named)} == {i: given[i] or 1 for i in ids}


def test_without_counts_the_shards_and_manifest_are_as_before(spark, tmp_path):
    """No `repeats` field: no column, no repeated_tokens key (an output of before reads and digests the same)."""
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"text": " ".join(WORDS[i:])}) + "\n" for i in range(8)))
    tokenizer = tmp_path / "tokenizer.json"
    train_bpe([" ".join(WORDS)] * 20, vocab_size=300).save(str(tokenizer))
    run(pipeline_config.parse({"input": {"paths": [str(tmp_path / "in.jsonl")], "dataset": "t"},
                               "output": str(tmp_path / "out"),
                               "stages": [{"name": "tokenize", "tokenizer": str(tokenizer)}]}))
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert "repeated_tokens" not in json.dumps(manifest)
    assert pq.read_schema(tmp_path / "out" / manifest["shards"][0]["path"]) == shard_schema("uint16")
