"""WARC reader (fastwarc): every `response` (and WET `conversion`) record is one input document.

Non-HTML responses are rejected here with `read:content_type:<mime>`, non-200 responses with `read:http_status:<code>`.
A record whose block is shorter than its Content-Length, or whose block breaks off unreadable (corrupt gzip), marks a
truncated file: it is rejected with `read:truncated` and the break is the file's error in the reader ledger, so every
record seen is a row. WARC/1.0, 1.1 and 0.18 (malformed dates kept verbatim).
"""
from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterator

import pyarrow as pa
from fastwarc.warc import ArchiveIterator, WarcRecordType

from curate.pipeline.config import InputConfig
from curate.pipeline.filesystems import open_binary
from curate.pipeline.inputs import InputFile
from curate.pipeline.readers.batching import BatchBuilder
from curate.pipeline.readers.ledger import ReaderLedger
from curate.pipeline.schema import CORE, HTML_TYPES

# A record larger than this is rejected unread (read:too_large): a page this big is never worth parsing.
MAX_RECORD_BYTES = 64 << 20


class HttpError(ValueError):
    """An HTTP response block that cannot be parsed or decoded; its message is the reject rule."""


def parse_http(block: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status code, lower-cased headers and the decoded body of a raw HTTP response block."""
    end = block.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end, sep = block.find(b"\n\n"), 2
    if end < 0:
        raise HttpError("http:no_header_end")
    head = block[:end].decode("latin-1").splitlines()
    status = head[0].split() if head else []
    # three ASCII digits: str.isdigit() also accepts '²' and 5,000-digit numbers, which int() refuses
    if len(status) < 2 or not status[0].upper().startswith("HTTP/") or not (
            len(status[1]) == 3 and status[1].isascii() and status[1].isdigit()):
        raise HttpError("http:bad_status_line")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if colon:
            name, value = name.strip().lower(), value.strip()
            if name == "x-robots-tag" and name in headers:  # a server may send several: one a line, all kept
                value = f"{headers[name]}\n{value}"
            headers[name] = value
    body = block[end + sep :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    encoding = headers.get("content-encoding", "").strip().lower()
    # Archives often store the body already decoded while keeping the header (ClueWeb, Common Crawl): trust the bytes.
    if encoding in ("gzip", "x-gzip") and not body.startswith(b"\x1f\x8b"):
        encoding = "identity"
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            body = zlib.decompressobj(zlib.MAX_WBITS | 32 if encoding != "deflate" else zlib.MAX_WBITS).decompress(
                body, MAX_RECORD_BYTES
            )
        except zlib.error:
            raise HttpError(f"http:bad_content_encoding:{encoding}") from None
    elif encoding not in ("", "identity", "none"):
        raise HttpError(f"http:unsupported_content_encoding:{encoding}")
    return int(status[1]), headers, body


def _dechunk(body: bytes) -> bytes:
    out, pos = [], 0
    while pos < len(body):
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            break
        try:
            size = int(body[pos:line_end].split(b";")[0].strip() or b"0", 16)
        except ValueError:
            return body  # not really chunked: servers mislabel; keep the bytes as they are
        if size == 0:
            break
        out.append(body[line_end + 2 : line_end + 2 + size])
        pos = line_end + 2 + size + 2
    return b"".join(out)


def mime_of(content_type: str | None) -> str | None:
    return content_type.split(";")[0].strip().lower() or None if content_type else None


def _looks_like_html(body: bytes) -> bool:
    head = body[:1024].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<!--")) or b"<html" in head


def read_warc(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    batch = BatchBuilder(CORE)
    wanted = WarcRecordType.response | WarcRecordType.conversion
    positions: Counter[int] = Counter()
    with open_binary(file.uri) as stream:
        try:
            last = None
            for record in ArchiveIterator(stream, record_types=wanted, parse_http=False, quirks_mode=True):
                if record.record_id and (record.stream_pos, record.record_id) == last:
                    continue  # fastwarc can yield a record twice on a corrupt stream: same place, same record id
                last = (record.stream_pos, record.record_id)
                ledger.records_seen += 1
                row = _header_row(record, file, cfg.dataset, positions)
                try:
                    _read_block(record, row)
                except (OSError, ValueError):  # the stream broke inside this block: the record is a row, the file ends
                    row["reject_reason"] = "read:truncated"
                    batch.add(row, 0)
                    raise
                if row.get("reject_reason") == "read:truncated":
                    ledger.error = f"truncated: record at offset {row['offset']} ends before its Content-Length"
                if row.get("reject_reason") is None:
                    ledger.records_yielded += 1
                batch.add(row, len(row.get("html") or b"") + len(row.get("text") or ""))
                if batch.full:
                    yield from batch.flush()
        except (OSError, ValueError) as error:
            ledger.error = f"unreadable after {ledger.records_seen} records: {type(error).__name__}: {error}"
    yield from batch.flush()


def _header_row(record, file: InputFile, dataset: str, positions: Counter[int]) -> dict:
    """The row of a record from its WARC headers alone.

    Without a WARC-Record-ID the id is the record's offset, which is the offset of its gzip member: in a file gzipped
    whole, every record starts in member 0, so a repeated offset gets `.<n>` (its rank among records there).
    """
    headers = record.headers
    record_id = (record.record_id or "").strip("<> ")
    repeat = positions[record.stream_pos]
    positions[record.stream_pos] += 1
    fallback = f"{dataset}/{file.rel}:{record.stream_pos}" + (f".{repeat}" if repeat else "")
    return {
        "id": f"{dataset}/{record_id}" if record_id else fallback,
        "source": dataset,
        "file": file.rel,
        "offset": record.stream_pos,
        "url": headers.get("WARC-Target-URI") or None,
        "date": headers.get("WARC-Date") or None,
    }


def _read_block(record, row: dict) -> None:
    """Read the record's block into `row`: the page, the WET text, or a reject reason."""
    if record.content_length > MAX_RECORD_BYTES:
        row["reject_reason"] = f"read:too_large:{record.content_length}"
        return
    block = record.reader.read()
    if len(block) < record.content_length:
        row["reject_reason"] = "read:truncated"
        return
    if record.record_type == WarcRecordType.conversion:  # WET: the block is the extracted text
        row["content_type"] = "text/plain"
        row["text"] = block.decode("utf-8", errors="replace")
        return
    try:
        status, http, body = parse_http(block)
    except HttpError as error:
        row["reject_reason"] = f"read:{error}"
        return
    declared = http.get("content-type")
    mime = mime_of(declared) or ("text/html" if _looks_like_html(body) else "unknown")
    row["content_type"] = declared or mime
    row["x_robots_tag"] = http.get("x-robots-tag")
    if status != 200:
        row["reject_reason"] = f"read:http_status:{status}"
    elif mime not in HTML_TYPES:
        row["reject_reason"] = f"read:content_type:{mime}"
    else:
        row["html"] = body
