"""What a finished run leaves: `documents/` (and the reject ledger, the shards) holds only committed files, so a
reader of `documents/*.parquet` sees exactly the kept rows (issue #21 item 8); `work/` is gone once the manifest is
written, unless kept for debugging (issue #17 item 10)."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as config_module
from curate.pipeline.output import Output, collector_folder
from curate.pipeline.run import checked, run


def pipeline(tmp_path: Path, stages: list):
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        with open(tmp_path / "in" / f"{name}.jsonl", "w") as out:
            for i in range(20):  # half German (langid keeps them), some repeated (exact_dedup rejects them)
                text = f"Dokument {i % 3} über Flüsse, Boote und die langen Sommerabende am Meer." if i % 2 else \
                    f"Document {i} of {name}, about rivers, boats and the long summer evenings by the sea."
                out.write(json.dumps({"text": text}) + "\n")
    return config_module.parse({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                "engine": {"name": "beam"}, "stages": stages})


@pytest.mark.beam
def test_failed_attempts_files_are_gone_before_the_manifest(tmp_path):
    config = pipeline(tmp_path, [{"name": "langid", "languages": ["de"], "threshold": 0.3}])
    out = Output(config.output)
    plan = checked(config)
    out.prepare(config.content_hash(), [f.listing() for f in plan.inputs], resume=False, overwrite=False)
    # what a killed task leaves: a whole file its commit never listed, and one cut short (disk full)
    orphan = pa.table({"id": ["x"] * 7, "text": ["an orphan row"] * 7})
    for folder in ("documents", "ledger/rejects", "work/pass-0/rows"):
        Path(out.path(folder)).mkdir(parents=True)
    pq.write_table(orphan, out.path("documents", "part-a.jsonl-p1-deadbeef0001.parquet"))
    pq.write_table(orphan, out.path("ledger", "rejects", "part-a.jsonl-p0-deadbeef0002.parquet"))
    whole = Path(out.path("documents", "part-a.jsonl-p1-deadbeef0001.parquet")).read_bytes()
    Path(out.path("documents", "part-b.jsonl-p1-deadbeef0003.parquet")).write_bytes(whole[: len(whole) // 2])

    result = run(config, resume=True)

    kept = result.stats["kept"]
    assert kept == 20 and result.stats["rejected"] == {"langid:language:en": 20}
    documents = f"{tmp_path}/out/documents/*.parquet"
    assert duckdb.sql(f"select count(*) from read_parquet('{documents}')").fetchall() == [(kept,)]
    assert pq.ParquetDataset(f"{tmp_path}/out/documents").read().num_rows == kept
    manifest = out.read_json("manifest.json")
    assert sorted(manifest["documents"]) == sorted(f"documents/{p.name}" for p in (tmp_path / "out/documents").iterdir())
    rejects = pq.ParquetDataset(f"{tmp_path}/out/ledger/rejects").read()
    assert rejects.num_rows == 20 and "an orphan row" not in str(rejects.to_pydict())
    assert not (tmp_path / "out" / "work").exists()  # removed with the manifest written


@pytest.mark.beam
def test_keep_work_keeps_the_rows_between_passes(tmp_path):
    run(pipeline(tmp_path, [{"name": "exact_dedup"}]), keep_work=True)
    assert (tmp_path / "out" / "manifest.json").is_file()
    assert list((tmp_path / "out" / "work" / "pass-0" / "rows").iterdir())


def test_the_sweep_covers_the_folders_the_framework_gives_collectors(tmp_path):
    """No collector's folder is written into the core: the framework names it by what the stage publishes (the token
    shards' `shards/`, a plugin's own) or by the stage id, and the run sweeps those of what failed attempts left;
    other folders are left alone."""
    from curate.stages.tokenize import Tokenize

    folders = (collector_folder("tokenize", Tokenize.publishes), collector_folder("plugin", ("plugin",)),
               collector_folder("counter", ()))
    assert folders == ("shards", "plugin", "stages/counter")
    for path in ("documents/part-a.parquet", "documents/part-a-stray.parquet", "shards/train/part-stray.parquet",
                 "plugin/part-stray.json", "plugin/part-kept.json", "elsewhere/part-stray.json",
                 "stages/counter/part-stray.json"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x")
    removed = Output(str(tmp_path)).remove_unlisted({"documents/part-a.parquet", "plugin/part-kept.json"}, folders)
    assert sorted(removed) == ["documents/part-a-stray.parquet", "plugin/part-stray.json",
                               "shards/train/part-stray.parquet", "stages/counter/part-stray.json"]
    assert (tmp_path / "elsewhere/part-stray.json").exists() and (tmp_path / "plugin/part-kept.json").exists()
