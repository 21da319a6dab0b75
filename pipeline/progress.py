"""Progress of long work: a live bar fed by Spark's status tracker on a terminal, quiet in non-interactive logs."""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class RunProgress:
    def __init__(self, console: Console):
        self.console = console

    @contextmanager
    def track_spark(self, sc, group: str, label: str, total: int, documents=None, every: float = 0.5):
        """Show the running job group's Spark stage, tasks done / total, documents per second and ETA until the block
        ends. `documents()` counts the documents of committed files (committed output, not accumulators)."""
        if not self.console.is_terminal:
            yield
            return
        bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("files"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, transient=True,
        )
        task = bar.add_task(label, total=total, rate="")
        stop = threading.Event()
        started = time.time()

        def poll() -> None:
            tracker, docs, last_count = sc.statusTracker(), 0, 0.0
            while not stop.wait(every):
                done, stage = 0, None
                for job_id in tracker.getJobIdsForGroup(group):
                    job = tracker.getJobInfo(job_id)
                    for stage_id in job.stageIds if job else []:
                        info = tracker.getStageInfo(stage_id)
                        if info:
                            done += info.numCompletedTasks
                            stage = stage if info.numActiveTasks == 0 else f"stage {stage_id}"
                elapsed = max(time.time() - started, 1e-9)
                if documents is not None and time.time() - last_count > 4 * every:
                    docs, last_count = documents(), time.time()
                rate = f"{docs / elapsed:,.0f} docs/s" if documents is not None else f"{done / elapsed:.2f} files/s"
                bar.update(task, completed=min(done, total), rate=f"{stage or ''} {rate}".strip())

        with bar:
            thread = threading.Thread(target=poll, daemon=True)
            thread.start()
            try:
                yield
            finally:
                stop.set()
                thread.join()
