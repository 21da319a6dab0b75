"""Peak memory and CPU time of a process tree, sampled from /proc (Linux): the whole tree, and per worker.

A *worker* is a process that does per-document work together with its own children (an extraction sandbox): by
default every process of the tree that is not the root, not a JVM, and whose parent is not itself a worker; a caller
can name them instead (`is_worker(command, parent_command)`: PySpark's workers are forks of its daemon, same command). The sampler keeps, per
worker, the largest resident set of the worker plus all its descendants seen at one instant; and the largest sum over
the whole tree (JVM included). CPU time is each process's user + system time as last seen, summed over every process
the tree had (a process's last half second may be missed): on a shared machine it measures work where wall time
measures contention.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, str, int, float]]:
    """pid → (parent pid, command, resident bytes, CPU seconds), for every process readable now."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            rss_pages = int((entry / "statm").read_text().split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        after_name = stat[stat.rindex(")") + 2:].split()
        cpu = (int(after_name[11]) + int(after_name[12])) / TICK
        found[int(entry.name)] = (int(after_name[1]), command, rss_pages * PAGE, cpu)
    return found


class TreeMemory:
    """`with TreeMemory(pid) as memory:` … then `memory.peak_total`, `.peak_worker`, `.peak_jvm`, `.cpu_seconds`."""

    def __init__(self, root: int, interval: float = 0.5, is_worker=None):
        self.root, self.interval = root, interval
        self.is_worker = is_worker or (lambda command, parent: "java" not in command.split(" ", 1)[0])
        self.peak_total = self.peak_worker = self.peak_jvm = 0
        self.total_now = self.largest_now = 0  # at the last sample: the tree's resident bytes, its largest process's
        self.workers_seen: set[int] = set()
        self.cpu: dict[int, float] = {}
        self.commands: dict[int, str] = {}
        self.jvm_pids: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _, _) in processes.items():
            children.setdefault(parent, []).append(pid)

        def subtree(pid: int) -> int:
            return processes[pid][2] + sum(subtree(child) for child in children.get(pid, []))

        total = largest = 0
        stack = [(self.root, False)]
        while stack:
            pid, inside_worker = stack.pop()
            if pid not in processes:
                continue
            _, command, rss, cpu = processes[pid]
            total += rss
            largest = max(largest, rss)
            self.cpu[pid] = cpu
            self.commands[pid] = command
            if "java" in command.split(" ", 1)[0]:
                self.jvm_pids.add(pid)
                self.peak_jvm = max(self.peak_jvm, subtree(pid))
            parent_command = processes.get(processes[pid][0], (0, "", 0))[1]
            worker = pid != self.root and not inside_worker and self.is_worker(command, parent_command)
            if worker:
                self.workers_seen.add(pid)
                self.peak_worker = max(self.peak_worker, subtree(pid))
            stack.extend((child, inside_worker or worker) for child in children.get(pid, []))
        self.peak_total = max(self.peak_total, total)
        self.total_now, self.largest_now = total, largest

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())

    @property
    def jvm_cpu_seconds(self) -> float:
        return sum(self.cpu.get(pid, 0.0) for pid in self.jvm_pids)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            time.sleep(self.interval)
        self.sample()


def datatrove_worker(command: str, parent: str) -> bool:
    """datatrove's pool workers are forks of multiprocess's fork server (same command line)."""
    return "forkserver" in command and "forkserver" in parent


def beam_worker(command: str, parent: str) -> bool:
    """Beam's local runner starts each worker as `python -m apache_beam.runners.worker.sdk_worker_main` under a shell."""
    return "sdk_worker_main" in command and not command.startswith("/bin/sh")
