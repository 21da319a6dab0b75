"""Parquet reader: rows become documents, the offset is the row number, every other column travels as it is. And its
splitter: ranges of whole row groups (`split_parquet`), found in the footer alone.

A file that cannot be read (or lacks the text column) is a file error with all of its bytes counted as skipped; the
rows read before a break stay. Parquet is read by row group through its footer, so the byte count is the whole file
once the last row group is read.
"""
from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline.config import InputConfig
from curate.pipeline.filesystems import open_binary
from curate.pipeline.inputs import InputFile, Range, Unsplittable, ranges
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.registry import reads, splits
from curate.readers.records import carried_name
from curate.pipeline.schema import CORE, MAX_BATCH_ROWS, REJECT, uid_of


@reads("parquet")
def read_parquet(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    start = file.part.first if file.part else 0
    try:
        with open_binary(file.uri) as stream:
            parquet = pq.ParquetFile(stream)
            if cfg.text_field not in parquet.schema_arrow.names:
                ledger.stop(0, f"no column {cfg.text_field!r} (input.text_field); columns: {parquet.schema_arrow.names}")
                return
            groups = range(*file.part.groups) if file.part else None
            for table in parquet.iter_batches(batch_size=MAX_BATCH_ROWS, row_groups=groups):
                batch = _documents(table, file, cfg, start)
                start += table.num_rows
                ledger.records_seen += table.num_rows
                ledger.records_yielded += batch.column(REJECT).null_count
                yield batch
        ledger.bytes_read = ledger.size  # read by row group, not front to back: the file (range) as a whole, once read
    except (OSError, ValueError) as error:
        ledger.stop(0, f"unreadable after {ledger.records_seen} records: {type(error).__name__}: {error}")


@splits("parquet")
def split_parquet(file: InputFile, size: int) -> list[Range]:
    """Ranges of whole row groups, about `size` stored bytes each, from the footer alone. A row group is the smallest
    unit Parquet reads alone, so a file of one row group is read whole. The first range accounts for the bytes before
    its row groups (the magic), the last for the footer."""
    with open_binary(file.uri) as stream:
        metadata = pq.ParquetFile(stream).metadata
    if metadata.num_row_groups < 2:
        raise Unsplittable("one row group: the smallest unit Parquet reads alone")
    cuts, groups, target, rows = [(0, 0)], [0], size, 0
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        start = min(_chunk_start(group.column(c)) for c in range(group.num_columns)) if group.num_columns else 0
        if index and start >= target:
            cuts.append((start, rows))
            groups.append(index)
            target = start + size
        rows += group.num_rows
    return ranges(cuts, file.size, groups + [metadata.num_row_groups])


def _chunk_start(column) -> int:
    """Where a column chunk's pages begin in the file: its dictionary page when it has one, else its first data page."""
    dictionary = column.dictionary_page_offset
    return dictionary if column.has_dictionary_page and dictionary is not None and dictionary > 0 \
        else column.data_page_offset


def _documents(table: pa.RecordBatch, file: InputFile, cfg: InputConfig, start: int) -> pa.RecordBatch:
    n = table.num_rows
    ids = [f"{cfg.dataset}/{file.rel}:{start + i}" for i in range(n)]
    text = _string_or_nulls(table.column(cfg.text_field))
    columns = {
        "id": pa.array(ids, pa.string()),
        "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
        "source": pa.array([cfg.dataset] * n, pa.string()),
        "file": pa.array([file.rel] * n, pa.string()),
        "offset": pa.array(range(start, start + n), pa.int64()),
        "url": _url(table.column("url")) if "url" in table.schema.names else pa.nulls(n, pa.string()),
        "date": pa.nulls(n, pa.string()),
        "content_type": pa.nulls(n, pa.string()),
        "x_robots_tag": pa.nulls(n, pa.string()),
        "text": text,
        "html": pa.nulls(n, pa.binary()),
    }
    arrays = [columns[name].cast(CORE.field(name).type) for name in CORE.names]
    fields = list(CORE)
    for name in table.schema.names:
        if name not in (cfg.text_field, "url"):
            arrays.append(table.column(name))
            fields.append(pa.field(carried_name(name), table.schema.field(name).type))
    reasons = pc.if_else(pc.is_null(text), pa.scalar("read:no_text"), pa.scalar(None, pa.string()))
    arrays.append(reasons)
    fields.append(pa.field(REJECT, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))


def _url(column: pa.Array) -> pa.Array:
    """`url` cast to string where Arrow can (numbers, dictionaries); a list or struct becomes nulls, not a crash."""
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(column), pa.string())


def _string_or_nulls(column: pa.Array) -> pa.Array:
    """A string column as it is (plain, large or dictionary-encoded, as pandas writes categoricals); nulls otherwise,
    which the reader rejects as `read:no_text`."""
    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    return pa.nulls(len(column), pa.string())
