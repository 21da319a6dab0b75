"""Readers on real and hand-made files: every record counted, bad ones rejected with a reason, breaks in the ledger."""
from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.pipeline.config import InputConfig
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import resolve
from curate.pipeline.inputs import read
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.schema import CORE, uid_of


def read_all(paths: list[str], **input_options) -> dict[str, tuple[ReaderLedger, pa.Table]]:
    cfg = InputConfig(paths=paths, dataset="ds", **input_options)
    out = {}
    for file in resolve(cfg):
        ledger = ReaderLedger(file.rel)
        batches = list(read(file, cfg, ledger))
        out[file.rel] = (ledger, pa.Table.from_batches(batches) if batches else None)
    return out


def warcio_responses(path: Path) -> list[str]:
    """The response records an independent parser (warcio) finds: the reference count."""
    from warcio.archiveiterator import ArchiveIterator

    ids = []
    with open(path, "rb") as stream:
        try:
            for record in ArchiveIterator(stream):
                if record.rec_type == "response":
                    ids.append(record.rec_headers.get_header("WARC-Record-ID").strip("<>"))
        except Exception:  # warcio raises on the truncated file after what it could read
            pass
    return ids


def test_real_warc_files_every_response_is_a_row(shared_data: Path):
    tables = read_all([str(shared_data / "warc")])
    assert set(tables) == {"clipped.warc.gz", "clueweb-quirk.warc.gz", "sample-0000.warc.gz", "sample-0001.warc.gz",
                           "warcfile.warc.gz"}
    for rel, (ledger, table) in tables.items():
        reference = warcio_responses(shared_data / "warc" / rel)
        assert ledger.records_seen == table.num_rows == len(reference) > 0, rel
        offsets = table.column("offset").to_pylist()
        assert table.column("id").to_pylist() == [f"ds/{rel}:{o}/{rid}" for o, rid in zip(offsets, reference)]
        assert table.column("uid").to_pylist()[0] == uid_of(table.column("id")[0].as_py())
        assert table.schema.names[: len(CORE)] == CORE.names
        assert all(not i.startswith("/") and "://" not in i.split("/", 1)[0] for i in table.column("id").to_pylist())
    assert tables["sample-0000.warc.gz"][0].records_yielded == 22
    assert tables["warcfile.warc.gz"][0].error is None


def test_truncated_gzip_is_a_file_error_and_a_rejected_record(shared_data: Path):
    ledger, table = read_all([str(shared_data / "warc" / "clipped.warc.gz")])["clipped.warc.gz"]
    assert ledger.error and ledger.error.startswith("truncated")
    assert table.column("reject_reason").to_pylist() == ["read:truncated"]


def test_warc_018_with_malformed_dates_keeps_dates_verbatim(shared_data: Path):
    ledger, table = read_all([str(shared_data / "warc" / "clueweb-quirk.warc.gz")])["clueweb-quirk.warc.gz"]
    assert ledger.records_seen == ledger.records_yielded == 29
    assert table.column("date")[0].as_py() == "2008-10-294T05:21:46-0700"
    assert "EUC-JP" in table.column("content_type")[0].as_py()
    assert table.column("html")[0].as_py().startswith(b"<div")


def test_non_html_and_errors_rejected_by_reader(tmp_path: Path):
    from curate.testing import warc_record
    from datetime import datetime, timezone

    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    with open(tmp_path / "a.warc.gz", "wb") as f:
        f.write(warc_record("https://a/1", when, "200 OK", "text/html", b"<html><body>hi</body></html>"))
        f.write(warc_record("https://a/2", when, "200 OK", "image/png", b"\x89PNG...."))
        f.write(warc_record("https://a/3", when, "404 Not Found", "text/html", b"<html></html>"))
        f.write(warc_record("https://a/4", when, "200 OK", "", b"<!DOCTYPE html><html><p>sniffed</p></html>"))
    ledger, table = read_all([str(tmp_path)])["a.warc.gz"]
    reasons = table.column("reject_reason").to_pylist()
    assert reasons == [None, "read:content_type:image/png", "read:http_status:404", None]
    assert ledger.records_seen == 4 and ledger.records_yielded == 2
    assert table.column("html")[1].as_py() is None  # a rejected body is not carried


def write_jsonl(path: Path, lines: list[str]) -> None:
    data = ("\n".join(lines) + "\n").encode()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    elif path.suffix == ".zst":
        data = zstandard.ZstdCompressor().compress(data)
    path.write_bytes(data)


@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz", "docs.jsonl.zst"])
def test_jsonl_bad_lines_rejected_with_reasons(tmp_path: Path, name: str):
    lines = [json.dumps({"text": "first", "url": "https://x", "lang_hint": "en", "id": 7}), "{not json",
             json.dumps([1, 2]), json.dumps({"body": "no text"}), "", json.dumps({"text": "last", "meta": {"a": 1}})]
    write_jsonl(tmp_path / name, lines)
    ledger, table = read_all([str(tmp_path)], fields=["lang_hint", "id", "meta"])[name]
    assert ledger.records_seen == 5 and ledger.records_yielded == 2 and ledger.error is None
    assert table.column("reject_reason").to_pylist() == [None, "read:invalid_json", "read:not_an_object",
                                                         "read:no_text", None]
    assert table.column("offset").to_pylist() == [0, 1, 2, 3, 5]
    assert table.column("id")[4].as_py() == f"ds/{name}:5"
    assert table.column("lang_hint").to_pylist()[0] == "en"
    assert table.column("input_id").to_pylist()[0] == "7"  # clashes with a core column: renamed, JSON-encoded
    assert table.column("meta").to_pylist()[4] == '{"a": 1}'


def test_truncated_jsonl_gz_keeps_records_before_the_break(tmp_path: Path):
    lines = [json.dumps({"text": f"document number {i} " * 20}) for i in range(2000)]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    ledger, table = read_all([str(tmp_path)])["cut.jsonl.gz"]
    assert ledger.error and "EOFError" in ledger.error
    assert 0 < ledger.records_seen < 2000
    assert table.num_rows == ledger.records_seen


def test_parquet_extra_columns_travel_and_clashes_are_renamed(tmp_path: Path):
    pq.write_table(pa.table({"content": ["a text", None, "more"], "id": [1, 2, 3], "score": [0.5, 0.1, 0.9]}),
                   tmp_path / "part.parquet")
    ledger, table = read_all([str(tmp_path)], text_field="content")["part.parquet"]
    assert ledger.records_seen == 3 and ledger.records_yielded == 2
    assert table.column("text").to_pylist() == ["a text", None, "more"]
    assert table.column("reject_reason").to_pylist() == [None, "read:no_text", None]
    assert table.column("input_id").to_pylist() == [1, 2, 3]
    assert table.column("score").type == pa.float64()
    assert table.column("id").to_pylist()[2] == "ds/part.parquet:2"


def test_listing_globs_directories_and_relative_names(tmp_path: Path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    for rel in ["a/one.jsonl", "a/b/two.jsonl.gz", "a/notes.txt"]:
        write_jsonl(tmp_path / rel, [json.dumps({"text": "x"})])
    files = resolve(InputConfig(paths=[str(tmp_path / "a")], dataset="d"))
    assert [(f.rel, f.format) for f in files] == [("b/two.jsonl.gz", "jsonl"), ("one.jsonl", "jsonl")]
    globbed = resolve(InputConfig(paths=[str(tmp_path / "a" / "*" / "*.gz")], dataset="d"))
    assert [f.rel for f in globbed] == ["b/two.jsonl.gz"]
    assert len({f.key for f in files}) == 2
    with pytest.raises(CurateError, match="does not exist"):
        resolve(InputConfig(paths=[str(tmp_path / "missing")], dataset="d"))
    with pytest.raises(CurateError, match="holds no input files"):
        resolve(InputConfig(paths=[str(tmp_path / "a" / "notes.txt")], dataset="d"))


def test_reader_row_counts_match_reasons(shared_data: Path):
    tables = read_all([str(shared_data / "warc")])
    reasons = Counter(r for _, t in tables.values() for r in t.column("reject_reason").to_pylist())
    assert reasons == {None: 82, "read:truncated": 1}


def test_a_binary_column_of_views_and_bytes_keeps_no_reference_to_them():
    import sys

    from curate.readers.batching import binary_array

    base = bytes(range(256)) * 4_000
    before = sys.getrefcount(base)
    views = [memoryview(base)[0:10], None, memoryview(base)[1_000:1_003], b"plain", memoryview(base)[5:5], b""]
    array = binary_array(views)
    assert array.to_pylist() == [base[0:10], None, base[1_000:1_003], b"plain", b"", b""]
    assert array.null_count == 1 and array.type == pa.binary()
    array.validate(full=True)
    del views, array
    assert sys.getrefcount(base) == before  # pyarrow's own conversion keeps every view (and `base`) for good
    assert binary_array([b"a", b"bc"]).null_count == 0 and binary_array([]).to_pylist() == []


def test_reading_a_warc_file_again_and_again_keeps_no_page(tmp_path: Path):
    """A worker reads file after file: what it read must go when the batches do (a page is a view of its member)."""
    import gc
    import tracemalloc
    from datetime import datetime, timezone

    from curate.testing import warc_record

    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    page = b"<html><body>" + b"<p>words and more words</p>" * 4_000 + b"</body></html>"  # ~100 KB a page
    with open(tmp_path / "a.warc.gz", "wb") as f:
        for i in range(40):
            f.write(warc_record(f"https://a/{i}", when, "200 OK", "text/html", page))
    cfg = InputConfig(paths=[str(tmp_path)], dataset="ds")
    (file,) = resolve(cfg)

    def read_once() -> int:
        return sum(len(batch.column("html").to_pylist()[0]) for batch in read(file, cfg, ReaderLedger(file.rel)))

    tracemalloc.start()
    try:
        read_once()
        gc.collect()
        settled = tracemalloc.get_traced_memory()[0]
        for _ in range(3):
            assert read_once() == len(page)
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - settled
    finally:
        tracemalloc.stop()
    assert grown < len(page) * 5, f"{grown} bytes kept after reading {3 * 40} pages of {len(page)} bytes"
