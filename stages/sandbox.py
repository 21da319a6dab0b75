"""A killable sandbox for HTML parsing: one child process per worker, restarted after a timeout or a crash.

trafilatura and lxml can hang or exhaust memory on one pathological page; here that page costs a reject
(`timeout`, `crashed`), never the worker.
"""
from __future__ import annotations

import atexit
import json
import select
import struct
import subprocess
import sys

from curate.stages.sandbox_worker import EMPTY, ERROR, OK

_RESPONSE = struct.Struct("<BdI")


class Sandbox:
    def __init__(self, backend: str, timeout: float, memory_bytes: int):
        self.options = {"backend": backend, "memory_bytes": memory_bytes}
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.cpu_seconds = 0.0
        atexit.register(self.close)

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "curate.stages.sandbox_worker", json.dumps(self.options)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        return self.process

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def extract(self, html: str, timeout: float | None = None) -> tuple[str | None, str | None]:
        """(text, None) on success, (None, rule) otherwise: `no_text`, `timeout`, `crashed` or `error:<Exception>`."""
        process = self._start()
        payload = html.encode("utf-8", errors="replace")
        try:
            process.stdin.write(struct.pack("<I", len(payload)) + payload)
            process.stdin.flush()
        except BrokenPipeError:
            self.close()
            return None, "crashed"
        ready, _, _ = select.select([process.stdout], [], [], timeout or self.timeout)
        if not ready:
            self.close()
            return None, "timeout"
        header = process.stdout.read(_RESPONSE.size)
        if len(header) < _RESPONSE.size:
            self.close()
            return None, "crashed"
        status, cpu, size = _RESPONSE.unpack(header)
        body = process.stdout.read(size)
        self.cpu_seconds += cpu
        if status == OK:
            return body.decode("utf-8"), None
        if status == EMPTY:
            return None, "no_text"
        name = body.decode()
        if name == "MemoryError":
            self.close()  # a child that ran out of memory is not trusted with the next page
            return None, "memory"
        return None, f"error:{name}"

    def warm(self) -> None:
        """Start the child and wait for its imports, so the first page's time limit measures the page alone."""
        self.extract("<html><body><p>warm up</p></body></html>", timeout=120.0)
