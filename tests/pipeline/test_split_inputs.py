"""Files read in ranges (`input.split_size`): the same rows, ids, byte counts and run output as the file read whole.

The inputs are real: 990 web pages of trafilatura's evaluation set (`../shared/data/extraction/`, main text extracted
with resiliparse) as JSONL (plain, gzip in members of 50 lines, zstd in frames of 50 lines) and Parquet (row groups of
40 rows), and the shared WARCs (gzip per record, the same decompressed, and recompressed as a zstd frame per record).
Files of one gzip member, one zstd frame or one row group are read whole, and the run says so. The tests skip without
`../shared`.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
import zstandard

from curate.pipeline import config as pipeline_config, registry
from curate.pipeline.config import InputConfig
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.inputs import InputFile, Unsplittable, read, resolve, split, tasks
from curate.pipeline.output import MANIFEST, STATS, Output
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.run import run
from curate.pipeline.stats import AccountingError, compute

MEMBER_LINES = 50
REPEATED = 60  # pages written twice, the copy at the end of the file: exact dedup decides across ranges
STAGES = [{"name": "gopher_quality"}, {"name": "exact_dedup"}, {"name": "c4_quality"}]


def pages_text(shared_data: Path) -> list[dict]:
    from resiliparse.extract.html2text import extract_plain_text

    source = shared_data / "extraction" / "trafilatura-eval"
    rows = []
    for line in (source / "index.jsonl").read_text().splitlines():
        page = json.loads(line)
        html = gzip.decompress((source / page["html"]).read_bytes()).decode("utf-8", "replace")
        rows.append({"url": page["url"], "text": extract_plain_text(html, main_content=True), "site": page["url"][:30]})
    return rows + [{**row, "url": row["url"] + "#copy"} for row in rows[:REPEATED]]


@pytest.fixture(scope="module")
def pages(shared_data, tmp_path_factory) -> Path:
    """`split/`: the four files a run splits; `whole/`: a gzip of one member and a zstd file of one frame."""
    root = tmp_path_factory.mktemp("pages")
    rows = pages_text(shared_data)
    lines = [(json.dumps(row, ensure_ascii=False) + "\n").encode() for row in rows]
    blocks = [b"".join(lines[i:i + MEMBER_LINES]) for i in range(0, len(lines), MEMBER_LINES)]
    (root / "split").mkdir()
    (root / "split" / "pages.jsonl").write_bytes(b"".join(lines))
    (root / "split" / "members.jsonl.gz").write_bytes(b"".join(gzip.compress(b, mtime=0) for b in blocks))
    frames = zstandard.ZstdCompressor(write_checksum=True)  # as the `zstd` command writes them
    (root / "split" / "frames.jsonl.zst").write_bytes(b"".join(frames.compress(b) for b in blocks))
    pq.write_table(pa.Table.from_pylist(rows), root / "split" / "pages.parquet", row_group_size=40)
    (root / "whole").mkdir()
    (root / "whole" / "one-member.jsonl.gz").write_bytes(gzip.compress(b"".join(lines), mtime=0))
    (root / "whole" / "one-frame.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(b"".join(lines)))
    return root


def gzip_members(data: bytes) -> list[bytes]:
    """The decoded bytes of each gzip member of `data`."""
    members = []
    while data:
        decoder = zlib.decompressobj(31)
        members.append(decoder.decompress(data))
        data = decoder.unused_data
    return members


@pytest.fixture(scope="module")
def warcs(shared_data, tmp_path_factory) -> Path:
    """The shared WARCs (gzip, a member per record), each decompressed (plain) and as a zstd frame per record."""
    root = tmp_path_factory.mktemp("warcs")
    for path in sorted((shared_data / "warc").glob("*.warc.gz")):
        if path.name != "clipped.warc.gz":  # one record cut short: nothing to split
            shutil.copy(path, root / path.name)
            members = gzip_members(path.read_bytes())
            (root / f"plain-{path.name[:-3]}").write_bytes(b"".join(members))
            frames = zstandard.ZstdCompressor(write_checksum=True)
            (root / f"frames-{path.name[:-3]}.zst").write_bytes(b"".join(frames.compress(m) for m in members))
    return root


def read_whole_and_in_ranges(path: Path, split_size: int, **fields) -> tuple:
    cfg = InputConfig(paths=[str(path)], dataset="ds", split_size=split_size, **fields)
    file, = resolve(cfg)
    whole = ReaderLedger(file.rel)
    table = pa.Table.from_batches(list(read(file, cfg, whole)))
    parts, ledgers, batches = tasks([file], cfg), [], []
    for part in parts:
        ledgers.append(ReaderLedger(part.rel))
        batches += list(read(part, cfg, ledgers[-1]))
    return file, parts, table, pa.Table.from_batches(batches, schema=table.schema), whole, ledgers


def assert_adds_up(file: InputFile, parts: list[InputFile], whole: ReaderLedger, ledgers: list[ReaderLedger]):
    spans = [part.stored for part in parts]
    assert spans[0][0] == 0 and spans[-1][1] == file.size
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(spans, spans[1:]))  # ranges tile the file
    for name in ("records_seen", "records_yielded", "bytes_read", "decoded", "decoded_in_records"):
        assert sum(getattr(ledger, name) for ledger in ledgers) == getattr(whole, name), name
    assert [ledger.size for ledger in ledgers] == [end - start for start, end in spans]
    assert whole.error is None and all(ledger.error is None for ledger in ledgers)


@pytest.mark.parametrize("name", ["pages.jsonl", "members.jsonl.gz", "frames.jsonl.zst", "pages.parquet"])
def test_ranges_read_the_rows_of_the_file_read_whole(pages, name):
    file, parts, table, ranges, whole, ledgers = read_whole_and_in_ranges(pages / "split" / name, 1 << 20,
                                                                          fields=["site"])
    assert len(parts) >= 3 and len({part.key for part in parts}) == len(parts)
    assert table.num_rows == 990 + REPEATED
    assert ranges.to_pydict() == table.to_pydict()  # ids, offsets, text and carried fields, in order
    assert table.column("offset").to_pylist() == list(range(990 + REPEATED))
    assert_adds_up(file, parts, whole, ledgers)
    firsts = [part.part.first for part in parts]
    if name.endswith((".gz", ".zst")):
        assert all(first % MEMBER_LINES == 0 for first in firsts)  # cut at members (frames)
    if name.endswith(".parquet"):
        assert [part.part.groups[0] * 40 for part in parts] == firsts


def test_files_of_one_member_frame_or_row_group_are_read_whole_and_the_run_says_so_once(pages, warcs, tmp_path,
                                                                                        capsys):
    whole = tmp_path / "whole"
    whole.mkdir()
    for path in (pages / "whole").iterdir():
        os.link(path, whole / path.name)
    warc = b"".join(gzip_members((warcs / "sample-0000.warc.gz").read_bytes()))
    (whole / "one-member.warc.gz").write_bytes(gzip.compress(warc, mtime=0))
    (whole / "one-frame.warc.zst").write_bytes(zstandard.ZstdCompressor().compress(warc))
    pq.write_table(pq.read_table(pages / "split" / "pages.parquet"), whole / "one-group.parquet",
                   row_group_size=1 << 20)
    cfg = InputConfig(paths=[str(whole)], split_size=1 << 12)
    files = resolve(cfg)
    assert len(files) == 5 and all(file.size > 1 << 14 for file in files)
    for file in files:
        with pytest.raises(Unsplittable, match="one (gzip member|zstd frame|row group)"):
            split(file, 1 << 12)
    capsys.readouterr()
    assert tasks(files, cfg) == files
    notice = capsys.readouterr().err.splitlines()
    assert len(notice) == 1, notice
    assert notice[0].startswith("curate: 5 files over input.split_size (4,096 bytes) read whole, one task each: ")
    for name, why in (("one-member.jsonl.gz", "one gzip member"), ("one-frame.jsonl.zst", "one zstd frame"),
                      ("one-member.warc.gz", "one gzip member"), ("one-frame.warc.zst", "one zstd frame"),
                      ("one-group.parquet", "one row group")):
        assert f"{name} ({why}" in notice[0]
    # a split run names nothing
    cfg = InputConfig(paths=[str(pages / "split")], split_size=1 << 20)
    assert len(tasks(resolve(cfg), cfg)) > 4 and capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["members.jsonl.gz", "frames.jsonl.zst"])
def test_a_corrupt_member_ends_the_cuts_and_its_range_reports_what_the_whole_file_reports(pages, name, tmp_path):
    data = bytearray((pages / "split" / name).read_bytes())
    middle = len(data) * 2 // 3
    data[middle:middle + 64] = bytes(64)  # zeroes inside a member (frame): its decoder fails there
    (tmp_path / name).write_bytes(bytes(data))
    file, parts, table, ranges, whole, ledgers = read_whole_and_in_ranges(tmp_path / name, 1 << 18)
    assert len(parts) >= 3 and parts[-1].part.start < middle  # cuts before the break, none after it
    assert whole.error and ledgers[-1].error and not any(ledger.error for ledger in ledgers[:-1])
    # the records of the members (frames) before the break are the same in both readings; what a zstd decoder gives of
    # a corrupt frame before its checksum fails depends on how far it read ahead, in both readings alike
    before = parts[-1].part.first
    assert 0 < before <= table.num_rows
    assert ranges.slice(0, before).to_pydict() == table.slice(0, before).to_pydict()
    if name.endswith(".gz"):
        assert ranges.to_pydict() == table.to_pydict()
    assert sum(ledger.bytes_read + ledger.bytes_skipped for ledger in ledgers) == file.size


def test_a_file_under_the_split_size_is_one_task_with_the_key_it_always_had(pages):
    cfg = InputConfig(paths=[str(pages / "split" / "pages.jsonl")])
    file, = resolve(cfg)
    assert tasks([file], cfg) == [file] and file.part is None
    assert dataclasses.replace(file, part=split(file, 1 << 20)[1]).key == f"{file.key}-r00001"


def test_real_warcs_read_in_ranges_give_the_rows_of_the_whole_file(warcs):
    names = sorted(p.name for p in warcs.iterdir())
    assert len(names) == 12
    for name in names:
        file, parts, table, ranges, whole, ledgers = read_whole_and_in_ranges(warcs / name, 1 << 12)
        assert len(parts) >= 10, name  # a cut at (nearly) every record
        assert ranges.to_pydict() == table.to_pydict(), name
        assert_adds_up(file, parts, whole, ledgers)


def test_split_size_takes_units_and_refuses_what_is_not_a_size():
    assert InputConfig(paths=["x"]).split_size == 128 << 20
    assert InputConfig(paths=["x"], split_size="64MiB").split_size == 64 << 20
    assert InputConfig(paths=["x"], split_size="1.5 GB").split_size == 1_500_000_000
    for bad in ("12 parsecs", "-5MB", 100):
        with pytest.raises(ConfigError, match="split_size"):
            pipeline_config.parse({"input": {"paths": ["x"], "split_size": bad}, "output": "o",
                                   "stages": [{"name": "gopher_quality"}]})


# --- runs ----------------------------------------------------------------------------------------------------------


def outcome(output: Path) -> tuple:
    manifest = json.loads((output / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]]).sort_by("id")
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]]).sort_by("id")
    stats = json.loads((output / STATS).read_text())
    counts = {k: stats[k] for k in ("input", "kept", "rejected", "files", "bytes", "file_errors")}
    counts["stages"] = [(s["name"], s["in"], s["out"]) for s in stats["stages"]]
    return kept.to_pydict(), rejects.select(["id", "reject_reason"]).to_pydict(), counts


def raw_config(inputs: Path, output: Path, engine: str, split_size: str | int) -> dict:
    return {"input": {"paths": [str(inputs)], "dataset": "pages", "split_size": split_size, "fields": ["site"]},
            "output": str(output), "engine": {"name": engine}, "stages": STAGES}


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_a_run_in_ranges_gives_the_output_of_the_run_of_whole_files(pages, engine, request, tmp_path):
    if engine == "spark":
        request.getfixturevalue("spark")
    results = {}
    for split_size in ("1GiB", "1MiB"):
        output = tmp_path / split_size
        run(pipeline_config.parse(raw_config(pages / "split", output, engine, split_size)))
        results[split_size] = outcome(output)
    whole, ranges = results["1GiB"], results["1MiB"]
    assert ranges[2] == whole[2]  # stats: counts per reason and per stage, files, bytes read
    assert ranges[0] == whole[0]  # kept documents, every column
    assert ranges[1] == whole[1]  # the reason of every rejected id
    assert whole[2]["rejected"]["exact_dedup:duplicate"] >= 4 * REPEATED
    records = json.loads((tmp_path / "1MiB" / "ledger" / "passes.json").read_text())["passes"]
    assert len(records[0]) >= 14 and all(r["range"] is not None for r in records[0])
    compute(Output(str(tmp_path / "1MiB")), records)
    # the accounting checks that ranges tile each file: a range that lost a byte is caught
    first = records[0][0]
    records[0][0] = {**first, "range": {**first["range"], "end": first["range"]["end"] - 1}}
    with pytest.raises(AccountingError, match="do not tile"):
        compute(Output(str(tmp_path / "1MiB")), records)


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_real_warcs_run_in_ranges_give_the_output_of_whole_files(warcs, engine, request, tmp_path):
    if engine == "spark":
        request.getfixturevalue("spark")
    stages = [{"name": "extract", "backend": "resiliparse"}, {"name": "gopher_quality"}, {"name": "exact_dedup"}]
    results = {}
    for split_size in ("1GiB", "16KiB"):
        raw = {"input": {"paths": [str(warcs)], "dataset": "crawl", "split_size": split_size},
               "output": str(tmp_path / split_size), "engine": {"name": engine}, "stages": stages}
        run(pipeline_config.parse(raw))
        results[split_size] = outcome(tmp_path / split_size)
    assert results["16KiB"] == results["1GiB"]
    assert results["1GiB"][2]["input"] == 3 * (22 + 15 + 16 + 29)  # every response, gzip, plain and zstd
    # the plain and zstd copies of each page that passes gopher_quality
    assert results["1GiB"][2]["rejected"]["exact_dedup:duplicate"] >= 60
    records = json.loads((tmp_path / "16KiB" / "ledger" / "passes.json").read_text())["passes"][0]
    assert sum(r["range"] is not None for r in records) >= 120


# --- kill -9 and resume --------------------------------------------------------------------------------------------


def written_by(output: Path) -> set[str]:
    """The task keys that output files (documents, rejects) were written for, committed or not."""
    names = [p.name for folder in ("documents", "ledger/rejects") for p in (output / folder).glob("*.parquet")]
    return {name.removeprefix("part-").rsplit("-p0-", 1)[0] for name in names}


@pytest.mark.beam
def test_a_run_killed_at_a_random_range_resumes_losing_at_most_that_range(pages, tmp_path):
    """Beam in-process runs one range at a time: killed, what was written for ranges not committed is one range's."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    os.link(pages / "split" / "pages.jsonl", inputs / "pages.jsonl")
    reference = tmp_path / "reference"
    run(pipeline_config.parse(raw_config(inputs, reference, "beam", "1GiB")))
    output = tmp_path / "out"
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump(raw_config(inputs, output, "beam", "64KiB")))
    ranges = len(tasks(resolve(InputConfig(paths=[str(inputs)], split_size=64 << 10)),
                       InputConfig(paths=[str(inputs)], split_size=64 << 10)))
    assert ranges > 80
    target = int.from_bytes(os.urandom(2), "little") % (ranges // 2) + 5  # a random point in the first half
    process = subprocess.Popen([sys.executable, "-m", "curate.cli.main", "run", str(config)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while process.poll() is None and len(list((output / "ledger" / "reader").glob("*.json"))) < target:
            time.sleep(0.02)
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    committed = Output(str(output)).committed(0)
    assert target <= len(committed) < ranges, "the run finished before the kill"
    lost = written_by(output) - set(committed)
    assert len(lost) <= 1, f"files written for {len(lost)} uncommitted ranges: {sorted(lost)}"
    run(pipeline_config.parse(raw_config(inputs, output, "beam", "64KiB")), resume=True)
    after = Output(str(output)).committed(0)
    assert all(after[key]["attempt"] == record["attempt"] for key, record in committed.items())  # kept, not redone
    assert len(after) == ranges
    assert outcome(output) == outcome(reference)


@pytest.mark.beam
def test_a_resumed_run_reads_the_ranges_its_first_attempt_cut(pages, tmp_path, monkeypatch, capsys):
    """The cut plan is kept in the output: a resume after `input.split_size` changed (or a splitter that would cut
    elsewhere now) reads the first attempt's ranges and keeps what they committed; new input files are refused."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(pages / "split" / "pages.jsonl", inputs / "pages.jsonl")
    reference = tmp_path / "reference"
    run(pipeline_config.parse(raw_config(inputs, reference, "beam", "1GiB")))
    output = tmp_path / "out"
    run(pipeline_config.parse(raw_config(inputs, output, "beam", "256KiB")), keep_work=True)
    first = Output(str(output)).committed(0)
    assert len(first) >= 5
    # as if killed after three ranges had committed: the other ranges' commit records and the manifest are gone
    kept = sorted(first)[:3]
    for key in sorted(first)[3:]:
        (output / "ledger" / "reader" / f"{key}.json").unlink()
    for name in (MANIFEST, STATS):
        (output / name).unlink()
    planned = json.loads((output / "ledger" / "tasks.json").read_text())
    assert [task["range"]["index"] for task in planned["tasks"]] == list(range(len(first)))

    def cut_again(file, size):
        raise AssertionError("a resumed run cut its files again")

    monkeypatch.setitem(registry._SPLITTERS, "jsonl", cut_again)
    capsys.readouterr()
    run(pipeline_config.parse(raw_config(inputs, output, "beam", "64KiB")), resume=True)
    assert f"resuming with the {len(first)} tasks the run began with (input.split_size 262,144 bytes then, " \
           f"65,536 now" in capsys.readouterr().err
    after = Output(str(output)).committed(0)
    assert sorted(after) == sorted(first)  # the same ranges, not those of 64 KiB
    assert all(after[key]["attempt"] == first[key]["attempt"] for key in kept)  # kept, not redone
    assert outcome(output) == outcome(reference)
    # a changed input is refused, whatever the plan holds
    (output / MANIFEST).unlink()
    with open(inputs / "pages.jsonl", "ab") as f:
        f.write(b'{"text": "one more line"}\n')
    with pytest.raises(CurateError, match="input files changed"):
        run(pipeline_config.parse(raw_config(inputs, output, "beam", "64KiB")), resume=True)


def test_a_cut_file_gets_a_multiple_of_the_slots_in_ranges(tmp_path):
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"".join(json.dumps({"text": f"line {i} " + "x" * (i % 50)}).encode() + b"\n"
                              for i in range(20_000)))
    config = InputConfig(paths=[str(path)], format="jsonl", split_size=path.stat().st_size // 7 + 1)
    file = resolve(config)[0]
    one, two, three = (tasks([file], config, slots=slots) for slots in (1, 2, 3))
    assert (len(one), len(two), len(three)) == (7, 8, 9)
    for cut in (one, two, three):
        assert cut[0].part.start == 0 and cut[-1].part.end == file.size
        assert all(a.part.end == b.part.start for a, b in zip(cut, cut[1:]))
