"""WARC reader: every `response` (and WET `conversion`) record is one input document; the framing is verified.

Records are framed here, not by a WARC library, because a record's Content-Length is checked, never trusted: a
length that does not land on the next record's `WARC/` line (or the end of the file) would otherwise swallow the
records after it without a trace. The rules, each counted in the reader ledger (pipeline/ledger.py):
- After a record's block and its CR/LF trailer the next record header or the end of the file must follow (or, after
  an exact CRLFCRLF trailer, bytes that are skipped as garbage), and no record header may start inside the block.
  A length off by a few of the trailer's CR/LF bytes is taken as it is: the block then ends with them, nothing is
  lost. On a mismatch the record is rejected (`read:framing:content_length`),
  the reader resynchronises at the next record header, and the bytes in between are skipped with a file error
  naming their offset and size. A missing or unreadable Content-Length: `read:framing:no_content_length` or
  `read:framing:bad_content_length`, and the same resynchronisation.
- An end of file (or of a gzip/zstd member) inside a record is a file error wherever it falls; a document record cut
  short is a `read:truncated` row, any other cut record's bytes are skipped. A declared length past the end of the file
  is a truncation whatever its size.
- Bytes that are no record (garbage, a header over MAX_HEADER_BYTES) are skipped up to the next record header, with
  a file error. Corrupt compressed data ends the file: the rest of the file is skipped with a file error.
- A block over MAX_RECORD_BYTES is rejected unread (`read:too_large:<bytes>`), scanned in passing for a record header.
Non-HTML responses are rejected with `read:content_type:<mime>`, non-200 responses with `read:http_status:<code>`.
WARC/1.0, 1.1 and 0.18 (malformed dates kept verbatim); plain, gzip (one member per record or the file whole; inflated by ISA-L, twice as fast as zlib here) and zstd.
Speed (bench/reader_throughput.py): a gzip member (a page) whole in the input read is inflated in one call, and the
block is a view of the decoded bytes, never copied; every other member is inflated in small pieces from its start, so
what the rules above see is the same either way.

`offset` is where the record's gzip/zstd member starts in the stored file (its plain offset in an uncompressed file),
as CDX indexes give it; records in one member (a file compressed whole) share it and get a `.<n>` rank in their id.
`WARC-Target-URI` loses the angle brackets WARC/1.0 writers put around it (WARC 1.1, section 5.7 and annex:
readers should accept `<uri>`); a URI without scheme and host after that is counted in `urls_unparsed`.
"""
from __future__ import annotations

import re
import zlib
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow as pa
import zstandard
from isal import isal_zlib

from curate.pipeline.config import InputConfig
from curate.pipeline.filesystems import open_binary
from curate.pipeline.inputs import InputFile, Range, Unsplittable, ranges
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.registry import reads, splits
from curate.readers.batching import BatchBuilder
from curate.readers.frames import ONE_MEMBER, zstd_frames
from curate.readers.stream import CountedStream
from curate.pipeline.schema import CORE, HTML_TYPES

# A record larger than this is rejected unread (read:too_large): a page this big is never worth parsing.
MAX_RECORD_BYTES = 64 << 20
# A record header longer than this is not read as one (a 120 KB header line still is).
MAX_HEADER_BYTES = 1 << 20
_CHUNK = 1 << 20
_GZIP_FEED = 1 << 14  # small: a corrupt piece loses what it would have decoded
_MEMBER_FEED = 1 << 20  # a member (a page, compressed) up to this size is inflated in one call
_ZSTD_FEED = 4096  # zstd input per call: its output is unbounded, so bound the input (<= 128 MB out)
_DOCUMENT_TYPES = frozenset({"response", "conversion"})
_RECORD_START = re.compile(rb"WARC/[0-9]{1,2}\.[0-9]{1,3}\r?\n")
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
# scheme://host[:port] then the path, query, fragment or the end: urlsplit finds that scheme and that host (ASCII, no
# user part, no brackets, no spaces or control characters: what it removes, normalises or fails on is all outside).
_PLAIN_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#]|\Z)")
_HTTP_HEAD_END, _HTTP_HEAD_END_LF = re.compile(rb"\r\n\r\n"), re.compile(rb"\n\n")  # (a view has no find)


class HttpError(ValueError):
    """An HTTP response block that cannot be parsed or decoded; its message is the reject rule."""


def parse_http(block: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status code, lower-cased headers and the decoded body of a raw HTTP response block."""
    status, headers, body = _parse_http(block)
    return status, headers, bytes(body)


def _parse_http(block: bytes | memoryview) -> tuple[int, dict[str, str], bytes | memoryview]:
    """`parse_http` of a block or a view of one, with the body a view of `block` when it is stored as sent (no chunks,
    no content encoding): the reader's batch copies it once, where a slice of `block` would copy every page once more."""
    found = _HTTP_HEAD_END.search(block) or _HTTP_HEAD_END_LF.search(block)
    if found is None:
        raise HttpError("http:no_header_end")
    end, sep = found.start(), len(found.group())
    head = str(block[:end], "latin-1").splitlines()
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
    body: bytes | memoryview = memoryview(block)[end + sep :]
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(bytes(body))
    encoding = headers.get("content-encoding", "").strip().lower()
    # Archives often store the body already decoded while keeping the header (ClueWeb, Common Crawl): trust the bytes.
    if encoding in ("gzip", "x-gzip") and body[:2] != b"\x1f\x8b":
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


def target_uri(value: str | None) -> str | None:
    """WARC-Target-URI without the angle brackets WARC/1.0 writers (wget) put around it."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value or None


def url_parses(url: str) -> bool:
    """Whether urlsplit finds a scheme and a host in `url`."""
    if _PLAIN_URL.match(url):  # the common case, whose answer is known without urlsplit (16x faster: 0.23 vs 3.7 us)
        return True
    try:
        parts = urlsplit(url)
        return bool(parts.scheme and parts.netloc) and parts.hostname is not None
    except ValueError:
        return False


class _Decoded:
    """A file's decoded bytes (gzip and zstd members decompressed, plain as stored) behind a look-ahead buffer.

    Positions are absolute offsets in the decoded stream. The buffer is immutable bytes, so a record's block is a view
    of it, never copied, that stays valid when the buffer moves on; decoded pieces wait in a list until the buffer is
    next looked at, then join it in one copy (a record in many pieces is copied once, a page inflated in one piece into
    an empty buffer not at all). `members` maps decoded offsets to the stored offset of the member they came from.
    Decoding stops at the end of the file, or at corrupt data (`corrupt`: the stored offset and message); `cut` says
    the file ended inside a member, whose decoded bytes begin at `cut_from`.
    """

    def __init__(self, stream: CountedStream, origin: int = 0):
        self._stream = stream
        self.origin = origin  # the stored offset the stream starts at: a range's start
        self._buf = b""
        self._pieces: list = []  # decoded after _buf, not joined to it yet
        self.base = 0  # decoded offset of buf[0]
        self.end = 0  # decoded offset past the last decoded byte
        self._dead = 0  # bytes at the front no longer needed: left out when the pieces join
        self.eof = False
        self.cut: str | None = None
        self.cut_from = 0  # decoded offset where the cut member's bytes begin
        self.corrupt: tuple[int, str] | None = None
        self.members: list[tuple[int, int]] = []  # (decoded start, stored start)
        self._pending = b""  # stored bytes read, decoded up to _used
        self._used = 0
        self._stored = origin  # stored offset of _pending[_used]
        self._decoder = None
        self._kind: str | None = None

    @property
    def buf(self) -> bytes:
        """The decoded bytes from `base` to `end`. Looking at them may move `base` on: read it after."""
        if self._pieces:
            parts, skip = [], self._dead
            for piece in (self._buf, *self._pieces):
                if skip < len(piece):
                    parts.append(memoryview(piece)[skip:] if skip else piece)
                skip = max(skip - len(piece), 0)
            self._buf = parts[0] if len(parts) == 1 and type(parts[0]) is bytes else b"".join(parts)
            self._pieces.clear()
            self.base += self._dead
            self._dead = 0
        return self._buf

    def fill_to(self, position: int) -> bool:
        """Decode until the buffer reaches `position`; False when the stream ends first."""
        while self.end < position:
            if self.eof or not self._more():
                return False
        return True

    def drop_before(self, position: int) -> None:
        """Bytes before `position` are no longer needed: the next join leaves them out, so the buffer holds one record
        and its look-ahead."""
        if position >= self.end:
            self._buf, self.base, self.end, self._dead = b"", position, position, 0
            self._pieces.clear()
        elif position - self.base > self._dead:
            self._dead = position - self.base

    def _append(self, decoded) -> None:
        self._pieces.append(decoded)
        self.end += len(decoded)

    def stored_offset(self, position: int) -> int:
        """The stored offset of the member holding decoded `position` (the position itself in a plain file)."""
        if self._kind == "plain":
            return self.origin + position
        index = bisect_right(self.members, (position, float("inf"))) - 1
        return self.members[index][1] if index >= 0 else 0

    def _read(self) -> bool:
        chunk = self._stream.read(_CHUNK)
        if chunk:
            self._pending = bytes(memoryview(self._pending)[self._used:]) + chunk if self._used < len(
                self._pending) else chunk
            self._used = 0
        return bool(chunk)

    def _more(self) -> bool:
        """Append decoded bytes to the buffer; False at the end of the stream (or of what can be decoded)."""
        if self._used >= len(self._pending) and not self._read():
            if self._decoder is not None:
                self.cut = f"truncated: the file ends inside the compressed member at offset {self.members[-1][1]}"
                self.cut_from = self.members[-1][0]
            self.eof = True
            return False
        if self._kind is None:
            while len(self._pending) < 4 and self._read():
                pass
            self._kind = ("gzip" if self._pending.startswith(_GZIP) else
                          "zstd" if self._pending.startswith(_ZSTD) else "plain")
        if self._kind == "plain":
            self._append(memoryview(self._pending)[self._used:])
            self._stored += len(self._pending) - self._used
            self._used = len(self._pending)
            return True
        if self._decoder is None:
            magic = _GZIP if self._kind == "gzip" else _ZSTD
            if len(self._pending) - self._used < len(magic) and not self._read():
                self.cut = f"truncated: the file ends inside the compressed member at offset {self._stored}"
                self.cut_from = self.end
                self.eof = True
                return False
            if not self._pending.startswith(magic, self._used):
                self.corrupt = (self._stored, f"not {self._kind} data at offset {self._stored}")
                self.eof = True
                return False
            self._decoder = (isal_zlib.decompressobj(31) if self._kind == "gzip" else
                             zstandard.ZstdDecompressor().decompressobj())
            self.members.append((self.end, self._stored))
            if self._kind == "gzip" and self._whole_member():
                return True
        # Small slices of the input: what a member leaves unused is copied by the decompressor on every call.
        piece = memoryview(self._pending)[self._used:self._used + (_GZIP_FEED if self._kind == "gzip" else _ZSTD_FEED)]
        try:
            if self._kind == "gzip":
                out = self._decoder.decompress(piece, _CHUNK)
                left = len(self._decoder.unused_data) + len(self._decoder.unconsumed_tail)
            else:
                out = self._decoder.decompress(piece)
                left = len(self._decoder.unused_data) if self._decoder.eof else 0
        except (isal_zlib.error, zstandard.ZstdError) as error:
            start = self.members[-1][1]
            self.corrupt = (start, f"corrupt {self._kind} member at offset {start}: {error}")
            self.eof = True
            return False
        self._used += len(piece) - left
        self._stored += len(piece) - left
        if self._decoder.eof:
            self._decoder = None
        self._append(out)
        return True

    def _whole_member(self) -> bool:
        """Decode the gzip member starting here in one call, when it lies whole in the input read and decodes to at
        most a chunk (a page: one piece of output, which an empty buffer keeps as it is). Otherwise nothing is
        changed, and the member is decoded from its start in small pieces (a corrupt piece loses only what it would
        have decoded; a member cut short decodes as far as it goes).
        The input given is up to the next gzip magic, where the next member most likely starts (the decompressor
        copies what a member leaves unused); past _MEMBER_FEED without one, the member is taken as too large."""
        after = self._pending.find(_GZIP + b"\x08", self._used + 18, self._used + _MEMBER_FEED)
        if after < 0 and len(self._pending) - self._used > _MEMBER_FEED:
            return False
        decoder = isal_zlib.decompressobj(31)
        piece = memoryview(self._pending)[self._used:after if after >= 0 else len(self._pending)]
        try:
            out = decoder.decompress(piece, _CHUNK)
        except isal_zlib.error:
            return False
        if not decoder.eof:
            return False
        used = len(piece) - len(decoder.unused_data)
        self._used += used
        self._stored += used
        self._decoder = None
        self._append(out)
        return True


class _Record:
    """One framed record: where it starts, its headers, its block (None when not held) and its reject reason."""

    __slots__ = ("start", "headers", "block", "reason", "declared")

    def __init__(self, start: int, headers: dict[str, str]):
        self.start, self.headers = start, headers
        self.block: bytes | None = None
        self.reason: str | None = None
        self.declared = 0


def _header_fields(raw: bytes) -> dict[str, str]:
    """WARC named fields, names lower-cased; continuation lines (leading space or tab) join the field before."""
    fields: dict[str, str] = {}
    name = None
    for line in raw.decode("utf-8", errors="replace").split("\n")[1:]:
        line = line.rstrip("\r")
        if line[:1] in (" ", "\t") and name is not None:
            fields[name] += " " + line.strip()
            continue
        key, colon, value = line.partition(":")
        if colon:
            name = key.strip().lower()
            fields.setdefault(name, value.strip())  # a repeated field: the first one counts
    return fields


class _Framer:
    """Cuts a decoded stream into records, checking each record's framing; every byte is read or skipped."""

    def __init__(self, decoded: _Decoded, ledger: ReaderLedger):
        self.data, self.ledger = decoded, ledger
        self.pos = 0

    def _next_start(self, frm: int, to: int | None = None) -> int:
        """The first record header in [frm, to); -1 when none. Inside a block (`to` given) it must start a line; when
        resynchronising (to the end of the file) it may follow anything, as after a run of NUL bytes.

        Past the buffer it decodes on, dropping what it has scanned, so a scan holds at most a chunk or two."""
        data = self.data
        while True:
            limit = data.end if to is None else min(to, data.end)
            # A scan for the rare "W" (memchr) and a look at each: 2-3 times faster than searching for "WARC/" itself,
            # whose last byte "/" is everywhere in HTML.
            buf, end = data.buf, max(limit - data.base, 0)
            at = buf.find(b"W", max(frm - data.base, 0), end)
            while at >= 0:
                if at + 5 <= end and buf.startswith(b"WARC/", at):
                    absolute = data.base + at
                    if to is None or absolute == 0 or buf[at - 1] == 0x0A:
                        data.fill_to(absolute + 16)  # the whole version line (the buffer may move on)
                        buf, at, end = data.buf, absolute - data.base, limit - data.base
                        if _RECORD_START.match(buf, at):
                            return absolute
                at = buf.find(b"W", at + 1, end)
            if to is not None and limit >= to:
                return -1
            frm = max(limit - 16, frm)  # a header split over two chunks is found on the next round
            data.drop_before(frm)  # what was scanned is skipped or, past MAX_RECORD_BYTES, not kept
            if not data.fill_to(data.end + 1):
                return -1

    def _skip_to(self, start: int, end: int, why: str) -> None:
        """Bytes [start, end) are no record: skipped, with a file error."""
        self.ledger.skip(start, end - start, why)
        self.pos = end

    def records(self) -> Iterator[_Record]:
        data, ledger = self.data, self.ledger
        while True:
            data.drop_before(self.pos)
            if not data.fill_to(self.pos + 1):
                return
            data.fill_to(self.pos + 16)  # the whole version line
            if not _RECORD_START.match(data.buf, self.pos - data.base):
                start = self.pos
                rest = bytes(data.buf[start - data.base:start - data.base + 16])
                if data.eof and data.end - start < 16 and (b"WARC/".startswith(rest[:5]) and rest[5:6].isdigit()
                                                           or b"WARC/".startswith(rest)):
                    self._skip_to(start, data.end, f"truncated: the file ends inside the header of the record "
                                                   f"at offset {start}")
                    continue
                nxt = self._next_start(start)
                self._skip_to(start, nxt if nxt >= 0 else data.end, f"no record header at offset {start}")
                continue
            record = self._record()
            if record is not None:
                yield record

    def _header_end(self, start: int) -> tuple[int, int]:
        """(end of the header's last line, position after the blank line), or (-1, -1) when there is none."""
        data = self.data
        searched = start
        while True:
            buf, base = data.buf, data.base
            frm, to = max(searched - base - 2, start - base), start - base + MAX_HEADER_BYTES
            crlf = buf.find(b"\n\r\n", frm, to)
            lf = buf.find(b"\n\n", frm, crlf + 2 if crlf >= 0 else to)  # LF-only headers (quirks)
            if lf >= 0:
                return base + lf, base + lf + 2
            if crlf >= 0:
                return base + crlf, base + crlf + 3
            searched = data.end
            if searched - start >= MAX_HEADER_BYTES or not data.fill_to(data.end + 1):
                return -1, -1

    def _record(self) -> _Record | None:
        data, ledger = self.data, self.ledger
        start = self.pos
        line_end, header_end = self._header_end(start)
        if header_end < 0:
            if data.eof and data.end - start < MAX_HEADER_BYTES:  # the file ends inside this header
                record = _Record(start, _header_fields(bytes(data.buf[start - data.base:])))
                record.reason = "read:truncated"
                ledger.fail(f"truncated: the file ends inside the header of the record at offset {start}")
                return self._cut(record, data.end)
            nxt = self._next_start(start + 1)
            self._skip_to(start, nxt if nxt >= 0 else data.end,
                          f"record header at offset {start} has no end within {MAX_HEADER_BYTES} bytes")
            return None
        record = _Record(start, _header_fields(bytes(data.buf[start - data.base:line_end - data.base])))
        length = record.headers.get("content-length")
        if length is None or not (length.isascii() and length.isdigit()):
            record.reason = ("read:framing:no_content_length" if length is None
                             else "read:framing:bad_content_length")
            nxt = self._next_start(header_end)
            return self._framing(record, header_end, nxt if nxt >= 0 else data.end,
                                 f"record at offset {start} has {'no' if length is None else 'a bad'} Content-Length")
        declared = record.declared = int(length)
        block_end = header_end + declared
        if declared > MAX_RECORD_BYTES:
            record.reason = f"read:too_large:{declared}"
            inside = self._next_start(header_end, block_end)
        else:
            data.fill_to(block_end)
            inside = self._next_start(header_end, block_end)
            if inside < 0 and data.end >= block_end:
                buf = data.buf
                view = memoryview(buf)[header_end - data.base:block_end - data.base]
                # a view keeps its whole buffer while the row waits in a batch: a small part of a large one is copied
                record.block = view if 2 * len(view) >= len(buf) else bytes(view)
                data.drop_before(block_end)  # the block is a view: the look-ahead below need not copy it
        if inside >= 0:
            return self._framing(record, header_end, inside,
                                 f"record at offset {start}: its Content-Length {declared} runs past the record "
                                 f"header at offset {inside}")
        if not data.fill_to(block_end):  # the file ends inside this block
            if record.reason is None:
                record.reason = "read:truncated"
            ledger.fail(f"truncated: the record at offset {start} declares {declared} bytes, "
                        f"{data.end - header_end} are left")
            return self._cut(record, data.end)
        after, trailer = block_end, b""
        while True:
            data.drop_before(after)  # a look-ahead into the next member then starts an empty buffer: nothing copied
            if not data.fill_to(after + 1) or data.buf[after - data.base] not in (0x0D, 0x0A):
                break
            if len(trailer) <= 4:  # enough to tell an exact trailer: a long run of line ends is not copied over and over
                trailer += data.buf[after - data.base:after - data.base + 1]
            after += 1
        data.fill_to(after + 16)
        # Not followed by a record: with its exact trailer the record is whole and what follows is garbage (skipped
        # by the caller); without, its length is wrong.
        if after < data.end and not _RECORD_START.match(data.buf, after - data.base) and \
                trailer not in (b"\r\n\r\n", b"\n\n"):
            nxt = self._next_start(after)
            return self._framing(record, header_end, nxt if nxt >= 0 else data.end,
                                 f"record at offset {start}: its Content-Length {declared} does not end where the "
                                 f"next record starts")
        if data.cut is not None and after > data.cut_from and record.reason is None:
            record.reason = "read:truncated"  # whole, but its member is not: the checksum could not be verified
        ledger.decoded_in_records += after - start
        self.pos = after
        return record

    def _framing(self, record: _Record, header_end: int, resume: int, why: str) -> _Record:
        """A record whose block cannot be delimited: its header is read, the rest up to `resume` skipped."""
        if not record.reason or record.reason.startswith("read:too_large"):
            record.reason = "read:framing:content_length"
        record.block = None
        self.ledger.decoded_in_records += header_end - record.start
        self._skip_to(header_end, resume, why)
        return record

    def _cut(self, record: _Record, end: int) -> _Record:
        """A record the file ends inside: its bytes are read as a row when it is a document, else skipped."""
        record.block = None
        if record.headers.get("warc-type", "").strip().lower() in _DOCUMENT_TYPES:
            self.ledger.decoded_in_records += end - record.start
            self.pos = end
        else:
            self._skip_to(record.start, end, f"a record cut short at offset {record.start}")
        return record


@reads("warc", "wet")
def read_warc(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    batch = BatchBuilder(CORE)
    positions: Counter[int] = Counter()
    with CountedStream(file.uri, ledger, file.stored) as stream:
        decoded = _Decoded(stream, file.stored[0])
        framer = _Framer(decoded, ledger)
        try:
            for record in framer.records():
                if record.headers.get("warc-type", "").strip().lower() not in _DOCUMENT_TYPES:
                    continue
                ledger.records_seen += 1
                row = _header_row(record, decoded.stored_offset(record.start), file, cfg.dataset, positions, ledger)
                if record.reason is None:
                    _read_block(record, row)
                else:
                    row["reject_reason"] = record.reason
                if row.get("reject_reason") is None:
                    ledger.records_yielded += 1
                batch.add(row, len(row.get("html") or b"") + len(row.get("text") or ""))
                if batch.full:
                    yield from batch.flush()
        except OSError as error:  # the stream itself failed (I/O error, the read time limit)
            ledger.stop(ledger.bytes_read, f"unreadable after {ledger.records_seen} records: "
                                           f"{type(error).__name__}: {error}")
            ledger.skip(framer.pos, decoded.end - framer.pos, "decoded but not read when the stream failed")
            decoded.eof = True
        _settle(decoded, ledger)
    yield from batch.flush()


def _settle(decoded: _Decoded, ledger: ReaderLedger) -> None:
    """The ledger's byte counts once reading has stopped, and the error that stopped it."""
    ledger.decoded = decoded.end
    if decoded.corrupt is not None:
        offset, message = decoded.corrupt
        ledger.stop(offset - decoded.origin, message)  # bytes of this file (range) read before the corrupt member
    elif decoded.cut is not None:
        ledger.fail(decoded.cut)


def _header_row(record: _Record, offset: int, file: InputFile, dataset: str, positions: Counter[int],
                ledger: ReaderLedger) -> dict:
    """The row of a record from its WARC headers alone.

    The id is unique per input by construction: `<dataset>/<file>:<offset>`, where records sharing an offset (one
    gzip member for the whole file) get `.<n>`, their rank there; then `/<WARC-Record-ID>` when the record has one.
    """
    headers = record.headers
    record_id = headers.get("warc-record-id", "").strip("<> ")
    repeat = positions[offset]
    positions[offset] += 1
    id_ = f"{dataset}/{file.rel}:{offset}" + (f".{repeat}" if repeat else "") + (f"/{record_id}" if record_id else "")
    url = target_uri(headers.get("warc-target-uri"))
    if url is not None and not url_parses(url):
        ledger.urls_unparsed += 1
    return {
        "id": id_,
        "source": dataset,
        "file": file.rel,
        "offset": offset,
        "url": url,
        "date": headers.get("warc-date") or None,
    }


def _read_block(record: _Record, row: dict) -> None:
    """Read the record's block into `row`: the page, the WET text, or a reject reason."""
    block = record.block
    if record.headers.get("warc-type", "").strip().lower() == "conversion":  # WET: the block is the extracted text
        row["content_type"] = "text/plain"
        row["text"] = str(block, "utf-8", "replace")
        return
    try:
        status, http, body = _parse_http(block)
    except HttpError as error:
        row["reject_reason"] = f"read:{error}"
        return
    declared = http.get("content-type")
    mime = mime_of(declared) or ("text/html" if _looks_like_html(bytes(body[:1024])) else "unknown")
    row["content_type"] = declared or mime
    row["x_robots_tag"] = http.get("x-robots-tag")
    if status != 200:
        row["reject_reason"] = f"read:http_status:{status}"
    elif mime not in HTML_TYPES:
        row["reject_reason"] = f"read:content_type:{mime}"
    else:
        row["html"] = body


def responses(uri: str, ledger: ReaderLedger) -> Iterator[tuple[str | None, int | None, bytes | None, str | None]]:
    """(target URI, HTTP status, body, reason) of every response record of a WARC, whatever its content type (a
    robots.txt WARC), framed and checked as document records are. A record that cannot be read (cut short, a
    Content-Length that does not frame it, too large, an HTTP block that does not parse) comes with its reject reason
    and no body; what stopped or skipped the reading is the ledger's file error."""
    with CountedStream(uri, ledger) as stream:
        decoded = _Decoded(stream)
        framer = _Framer(decoded, ledger)
        try:
            for record in framer.records():
                if record.headers.get("warc-type", "").strip().lower() != "response":
                    continue
                ledger.records_seen += 1
                url = target_uri(record.headers.get("warc-target-uri"))
                if record.reason is not None:
                    yield url, None, None, record.reason
                    continue
                try:
                    status, _, body = parse_http(record.block)
                except HttpError as error:
                    yield url, None, None, f"read:{error}"
                    continue
                ledger.records_yielded += 1
                yield url, status, body, None
        except OSError as error:  # the stream itself failed (I/O error, the read time limit)
            ledger.stop(ledger.bytes_read, f"unreadable after {ledger.records_seen} records: "
                                           f"{type(error).__name__}: {error}")
            decoded.eof = True
        _settle(decoded, ledger)


@splits("warc", "wet")
def split_warc(file: InputFile, size: int) -> list[Range]:
    """Ranges of about `size` stored bytes, each starting at a record that the file read whole frames there too.

    A cut goes where the framing before it is beyond doubt: the two records (or, compressed, the two gzip members or
    zstd frames) before it are whole and cleanly framed (a record header, a Content-Length that lands on a CR/LF
    trailer and then the cut, no record header at a line start inside a block). The reader of the whole file then
    reaches the cut as a record start however it framed what came before, so each range reads what the whole file's
    reading gives there.
    - gzip: cut at member starts; finding them inflates the file once (ISA-L), in the driver. One member for the
      whole file is read whole: deflate decodes only from its start.
    - zstd: cut at frame starts, found from the frame headers; each frame is decoded once, in the driver, to check
      its records. One frame for the whole file (what `zstd` writes) is read whole.
    - plain: cut at record starts, found by walking the records and scanning each block; past the first record that
      is not cleanly framed the rest of the file is one range.
    A member (frame) that does not decode to its end ends the cuts: the range holding it reads to the break.
    """
    with open_binary(file.uri) as stream:
        magic = stream.read(4)
        stream.seek(0)
        if magic.startswith(_GZIP):
            starts = _member_starts(_gzip_members(stream), "gzip")
        elif magic.startswith(_ZSTD):
            starts = _member_starts(_zstd_members(stream, file.size), "zstd")
        else:
            starts = _record_starts(stream)
        cuts, target = [0], size
        for start in starts:
            if start >= target:
                cuts.append(start)
                target = start + size
    return ranges([(cut, 0) for cut in cuts], file.size)


def _framed_end(data, at: int) -> int:
    """Where the record at `at` of decoded `data` ends, its CR/LF trailer included, when it is cleanly framed (see
    `split_warc`); -1 otherwise."""
    if not _RECORD_START.match(data, at):
        return -1
    crlf = data.find(b"\n\r\n", at, at + MAX_HEADER_BYTES)
    lf = data.find(b"\n\n", at, crlf + 2 if crlf >= 0 else at + MAX_HEADER_BYTES)
    line_end, header_end = (lf, lf + 2) if lf >= 0 else (crlf, crlf + 3) if crlf >= 0 else (-1, -1)
    if header_end < 0:
        return -1
    length = _header_fields(bytes(data[at:line_end])).get("content-length")
    if length is None or not (length.isascii() and length.isdigit()) or int(length) > MAX_RECORD_BYTES:
        return -1
    block_end = header_end + int(length)
    if block_end > len(data):
        return -1
    inside = data.find(b"\nWARC/", header_end - 1, block_end - 1)
    while inside >= 0:
        if _RECORD_START.match(data, inside + 1):
            return -1
        inside = data.find(b"\nWARC/", inside + 1, block_end - 1)
    after = block_end
    while after < len(data) and data[after] in (0x0D, 0x0A):
        after += 1
    trailer = bytes(data[block_end:after])
    if after == block_end or (after < len(data) and not _RECORD_START.match(data, after)
                              and trailer not in (b"\r\n\r\n", b"\n\n")):
        return -1
    return after


def _clean(data) -> bool:
    """Whether decoded `data` (a member) is whole records, each cleanly framed, and nothing else."""
    position = 0
    while position < len(data):
        position = _framed_end(data, position)
        if position < 0:
            return False
    return bool(data)


def _member_starts(members: Iterator[tuple[int, bytearray | None]], kind: str) -> Iterator[int]:
    """The stored starts of the members (frames) where a cut may go: the two members before are clean records.
    `members` yields each member's stored start and decoded bytes (None when too large to be a record)."""
    clean_before = [True, True]  # of the two members before this one
    count = 0
    for start, decoded in members:
        if start and all(clean_before) and decoded is not None and _RECORD_START.match(decoded):
            yield start
        clean_before = [clean_before[1], decoded is not None and _clean(decoded)]
        count += 1
    if count == 1:
        raise Unsplittable(ONE_MEMBER[kind])


def _gzip_members(stream) -> Iterator[tuple[int, bytearray | None]]:
    """(stored start, decoded bytes or None past a record's largest size) of each gzip member, inflating the file
    (ISA-L) in bounded pieces; ends at corrupt data."""
    start = consumed = 0
    decoder, held, pending = isal_zlib.decompressobj(31), bytearray(), stream.read(_CHUNK)
    while pending:
        try:
            out = decoder.decompress(pending, _CHUNK)
        except isal_zlib.error:  # corrupt: no cut after it; the reader of the range that holds it reports it
            return
        if held is not None:
            held += out
            if len(held) > MAX_RECORD_BYTES + MAX_HEADER_BYTES:
                held = None  # too large to be a record framed whole: never cut after it
        if not decoder.eof:
            consumed += len(pending) - len(decoder.unconsumed_tail)
            pending = decoder.unconsumed_tail or stream.read(_CHUNK)
            continue
        rest = decoder.unused_data
        consumed += len(pending) - len(rest)
        yield start, held
        start, decoder, held = consumed, isal_zlib.decompressobj(31), bytearray()
        pending = rest or stream.read(_CHUNK)


def _zstd_members(stream, size: int) -> Iterator[tuple[int, bytearray | None]]:
    """(stored start, decoded bytes or None past a record's largest size) of each zstd frame, each decoded from its
    own stored bytes; ends at a frame that does not decode to exactly its end (corrupt, cut short, bytes after it)."""
    frames = zstd_frames(stream)
    for start, end in zip(frames, frames[1:] + [size]):
        stream.seek(start)
        decoder, held, left = zstandard.ZstdDecompressor().decompressobj(), bytearray(), end - start
        while left and not decoder.eof:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            try:
                for at in range(0, len(chunk), _ZSTD_FEED):  # bounded input, bounded output (a bomb)
                    piece = chunk[at:at + _ZSTD_FEED]
                    out = decoder.decompress(piece)
                    if held is not None:
                        held += out
                        if len(held) > MAX_RECORD_BYTES + MAX_HEADER_BYTES:
                            held = None  # too large to be a record framed whole: never cut after it
                    if decoder.eof:
                        left += len(chunk) - at - len(piece) + len(decoder.unused_data)
                        break
            except zstandard.ZstdError:  # corrupt: no cut after it; the reader of the range that holds it reports it
                return
        if not decoder.eof or left:
            return
        yield start, held


def _record_starts(stream) -> Iterator[int]:
    """The starts of the records of a plain WARC where a cut may go, walking the records from the first; the walk
    ends at the first record that is not cleanly framed."""
    buf, base, position, clean, eof = bytearray(), 0, 0, 0, False
    while True:
        at = position - base
        end = _framed_end(buf, at)
        # a record not framed yet, or no room to see what follows it: read on, up to a record's largest size
        if (end < 0 or len(buf) - end < 16) and not eof and len(buf) - at <= MAX_RECORD_BYTES + MAX_HEADER_BYTES:
            chunk = stream.read(max(_CHUNK, len(buf) - at))
            eof = not chunk
            buf += chunk
            continue
        if end < 0:
            return
        if clean >= 2:
            yield position
        clean += 1
        position = base + end
        if position - base >= _CHUNK:
            del buf[:position - base]
            base = position
