"""Running map stages on a batch: only kept rows reach a stage, reasons get the stage prefix, errors become rejects
(a CurateError, which is about the run, not a row, stops it)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.config import StageSpec
from curate.pipeline.errors import CurateError
from curate.pipeline.schema import REJECT
from curate.pipeline.stage import Stage


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

    def run(self, batch: pa.RecordBatch, counts: StageCounts) -> pa.RecordBatch:
        """`batch` (all kept) through the stage: the output has the stage's columns and prefixed reasons."""
        if not self.ready:
            self.stage.setup()
            self.ready = True
        before_cpu, before_child = time.process_time(), self.stage.subprocess_cpu_seconds
        out = self._guarded(batch)
        counts.cpu_seconds += time.process_time() - before_cpu
        counts.cpu_seconds += self.stage.subprocess_cpu_seconds - before_child
        reasons = out.column(REJECT)
        counts.rows_in += batch.num_rows
        counts.rows_out += reasons.null_count
        prefixed = pc.binary_join_element_wise(pa.scalar(self.stage.id), reasons, ":")
        return out.set_column(out.schema.get_field_index(REJECT), REJECT, prefixed)

    def _guarded(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        try:
            return self._checked(batch, self.stage.process(batch))
        except CurateError:  # the user's environment or config, not a row: the run stops and says so
            raise
        except Exception as error:  # a row made the stage raise: find it, reject it, keep the rest
            if self.on_error == "fail":
                raise
            if batch.num_rows == 1:
                return self._errored(batch, error)
            half = batch.num_rows // 2
            parts = [self._guarded(batch.slice(0, half)), self._guarded(batch.slice(half))]
            schema = parts[0].schema
            return pa.Table.from_batches([parts[0], parts[1].cast(schema)]).combine_chunks().to_batches()[0]

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


def split(batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch]:
    """(kept rows without the reason column, rejected rows with it)."""
    reasons = batch.column(REJECT)
    kept_mask = pc.is_null(reasons)
    kept = batch.filter(kept_mask).drop_columns([REJECT])
    rejected = batch.filter(pc.invert(kept_mask))
    return kept, rejected
