"""JSONL reader (plain, .gz, .zst): one JSON object per line; the offset is the line number.

Bad lines are rejected, not dropped: `read:invalid_json` (nesting too deep for the parser included),
`read:not_an_object`, `read:no_text`, `read:invalid_unicode` (a lone surrogate escape such as "\\ud800", which no
UTF-8 column can hold), `read:too_large:<bytes>` (a line over MAX_LINE_BYTES, skipped without being held in memory:
a gzip bomb without newlines is one such line). The fields listed in `input.fields` travel as string columns
(non-string values JSON-encoded): JSON lines have no schema to keep.
A decompression error ends the file; the records before it stay, and the error goes in the reader ledger, with the
bytes after the break counted as skipped. Compression is told by the ending, in any case (`.gz`, `.zst`).
"""
from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterator

import pyarrow as pa
import zstandard

from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile
from curate.readers.batching import BatchBuilder
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.registry import reads
from curate.readers.records import carried_name
from curate.readers.stream import CountedStream
from curate.pipeline.schema import CORE

# A line longer than this is rejected unparsed (read:too_large), as the WARC reader does with records.
MAX_LINE_BYTES = 64 << 20
_SKIP_CHUNK = 1 << 20


def _string(value) -> str | None:
    return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)


def _lines(raw: CountedStream, uri: str):
    """The decompressed stream of a JSONL file, iterable by line."""
    if uri.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if uri.lower().endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return io.BufferedReader(raw)


def _numbered_lines(stream):
    """(line number, line or None when over MAX_LINE_BYTES, its size): at most MAX_LINE_BYTES + 1 bytes held."""
    number = 0
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
        with CountedStream(file.uri, ledger) as raw, _lines(raw, file.uri) as stream:
            for number, line, size in _numbered_lines(stream):
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
