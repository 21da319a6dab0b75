"""A test-only map stage that injects task failures: it raises, or kills its own Python worker, on early attempts.

Loaded through the pipeline's `plugins:` list (the module must be importable on the driver and on Spark's Python
workers: the tests put this folder on PYTHONPATH). Which attempt a task is on is counted with marker files, so the
stage needs no engine API: the k-th time the stage meets an input file it claims `<markers>/<stage id>--<file>--<k>`
(O_EXCL, so two attempts never claim the same one) and injects `fail[k]`; once every marker exists it passes rows
through untouched. A pass-through stage changes no document, so a run that recovers must equal a clean run.
"""
from __future__ import annotations

import os
import re
from typing import Literal

import pyarrow as pa
from pydantic import Field

from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit


class InjectedFailure(RuntimeError):
    """The failure this stage raises on purpose."""


class FaultsParams(Params):
    markers: str = Field(description="directory of the attempt markers (shared by driver and workers)")
    fail: list[Literal["raise", "exit"]] = Field(default_factory=list,
                                                 description="what each early attempt at a file does, in order")
    files: list[str] = Field(default_factory=list, description="input files (relative names) to fail; none = all")


@register
class Faults(Stage):
    """Pass-through stage that fails a file's first attempts: `raise` an exception, or `exit` the worker process."""

    name = "reliability_faults"
    Params = FaultsParams

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        file = batch.column("file")[0].as_py() if batch.num_rows else None
        if file is not None and self.params.fail and (not self.params.files or file in self.params.files):
            file = re.sub(r"[^A-Za-z0-9._-]+", "_", file)
            for attempt, action in enumerate(self.params.fail):
                if _claim(os.path.join(self.params.markers, f"{self.id}--{file}--{attempt}")):
                    if action == "exit":
                        os._exit(17)  # the worker is lost mid-stage: no cleanup, no exception, no flush
                    raise InjectedFailure(f"{self.id}: injected failure, attempt {attempt} at {file}")
        return emit(batch, [None] * batch.num_rows)


def _claim(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False
