"""The extraction sandbox's child process: HTML in, text out, over length-prefixed frames on stdin/stdout.

Started by `stages.sandbox.Sandbox`; its address space is capped after imports so a pathological page raises
MemoryError here instead of taking the worker down, and the parent kills it when a page takes too long.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import struct
import sys
import time

OK, EMPTY, ERROR = 0, 1, 2
REQUEST = struct.Struct("<I")  # payload length, then the page as UTF-8
RESPONSE = struct.Struct("<BdI")  # status, CPU seconds, body length, then the text (OK) or the exception name (ERROR)


def _extractor(backend: str):
    if backend == "trafilatura":
        import trafilatura

        def run(html: str) -> str | None:
            # FineWeb's settings: favour precision, no comments, deduplicated text.
            return trafilatura.extract(html, favor_precision=True, include_comments=False, deduplicate=True)

        return run
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def run(html: str) -> str | None:
        return extract_plain_text(HTMLTree.parse(html), main_content=True, alt_texts=False, links=False,
                                  list_bullets=True, form_fields=False, noscript=False)

    return run


def _cap_memory(extra_bytes: int) -> None:
    try:
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + extra_bytes, used + extra_bytes))
    except (OSError, ValueError):
        pass  # not Linux: the time limit still holds


def _die_with_parent(parent: int) -> None:
    """Linux: be killed when the worker dies, so a child stuck in a parse never outlives it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before prctl
        os._exit(1)


def _read_exact(stream, n: int) -> bytes | None:
    data = stream.read(n)
    return data if data and len(data) == n else None


def main() -> None:
    options = json.loads(sys.argv[1])
    _die_with_parent(options.get("parent", os.getppid()))
    extract = _extractor(options["backend"])
    _cap_memory(options["memory_bytes"])
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = _read_exact(stdin, REQUEST.size)
        if header is None:
            return
        payload = _read_exact(stdin, REQUEST.unpack(header)[0]) or b""
        started = time.process_time()
        try:
            text = extract(payload.decode("utf-8"))
            status, body = (OK, text.encode("utf-8")) if text and text.strip() else (EMPTY, b"")
        except Exception as error:  # MemoryError included: report it, the parent decides
            status, body = ERROR, type(error).__name__.encode()
        cpu = time.process_time() - started
        stdout.write(RESPONSE.pack(status, cpu, len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    main()
