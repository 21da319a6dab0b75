"""A plugin map stage whose collector writes files, and one that consumes what it publishes, written as a user's
plugin (the pipeline names this file under `plugins:`). `samples` writes the ids of the kept documents of each task
to a JSON file in the folder the framework gives its collector (`samples/`, the name it publishes); `sample_count`
counts them from what `samples` published. With `SAMPLES_FAIL_ONCE` naming a file that exists, the first collector
to close writes its file, deletes that file (noting its own in `<that file>.failed`) and fails, as a task that dies
writing (a full disk) would."""
from __future__ import annotations

import json
import os

import pyarrow as pa

from curate.pipeline.output import Folder
from curate.pipeline.registry import register
from curate.pipeline.stage import Collector, Facts, Partial, Stage, emit

SAMPLES = "samples"


@register
class Samples(Stage):
    """Keeps every document; writes the ids of the kept ones per task to `samples/`."""

    name = "samples"
    publishes = (SAMPLES,)

    def requires(self) -> tuple[str, ...]:
        return ("id",)

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return emit(batch, [None] * batch.num_rows)

    def collector(self, folder: Folder, tag: str) -> Collector:
        return SampleWriter(folder, tag)

    def result(self, partials: list[str], output, run: Facts) -> dict:
        return {SAMPLES: sorted(partials)}


class SampleWriter(Collector):
    def __init__(self, folder: Folder, tag: str):
        self.folder, self.name, self.ids = folder, f"part-{tag}.json", []

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        self.ids += rows.column("id").to_pylist()
        return rows

    def close(self) -> Partial:
        with self.folder.open_write(self.name) as f:
            f.write(json.dumps(self.ids).encode())
        marker = os.environ.get("SAMPLES_FAIL_ONCE")
        if marker and os.path.exists(marker):
            with open(f"{marker}.failed", "w") as f:
                f.write(self.folder.path(self.name))  # for the test to look for
            os.unlink(marker)
            raise OSError("No space left on device")
        return Partial(self.folder.path(self.name), [self.folder.path(self.name)])


@register
class SampleCount(Stage):
    """Counts the sample files `samples` published (a stage that consumes another's output)."""

    name = "sample_count"
    consumes = (SAMPLES,)

    def requires(self) -> tuple[str, ...]:
        return ()

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        return emit(batch, [None] * batch.num_rows)

    def collector(self, folder: Folder, tag: str) -> Collector:
        return Collector()

    def result(self, partials: list, output, run: Facts) -> dict:
        published = run.published[SAMPLES]
        return {"sample_count": {"from": published.stage, "files": len(published.value[SAMPLES])}}
