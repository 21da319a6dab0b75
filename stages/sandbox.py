"""A killable sandbox for HTML parsing: one child process per worker, restarted after a timeout or a crash.

trafilatura and lxml can hang or exhaust memory on one pathological page; here that page costs a reject
(`timeout`, `memory`, `crashed`), never the worker. The whole round trip — sending the page, parsing, reading the
text back — runs against one deadline on non-blocking pipes, so neither a stuck child nor a full pipe can block the
parent; poll() rather than select(), which fails on descriptors above 1024 (a busy executor has many open).
"""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import time

from curate.stages.sandbox_worker import EMPTY, OK, REQUEST, RESPONSE

_CHUNK = 1 << 16


class _Crashed(Exception):
    """The child closed its pipes (died) mid round trip."""


class Sandbox:
    def __init__(self, backend: str, timeout: float, memory_bytes: int):
        self.options = {"backend": backend, "memory_bytes": memory_bytes, "parent": os.getpid()}
        self.timeout = timeout
        self.process: subprocess.Popen | None = None
        self.cpu_seconds = 0.0
        atexit.register(self.close)

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "curate.stages.sandbox_worker", json.dumps(self.options)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
            )
            os.set_blocking(self.process.stdin.fileno(), False)
            os.set_blocking(self.process.stdout.fileno(), False)
        return self.process

    def close(self) -> None:
        """Kill the child, if any, and release its pipes."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            try:
                stream.close()
            except OSError:
                pass  # a broken pipe with unsent bytes: the child is gone anyway

    def _crash_rule(self) -> str:
        process = self.process
        code = process.wait(timeout=5) if process is not None else None
        self.close()
        if code is not None and code < 0:
            try:
                return f"crashed:{signal.Signals(-code).name}"
            except ValueError:
                return f"crashed:signal{-code}"
        return "crashed"

    def _round_trip(self, process: subprocess.Popen, request: bytes, deadline: float) -> bytes | None:
        """Send `request` and read one whole response before `deadline`; None on timeout."""
        out_fd, in_fd = process.stdin.fileno(), process.stdout.fileno()
        poller = select.poll()
        poller.register(in_fd, select.POLLIN)
        poller.register(out_fd, select.POLLOUT)
        pending = memoryview(request)
        received = bytearray()
        need, sized = RESPONSE.size, False
        while True:
            if not sized and len(received) >= need:
                need, sized = need + RESPONSE.unpack_from(received)[2], True
            if sized and len(received) >= need:
                return bytes(received)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            for fd, events in poller.poll(remaining * 1000):
                if fd == out_fd:
                    if events & (select.POLLERR | select.POLLHUP):
                        raise _Crashed
                    try:
                        pending = pending[os.write(out_fd, pending[:_CHUNK]):]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        raise _Crashed from None
                    if not pending:
                        poller.unregister(out_fd)
                elif fd == in_fd:
                    try:
                        chunk = os.read(in_fd, max(need - len(received), _CHUNK))
                    except BlockingIOError:
                        continue
                    if not chunk:
                        raise _Crashed
                    received += chunk

    def extract(self, html: bytes, content_type: str | None = None,
                timeout: float | None = None) -> tuple[str | None, str | None]:
        """The text of a page as it came (bytes, decoded in the child by `decode_html` with `content_type`).

        (text, None) on success, (None, rule) otherwise: `no_text`, `timeout`, `memory`, `crashed[:<signal>]` or
        `error:<Exception>`. `timeout` bounds the whole round trip.
        """
        if timeout is None and (self.process is None or self.process.poll() is not None):
            self.warm()  # a fresh child's imports (seconds on a busy machine) must not eat this page's limit
        deadline = time.monotonic() + (timeout or self.timeout)
        process = self._start()
        declared = (content_type or "").encode("latin-1", errors="replace")
        request = b"".join((REQUEST.pack(len(declared), len(html)), declared, html))
        try:
            response = self._round_trip(process, request, deadline)
        except _Crashed:
            return None, self._crash_rule()
        if response is None:
            self.close()
            return None, "timeout"
        status, cpu, _ = RESPONSE.unpack_from(response)
        body = response[RESPONSE.size:]
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
        self.extract(b"<html><body><p>warm up</p></body></html>", timeout=120.0)
