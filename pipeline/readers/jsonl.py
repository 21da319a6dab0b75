"""JSONL reader (plain, .gz, .zst): one JSON object per line; the offset is the line number.

Bad lines are rejected, not dropped: `read:invalid_json`, `read:not_an_object`, `read:no_text`. The fields listed in
`input.fields` travel as string columns (non-string values JSON-encoded): JSON lines have no schema to keep.
A decompression error ends the file; the records before it stay, and the error goes in the reader ledger.
"""
from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterator

import pyarrow as pa
import zstandard

from curate.pipeline.config import InputConfig
from curate.pipeline.filesystems import open_binary
from curate.pipeline.inputs import InputFile
from curate.pipeline.readers.batching import BatchBuilder
from curate.pipeline.readers.ledger import ReaderLedger
from curate.pipeline.readers.records import carried_name
from curate.pipeline.schema import CORE


def _string(value) -> str | None:
    return value if isinstance(value, str) or value is None else json.dumps(value, ensure_ascii=False)


def _lines(uri: str):
    """The decompressed stream of a JSONL file, iterable by line."""
    raw = open_binary(uri)
    if uri.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if uri.endswith(".zst"):
        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True))
    return raw


def read_jsonl(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    extras = [(field, carried_name(field)) for field in cfg.fields]
    batch = BatchBuilder(pa.schema(list(CORE) + [pa.field(name, pa.string()) for _, name in extras]))
    try:
        with _lines(file.uri) as stream:
            for number, line in enumerate(stream):
                if not line.strip():
                    continue
                ledger.records_seen += 1
                row = {"id": f"{cfg.dataset}/{file.rel}:{number}", "source": cfg.dataset, "file": file.rel,
                       "offset": number}
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                    row["reject_reason"] = "read:invalid_json"
                if record is not None and not isinstance(record, dict):
                    row["reject_reason"] = "read:not_an_object"
                elif isinstance(record, dict):
                    text = record.get(cfg.text_field)
                    if not isinstance(text, str):
                        row["reject_reason"] = "read:no_text"
                    row["text"] = text if isinstance(text, str) else None
                    row["url"] = _string(record.get("url"))
                    for field, name in extras:
                        row[name] = _string(record.get(field))
                if row.get("reject_reason") is None:
                    ledger.records_yielded += 1
                batch.add(row, len(line))
                if batch.full:
                    yield from batch.flush()
    except (OSError, EOFError, ValueError, zstandard.ZstdError) as error:
        ledger.error = f"unreadable after {ledger.records_seen} records: {type(error).__name__}: {error}"
    yield from batch.flush()
