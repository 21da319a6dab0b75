"""The extraction sandbox's child process: page bytes in, text out, over length-prefixed frames on stdin/stdout.

Started by `stages.sandbox.Sandbox`; its address space is capped after imports so a pathological page raises
MemoryError here instead of taking the worker down, and the parent kills it when a page takes too long. The page is
decoded here (`decode_html`), under the same limits, so it crosses the pipe once as the bytes it came as: sending
decoded text instead cost an encode and a decode of every page: ~1.9 ms for the average 145 KB page of
bench/extraction.py, where resiliparse's whole raw path takes ~3.4 ms of CPU.
"""
from __future__ import annotations

import codecs
import json
import os
import re
import resource
import signal
import struct
import sys
import time

from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

OK, EMPTY, ERROR = 0, 1, 2
REQUEST = struct.Struct("<II")  # content-type length, page length; then the content type (latin-1), the page bytes
RESPONSE = struct.Struct("<BdI")  # status, CPU seconds, body length, then the text (OK) or the exception name (ERROR)

_HEADER_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_SNIFF_BYTES = 4096


def _codec(label: bytes | None) -> str | None:
    """The Python codec for a charset label, mapped as browsers do (WHATWG: latin-1 means windows-1252, …)."""
    if not label:
        return None
    codec = map_encoding_to_html5(label.decode("ascii", "replace"), fallback_utf8=False)
    return "utf-8" if codec and codec.startswith("utf-16") else codec  # WHATWG: utf-16 without a BOM means utf-8


def decode_html(html: bytes, content_type: str | None) -> str:
    """The page as text: BOM, else valid UTF-8, else the HTTP then the meta charset if it decodes, else detection.

    Valid UTF-8 with non-ASCII bytes wins over a declared single-byte charset: it is almost never an accident, while
    UTF-8 pages labelled latin-1 are common. Labels are mapped as browsers map them (latin-1 → windows-1252,
    gb2312 → gbk). Detection (uchardet) drops the bytes its guess cannot decode.
    """
    for bom, codec in BOMS:
        if html.startswith(bom):
            return html[len(bom):].decode(codec, errors="replace")
    header = _HEADER_CHARSET.search((content_type or "").encode("latin-1", "replace"))
    meta = _META_CHARSET.search(html[:_SNIFF_BYTES])
    declared = [c for c in (_codec(header and header.group(1)), _codec(meta and meta.group(1))) if c]
    if html.isascii():
        for codec in declared:
            if codec.startswith("iso2022"):  # 7-bit encodings: ASCII bytes that are not ASCII text
                try:
                    return html.decode(codec)
                except UnicodeDecodeError:
                    pass
        return html.decode("ascii")
    try:
        return html.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for codec in declared:
        if codec != "utf-8":
            try:
                return html.decode(codec)
            except (UnicodeDecodeError, LookupError):
                pass
    return bytes_to_str(html, detect_encoding(html))


def _extractor(backend: str):
    if backend == "trafilatura":
        import trafilatura
        from trafilatura.deduplication import LRUCache
        from trafilatura.settings import LRU_SIZE

        def run(html: str) -> str | None:
            # FineWeb's settings: favour precision, no comments, deduplicated text. trafilatura's duplicate cache is
            # process-wide by default, so a page's text would depend on the pages the process saw before it (a
            # retried or resumed task, or another split of the files, would change it): each page gets its own.
            return trafilatura.extract(html, favor_precision=True, include_comments=False,
                                       deduplicate=LRUCache(maxsize=LRU_SIZE))

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
        type_size, page_size = REQUEST.unpack(header)
        content_type = (_read_exact(stdin, type_size) or b"").decode("latin-1") if type_size else None
        page = _read_exact(stdin, page_size) or b""
        started = time.process_time()
        try:
            text = extract(decode_html(page, content_type))
            status, body = (OK, text.encode("utf-8")) if text and text.strip() else (EMPTY, b"")
        except Exception as error:  # MemoryError included: report it, the parent decides
            status, body = ERROR, type(error).__name__.encode()
        cpu = time.process_time() - started
        stdout.write(RESPONSE.pack(status, cpu, len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    main()
