"""Whole runs on the embedded Spark (one shared session): the demo pipeline, real crawls, accounting and resume."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from curate.pipeline import config as pipeline_config
from curate.testing import demo_texts, generate_crawl
from curate.pipeline.tokenizer import train_bpe
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, READER, Output
from curate.pipeline.run import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo.yaml"


def demo_config(crawl: Path, output: Path, **changes):
    """examples/demo.yaml on `crawl`, with the demo's tokenizer (trained once, beside the crawl)."""
    tokenizer = crawl.parent / "tokenizer.json"
    if not tokenizer.exists():
        train_bpe(demo_texts(), vocab_size=2048).save(str(tokenizer))
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw.update(input={**raw["input"], "paths": [str(crawl)]}, output=str(output))
    for stage in raw["stages"]:
        if stage["name"] == "tokenize":
            stage["tokenizer"] = str(tokenizer)
    return pipeline_config.parse(raw).model_copy(update=changes)


def kept_ids(output: Path) -> list[str]:
    manifest = json.loads((output / MANIFEST).read_text())
    return sorted(i for path in manifest["documents"] for i in pq.read_table(output / path, columns=["id"])
                  .column("id").to_pylist())


def rejects(output: Path) -> dict[str, str]:
    manifest = json.loads((output / MANIFEST).read_text())
    out = {}
    for path in manifest["rejects"]:
        table = pq.read_table(output / path)
        out.update(zip(table.column("id").to_pylist(), table.column("reject_reason").to_pylist()))
    return out


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("crawl")
    generate_crawl(directory)
    return directory


@pytest.fixture(scope="module")
def demo_run(spark, crawl, tmp_path_factory):
    output = tmp_path_factory.mktemp("demo") / "out"
    return run(demo_config(crawl, output), keep_work=True), output  # the resume tests start from its work/


def test_demo_pipeline_end_to_end(demo_run, crawl):
    result, output = demo_run
    stats = result.stats
    assert stats["input"] == 218 == stats["kept"] + sum(stats["rejected"].values())
    assert stats["files"] == 4
    # what the crawl holds: 5 non-HTML responses, 3 HTTP errors, short pages and spam rejected by the quality rules
    assert stats["rejected"]["read:content_type:image/png"] == 4
    assert stats["rejected"]["read:http_status:404"] == 3
    assert stats["rejected"].get("gopher_quality:word_count", 0) >= 10
    assert 130 <= stats["kept"] <= 200
    names = [s["name"] for s in stats["stages"]]
    assert names == ["read", "extract", "langid", "gopher_quality", "exact_dedup", "domain", "tokenize", "balance"]
    for before, after in zip(stats["stages"], stats["stages"][1:]):
        assert after["in"] == before["out"]
    documents = pq.read_table(output / json.loads((output / MANIFEST).read_text())["documents"][0])
    assert {"id", "uid", "text", "lang", "lang_score", "gopher_quality_word_count"} <= set(documents.schema.names)
    assert "html" not in documents.schema.names and "tokens" not in documents.schema.names
    manifest = json.loads((output / MANIFEST).read_text())
    assert {s["domain"] for s in manifest["shards"]} <= {"en", "de", "fr", "es"}
    assert sum(s["rows"] for s in manifest["shards"]) == stats["kept"]
    assert set(documents.column("lang").to_pylist()) <= {"en", "de", "fr", "es"}
    assert pc.min(documents.column("gopher_quality_word_count")).as_py() >= 50
    assert len(kept_ids(output)) == stats["kept"] == len(set(kept_ids(output)))
    assert set(kept_ids(output)).isdisjoint(rejects(output))


def test_rerun_refuses_non_empty_output_without_a_flag(demo_run, crawl):
    _, output = demo_run
    with pytest.raises(CurateError, match="not empty: pass --resume"):
        run(demo_config(crawl, output))


def test_resume_redoes_only_uncommitted_files_and_gives_the_same_output(demo_run, crawl, tmp_path):
    _, reference = demo_run
    output = tmp_path / "out"
    shutil.copytree(reference, output)
    (output / MANIFEST).unlink()
    records = sorted((output / READER).glob("*.json"))
    lost = json.loads(records[0].read_text())
    records[0].unlink()  # as if the run died before that file committed: its data files stay, unlisted
    result = run(demo_config(crawl, output), resume=True)
    assert result.resumed_tasks == 3
    assert kept_ids(output) == kept_ids(reference)
    assert rejects(output) == rejects(reference)
    assert result.stats["input"] == 218
    # the orphaned files of the lost attempt are gone: documents/ holds only what the manifest lists
    assert not (output / lost["rows"][0]).exists()
    manifest = json.loads((output / MANIFEST).read_text())
    assert lost["rows"][0] not in manifest["documents"]
    assert sorted(manifest["documents"]) == sorted(f"documents/{p.name}" for p in (output / "documents").iterdir())


def test_resume_refuses_a_changed_config(demo_run, crawl, tmp_path):
    _, reference = demo_run
    output = tmp_path / "out"
    shutil.copytree(reference, output)
    changed = demo_config(crawl, output, write_rejects=True)
    with pytest.raises(CurateError, match="config changed"):
        run(changed, resume=True)


def test_output_inside_input_is_refused(crawl):
    with pytest.raises(CurateError, match="overlaps input"):
        run(demo_config(crawl, crawl / "out"))


def test_real_crawls_every_response_accounted(spark, shared_data, tmp_path):
    raw = {"input": {"paths": [str(shared_data / "warc")], "dataset": "cc"}, "output": str(tmp_path / "out"),
           "write_rejects": True,
           "stages": [{"name": "extract"}, {"name": "langid"}, {"name": "gopher_quality"}]}
    result = run(pipeline_config.parse(raw))
    stats = result.stats
    assert stats["input"] == 83  # 1 + 29 + 22 + 15 + 16 response records
    assert stats["input"] == stats["kept"] + sum(stats["rejected"].values())
    assert stats["rejected"]["read:truncated"] == 1
    assert "clipped.warc.gz" in stats["file_errors"]
    assert stats["kept"] > 40
    langs = set()
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    for path in manifest["documents"]:
        langs |= set(pq.read_table(tmp_path / "out" / path, columns=["lang"]).column("lang").to_pylist())
    assert {"en", "ja"} <= langs
    rejected = pq.read_table(tmp_path / "out" / manifest["rejects"][0])
    assert "text" in rejected.schema.names  # write_rejects keeps the rejected text


def test_stats_are_a_query_over_committed_files(demo_run):
    result, output = demo_run
    out = Output(str(output))
    assert sum(r["reader"]["records_seen"] for r in out.committed(0).values()) == result.stats["input"]
    last = len(json.loads((output / "ledger" / "passes.json").read_text())["passes"]) - 1
    assert last == 2  # exact_dedup and balance cut the demo into three passes
    assert sum(r["kept"] for r in out.committed(last).values()) == result.stats["kept"]
