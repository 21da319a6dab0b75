"""Hostile input at the readers: broken WARC framing, truncation at every byte, files that are not files, repeated ids.

Each case asserts the exact reasons, file errors and counts, and (`_read`) that the file's bytes are all accounted for:
bytes read + bytes skipped = file size, and decoded bytes in records + decoded bytes skipped = decoded bytes.
Reader-level, no engine: the one Spark run is in test_hostile_run.py.
"""
from __future__ import annotations

import gzip
import json
import os
import random
import signal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.pipeline.config import InputConfig
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import InputFile, resolve
from curate.pipeline.inputs import read
from curate.readers import stream, warc
from curate.pipeline.ledger import ReaderLedger
from curate.readers.warc import MAX_RECORD_BYTES
from curate.pipeline.schema import uid_of
from curate.pipeline.stats import ledger_problem

PAGE = b"<html><body><p>" + b"A plain sentence of words. " * 40 + b"</p></body></html>"
BLOCK = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + PAGE


def response(number: int, length_change: int = 0, uri: str | None = None, record_id: str | None = None,
             extra: bytes = b"") -> bytes:
    """One WARC response record; `length_change` is added to its true Content-Length."""
    block = BLOCK
    uri = uri if uri is not None else f"http://example.com/{number}"
    rid = record_id if record_id is not None else f"<urn:uuid:r-{number}>"
    return (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: " + rid.encode() + b"\r\nWARC-Target-URI: "
            + uri.encode() + b"\r\n" + extra + b"Content-Type: application/http; msgtype=response\r\n"
            + f"Content-Length: {len(block) + length_change}\r\n\r\n".encode() + block + b"\r\n\r\n")


def request(number: int) -> bytes:
    block = f"GET /{number} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode()
    return (b"WARC/1.0\r\nWARC-Type: request\r\n" + f"Content-Length: {len(block)}\r\n\r\n".encode() + block
            + b"\r\n\r\n")


def members(records: list[bytes]) -> bytes:
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def _read(path: Path, fmt: str = "warc") -> tuple[ReaderLedger, pa.Table | None]:
    cfg = InputConfig(paths=[str(path)], dataset="ds")
    ledger = ReaderLedger(path.name)
    batches = list(read(InputFile(str(path), path.name, path.stat().st_size, fmt), cfg, ledger))
    table = pa.Table.from_batches(batches) if batches else None
    assert (table.num_rows if table is not None else 0) == ledger.records_seen
    assert ledger_problem(ledger.to_json()) is None, ledger_problem(ledger.to_json())
    assert ledger.bytes_read + ledger.bytes_skipped == path.stat().st_size
    return ledger, table


def _reasons(table: pa.Table) -> list[str | None]:
    return table.column("reject_reason").to_pylist()


def _urls(table: pa.Table) -> list[str | None]:
    return table.column("url").to_pylist()


# --- framing (#21 item 1) ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("change", [10, 100, -10, -1])
def test_a_content_length_off_by_k_is_rejected_and_the_next_record_is_read(tmp_path, change):
    # before the fix: +k read the next record's header into this block and the next record vanished, no error.
    # (+1 to +4 land inside the record's own CR/LF trailer: the block then ends with those bytes, nothing is lost.)
    records = [response(1), response(2, change), response(3)]
    path = tmp_path / "off.warc"
    path.write_bytes(b"".join(records))
    ledger, table = _read(path)
    assert _reasons(table) == [None, "read:framing:content_length", None]
    assert _urls(table) == ["http://example.com/1", "http://example.com/2", "http://example.com/3"]
    second = len(records[0])
    header_end = second + records[1].index(b"\r\n\r\n") + 4
    skipped = len(records[0]) + len(records[1]) - header_end
    assert ledger.decoded_skipped == skipped and ledger.skips == [{"offset": header_end, "bytes": skipped,
                                                                  "why": ledger.skips[0]["why"]}]
    declared = len(records[1]) - (header_end - second) - 4 + change
    assert ledger.error.startswith(f"record at offset {second}: its Content-Length {declared} ")
    assert ledger.error.endswith(f"{skipped} bytes skipped at offset {header_end}")
    assert ledger.records_seen == 3 and ledger.records_yielded == 2 and ledger.errors == 1


def test_megabytes_of_line_ends_between_two_records_are_read_past_in_one_pass(tmp_path):
    # the run of CR/LF after a block is walked once: a trailer kept whole grew by a byte a step, copied each time
    # (4 MB of line ends took minutes); the alarm only turns such a hang into a failure
    path = tmp_path / "line_ends.warc"
    path.write_bytes(response(1) + b"\r\n" * (2 << 20) + response(2))
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("reading 4 MB of line ends did not end in 120 s"))
    signal.alarm(120)
    try:
        ledger, table = _read(path)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert _urls(table) == ["http://example.com/1", "http://example.com/2"] and _reasons(table) == [None, None]
    assert ledger.error is None and ledger.bytes_skipped == 0


def test_a_length_that_swallows_exactly_the_next_record_is_caught(tmp_path):
    # the length lands on a `WARC/` line, so the framing after the block looks right: the header inside the block
    # is what gives it away
    swallowed = response(2)
    records = [response(1, len(swallowed)), swallowed, response(3)]
    path = tmp_path / "swallow.warc.gz"
    path.write_bytes(members(records))
    ledger, table = _read(path)
    assert _reasons(table) == ["read:framing:content_length", None, None]
    assert "runs past the record header at offset" in ledger.error
    assert ledger.records_yielded == 2


@pytest.mark.parametrize("extra", [10 << 20, 100 << 20])
def test_a_length_overstated_by_megabytes_loses_nothing_after_it(tmp_path, extra):
    # before the fix: above 64 MB every later record disappeared
    records = [response(1), response(2, extra), response(3), response(4)]
    path = tmp_path / "big.warc.gz"
    path.write_bytes(members(records))
    ledger, table = _read(path)
    assert _reasons(table) == [None, "read:framing:content_length", None, None]
    assert ledger.records_yielded == 3 and ledger.errors == 1


@pytest.mark.parametrize("extra", [10, 100 << 20])
def test_a_declared_length_past_the_end_of_the_file_is_a_file_error(tmp_path, extra):
    records = [response(1), response(2, extra)]
    path = tmp_path / "past.warc"
    path.write_bytes(b"".join(records))
    ledger, table = _read(path)
    declared = len(BLOCK) + extra
    assert _reasons(table) == [None, "read:truncated" if declared <= MAX_RECORD_BYTES else f"read:too_large:{declared}"]
    left = len(records[1]) - records[1].index(b"\r\n\r\n") - 4
    assert ledger.error == (f"truncated: the record at offset {len(records[0])} declares {declared} bytes, "
                            f"{left} are left")


@pytest.mark.parametrize("value, reason", [(None, "read:framing:no_content_length"),
                                           (b"12x", "read:framing:bad_content_length"),
                                           (b"-5", "read:framing:bad_content_length")])
def test_a_missing_or_unreadable_content_length_is_a_reject_and_a_skip(tmp_path, value, reason):
    bad = response(2)
    start = bad.index(b"Content-Length: ")
    end = bad.index(b"\r\n", start) + 2
    bad = bad[:start] + (b"Content-Length: " + value + b"\r\n" if value is not None else b"") + bad[end:]
    path = tmp_path / "length.warc"
    path.write_bytes(response(1) + bad + response(3))
    ledger, table = _read(path)
    assert _reasons(table) == [None, reason, None]
    assert ledger.decoded_skipped == len(bad) - bad.index(b"\r\n\r\n") - 4 and ledger.errors == 1


def test_garbage_between_records_is_skipped_with_its_offset(tmp_path):
    first, garbage = response(1), b"\x00junk that is no record\n" * 10
    path = tmp_path / "garbage.warc"
    path.write_bytes(first + garbage + request(2) + response(3))
    ledger, table = _read(path)
    assert _reasons(table) == [None, None]
    assert ledger.error == f"no record header at offset {len(first)}: {len(garbage)} bytes skipped at offset {len(first)}"
    assert ledger.decoded_skipped == len(garbage)


def test_a_duplicated_and_a_swapped_record_each_one_row(tmp_path):
    one, two, three = response(1), response(2), response(3)
    path = tmp_path / "dup.warc.gz"
    path.write_bytes(members([one, three, two, two, one]))
    ledger, table = _read(path)
    assert ledger.error is None and ledger.records_yielded == 5
    assert _urls(table) == [f"http://example.com/{n}" for n in (1, 3, 2, 2, 1)]
    assert len(set(table.column("id").to_pylist())) == 5


# --- truncation (#21 item 2) ------------------------------------------------------------------------------------

def test_a_cut_at_every_byte_of_a_gzip_member_is_a_file_error(tmp_path):
    # before the fix: 6 of 9 cut points lost the record, or rejected it as read:http:no_header_end, or kept it
    parts = [gzip.compress(r, mtime=0) for r in (response(1), response(2), response(3))]
    start = len(parts[0])
    whole = b"".join(parts)
    seen = set()
    for cut in range(start + 1, start + len(parts[1])):
        path = tmp_path / f"cut-{cut}.warc.gz"
        path.write_bytes(whole[:cut])
        ledger, table = _read(path)
        reasons = _reasons(table)
        assert reasons[0] is None and len(reasons) <= 2, cut
        assert reasons[1:] in ([], ["read:truncated"]), cut
        assert ledger.error is not None and ledger.error.startswith("truncated:"), cut
        assert ledger.error.endswith(f"truncated: the file ends inside the compressed member at offset {start}"), cut
        seen.add(tuple(reasons[1:]))
        path.unlink()
    assert seen == {(), ("read:truncated",)}  # cuts before the record's WARC-Type line leave no row, later ones do
    path = tmp_path / "boundary.warc.gz"
    path.write_bytes(whole[:start + len(parts[1])])
    ledger, table = _read(path)
    assert ledger.error is None and _reasons(table) == [None, None]


def test_a_cut_at_every_byte_of_a_plain_record_is_a_file_error(tmp_path):
    first, second = response(1), response(2)
    typed = second.index(b"WARC-Type: response") + len(b"WARC-Type: response")  # a cut row needs its type
    header = second.index(b"\r\n\r\n") + 4
    # every byte of the header and of the HTTP head, every 17th of the page; not the 4 trailer bytes (a whole record)
    for cut in [*range(1, header + 48), *range(header + 48, len(second) - 4, 17)]:
        path = tmp_path / "cut.warc"
        path.write_bytes(first + second[:cut])
        ledger, table = _read(path)
        assert _reasons(table) == ([None, "read:truncated"] if cut >= typed else [None]), cut
        assert ledger.error.startswith(f"truncated: the file ends inside the header of the record at offset {len(first)}"
                                       if cut < second.index(b"\r\n\r\n") + 4 else
                                       f"truncated: the record at offset {len(first)} declares {len(BLOCK)} bytes"), cut


def test_a_cut_inside_a_zstd_frame_is_a_file_error(tmp_path):
    frames = [zstandard.ZstdCompressor().compress(r) for r in (response(1), response(2))]
    path = tmp_path / "cut.warc.zst"
    path.write_bytes(b"".join(frames)[:-7])
    ledger, table = _read(path)
    assert _reasons(table) == [None]  # a zstd block decodes whole or not at all: nothing of record 2 came out
    assert ledger.error == f"truncated: the file ends inside the compressed member at offset {len(frames[0])}"


def test_a_corrupt_member_ends_the_file_and_the_rest_is_skipped(tmp_path):
    parts = [gzip.compress(r, mtime=0) for r in (response(1), response(2), response(3))]
    data = bytearray(b"".join(parts))
    start = len(parts[0])
    data[start + 20:start + 40] = bytes(20)
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    ledger, table = _read(path)
    assert _reasons(table)[0] is None and ledger.records_seen <= 2
    assert ledger.bytes_read == start and ledger.bytes_skipped == len(data) - start
    assert ledger.error.startswith(f"corrupt gzip member at offset {start}:")


def test_a_member_inflated_in_one_call_reads_as_in_small_pieces(tmp_path, monkeypatch):
    """A gzip member whole in the input read is inflated in one call; any other (larger than one call takes, cut short,
    corrupt) is inflated again from its start in small pieces. Either way the rows and the ledger are those of small
    pieces alone (`_MEMBER_FEED` 0: the reader before one-call members)."""
    def noisy(number: int, size: int) -> bytes:  # a page that compresses to about `size` bytes
        return response(number, extra=b"X-Noise: " + random.Random(number).randbytes(size).hex().encode() + b"\r\n")

    parts = [gzip.compress(r, mtime=0) for r in (response(1), noisy(2, 100_000), noisy(3, 3 * warc._MEMBER_FEED),
                                                 response(4))]
    whole, starts = b"".join(parts), [sum(map(len, parts[:i])) for i in range(len(parts))]
    assert len(parts[0]) < 16_384 < len(parts[1]) < warc._MEMBER_FEED < len(parts[2])

    def corrupt(at: int) -> bytes:
        return whole[:at] + bytes(20) + whole[at + 20:]

    files = {"clean": whole, "small_corrupt": corrupt(30), "mid_corrupt_late": corrupt(starts[1] + 60_000),
             "big_corrupt_early": corrupt(starts[2] + 5000), "big_corrupt_late": corrupt(starts[3] - 4000),
             "mid_cut": whole[:starts[1] + 60_000], "big_cut": whole[:starts[2] + 600_000],
             "small_cut": whole[:len(whole) - 40]}
    feed, one_call, taken = warc._MEMBER_FEED, warc._Decoded._whole_member, []

    def counted(decoded) -> bool:
        taken.append(one_call(decoded))
        return taken[-1]

    monkeypatch.setattr(warc._Decoded, "_whole_member", counted)

    def outcome(path: Path) -> tuple[dict, dict | None]:
        ledger, table = _read(path)
        return {**ledger.to_json(), "seconds": 0}, table.to_pydict() if table is not None else None

    for name, data in files.items():
        path = tmp_path / f"{name}.warc.gz"
        path.write_bytes(data)
        monkeypatch.setattr(warc, "_MEMBER_FEED", feed)
        in_one_call = outcome(path)
        monkeypatch.setattr(warc, "_MEMBER_FEED", 0)
        assert in_one_call == outcome(path), name
    assert True in taken and False in taken  # both ways were taken


# --- the independent count (#21 item 3) -------------------------------------------------------------------------

def test_the_ledger_check_names_what_does_not_add_up():
    good = {"size": 100, "bytes_read": 100, "bytes_skipped": 0, "decoded": 300, "decoded_in_records": 300,
            "decoded_skipped": 0, "error": None}
    assert ledger_problem(good) is None
    assert ledger_problem({**good, "bytes_read": 60}) == "bytes read 60 + skipped 0 != file size 100"
    assert ledger_problem({**good, "decoded_in_records": 200}) == \
        "decoded bytes in records 200 + skipped 0 != decoded 300"
    assert ledger_problem({**good, "decoded_in_records": 200, "decoded_skipped": 100}) == \
        "bytes skipped without a file error"


# --- files that are not files (#21 item 5) ----------------------------------------------------------------------

def test_fifos_and_device_links_are_left_out_with_a_notice(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    os.mkfifo(folder / "a.warc.gz")
    os.symlink("/dev/zero", folder / "z.warc.gz")
    (folder / "ok.warc").write_bytes(response(1))
    for spec in (str(folder), str(folder / "*.warc*")):
        files = resolve(InputConfig(paths=[spec], dataset="ds"))
        assert [f.rel for f in files] == ["ok.warc"]
        err = capsys.readouterr().err
        assert f"curate: input '{folder / 'a.warc.gz'}' left out: not a regular file but a FIFO" in err
        assert f"curate: input '{folder / 'z.warc.gz'}' left out: not a regular file but a character device" in err
    with pytest.raises(CurateError, match="is not a regular file but a FIFO"):
        resolve(InputConfig(paths=[str(folder / "a.warc.gz")], dataset="ds"))


def test_a_read_past_its_time_limit_is_a_file_error(tmp_path, monkeypatch):
    path = tmp_path / "slow.warc.gz"
    path.write_bytes(members([response(1), response(2)]))
    monkeypatch.setattr(stream, "READ_SECONDS", 0.0)
    ledger, table = _read(path)
    assert table is None and ledger.bytes_skipped == path.stat().st_size
    assert ledger.error == "unreadable after 0 records: ReadTimeout: read time limit of 0 s passed"


# --- identity (#21 item 9) --------------------------------------------------------------------------------------

def test_a_repeated_warc_record_id_gives_distinct_ids_within_and_across_files(tmp_path):
    # before the fix: the id was <dataset>/<WARC-Record-ID>, so two crawls concatenated shared uids
    folder = tmp_path / "in"
    folder.mkdir()
    same = response(1, record_id="<urn:uuid:same>")
    (folder / "a.warc.gz").write_bytes(members([same, same]))
    (folder / "b.warc").write_bytes(same)
    (folder / "c.warc.gz").write_bytes(gzip.compress(same + same, mtime=0))  # one member: shared offset, ranked
    cfg = InputConfig(paths=[str(folder)], dataset="ds")
    ids = []
    for file in resolve(cfg):
        ledger = ReaderLedger(file.rel)
        ids += pa.Table.from_batches(list(read(file, cfg, ledger))).column("id").to_pylist()
    step = len(gzip.compress(same, mtime=0))
    assert ids == ["ds/a.warc.gz:0/urn:uuid:same", f"ds/a.warc.gz:{step}/urn:uuid:same", "ds/b.warc:0/urn:uuid:same",
                   "ds/c.warc.gz:0/urn:uuid:same", "ds/c.warc.gz:0.1/urn:uuid:same"]
    assert len({uid_of(i) for i in ids}) == 5


# --- smaller ones (#21 item 10, #17 items 5 and 8) ---------------------------------------------------------------

def test_a_120_kb_header_line_keeps_the_record_after_it(tmp_path):
    # before the fix: the valid record after the long header line was lost
    long = response(1, extra=b"X-Long: " + b"a" * (120 << 10) + b"\r\n")
    path = tmp_path / "long.warc.gz"
    path.write_bytes(members([long, response(2)]))
    ledger, table = _read(path)
    assert ledger.error is None and _reasons(table) == [None, None]


def test_upper_case_and_zstd_endings_are_recognised_for_every_format(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    lines = b'{"text": "one"}\n{"text": "two"}\n'
    (folder / "A.JSONL.GZ").write_bytes(gzip.compress(lines))
    (folder / "b.ndjson.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    (folder / "c.warc.zst").write_bytes(zstandard.ZstdCompressor().compress(response(1) + response(2)))
    (folder / "D.WARC.GZ").write_bytes(members([response(3)]))
    wet = (b"WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://example.com/t\r\nContent-Length: 5\r\n\r\n"
           b"hello\r\n\r\n")
    (folder / "e.wet.zst").write_bytes(zstandard.ZstdCompressor().compress(wet))
    (folder / "f.warc.wet.gz").write_bytes(gzip.compress(wet))
    cfg = InputConfig(paths=[str(folder)], dataset="ds")
    files = resolve(cfg)
    assert [(f.rel, f.format) for f in files] == [("A.JSONL.GZ", "jsonl"), ("D.WARC.GZ", "warc"),
                                                  ("b.ndjson.zst", "jsonl"), ("c.warc.zst", "warc"),
                                                  ("e.wet.zst", "wet"), ("f.warc.wet.gz", "wet")]
    texts = {}
    for file in files:
        ledger = ReaderLedger(file.rel)
        table = pa.Table.from_batches(list(read(file, cfg, ledger)))
        assert ledger.error is None and ledger.records_yielded == table.num_rows
        texts[file.rel] = table.num_rows, table.column("text").to_pylist()[0]
    assert texts["A.JSONL.GZ"] == (2, "one")  # before the fix: read as plain text, two read:invalid_json
    assert texts["e.wet.zst"] == (1, "hello") and texts["c.warc.zst"][0] == 2


def test_a_parquet_column_named_like_ours_travels_renamed(tmp_path):
    path = tmp_path / "ours.parquet"
    pq.write_table(pa.table({"text": ["a", "b"], "reject_reason": ["x", None], "uid": [1, 2]}), path)
    ledger, table = _read(path, "parquet")
    assert table.schema.names.count("reject_reason") == 1 and _reasons(table) == [None, None]
    assert table.column("input_reject_reason").to_pylist() == ["x", None]
    assert table.column("input_uid").to_pylist() == [1, 2]


def test_plain_urls_parse_as_urlsplit_reads_them():
    """`url_parses` answers scheme://host URLs without urlsplit; its answer is urlsplit's on each of these."""
    from urllib.parse import urlsplit

    def by_urlsplit(url: str) -> bool:
        try:
            parts = urlsplit(url)
            return bool(parts.scheme and parts.netloc) and parts.hostname is not None
        except ValueError:
            return False

    urls = ["http://example.com", "https://example.com/a?b=1#c", "HTTP://EXAMPLE.COM:8080/x", "ftp://a.b-c.d",
            "svn+ssh://h/p", "http://:80/", "http://@host/", "http://user@/", "http://[::1]/", "http://[::1/",
            "http://ex ample.com/", "http://ex\tample.com/", "http://example.com\n", "http://exämple.com/",
            "http://example.com:99999/", "http://example.com:8a/", "1http://example.com/", "http:example.com",
            "//example.com/", "http:///path", "http://.", "http://a.com?q", "http://a.com#f", "mailto:a@b.c",
            "http://\x00a.com/", "\x00http://a.com/", "http://a.com/\tpath", "urn:uuid:1234"]
    plain = [url for url in urls if warc._PLAIN_URL.match(url)]
    assert len(plain) >= 10 and len(urls) - len(plain) >= 10  # both ways are taken
    assert [warc.url_parses(url) for url in urls] == [by_urlsplit(url) for url in urls]


def test_angle_bracket_target_uris_are_normalised_and_bad_ones_counted(tmp_path):
    path = tmp_path / "uris.warc"
    path.write_bytes(response(1, uri="<https://example.com/a?b=1>") + response(2, uri="no scheme here")
                     + response(3, uri="http://[::1") + response(4, uri="https://example.com/plain"))
    ledger, table = _read(path)
    assert _urls(table) == ["https://example.com/a?b=1", "no scheme here", "http://[::1", "https://example.com/plain"]
    assert ledger.urls_unparsed == 2


def test_the_shared_wget_crawls_have_their_urls_without_brackets(shared_data):
    # the shared sample-000*.warc.gz were written by wget with `WARC-Target-URI: <https://…>`
    raw = gzip.open(shared_data / "warc" / "sample-0000.warc.gz").read(4000)
    assert b"WARC-Target-URI: <https://" in raw
    for name in ("sample-0000.warc.gz", "sample-0001.warc.gz"):
        ledger, table = _read(shared_data / "warc" / name)
        urls = _urls(table)
        assert all(u.startswith("https://") and not u.endswith(">") for u in urls) and ledger.urls_unparsed == 0


def test_the_reader_ledger_is_json(tmp_path):
    path = tmp_path / "one.warc"
    path.write_bytes(response(1) + b"junk")
    ledger, _ = _read(path)
    assert json.loads(json.dumps(ledger.to_json()))["skips"] == [
        {"offset": len(response(1)), "bytes": 4, "why": f"no record header at offset {len(response(1))}"}]


def test_a_record_right_after_a_run_of_nul_bytes_is_found(tmp_path):
    # found by bench/fuzz.py's 2 GB gzip bomb: the record after the NUL run does not start a line
    path = tmp_path / "nul.warc.gz"
    path.write_bytes(members([response(1)]) + gzip.compress(bytes(100_000)) + members([response(2)]))
    ledger, table = _read(path)
    assert _reasons(table) == [None, None]
    assert ledger.error == f"no record header at offset {len(response(1))}: 100000 bytes skipped at offset {len(response(1))}"


def test_a_stream_failing_mid_file_keeps_every_byte_accounted(tmp_path, monkeypatch):
    # the time limit passes after the first chunk: what was decoded but not framed is reported skipped
    path = tmp_path / "big.warc"
    path.write_bytes(b"".join(response(i) for i in range(1500)))  # > 1 MB: two reads
    reads = []
    monkeypatch.setattr(ReaderLedger, "elapsed", lambda self: reads.append(1) or (1e9 if len(reads) > 1 else 0.0))
    ledger, table = _read(path)
    assert 0 < ledger.records_seen < 1500 and ledger.bytes_read == 1 << 20
    assert ledger.bytes_skipped == path.stat().st_size - (1 << 20)
    assert ledger.error.startswith(f"unreadable after {ledger.records_seen} records: ReadTimeout")
    assert ledger.skips[-1]["why"] == "decoded but not read when the stream failed"
