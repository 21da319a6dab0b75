"""Readers: input files to byte-capped batches of documents in the core schema, with a per-file ledger."""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa

from curate.pipeline.config import InputConfig
from curate.pipeline.inputs import InputFile
from curate.pipeline.ledger import ReaderLedger


def read(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    """Batches of `file`'s records. Rows the reader rejects carry a `read:*` reason; file-level errors and the byte
    counts go to `ledger`, whose clock runs only while the reader works (the read time limit's measure)."""
    ledger.size = file.size
    if file.format in ("warc", "wet"):
        from curate.readers.warc import read_warc as reader
    elif file.format == "jsonl":
        from curate.readers.jsonl import read_jsonl as reader
    else:
        from curate.readers.parquet import read_parquet as reader
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
