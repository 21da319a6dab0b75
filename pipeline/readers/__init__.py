"""Readers: input files (or ranges of them) to byte-capped batches of documents in the core schema, with a ledger per
task; and the task list: which files are cut into ranges, and where (each format's splitter is in its reader)."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pyarrow as pa

from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile, Range
from curate.pipeline.readers.ledger import ReaderLedger


def read(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    """Batches of `file`'s records (of its range, when it has one). Rows the reader rejects carry a `read:*` reason;
    file-level errors and the byte counts go to `ledger`, whose clock runs only while the reader works (the read time
    limit's measure)."""
    start, end = file.stored
    ledger.size = end - start
    if file.format in ("warc", "wet"):
        from curate.pipeline.readers.warc import read_warc as reader
    elif file.format == "jsonl":
        from curate.pipeline.readers.jsonl import read_jsonl as reader
    else:
        from curate.pipeline.readers.parquet import read_parquet as reader
    batches = reader(file, cfg, ledger)
    while True:
        ledger.resume()
        try:
            batch = next(batches)
        except StopIteration:
            return
        finally:
            ledger.pause()
        yield batch


def tasks(files: list[InputFile], cfg: InputConfig) -> list[InputFile]:
    """The tasks of a run, in input order: a file larger than `input.split_size` is cut into ranges of about that
    size where its format allows (each reader's `split_*` says where and why not), every other file is one task."""
    out = []
    for file in files:
        parts = split(file, cfg.split_size) if file.size > cfg.split_size else []
        out += [dataclasses.replace(file, part=part) for part in parts] if len(parts) > 1 else [file]
    return out


def split(file: InputFile, size: int) -> list[Range]:
    """The ranges of `file`, each about `size` stored bytes; none when it cannot be cut (read it whole)."""
    if file.format in ("warc", "wet"):
        from curate.pipeline.readers.warc import split_warc as splitter
    elif file.format == "jsonl":
        from curate.pipeline.readers.jsonl import split_jsonl as splitter
    else:
        from curate.pipeline.readers.parquet import split_parquet as splitter
    try:
        return splitter(file, size)
    except (OSError, ValueError, EOFError):  # unreadable here: the reader, reading it whole, says why
        return []
