"""Mixed inputs in one run (issue #25, item 15): a folder of WARC and JSONL files. Each file goes through the stages
that apply to its kind: a WARC page through extraction, a text record (JSONL, Parquet, WET) past it, with its text as
read; every record is still kept or rejected with a reason, on both engines, and `curate explain` says which stages
each kind of input goes through. Before: "input mixes formats ['jsonl', 'warc']: ... run them as separate pipelines"."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.cli.main import main
from curate.testing import page, warc_record
from curate.pipeline.errors import ConfigError
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run

STORY = ["The river rose through the night and by morning the old bridge stood in brown water to its rails.",
         "Farmers moved their animals to the hills while the town council opened the school as a shelter.",
         "By the afternoon the rain had stopped, and volunteers began to fill sandbags along the main street."]
OTHER = ["A new library opened in the square this spring, with a reading room for children and long tables.",
         "The building was once a grain store, and its old beams now hold shelves of books in many languages.",
         "Visitors come in the evening, when the light through the tall windows falls across the floor."]


def mixed_crawl(folder: Path) -> Path:
    """crawl/pages.warc.gz: two HTML pages and an image (the reader rejects it); crawl/texts.jsonl: the first page's
    story as text (a duplicate across kinds), another text, and a record without text (the reader rejects it)."""
    folder.mkdir(parents=True)
    when = datetime(2026, 10, 1, tzinfo=timezone.utc)
    with open(folder / "pages.warc.gz", "wb") as f:
        f.write(warc_record("https://news.example/flood", when, "200 OK", "text/html", page("en", "Flood", STORY).encode()))
        f.write(warc_record("https://news.example/library", when, "200 OK", "text/html",
                        page("en", "Library", OTHER).encode()))
        f.write(warc_record("https://news.example/logo.png", when, "200 OK", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(64)))
    rows = [{"text": "Flood\n" + "\n".join(STORY), "url": "https://mirror.example/flood"},
            {"text": " ".join(OTHER[::-1]) + " " + " ".join(STORY[::-1]), "url": "https://mirror.example/mix"},
            {"url": "https://mirror.example/empty"}]
    (folder / "texts.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return folder


STAGES = [{"name": "extract"}, {"name": "langid", "languages": ["en"], "threshold": 0.3}, {"name": "exact_dedup"}]


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_warc_and_jsonl_files_in_one_run(spark, tmp_path, engine):
    config = pipeline_config.parse({"input": {"paths": [str(mixed_crawl(tmp_path / "crawl"))], "dataset": "c"},
                                    "output": str(tmp_path / "out"), "engine": {"name": engine}, "stages": STAGES})
    stats = run(config).stats
    assert stats["input"] == 6 and stats["input"] == stats["kept"] + sum(stats["rejected"].values())
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    rejects = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["rejects"]]).to_pylist()
    reasons = sorted((row["file"], row["reject_reason"], row["kept_id"] or "") for row in rejects)
    flood = next(row["kept_id"] for row in rejects if row["kept_id"])
    assert flood.startswith("c/pages.warc.gz:")  # the page's story, extracted, equals the JSONL file's text
    assert reasons == [("pages.warc.gz", "read:content_type:image/png", ""),
                       ("texts.jsonl", "exact_dedup:duplicate", flood), ("texts.jsonl", "read:no_text", "")]
    documents = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["documents"]])
    texts = dict(zip(documents.column("id").to_pylist(), documents.column("text").to_pylist()))
    page = next(i for i in texts if i != flood and i.startswith("c/pages.warc.gz:"))
    assert sorted(texts) == sorted([flood, page, "c/texts.jsonl:1"])
    assert texts["c/texts.jsonl:1"].startswith(OTHER[2])  # a text record passes extraction as it was read
    assert OTHER[0] in texts[page] and "<p>" not in texts[page] and STORY[0] in texts[flood]  # pages are extracted
    funnel = {s["name"]: (s["in"], s["out"]) for s in stats["stages"]}
    assert funnel["extract"] == (2, 2) and funnel["langid"] == (4, 4)  # extraction saw the pages only


def test_explain_says_which_stages_each_kind_goes_through(tmp_path, capsys):
    crawl = mixed_crawl(tmp_path / "crawl")
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({"input": str(crawl), "output": str(tmp_path / "out"),
                                    "stages": [{"name": "lang_precheck", "languages": ["en"]}, *STAGES]}))
    with pytest.raises(SystemExit) as done:
        main(["explain", str(pipeline)])
    out = capsys.readouterr()
    assert done.value.code == 0, out.err
    assert "route   warc: read -> lang_precheck -> extract -> langid -> exact_dedup" in out.out
    assert "route   jsonl: read -> langid -> exact_dedup (skips lang_precheck, extract: its text is read)" in out.out
    assert "warning" not in out.out


def test_a_page_stage_that_applies_to_no_input_is_still_an_error(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x"}) + "\n")
    config = pipeline_config.parse({"input": str(tmp_path / "a.jsonl"), "output": str(tmp_path / "out"),
                                    "stages": [{"name": "extract"}]})
    from curate.pipeline.run import checked

    with pytest.raises(ConfigError, match=r"stages\[0\] \(extract\): requires column 'html'"):
        checked(config)
