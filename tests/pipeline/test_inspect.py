"""`curate inspect` on a real run (JSONL through quality, exact dedup, domains and tokenize, rejects with text, on the
shared Spark session): the rows shown are the run's own, filters select what they say, shard tokens decode."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import CurateError
from curate.cli.inspect import inspect_documents, inspect_shard, parse_where
from curate.pipeline.run import run
from curate.pipeline.tokenizer import train_bpe

WORDS = ("the river carries water past the old mill and the children watch the boats go by while the baker sells "
         "bread to every family in the small town near the coast").split()


def text(i: int, n: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n)) + "."


@pytest.fixture(scope="module")
def output(spark, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    (root / "in").mkdir()
    rows = [{"text": text(i, 60 + i), "url": f"https://{'en.wikipedia.org' if i % 3 == 0 else 'blog.example.com'}/{i}"}
            for i in range(30)]
    rows += [{"text": "too short to keep", "url": "https://blog.example.com/short"}]
    rows += [{"text": rows[0]["text"], "url": "https://mirror.example.com/copy"}]
    (root / "in" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    train_bpe([r["text"] for r in rows], vocab_size=300).save(str(root / "tokenizer.json"))
    config = pipeline_config.parse({
        "input": {"paths": [str(root / "in")], "dataset": "t"}, "output": str(root / "out"), "write_rejects": True,
        "stages": [
            {"name": "gopher_quality", "keep_signals": True},
            {"name": "exact_dedup"},
            {"name": "domain", "rules": [{"domain": "wikipedia.org", "label": "wiki"}], "default": "web"},
            {"name": "tokenize", "tokenizer": str(root / "tokenizer.json"), "shard_tokens": 1000},
        ]})
    run(config)
    return root / "out"


def rendered(table) -> str:
    console = Console(width=250, record=True, file=open("/dev/null", "w"))
    console.print(table)
    return console.export_text()


def documents(output: Path) -> pa.Table:
    manifest = json.loads((output / "manifest.json").read_text())
    return pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]])


def test_kept_documents_filtered_by_where(output):
    kept = documents(output)
    wiki = {i: t for i, t, d in zip(kept.column("id").to_pylist(), kept.column("text").to_pylist(),
                                    kept.column("domain").to_pylist()) if d == "wiki"}
    table = inspect_documents(str(output), n=50, where="domain == wiki and n_tokens > 0")
    text_out = rendered(table)
    assert table.row_count == len(wiki) == 10
    assert [c.header for c in table.columns] == ["id", "domain", "n_tokens", "dup_cluster_size", "text"]
    ids = list(table.columns[0].cells)
    assert sorted(ids) == sorted(wiki)
    assert all(cell == "wiki" for cell in table.columns[1].cells)
    assert wiki[ids[0]][:40] in " ".join(text_out.split())
    assert inspect_documents(str(output), n=3).row_count == 3


def test_rejected_records_show_reason_and_text(output):
    table = inspect_documents(str(output), n=10, reason="gopher_quality")
    assert table.row_count == 1
    assert list(table.columns[1].cells) == ["gopher_quality:word_count"]
    assert list(table.columns[2].cells) == ["too short to keep"]
    everything = inspect_documents(str(output), n=10, rejected=True)
    assert sorted(everything.columns[1].cells) == ["exact_dedup:duplicate", "gopher_quality:word_count"]


def test_shard_tokens_decode_to_the_documents(output):
    kept = documents(output)
    by_id = dict(zip(kept.column("id").to_pylist(), kept.column("text").to_pylist()))
    table = inspect_shard(str(output), "wiki", n=2, tokens_shown=8)
    assert table.row_count == 2
    headers = [c.header for c in table.columns]
    assert headers == ["id", "split", "n_tokens", "first 8 tokens", "decoded"]
    for doc_id, tokens, decoded in zip(table.columns[0].cells, table.columns[3].cells, table.columns[4].cells):
        assert by_id[doc_id].startswith(decoded.split(" … ")[0][:20])
        assert tokens.endswith("0(eos)") and decoded.endswith("<|endoftext|>")
    manifest = json.loads((output / "manifest.json").read_text())
    first = manifest["shards"][0]["path"]
    assert inspect_shard(str(output), first, n=1, decode=False).columns[-1].header == "first 48 tokens"


def test_mistakes_are_one_line_errors(output):
    with pytest.raises(CurateError, match=r"no column 'domian' \(did you mean 'domain'\?\)"):
        inspect_documents(str(output), where="domian == wiki")
    with pytest.raises(CurateError, match="no column 'zzz'; columns: id, uid, source"):
        inspect_documents(str(output), columns=["zzz"])
    with pytest.raises(CurateError, match="cannot read 'lang ~ de'"):
        inspect_documents(str(output), where="lang ~ de")
    with pytest.raises(CurateError, match=r"no shard 'math'.*\(web, wiki\)"):
        inspect_shard(str(output), "math")
    with pytest.raises(CurateError, match="holds no finished run"):
        inspect_documents(str(output / "ledger"))


def test_where_types_follow_the_columns():
    schema = pa.schema([("n_tokens", pa.int32()), ("lang_score", pa.float32()), ("lang", pa.string())])
    batch = pa.table({"n_tokens": [5, 50], "lang_score": [0.2, 0.9], "lang": ["de", "en"]}, schema=schema)
    import pyarrow.dataset as ds

    chosen = ds.dataset(batch).to_table(filter=parse_where("n_tokens >= 10 AND lang_score > 0.5 and lang = 'en'",
                                                           schema))
    assert chosen.column("lang").to_pylist() == ["en"]
    with pytest.raises(CurateError, match="not a whole number"):
        parse_where("n_tokens > many", schema)
