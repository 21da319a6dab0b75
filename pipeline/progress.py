"""Progress of long work on either engine: a live line on a terminal, a plain line at a steady interval in a log.

A pass counts what its tasks have committed (each input file's record in the output, see `output.py`), so Spark and
Beam report the same figures from the same place, and a figure is never ahead of what a resume would keep: files done
of the pass's total, documents of those files, documents per second and the time left at the files' rate. A global
stage reports the time it has run. On a terminal the line is live and disappears when the work ends; in a log (CI,
spark-submit, nohup: the console is not a terminal) a plain line is printed every `every` seconds and once at the end.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from curate.pipeline.output import Output, pass_dir
from curate.pipeline.passes import Pass

LOG_EVERY = 30.0  # seconds between two lines in a log: a long run stays readable, a stalled one shows within a minute
LIVE_EVERY = 1.0  # seconds between two looks at the output on a terminal (one directory listing each)


class Commits:
    """Files committed to one pass since it began, and their documents; reads each new commit record once."""

    def __init__(self, output: Output, index: int):
        self.output, self.directory = output, output.path(pass_dir(index))
        self.seen = set(self._listing())  # files committed by an earlier attempt of the run are not this pass's work
        self.files = self.documents = 0

    def _listing(self) -> list[str]:
        if not self.output.fs.exists(self.directory):
            return []
        return [p for p in self.output.fs.ls(self.directory, detail=False) if p.endswith(".json")]

    def __call__(self) -> tuple[int, int]:
        """(files, documents) committed so far."""
        for path in self._listing():
            if path in self.seen:
                continue
            self.seen.add(path)
            with self.output.fs.open(path, "rb") as f:
                record = json.load(f)
            self.files += 1
            self.documents += record["reader"]["records_seen"] if record["reader"] else \
                record["kept"] + record["rejected"]
        return self.files, self.documents


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _eta(elapsed: float, files: int, total: int) -> str:
    """The time left if the files left take as long as the files done took (files of a pass are alike in size)."""
    return f"ETA {_clock(elapsed / files * (total - files))}" if files else "ETA -"


class RunProgress:
    """Where a run shows its progress: `console` (a terminal gets a live line, anything else plain lines), or
    nowhere (`None`: a run through the API, a test)."""

    def __init__(self, console: Console | None, every: float = LOG_EVERY):
        self.console, self.every = console, every

    def pass_of(self, step: Pass, output: Output, total: int):
        """A context showing `step` over `total` input files, counted from its commits."""
        work = "read + map stages" if step.applies is None else f"apply {step.applies.id} + map stages"
        return self._track(f"pass {step.index} ({work})", total, lambda: Commits(output, step.index))

    def global_stage(self, stage_id: str):
        """A context showing how long the plan of a global stage has run."""
        return self._track(f"global stage {stage_id}", None, None)

    @contextmanager
    def _track(self, label: str, total: int | None, counter: Callable[[], Commits] | None) -> Iterator[None]:
        if self.console is None:
            yield
            return
        count = counter() if counter else None
        with _own_stream(self.console) as console:
            shown = _LiveLine(console, label, total) if console.is_terminal else _LogLines(console, label, total)
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
    0:00:20`, and the same with `done in` when the work has ended."""

    def __init__(self, console: Console, label: str, total: int | None):
        self.console, self.label, self.total = console, label, total

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc) -> None:
        pass

    def update(self, counted: tuple[int, int] | None, elapsed: float, done: bool = False) -> None:
        parts = []
        if counted is not None:
            files, documents = counted
            parts += [f"{files}/{self.total} files", f"{documents:,} documents",
                      f"{documents / max(elapsed, 1e-9):,.0f} docs/s"]
        parts.append(f"done in {_clock(elapsed)}" if done else _clock(elapsed))
        if counted is not None and not done:
            parts.append(_eta(elapsed, counted[0], self.total))
        self.console.print(f"{self.label}: {', '.join(parts)}", markup=False, highlight=False, soft_wrap=True)

    def finish(self, counted: tuple[int, int] | None, elapsed: float) -> None:
        self.update(counted, elapsed, done=True)


class _LiveLine:
    """A live line on a terminal (bar, files, documents and rate, elapsed, ETA), cleared when the work ends."""

    def __init__(self, console: Console, label: str, total: int | None):
        columns = [TextColumn("[bold]{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn(), TextColumn("files, {task.fields[documents]}")]
        columns.append(TimeElapsedColumn())
        if total is not None:
            columns.append(TextColumn("{task.fields[eta]}"))
        self.bar = Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False)
        self.task = self.bar.add_task(label, total=total, documents="", eta="ETA -")
        self.total = total

    def __enter__(self) -> None:
        self.bar.start()

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, counted: tuple[int, int] | None, elapsed: float) -> None:
        if counted is not None:
            files, documents = counted
            self.bar.update(self.task, completed=files, eta=_eta(elapsed, files, self.total),
                            documents=f"{documents:,} documents, {documents / max(elapsed, 1e-9):,.0f} docs/s")

    def finish(self, counted: tuple[int, int] | None, elapsed: float) -> None:
        pass
