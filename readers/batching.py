"""Byte-capped batch building: rows accumulate until a row or byte cap, then become one Arrow batch."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from curate.pipeline.schema import MAX_BATCH_BYTES, MAX_BATCH_ROWS, REJECT, uid_of


class BatchBuilder:
    """Collects document rows (dicts) for a fixed schema plus `reject_reason`; `full` says when to flush."""

    def __init__(self, schema: pa.Schema, max_rows: int = MAX_BATCH_ROWS, max_bytes: int = MAX_BATCH_BYTES):
        self.schema = schema.append(pa.field(REJECT, pa.string()))
        self.max_rows, self.max_bytes = max_rows, max_bytes
        self._columns: dict[str, list] = {name: [] for name in self.schema.names}
        self._bytes = 0

    def add(self, row: dict, size: int) -> None:
        row["uid"] = uid_of(row["id"])
        for name, values in self._columns.items():
            values.append(row.get(name))
        self._bytes += size

    @property
    def full(self) -> bool:
        return len(self._columns["id"]) >= self.max_rows or self._bytes >= self.max_bytes

    def flush(self) -> Iterator[pa.RecordBatch]:
        """The batch collected so far (nothing when empty); the builder starts empty again."""
        if not self._columns["id"]:
            return
        arrays = [binary_array(values) if field.type == pa.binary() else pa.array(values, field.type)
                  for field, values in zip(self.schema, self._columns.values())]
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        self._columns = {name: [] for name in self.schema.names}
        self._bytes = 0
        yield batch


def binary_array(values: list) -> pa.Array:
    """A binary column from bytes-like values (None: null), their bytes copied once into one buffer.

    Not `pa.array`: pyarrow (25.0) keeps a reference to every memoryview it converts, and with it the whole buffer the
    view is of — a WARC reader's page is a view of its decoded member, so a worker kept every page it had read
    (~50 MB more per file of 371 pages, without end; `tests/pipeline/test_readers.py`)."""
    present = [value for value in values if value is not None]
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([0 if value is None else memoryview(value).nbytes for value in values], out=offsets[1:])
    if offsets[-1] >= 2**31:  # not from a reader: a batch stops at 64 MB, plus one record of at most 64 MB
        raise ValueError(f"{offsets[-1]} bytes do not fit one binary column (32-bit offsets)")
    offsets = offsets.astype(np.int32)
    validity = None
    if len(present) < len(values):
        validity = pa.array([value is not None for value in values], pa.bool_()).buffers()[1]
    return pa.Array.from_buffers(pa.binary(), len(values), [validity, pa.py_buffer(offsets),
                                                             pa.py_buffer(b"".join(present))],
                                 null_count=len(values) - len(present))
