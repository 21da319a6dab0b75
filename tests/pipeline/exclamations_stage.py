"""A map stage with a corpus-level result and a run-report section, written as a user's plugin: this one file is all
it takes (the pipeline names it under `plugins:`). It counts exclamation marks, rejects documents that shout, sums
the marks over kept and rejected documents into the manifest, and draws their distribution in the run report."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.pipeline.registry import register
from curate.pipeline.sections import Report, RunView, Section, figure, histogram, table
from curate.pipeline.output import Folder
from curate.pipeline.stage import Collector, Facts, Params, Partial, Stage, emit

COLUMN = "exclamations"


def exclamations_section(run: RunView, stages: list[Stage]) -> Section | None:
    values = run.values(COLUMN)
    if values is None:
        return None
    limit = stages[-1].params.max_per_document
    plot = figure(6, 3)
    histogram(plot.add_subplot(), values, "exclamation marks per kept document", [(float(limit), f"max {limit}")])
    totals = run.manifest[COLUMN]
    return Section(COLUMN, "Exclamation marks", [run.plot(COLUMN, plot), table(
        ["documents", "exclamation marks"], [["kept", totals["kept"]], ["rejected", totals["rejected"]]])])


def exclamations_text(run: RunView, stages: list[Stage]) -> list[str]:
    totals = run.manifest[COLUMN]
    return [f"exclamation marks: {totals['kept']} kept, {totals['rejected']} rejected"]


class ExclamationsParams(Params):
    max_per_document: int = Field(3, ge=0, description="documents with more exclamation marks are rejected")


@register
class Exclamations(Stage):
    """Counts exclamation marks; rejects documents with more than `max_per_document`."""

    name = "exclamations"
    Params = ExclamationsParams
    report = Report(exclamations_section, exclamations_text)  # the page's section, the console's lines

    def adds(self) -> dict[str, pa.DataType]:
        return {COLUMN: pa.int32()}

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        counts = pc.count_substring(pc.fill_null(batch.column("text"), ""), "!").cast(pa.int32())
        reasons = pc.if_else(pc.greater(counts, self.params.max_per_document), "shouting", pa.scalar(None, pa.string()))
        return emit(batch, reasons, **{COLUMN: counts})

    def collector(self, folder: Folder, tag: str) -> Collector:
        return MarkSums(self.id)

    def result(self, partials: list[dict], output, run: Facts) -> dict:
        return {COLUMN: {side: sum(p[side] for p in partials) for side in ("kept", "rejected")}}


class MarkSums(Collector):
    """Exclamation marks of one file's documents: those kept at the end, those this stage rejected."""

    def __init__(self, stage_id: str):
        self.stage_id, self.sums = stage_id, {"kept": 0, "rejected": 0}

    def rejected(self, rows: pa.RecordBatch) -> None:
        if COLUMN in rows.schema.names:
            mine = pc.starts_with(rows.column("reject_reason"), f"{self.stage_id}:")
            self.sums["rejected"] += int(np.sum(rows.column(COLUMN).filter(mine).to_numpy(zero_copy_only=False)))

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        self.sums["kept"] += int(pc.sum(rows.column(COLUMN)).as_py() or 0)
        return rows

    def close(self) -> Partial:
        return Partial(self.sums)
