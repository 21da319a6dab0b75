"""extract: HTML to main text with trafilatura (FineWeb's settings) or resiliparse, in a killable sandbox.

Before parsing, cheap checks reject what should never be parsed: a declared non-HTML type (`content_type:<mime>`,
for inputs whose reader did not check it), bytes that are not text (`binary`, `binary:<format>`), and caps
(`too_large`, `too_many_tags`). The page is decoded (`decode_html`: BOM, valid UTF-8, the HTTP charset, the meta
charset, then detection) and parsed in a child process with a time and memory limit. Other rules: `no_html`,
`no_text` (nothing extracted), `timeout`, `memory`, `crashed[:<signal>]`, `error:<Exception>`.
"""
from __future__ import annotations

import codecs
import re
from typing import Literal

import pyarrow as pa
from pydantic import Field
from resiliparse.parse.encoding import bytes_to_str, detect_encoding, map_encoding_to_html5

from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit
from curate.stages.sandbox import Sandbox

# The types worth parsing; a missing type (JSONL/Parquet inputs) counts as HTML. Same set as the WARC reader's.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+xhtml"})
_HEADER_CHARSET = re.compile(rb"charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta\s[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
# Bytes that never occur in text (WHATWG's "binary data bytes"): none in the first 4 KB of 990 real pages.
_CONTROL = bytes([*range(0x00, 0x09), 0x0B, *range(0x0E, 0x1B), *range(0x1C, 0x20)])
_MAGIC = ((b"%PDF-", "pdf"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8\xff", "jpeg"), (b"PK\x03\x04", "zip"),
          (b"\x1f\x8b", "gzip"), (b"RIFF", "riff"), (b"OggS", "ogg"), (b"ID3", "mp3"), (b"\x7fELF", "elf"),
          (b"wOFF", "woff"), (b"wOF2", "woff"), (b"%!PS", "postscript"), (b"{\\rtf", "rtf"))
_SNIFF_BYTES = 4096


def mime_of(content_type: str | None) -> str | None:
    return content_type.split(";")[0].strip().lower() or None if content_type else None


def sniff_binary(html: bytes) -> str | None:
    """`binary:<format>` for a known binary signature, `binary` when the first 4 KB hold a NUL or >1% control bytes."""
    head = html[:_SNIFF_BYTES]
    if head.startswith(_BOMS[1][0]) or head.startswith(_BOMS[2][0]):
        return None  # UTF-16 text is full of NULs
    stripped = head.lstrip()
    for magic, name in _MAGIC:
        if stripped.startswith(magic):
            return f"binary:{name}"
    controls = len(head) - len(head.translate(None, _CONTROL))
    return "binary" if b"\x00" in head or controls > len(head) // 100 else None


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
    for bom, codec in _BOMS:
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


class ExtractParams(Params):
    backend: Literal["trafilatura", "resiliparse"] = Field("trafilatura", description="extractor")
    timeout: float = Field(5.0, gt=0, description="seconds one page may take (transfer + parse) before a timeout reject")
    memory_mb: int = Field(1024, gt=0, description="memory the parser may use beyond its start, per worker")
    max_html_bytes: int = Field(5_000_000, gt=0, description="larger pages are rejected unparsed (too_large)")
    max_tags: int = Field(200_000, gt=0, description="pages with more '<' are rejected unparsed (too_many_tags)")


@register
class Extract(Stage):
    """Main text from HTML (trafilatura or resiliparse), with caps and a killable sandbox."""

    name = "extract"
    Params = ExtractParams
    requires = ("html",)
    optional = ("content_type",)

    def adds(self) -> dict[str, pa.DataType]:
        return {"text": pa.string()}

    def setup(self) -> None:
        p = self.params
        self.sandbox = Sandbox(p.backend, p.timeout, p.memory_mb << 20)
        self.sandbox.warm()
        self.subprocess_cpu_seconds = 0.0

    def check(self, html: bytes | None, content_type: str | None) -> str | None:
        """The reject rule a page earns before parsing, if any."""
        p = self.params
        mime = mime_of(content_type)
        if not html:
            return "no_html"
        if mime is not None and mime not in HTML_TYPES:
            return f"content_type:{mime}"
        if len(html) > p.max_html_bytes:
            return "too_large"
        binary = sniff_binary(html)
        if binary:
            return binary
        if html.count(b"<") > p.max_tags:
            return "too_many_tags"
        return None

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        pages = batch.column("html").to_pylist()
        types = batch.column("content_type").to_pylist() if "content_type" in batch.schema.names else [None] * len(pages)
        texts, reasons = [], []
        for html, content_type in zip(pages, types):
            text, rule = None, self.check(html, content_type)
            if rule is None:
                text, rule = self.sandbox.extract(decode_html(html, content_type))
            texts.append(text)
            reasons.append(rule)
        self.subprocess_cpu_seconds = self.sandbox.cpu_seconds
        return emit(batch, reasons, text=pa.array(texts, pa.string()))
