"""extract: HTML to main text with trafilatura (FineWeb's settings) or resiliparse, in a killable sandbox.

Before parsing, cheap checks reject what should never be parsed: a declared non-HTML type (`content_type:<mime>`,
for inputs whose reader did not check it), bytes that are not text (`binary`, `binary:<format>`), and caps
(`too_large`, `too_many_tags`). The page is decoded (`decode_html`: BOM, valid UTF-8, the HTTP charset, the meta
charset, then detection) and parsed in a child process with a time and memory limit; both happen in the child
(`stages.sandbox_worker`), so the page crosses the pipe once, as the bytes it came as. Other rules: `no_html`,
`no_text` (nothing extracted), `timeout`, `memory`, `crashed[:<signal>]`, `error:<Exception>`.
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from curate.pipeline.registry import register
from curate.pipeline.schema import HTML_TYPES
from curate.pipeline.stage import Params, Stage, emit
from curate.stages.sandbox import Sandbox
from curate.stages.sandbox_worker import BOMS

# The types worth parsing; a missing type (JSONL/Parquet inputs) counts as HTML. Same set as the WARC reader's.
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
    if head.startswith(BOMS[1][0]) or head.startswith(BOMS[2][0]):
        return None  # UTF-16 text is full of NULs
    stripped = head.lstrip()
    for magic, name in _MAGIC:
        if stripped.startswith(magic):
            return f"binary:{name}"
    controls = len(head) - len(head.translate(None, _CONTROL))
    return "binary" if b"\x00" in head or controls > len(head) // 100 else None


class ExtractParams(Params):
    backend: Literal["trafilatura", "resiliparse"] = Field("trafilatura", description="extractor")
    timeout: float = Field(5.0, gt=0, description="seconds one page may take (transfer + parse) before a timeout reject")
    memory_mb: int = Field(1024, gt=0, description="memory the parser may use beyond its start, per worker")
    max_html_bytes: int = Field(5_000_000, gt=0, description="larger pages are rejected unparsed (too_large)")
    max_tags: int = Field(200_000, gt=0, description="pages with more '<' are rejected unparsed (too_many_tags)")


def pages_of(batch: pa.RecordBatch) -> list[tuple[bytes | None, str | None]]:
    """(html, declared content type) per row; the type is None for inputs without one (JSONL, Parquet)."""
    pages = batch.column("html").to_pylist()
    types = batch.column("content_type").to_pylist() if "content_type" in batch.schema.names else [None] * len(pages)
    return list(zip(pages, types))


def check_page(html: bytes | None, content_type: str | None, p: ExtractParams) -> str | None:
    """The reject rule a page earns before parsing, if any."""
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


@register
class Extract(Stage):
    """Main text from HTML (trafilatura or resiliparse), with caps and a killable sandbox."""

    name = "extract"
    Params = ExtractParams

    def requires(self) -> tuple[str, ...]:
        return ("html",)  # and `content_type` where the reader has it

    def adds(self) -> dict[str, pa.DataType]:
        return {"text": pa.string()}

    def setup(self) -> None:
        p = self.params
        self.sandbox = Sandbox(p.backend, p.timeout, p.memory_mb << 20)
        self.sandbox.warm()
        self.subprocess_cpu_seconds = 0.0

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts, reasons = [], []
        for html, content_type in pages_of(batch):
            text, rule = None, check_page(html, content_type, self.params)
            if rule is None:
                text, rule = self.sandbox.extract(html, content_type)
            texts.append(text)
            reasons.append(rule)
        self.subprocess_cpu_seconds = self.sandbox.cpu_seconds
        return emit(batch, reasons, text=pa.array(texts, pa.string()))
