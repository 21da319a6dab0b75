"""Structure-aware WARC mutations with an oracle: every record the generator wrote is found, or reported lost.

A case is a seed, a container (plain, one gzip member per record, gzip whole, one zstd frame per record) and a
mutation of the file's structure: a Content-Length changed by k (a few bytes, a record's length, megabytes, past the
end), a cut at one byte of a member, a header cut short, a record duplicated, two records swapped, garbage between
records. The generator knows where each document record it wrote lies in the decoded stream, so `check_case` can tell,
unlike a count, whether a record went missing: each one must be a row (found by its WARC-Record-ID), or lie in a run
the reader reported skipped, or past where the reader reported the file broken. It also asserts that a kept row holds
its record's exact page (a wrong length never yields a wrong document), one row per record seen, and the reader
ledger's byte accounting. Used by bench/fuzz.py (>= 10,000 cases) and test_fuzz_framing.py (a sample).
"""
from __future__ import annotations

import gzip
import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import zstandard

from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile
from curate.pipeline.inputs import read
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.stats import ledger_problem

CONTAINERS = ("plain", "gzip_members", "gzip_whole", "zstd_frames")
MUTATIONS = ("none", "length", "cut", "header_cut", "duplicate", "swap", "garbage")
_WORDS = "river morning market bread fish fruit family town people quiet walked sold years worked".split()


@dataclass
class Record:
    """One record as written: its bytes, and for a document its id and page."""

    raw: bytes
    record_id: str | None = None
    page: bytes | None = None
    tolerant: bool = False  # its length was raised by 1-4: the block may end with CR/LF bytes of the trailer


def _page(rng: random.Random, number: int) -> bytes:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(20, 600)))
    return f"<html><body><p>page {number}: {words}</p></body></html>".encode()


def _record(kind: str, number: int, rng: random.Random, length_change: int = 0) -> Record:
    if kind == "response":
        page = _page(rng, number)
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + page
    elif kind == "request":
        page, block = None, f"GET /{number} HTTP/1.1\r\nHost: fuzz.example\r\n\r\n".encode()
    else:
        page, block = None, f"software: fuzz\r\nrecord: {number}\r\n".encode()
    record_id = f"urn:uuid:frame-{number:04d}-{rng.getrandbits(32):08x}"
    head = (f"WARC/1.1\r\nWARC-Type: {kind}\r\nWARC-Record-ID: <{record_id}>\r\n"
            f"WARC-Target-URI: <https://fuzz.example/{number}>\r\nWARC-Date: 2024-05-01T12:00:00Z\r\n"
            f"Content-Length: {len(block) + length_change}\r\n\r\n").encode()
    return Record(head + block + b"\r\n\r\n", record_id if kind == "response" else None, page)


@dataclass(frozen=True)
class Case:
    seed: int
    container: str
    mutation: str
    cut: int | None = None  # for a sweep: the byte of the target member to cut at

    def build(self, directory: Path) -> tuple[Path, list[Record]]:
        """The file, and the pieces written in order after the mutation (records, and garbage as a record without id)."""
        rng = random.Random(self.seed)
        records = _records(rng)
        if self.mutation == "length":
            i = rng.randrange(len(records))
            later = [len(r.raw) for r in records[i + 1:]]
            change = rng.choice([1, 2, 3, 4, 5, 10, 100, -1, -2, -10, -100, 64 << 20, (64 << 20) + 1, 100 << 20,
                                 sum(later[:1]), sum(later[:2]), sum(later[:1]) + 1, sum(later[:1]) - 1,
                                 sum(later) + 10, -len(records[i].raw) // 3])
            old = records[i]
            records[i] = Record(_change_length(old.raw, change), old.record_id, old.page, 1 <= change <= 4)
        elif self.mutation == "header_cut":
            i = rng.randrange(len(records))
            raw = records[i].raw
            head_end = raw.index(b"\r\n\r\n") + 4
            keep = rng.randrange(raw.index(b"\r\n", raw.index(b"WARC-Record-ID")) + 2, head_end)
            records[i] = Record(raw[:keep] + raw[head_end:], records[i].record_id, records[i].page)
        elif self.mutation == "duplicate":
            i = rng.randrange(len(records))
            records.insert(rng.randrange(i, len(records)) + 1, records[i])
        elif self.mutation == "swap":
            i, j = rng.sample(range(len(records)), 2)
            records[i], records[j] = records[j], records[i]
        elif self.mutation == "garbage":
            records.insert(rng.randrange(1, len(records) + 1), Record(rng.choice([
                b"\r\n", b"\x00" * 50, b"garbage line\n" * 3, rng.randbytes(200), b"WARC/1.1\r\nbroken\r\n"])))
        data = _pack(records, self.container)
        if self.mutation == "cut":
            cut = self.cut if self.cut is not None else rng.randrange(len(data))
            data = data[:cut]
            # a cut exactly between two records (members) is a shorter file: what is past it was never written
            while len(records) > 1 and self.container != "gzip_whole" and len(_pack(records[:-1], self.container)) >= cut:
                records.pop()
            if self.container != "gzip_whole" and cut == 0:
                records = []
        suffix = {"plain": ".warc", "zstd_frames": ".warc.zst"}.get(self.container, ".warc.gz")
        path = directory / f"case-{self.seed}-{self.cut}{suffix}"
        path.write_bytes(data)
        return path, records


def _records(rng: random.Random) -> list[Record]:
    kinds = ["warcinfo"] + [rng.choice(["response", "response", "response", "request", "metadata"])
                            for _ in range(rng.randint(2, 6))]
    return [_record(kind, i, rng) for i, kind in enumerate(kinds)]


def _change_length(raw: bytes, change: int) -> bytes:
    start = raw.index(b"Content-Length: ") + len(b"Content-Length: ")
    end = raw.index(b"\r\n", start)
    return raw[:start] + str(max(int(raw[start:end]) + change, 0)).encode() + raw[end:]


def _pack(records: list[Record], container: str) -> bytes:
    raws = [r.raw for r in records]
    if container == "plain":
        return b"".join(raws)
    if container == "gzip_members":
        return b"".join(gzip.compress(r, compresslevel=1, mtime=0) for r in raws)
    if container == "gzip_whole":
        return gzip.compress(b"".join(raws), compresslevel=1, mtime=0)
    return b"".join(zstandard.ZstdCompressor(level=1).compress(r) for r in raws)


def sweep_cases(seed: int, container: str) -> list[Case]:
    """A cut at every byte of the second record's member (of the whole file when gzipped whole): one case each."""
    records = _records(random.Random(seed))
    if container == "gzip_whole":
        start, end = 0, len(_pack(records, container))
    else:
        start = len(_pack(records[:1], container))
        end = start + len(_pack(records[1:2], container))
    return [Case(seed, container, "cut", cut) for cut in range(start + 1, end)]


@dataclass
class Result:
    records: int = 0
    rows: int = 0
    kept: int = 0
    found: int = 0  # document records written that became a row
    reported: int = 0  # document records written that lie in a reported skip or past a reported break
    file_error: bool = False
    reasons: Counter = None


def check_case(path: Path, records: list[Record]) -> Result:
    """Read `path` and assert that no document record was lost or changed without a report."""
    cfg = InputConfig(paths=[str(path)], dataset="fuzz")
    ledger = ReaderLedger(path.name)
    fmt = "warc"
    batches = list(read(InputFile(str(path), path.name, path.stat().st_size, fmt), cfg, ledger))
    table = pa.Table.from_batches(batches) if batches else None
    rows = table.num_rows if table is not None else 0
    assert rows == ledger.records_seen, f"{ledger.records_seen} records seen, {rows} rows"
    assert ledger_problem(ledger.to_json()) is None, ledger_problem(ledger.to_json())
    assert ledger.skips == [] or ledger.error, "skipped without an error"
    ids = table.column("id").to_pylist() if table is not None else []
    reasons = table.column("reject_reason").to_pylist() if table is not None else []
    html = table.column("html").to_pylist() if table is not None else []
    assert len(set(ids)) == len(ids), "two rows with one id"
    by_record: Counter = Counter(i.rsplit("/", 1)[-1] for i in ids if "/urn:uuid:frame-" in i)
    pages = {r.record_id: r for r in records if r.record_id}
    for i, reason, page in zip(ids, reasons, html):
        if reason is None:
            written = pages.get(i.rsplit("/", 1)[-1])
            assert written is not None, f"kept a row no record was written for: {i}"
            expected = written.page
            assert page == expected or (written.tolerant and page.rstrip(b"\r\n") == expected), \
                f"kept {i} with a page that is not its record's"
    skipped = [(s["offset"], s["offset"] + s["bytes"]) for s in ledger.skips]
    result = Result(records=len(records), rows=rows, kept=reasons.count(None), file_error=ledger.error is not None,
                    reasons=Counter(r for r in reasons if r is not None))
    position = 0
    for record in records:
        start, end = position, position + len(record.raw)
        position = end
        if record.record_id is None:
            continue
        if by_record[record.record_id] > 0:
            by_record[record.record_id] -= 1
            result.found += 1
        elif ledger.error and (any(a < end and start < b for a, b in skipped) or end > ledger.decoded
                               or len(ledger.skips) >= 20 or ledger.bytes_skipped):
            result.reported += 1
        else:
            raise AssertionError(f"record {record.record_id} at {start} lost without a report: {ledger.to_json()}")
    return result
