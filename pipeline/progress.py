"""Progress of long work on either engine: a live line on a terminal, a plain line at a steady interval in a log.

A pass counts what its tasks have committed (each task's record in the output, see `output.py`), so Spark and Beam
report the same figures from the same place, and those figures are never ahead of what a resume would keep: tasks done
of the pass's total, documents of those tasks, documents per second and the time left at the tasks' rate. A task is
named for what it reads: `files`, `ranges` when every task is a range of a file cut by `input.split_size`, `tasks`
when some are ranges and some whole files. Beside them, labelled as in flight and never added to them, what the
running tasks have read so far (`inflight.py`): `reading 2 files (in flight): 1,234 records, 12.3 MB of 40.0 MB, 600
through the stages`. A global stage reports the time it has run. On a terminal the line is live and disappears when
the work ends; in a log (CI, spark-submit, nohup: the console is not a terminal) a plain line is printed every
`every` seconds and once at the end.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from curate.pipeline import inflight
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import Output, pass_dir
from curate.pipeline.passes import Pass

LOG_EVERY = 30.0  # seconds between two lines in a log: a long run stays readable, a stalled one shows within a minute
LIVE_EVERY = 1.0  # seconds between two looks at the output on a terminal (one directory listing each)
# Seconds between two writes of a running task's in-flight figures when the progress goes to a log: fresh enough for
# a line every LOG_EVERY, and few writes to an object store.
TASK_EVERY = 10.0


@dataclass
class Counted:
    """A pass's figures at one look: tasks committed and their documents, and what the running tasks have read."""

    tasks: int
    documents: int
    reading: inflight.Figures | None = None


class Commits:
    """Tasks committed to one pass since it began, and their documents; reads each new commit record once. Also
    reads the running tasks' in-flight figures (and clears what earlier attempts left of them at the start)."""

    def __init__(self, output: Output, index: int):
        self.output, self.index, self.directory = output, index, output.path(pass_dir(index))
        self.seen = set(self._listing())  # tasks committed by an earlier attempt of the run are not this pass's work
        self.tasks = self.documents = 0
        self.keys: set[str] = set()
        inflight.clear(output, index)

    def _listing(self) -> list[str]:
        if not self.output.fs.exists(self.directory):
            return []
        return [p for p in self.output.fs.ls(self.directory, detail=False) if p.endswith(".json")]

    def _committed(self) -> set[str]:
        for path in self._listing():
            if path in self.seen:
                continue
            self.seen.add(path)
            with self.output.fs.open(path, "rb") as f:
                record = json.load(f)
            self.tasks += 1
            self.keys.add(record["key"])
            self.documents += record["reader"]["records_seen"] if record["reader"] else \
                record["kept"] + record["rejected"]
        return self.keys

    def __call__(self) -> Counted:
        """The figures committed so far, and the in-flight ones of the tasks not committed yet."""
        reading = inflight.read(self.output, self.index)
        committed = self._committed()  # after the in-flight figures: a task that commits in between counts once
        running = [figures for key, figures in reading.items() if key not in committed]
        return Counted(self.tasks, self.documents, sum(running[1:], running[0]) if running else None)


def _megabytes(count: int) -> str:
    return f"{count / 1e6:,.1f} MB"


def unit(tasks: list[InputFile]) -> str:
    """What a pass's tasks are called: `files`, `ranges` when each is a range of a file cut by `input.split_size`,
    `tasks` when some are ranges and some whole files."""
    ranges = sum(task.part is not None for task in tasks)
    return "files" if not ranges else "ranges" if ranges == len(tasks) else "tasks"


def reading_text(reading: inflight.Figures | None, unit: str = "files") -> str:
    """`reading 2 files (in flight): 1,234 records, 12.3 MB of 40.0 MB, 600 through the stages` (after pass 0:
    `600 of 1,234 records`; `ranges` or `tasks` for `unit`); empty when no task has reported."""
    if reading is None:
        return ""
    records = f"{reading.records:,} of {reading.records_total:,} records" if reading.records_total is not None \
        else f"{reading.records:,} records"
    parts = [records]
    if reading.size is not None:
        parts.append(f"{_megabytes(reading.bytes_read)} of {_megabytes(reading.size)}")
    parts.append(f"{reading.done:,} through the stages")
    return f"reading {reading.files} {unit if reading.files != 1 else unit[:-1]} (in flight): {', '.join(parts)}"


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _eta(elapsed: float, done: int, total: int) -> str:
    """The time left if the tasks left take as long as the tasks done took (tasks of a pass are alike in size)."""
    return f"ETA {_clock(elapsed / done * (total - done))}" if done else "ETA -"


class RunProgress:
    """Where a run shows its progress: `console` (a terminal gets a live line, anything else plain lines), or
    nowhere (`None`: a run through the API, a test)."""

    def __init__(self, console: Console | None, every: float = LOG_EVERY):
        self.console, self.every = console, every

    @property
    def task_every(self) -> float | None:
        """Seconds between two writes of a running task's in-flight figures (`run_pass`); None when nothing is shown,
        and then no task writes them."""
        if self.console is None:
            return None
        return LIVE_EVERY if self.console.is_terminal else min(self.every, TASK_EVERY)

    def pass_of(self, step: Pass, output: Output, tasks: list[InputFile]):
        """A context showing `step` over its `tasks` (files or ranges), counted from their commits."""
        work = "read + map stages" if step.applies is None else f"apply {step.applies.id} + map stages"
        return self._track(f"pass {step.index} ({work})", len(tasks), lambda: Commits(output, step.index), unit(tasks))

    def global_stage(self, stage_id: str):
        """A context showing how long the plan of a global stage has run."""
        return self._track(f"global stage {stage_id}", None, None)

    @contextmanager
    def _track(self, label: str, total: int | None, counter: Callable[[], Commits] | None,
               unit: str = "files") -> Iterator[None]:
        if self.console is None:
            yield
            return
        count = counter() if counter else None
        with _own_stream(self.console) as console:
            shown = (_LiveLine if console.is_terminal else _LogLines)(console, label, total, unit)
            with _shown_while(shown, count, LIVE_EVERY if console.is_terminal else self.every):
                yield


@contextmanager
def _shown_while(shown: _LogLines | _LiveLine, count: Commits | None, every: float) -> Iterator[None]:
    """`shown` updated every `every` seconds from a thread until the block ends, and finished if it succeeds."""
    started, stop = time.monotonic(), threading.Event()

    def poll() -> None:
        while not stop.wait(every):
            shown.update(count() if count else None, time.monotonic() - started)

    with shown:
        thread = threading.Thread(target=poll, name="curate-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        shown.finish(count() if count else None, time.monotonic() - started)


@contextmanager
def _own_stream(console: Console) -> Iterator[Console]:
    """`console` writing to its own copy of its file descriptor: an engine may point descriptor 2 at a log file for
    its workers while it runs (Beam's local runner does), and the progress must still reach the user."""
    try:
        descriptor = console.file.fileno()
    except (AttributeError, OSError, ValueError):  # a StringIO, pytest's capture: nothing can move it
        yield console
        return
    with open(os.dup(descriptor), "w", buffering=1, encoding="utf-8", errors="replace") as stream:
        yield Console(file=stream, force_terminal=console.is_terminal, width=console.width)


class _LogLines:
    """Plain lines for a log: `pass 0 (read + map stages): 3/8 files, 1,204 documents, 96 docs/s, 0:00:12, ETA
    0:00:20; reading 2 files (in flight): …` (`reading_text`; `ranges` or `tasks` for `unit`), and the same with
    `done in` (and nothing in flight) when the work has ended."""

    def __init__(self, console: Console, label: str, total: int | None, unit: str):
        self.console, self.label, self.total, self.unit = console, label, total, unit

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass

    def update(self, counted: Counted | None, elapsed: float, done: bool = False) -> None:
        parts = []
        if counted is not None:
            parts += [f"{counted.tasks}/{self.total} {self.unit}", f"{counted.documents:,} documents",
                      f"{counted.documents / max(elapsed, 1e-9):,.0f} docs/s"]
        parts.append(f"done in {_clock(elapsed)}" if done else _clock(elapsed))
        if counted is not None and not done:
            parts.append(_eta(elapsed, counted.tasks, self.total))
        line = f"{self.label}: {', '.join(parts)}"
        if counted is not None and not done and counted.reading is not None:
            line += f"; {reading_text(counted.reading, self.unit)}"
        self.console.print(line, markup=False, highlight=False, soft_wrap=True)

    def finish(self, counted: Counted | None, elapsed: float) -> None:
        self.update(counted, elapsed, done=True)


class _LiveLine:
    """A live line on a terminal (bar, tasks, documents and rate, elapsed, ETA), cleared when the work ends."""

    def __init__(self, console: Console, label: str, total: int | None, unit: str):
        columns = [TextColumn("[bold]{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn(f"{unit}, {{task.fields[documents]}}")]
        columns.append(TimeElapsedColumn())
        if total is not None:
            columns += [TextColumn("{task.fields[eta]}"), TextColumn("{task.fields[reading]}")]
        self.bar = Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self.task = self.bar.add_task(label, total=total, documents="", eta="ETA -", reading="")
        self.total = total

    def __enter__(self) -> None:
        self.bar.start()

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, counted: Counted | None, elapsed: float) -> None:
        if counted is not None:
            documents = counted.documents
            self.bar.update(self.task, completed=counted.tasks, eta=_eta(elapsed, counted.tasks, self.total),
                            documents=f"{documents:,} documents, {documents / max(elapsed, 1e-9):,.0f} docs/s",
                            reading=reading_text(counted.reading, self.unit))

    def finish(self, counted: Counted | None, elapsed: float) -> None:
        pass
