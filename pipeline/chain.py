"""Running stages on a batch: only kept rows reach a stage, reasons get the stage prefix, and a row that makes a map
stage's `process` or a global stage's `keys` raise becomes a reject, found by halving the batch (a CurateError, which
is about the run, not a row, stops it)."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.config import StageSpec
from curate.pipeline.errors import CurateError
from curate.pipeline.schema import REJECT
from curate.pipeline.stage import GlobalStage, Stage


@dataclass
class StageCounts:
    """Rows in and out of one stage for one input file, and the CPU it spent (its sandboxes included)."""

    id: str
    rows_in: int = 0
    rows_out: int = 0
    cpu_seconds: float = 0.0

    def to_json(self) -> dict:
        return {"name": self.id, "in": self.rows_in, "out": self.rows_out, "cpu_seconds": round(self.cpu_seconds, 4)}


@dataclass
class BoundStage:
    """A stage instance with its error policy, as one worker runs it."""

    stage: Stage
    on_error: str
    ready: bool = field(default=False)

    @classmethod
    def of(cls, spec: StageSpec) -> BoundStage:
        return cls(spec.build(), spec.on_error)

    @property
    def id(self) -> str:
        return self.stage.id

    def run(self, batch: pa.RecordBatch, counts: StageCounts) -> pa.RecordBatch:
        """`batch` (all kept) through the stage: the output has the stage's columns and prefixed reasons."""
        self._ready()
        before_cpu, before_child = time.process_time(), self.stage.subprocess_cpu_seconds
        parts = by_rows(lambda rows: self._checked(rows, self.stage.process(rows)), batch, self.on_error)
        out = _concat([result if ok else self._errored(rows, result) for rows, ok, result in parts])
        counts.cpu_seconds += time.process_time() - before_cpu
        counts.cpu_seconds += self.stage.subprocess_cpu_seconds - before_child
        reasons = out.column(REJECT)
        counts.rows_in += batch.num_rows
        counts.rows_out += reasons.null_count
        prefixed = pc.binary_join_element_wise(pa.scalar(self.stage.id), reasons, ":")
        return out.set_column(out.schema.get_field_index(REJECT), REJECT, prefixed)

    def keys(self, batch: pa.RecordBatch, counts: StageCounts) -> tuple[pa.RecordBatch, pa.RecordBatch,
                                                                        pa.RecordBatch | None]:
        """A global stage's keys of `batch` (all kept), in the pass before its plan: (the rows keyed, the rows that
        made `keys` raise, rejected `<id>:error:<Exception>`, their keys). A row without keys must not go on: the
        plan's decision table would not name it, and an unnamed row is kept."""
        stage: GlobalStage = self.stage
        self._ready()
        before = time.process_time()
        parts = by_rows(stage.keys, batch, self.on_error)
        counts.cpu_seconds += time.process_time() - before
        keyed = [(rows, keys) for rows, ok, keys in parts if ok]
        failed = [rows for rows, ok, _ in parts if not ok]
        errors = [f"{stage.id}:error:{type(error).__name__}" for _, ok, error in parts if not ok]
        counts.rows_in += sum(rows.num_rows for rows in failed)  # taken in and rejected here; the rest in its pass
        kept = _concat([rows for rows, _ in keyed]) if keyed else batch.slice(0, 0)
        rejected = _concat([rows.append_column(REJECT, pa.array([error] * rows.num_rows, pa.string()))
                            for rows, error in zip(failed, errors)]) if failed else \
            batch.slice(0, 0).append_column(REJECT, pa.array([], pa.string()))
        return kept, rejected, _concat([keys for _, keys in keyed]) if keyed else None

    def _ready(self) -> None:
        if not self.ready:
            self.stage.setup()
            self.ready = True

    def _checked(self, batch: pa.RecordBatch, out: pa.RecordBatch) -> pa.RecordBatch:
        if out.num_rows != batch.num_rows or REJECT not in out.schema.names:
            raise RuntimeError(f"stage {self.stage.id} returned {out.num_rows} rows for {batch.num_rows} or no {REJECT}")
        for name, dtype in self.stage.adds().items():
            index = out.schema.get_field_index(name)
            if index < 0:
                raise RuntimeError(f"stage {self.stage.id} did not add its declared column {name!r}")
            if out.schema.field(name).type != dtype:
                out = out.set_column(index, name, out.column(index).cast(dtype))
        return out

    def _errored(self, batch: pa.RecordBatch, error: Exception) -> pa.RecordBatch:
        out = batch
        for name, dtype in self.stage.adds().items():
            if name not in out.schema.names:
                out = out.append_column(name, pa.nulls(batch.num_rows, dtype))
        reason = f"error:{type(error).__name__}"
        return out.append_column(REJECT, pa.array([reason] * batch.num_rows, pa.string()))


def by_rows(call: Callable[[pa.RecordBatch], Any], batch: pa.RecordBatch,
            on_error: str) -> list[tuple[pa.RecordBatch, bool, Any]]:
    """`call` on `batch`, for a call whose result is per row: [(rows, True, result)] when it returns, else the batch
    halved until the rows that make it raise stand alone as (row, False, the exception), in row order. `on_error:
    fail` raises instead. Robustness without a try/except per row: a clean batch costs one call."""
    try:
        return [(batch, True, call(batch))]
    except CurateError:  # the user's environment or config (a tokenizer package missing), not a row: the run stops
        raise
    except Exception as error:  # a row made the stage raise: find it, reject it, keep the rest
        if on_error == "fail":
            raise
        if batch.num_rows <= 1:
            return [(batch, False, error)]
        half = batch.num_rows // 2
        return by_rows(call, batch.slice(0, half), on_error) + by_rows(call, batch.slice(half), on_error)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of `batches` (at least one), each cast to the first one's schema."""
    if len(batches) == 1:
        return batches[0]
    schema = batches[0].schema
    return pa.Table.from_batches([b.cast(schema) for b in batches]).combine_chunks().to_batches()[0]


def split(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """(kept rows without the reason column, rejected rows with it)."""
    reasons = batch.column(REJECT)
    if reasons.null_count in (0, batch.num_rows):  # all rejected or all kept: no copy of the rows (pages are large)
        none = batch.slice(0, 0)
        return (none.drop_columns([REJECT]), batch) if reasons.null_count == 0 else (batch.drop_columns([REJECT]), none)
    kept_mask = pc.is_null(reasons)
    kept = batch.filter(kept_mask).drop_columns([REJECT])
    rejected = batch.filter(pc.invert(kept_mask))
    return kept, rejected
