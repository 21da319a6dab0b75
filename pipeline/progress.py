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
    def track_spark(self, sc, group: str, label: str, total: int, every: float = 0.5):
        """Show tasks done / total of the running job group, with rate and ETA, until the block ends."""
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
            tracker = sc.statusTracker()
            while not stop.wait(every):
                done = 0
                for job_id in tracker.getJobIdsForGroup(group):
                    job = tracker.getJobInfo(job_id)
                    for stage_id in job.stageIds if job else []:
                        info = tracker.getStageInfo(stage_id)
                        if info:
                            done += info.numCompletedTasks
                rate = done / max(time.time() - started, 1e-9)
                bar.update(task, completed=min(done, total), rate=f"{rate:.2f} files/s")

        with bar:
            thread = threading.Thread(target=poll, daemon=True)
            thread.start()
            try:
                yield
            finally:
                stop.set()
                thread.join()
