"""Phase A, engine-neutral: one input file through the reader and every map stage, written by one task.

The task writes the file's kept rows to `documents/`, its rejects to `ledger/rejects/` (attempt-unique names), and then
commits by writing the file's record to `ledger/reader/`. Spark and Beam both call `run_file`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline.chain import BoundStage, StageCounts, split
from curate.pipeline.config import PipelineConfig
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import DOCUMENTS, READER, REJECTS, Output, attempt_id
from curate.pipeline.readers import read
from curate.pipeline.readers.ledger import ReaderLedger
from curate.pipeline.schema import REJECTS as REJECTS_SCHEMA

# Stage instances live as long as the worker process: models load once, not once per file.
_WORKER_STAGES: dict[str, list[BoundStage]] = {}


def worker_stages(config: PipelineConfig) -> list[BoundStage]:
    key = config.content_hash()
    if key not in _WORKER_STAGES:
        _WORKER_STAGES[key] = [BoundStage.of(spec) for spec in config.stages]
    return _WORKER_STAGES[key]


@dataclass
class _Sink:
    """A Parquet file opened on its first batch; later batches are cast to the first one's schema."""

    output: Output
    name: str
    writer: pq.ParquetWriter | None = None
    stream: object = None
    rows: int = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.writer is None:
            self.stream = self.output.open_write(self.name)
            self.writer = pq.ParquetWriter(self.stream, batch.schema, compression="zstd")
        elif batch.schema != self.writer.schema:
            batch = batch.cast(self.writer.schema)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> list[str]:
        if self.writer is None:
            return []
        self.writer.close()
        self.stream.close()
        return [self.name]


def _slim(rejected: pa.RecordBatch, keep_text: bool) -> pa.RecordBatch:
    columns = [rejected.column(name) for name in REJECTS_SCHEMA.names]
    schema = REJECTS_SCHEMA
    if keep_text:
        text = rejected.column("text") if "text" in rejected.schema.names else pa.nulls(rejected.num_rows, pa.string())
        columns.append(text)
        schema = schema.append(pa.field("text", pa.string()))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


def run_file(config: PipelineConfig, file: InputFile, output: Output) -> dict:
    """Process one input file end to end and commit it; returns the commit record."""
    started = time.time()
    attempt = attempt_id()
    stages = worker_stages(config)
    ledger = ReaderLedger(file.rel)
    counts = [StageCounts(bound.stage.id) for bound in stages]
    documents = _Sink(output, f"{DOCUMENTS}/part-{file.key}-{attempt}.parquet")
    rejects = _Sink(output, f"{REJECTS}/part-{file.key}-{attempt}.parquet")
    try:
        for batch in read(file, config.input, ledger):
            kept, rejected = split(batch)
            rejects.write(_slim(rejected, config.write_rejects))
            for bound, count in zip(stages, counts):
                if kept.num_rows == 0:
                    break
                kept, rejected = split(bound.run(kept, count))
                rejects.write(_slim(rejected, config.write_rejects))
            if "html" in kept.schema.names:
                kept = kept.drop_columns(["html"])
            documents.write(kept)
    finally:
        written_documents, written_rejects = documents.close(), rejects.close()
    record = {
        "key": file.key,
        "file": file.rel,
        "attempt": attempt,
        "reader": ledger.to_json(),
        "documents": written_documents,
        "rejects": written_rejects,
        "kept": documents.rows,
        "rejected": rejects.rows,
        "stages": [c.to_json() for c in counts],
        "seconds": round(time.time() - started, 3),
    }
    output.write_json(f"{READER}/{file.key}.json", record)
    return record

