"""Byte-capped batch building: rows accumulate until a row or byte cap, then become one Arrow batch."""
from __future__ import annotations

from collections.abc import Iterator

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
        batch = pa.RecordBatch.from_pydict(self._columns, schema=self.schema)
        self._columns = {name: [] for name in self.schema.names}
        self._bytes = 0
        yield batch
