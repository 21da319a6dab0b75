"""Readers: input files to byte-capped batches of documents in the core schema, with a per-file ledger."""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile
from curate.pipeline.readers.ledger import ReaderLedger


def read(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    """Batches of `file`'s records. Rows the reader rejects carry a `read:*` reason; file-level errors go to `ledger`."""
    if file.format in ("warc", "wet"):
        from curate.pipeline.readers.warc import read_warc

        return read_warc(file, cfg, ledger)
    if file.format == "jsonl":
        from curate.pipeline.readers.jsonl import read_jsonl

        return read_jsonl(file, cfg, ledger)
    from curate.pipeline.readers.parquet import read_parquet

    return read_parquet(file, cfg, ledger)
