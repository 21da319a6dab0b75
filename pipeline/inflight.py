"""In-flight figures of a running pass task: what it has read and run so far, before its file commits.

A task writes its figures to a small JSON file under the output's `work/` folder every few seconds, from a thread,
while it runs; the driver's progress line reads the files of the tasks that have not committed yet. A file, not an
engine metric: Spark's accumulators reach the driver only when a task ends, Beam's metrics differ by runner, and a
socket to the driver is not reachable from every cluster's workers, while every worker already writes to the output.
A task writes only when the driver shows progress (`every` is set); a write is a ~200-byte file replaced whole.

These figures are not committed: a task that fails or is killed loses them, and a resume redoes its file. The progress
line labels them as in flight, beside the committed figures, never added to them.
"""
from __future__ import annotations

import json
import posixpath
import threading
from collections.abc import Callable
from dataclasses import dataclass

from curate.pipeline.output import WORK, Output


def folder(index: int) -> str:
    """Where the in-flight files of pass `index` live."""
    return f"{WORK}/progress/pass-{index}"


@dataclass
class Figures:
    """One task's figures (or several tasks' summed): records read of `records_total` (known after pass 0: the rows
    the pass before kept), stored bytes read of `size` (pass 0), and rows that have left the pass's stages."""

    records: int = 0
    records_total: int | None = None
    bytes_read: int = 0
    size: int | None = None
    done: int = 0
    files: int = 1

    def __add__(self, other: Figures) -> Figures:
        def total(a, b):
            return None if a is None or b is None else a + b

        return Figures(self.records + other.records, total(self.records_total, other.records_total),
                       self.bytes_read + other.bytes_read, total(self.size, other.size), self.done + other.done,
                       self.files + other.files)


class Reporter:
    """Within: `figures()` written to the task's in-flight file every `every` seconds (never when `every` is None),
    by a thread; the last write is done before the block ends, so nothing is written after the task commits."""

    def __init__(self, output: Output, index: int, key: str, every: float | None, figures: Callable[[], Figures]):
        self.output, self.path, self.every, self.figures = output, f"{folder(index)}/{key}.json", every, figures
        self.stop, self.thread = threading.Event(), None

    def __enter__(self) -> Reporter:
        if self.every is not None:
            self.thread = threading.Thread(target=self._run, name="curate-inflight", daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.output.write_json(self.path, self.figures().__dict__, durable=False)
            except OSError:  # a display figure: a write that fails is skipped, never the task's failure
                pass


def read(output: Output, index: int) -> dict[str, Figures]:
    """The figures of each task of pass `index` that has written some, by file key. A caller that also reads the
    commit records reads them after these, and leaves out the keys committed by then: counted once, as committed."""
    directory = output.path(folder(index))
    try:
        paths = [p for p in output.fs.ls(directory, detail=False) if p.endswith(".json")]
    except FileNotFoundError:
        return {}
    figures = {}
    for path in paths:
        try:
            with output.fs.open(path, "rb") as f:
                figures[posixpath.basename(path).removesuffix(".json")] = Figures(**json.load(f))
        except (OSError, ValueError, TypeError):  # replaced or removed as it was read: the next look sees it
            continue
    return figures


def clear(output: Output, index: int) -> None:
    """Remove what earlier attempts of the run left for pass `index`, before the pass starts: not this pass's work."""
    if output.exists(folder(index)):
        output.fs.rm(output.path(folder(index)), recursive=True)
