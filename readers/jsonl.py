"""JSONL reader (plain, .gz, .zst): one JSON object per line; the offset is the line number. And its splitter.

Bad lines are rejected, not dropped: `read:invalid_json` (nesting too deep for the parser included),
`read:not_an_object`, `read:no_text`, `read:invalid_unicode` (a lone surrogate escape such as "\\ud800", which no
UTF-8 column can hold), `read:too_large:<bytes>` (a line over MAX_LINE_BYTES, skipped without being held in memory:
a gzip bomb without newlines is one such line). The fields listed in `input.fields` travel as string columns
(non-string values JSON-encoded): JSON lines have no schema to keep.
A decompression error ends the file; the records before it stay, and the error goes in the reader ledger, with the
bytes after the break counted as skipped. Compression is told by the ending, in any case (`.gz`, `.zst`).

Splitting (`split_jsonl`, `input.split_size`): a range starts at a line start and knows its first line number, so
ids are those of the file read whole. Finding the cuts reads the file once, in the driver, before the run:
- plain: cut at the first line start at or past each multiple of the split size; the newlines before it are counted
  (a scan at memory speed, no parsing).
- gzip: cut at a member start, when the file has several members (bgzip, `cat a.gz b.gz`, writers that flush a
  member per block) and the bytes before it end a line. A single member is read whole (the run names the file):
  deflate can only be decoded from its start, and finding members means inflating the file once.
- zstd: cut at a frame start, under the same rule; the frames are found from their headers without decoding, so a
  one-frame file (what `zstd` writes by default) costs a walk over its block headers and is read whole.
A corrupt member or frame ends the cuts: the range holding it reads to the break and reports it, as the whole file's
reading does. One difference remains: of a zstd frame that fails its checksum, the lines decoded before the check
depend on how far the decoder had read, so the two readings may keep a different number of them (both report it).
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator

import pyarrow as pa
import zstandard

from isal import isal_zlib

from curate.pipeline.config import InputConfig
from curate.pipeline.filesystems import open_binary
from curate.pipeline.inputs import InputFile, Range, Unsplittable, ranges
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.registry import reads, splits
from curate.readers.batching import BatchBuilder
from curate.readers.frames import ONE_MEMBER, zstd_frames
from curate.readers.records import carried_name
from curate.readers.stream import CountedStream
from curate.pipeline.schema import CORE

# A line longer than this is rejected unparsed (read:too_large), as the WARC reader does with records.
MAX_LINE_BYTES = 64 << 20
_SKIP_CHUNK = 1 << 20
_SCAN = 16 << 20  # bytes per read when a splitter scans a file


def _string(value) -> str | None:
    return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)


def _lines(raw: CountedStream, uri: str):
    """The decompressed stream of a JSONL file, iterable by line."""
    if uri.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if uri.lower().endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return io.BufferedReader(raw)


def _numbered_lines(stream, number: int = 0):
    """(line number, line or None when over MAX_LINE_BYTES, its size) from line `number` on: at most
    MAX_LINE_BYTES + 1 bytes held."""
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        size = len(line)
        if size > MAX_LINE_BYTES and not line.endswith(b"\n"):
            line = None
            while True:
                rest = stream.readline(_SKIP_CHUNK)
                size += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
        yield number, line, size
        number += 1


def _encodable(row: dict) -> bool:
    """False when a string holds a lone surrogate (from a JSON escape): Arrow's UTF-8 columns cannot hold it."""
    try:
        for value in row.values():
            if isinstance(value, str) and not value.isascii():
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@reads("jsonl")
def read_jsonl(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    extras = [(field, carried_name(field)) for field in cfg.fields]
    batch = BatchBuilder(pa.schema(list(CORE) + [pa.field(name, pa.string()) for _, name in extras]))
    try:
        with CountedStream(file.uri, ledger, file.stored) as raw, _lines(raw, file.uri) as stream:
            for number, line, size in _numbered_lines(stream, file.part.first if file.part else 0):
                ledger.decoded += size
                ledger.decoded_in_records += size
                if line is not None and not line.strip():
                    continue
                ledger.records_seen += 1
                row = {"id": f"{cfg.dataset}/{file.rel}:{number}", "source": cfg.dataset, "file": file.rel,
                       "offset": number}
                if line is None:
                    record = None
                    row["reject_reason"] = f"read:too_large:{size}"
                else:
                    try:
                        record = json.loads(line)
                    except (ValueError, RecursionError):
                        record = None
                        row["reject_reason"] = "read:invalid_json"
                if record is not None and not isinstance(record, dict):
                    row["reject_reason"] = "read:not_an_object"
                elif isinstance(record, dict):
                    text = record.get(cfg.text_field)
                    if not isinstance(text, str):
                        row["reject_reason"] = "read:no_text"
                    row["text"] = text if isinstance(text, str) else None
                    try:
                        row["url"] = _string(record.get("url"))
                        for field, name in extras:
                            row[name] = _string(record.get(field))
                    except RecursionError:  # a field nested too deep to encode again
                        row = {key: row[key] for key in ("id", "source", "file", "offset")}
                        row["reject_reason"] = "read:invalid_json"
                    if not _encodable(row):
                        row = {key: row[key] for key in ("id", "source", "file", "offset")}
                        row["reject_reason"] = "read:invalid_unicode"
                if row.get("reject_reason") is None:
                    ledger.records_yielded += 1
                batch.add(row, size if line is not None else 0)
                if batch.full:
                    yield from batch.flush()
    except (OSError, EOFError, ValueError, zlib.error, zstandard.ZstdError) as error:
        ledger.stop(ledger.bytes_read, f"unreadable after {ledger.records_seen} records: {type(error).__name__}: {error}")
    yield from batch.flush()


@splits("jsonl")
def split_jsonl(file: InputFile, size: int) -> list[Range]:
    """Ranges of about `size` stored bytes, each starting at a line start (module docstring)."""
    lower = file.uri.lower()
    with open_binary(file.uri) as stream:
        if lower.endswith(".gz"):
            cuts = _member_cuts(_gzip_members(stream), size, "gzip")
        elif lower.endswith(".zst"):
            frames = zstd_frames(stream)
            if len(frames) < 2:
                raise Unsplittable(ONE_MEMBER["zstd"])
            cuts = _member_cuts(_zstd_members(file.uri, frames, file.size), size, "zstd")
        else:
            cuts = _line_cuts(stream, size)
    return ranges(cuts, file.size)


def _line_cuts(stream, size: int) -> list[tuple[int, int]]:
    """A plain file's cuts: the first line start at or past each `size` bytes from the cut before."""
    cuts, target, position, lines = [(0, 0)], size, 0, 0
    while chunk := stream.read(_SCAN):
        counted = 0
        while (at := chunk.find(b"\n", max(target - 1 - position, 0))) >= 0:
            lines += chunk.count(b"\n", counted, at + 1)
            counted = at + 1
            cuts.append((position + at + 1, lines))
            target = position + at + 1 + size
        lines += chunk.count(b"\n", counted)
        position += len(chunk)
    return cuts


def _member_cuts(members, size: int, kind: str) -> list[tuple[int, int]]:
    """Cuts at member (frame) starts about `size` stored bytes apart, where no line spans the cut. `members` yields
    (stored start, lines in the member, whether its decoded bytes end a line)."""
    cuts, target, lines, line_ended, count = [(0, 0)], size, 0, True, 0
    for start, newlines, ends_line in members:
        if start >= target and line_ended:
            cuts.append((start, lines))
            target = start + size
        lines += newlines
        line_ended = ends_line
        count += 1
    if count == 1:
        raise Unsplittable(ONE_MEMBER[kind])
    return cuts


def _gzip_members(stream):
    """(stored start, newlines, ends a line) of each gzip member, by inflating the file (ISA-L) in bounded pieces."""
    start = consumed = newlines = 0
    last = b"\n"
    decoder = isal_zlib.decompressobj(31)
    pending = stream.read(_SCAN)
    while pending:
        try:
            out = decoder.decompress(pending, _SCAN)
        except isal_zlib.error:  # corrupt: no cut after it; the reader of the range that holds it reports it
            return
        newlines += out.count(b"\n")
        last = out[-1:] or last
        if decoder.eof:
            rest = decoder.unused_data
            consumed += len(pending) - len(rest)
            yield start, newlines, last == b"\n"
            start, newlines, last, decoder = consumed, 0, b"\n", isal_zlib.decompressobj(31)
            pending = rest or stream.read(_SCAN)
            continue
        consumed += len(pending) - len(decoder.unconsumed_tail)
        pending = decoder.unconsumed_tail or stream.read(_SCAN)
    out = decoder.flush()  # output a length limit held back at the end of the input
    newlines += out.count(b"\n")
    last = out[-1:] or last
    if decoder.eof or consumed > start:  # else the file ends inside a member: its range's reader reports it
        yield start, newlines, last == b"\n"


def _zstd_members(uri: str, frames: list[int], size: int):
    """(stored start, newlines, ends a line) of each zstd frame, each decoded from its own bytes."""
    for start, end in zip(frames, frames[1:] + [size]):
        newlines, last = 0, b"\n"
        with CountedStream(uri, ReaderLedger(uri), (start, end)) as raw:
            reader = zstandard.ZstdDecompressor().stream_reader(raw)
            try:
                while out := reader.read(_SCAN):
                    newlines += out.count(b"\n")
                    last = out[-1:]
            except zstandard.ZstdError:  # corrupt: no cut after it; the reader of the range that holds it reports it
                return
        yield start, newlines, last == b"\n"
