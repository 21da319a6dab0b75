"""Hostile WARC files through a whole run (Spark): the counts in stats.json, and the accounting check firing.

One run over broken files shows that what the readers report reaches stats.json; then a committed reject ledger loses
a row and the resumed run refuses to write manifest.json, naming the file and the counts that disagree.
"""
from __future__ import annotations

import gzip
import shutil

import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.output import MANIFEST, STATS, Output
from curate.pipeline.run import run
from curate.pipeline.stats import AccountingError

from test_hostile_readers import BLOCK, response


def _members(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, mtime=0) for r in records)


@pytest.fixture(scope="module")
def hostile_run(spark, tmp_path_factory):
    crawl = tmp_path_factory.mktemp("hostile") / "crawl"
    crawl.mkdir()
    (crawl / "a-off.warc.gz").write_bytes(_members([response(1), response(2, 10), response(3)]))
    cut = _members([response(4), response(5)])
    (crawl / "b-cut.warc.gz").write_bytes(cut[:-30])
    (crawl / "c-garbage.warc").write_bytes(response(6) + b"\x00garbage\n" * 3 + response(7))
    (crawl / "d-same.warc.gz").write_bytes(_members([response(1), response(1)]))  # record ids already in a-off
    output = crawl.parent / "out"
    raw = {"input": {"paths": [str(crawl)], "dataset": "h"}, "output": str(output),
           "stages": [{"name": "extract", "backend": "resiliparse"}]}
    return run(pipeline_config.parse(raw)), raw, output


def test_what_the_readers_report_reaches_stats(hostile_run):
    result, _, output = hostile_run
    stats = result.stats
    assert stats["input"] == 9 == stats["kept"] + sum(stats["rejected"].values())
    assert stats["rejected"] == {"read:framing:content_length": 1, "read:truncated": 1}
    assert sorted(stats["file_errors"]) == ["a-off.warc.gz", "b-cut.warc.gz", "c-garbage.warc"]
    assert stats["file_errors"]["b-cut.warc.gz"].endswith("truncated: the file ends inside the compressed member at "
                                                          f"offset {len(gzip.compress(response(4), mtime=0))}")
    assert stats["file_errors"]["c-garbage.warc"].startswith(f"no record header at offset {len(response(6))}: 27 "
                                                             f"bytes skipped")
    assert stats["bytes"]["skipped"] == 0  # nothing corrupt: every stored byte decoded
    assert stats["bytes"]["decoded_skipped"] == 27 + len(BLOCK) + 4  # the garbage; record 2's block and trailer
    ids = [i for path in pq.ParquetDataset(output / "documents").files for i in pq.read_table(path).column("id")
           .to_pylist()]
    assert len(ids) == len(set(ids)) == stats["kept"] == 7


def test_a_dropped_ledger_row_stops_the_manifest(hostile_run, tmp_path):
    _, raw, reference = hostile_run

    output = tmp_path / "out"
    shutil.copytree(reference, output)
    (output / MANIFEST).unlink()
    (output / STATS).unlink()
    record = Output(str(output)).committed(0)
    rejecting = next(r for r in record.values() if r["rejected"])
    path = output / rejecting["rejects"][0]
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)  # one rejected record gone from the committed reject ledger
    with pytest.raises(AccountingError) as error:
        run(pipeline_config.parse({**raw, "output": str(output)}), resume=True)
    seen = rejecting["reader"]["records_seen"]
    assert str(error.value) == (f"accounting failed, manifest not written: {rejecting['file']}: records seen {seen} "
                                f"!= kept {rejecting['kept']} + rejected {rejecting['rejected'] - 1}")
    assert not (output / MANIFEST).exists()
