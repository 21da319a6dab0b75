"""extract: HTML to main text with trafilatura (FineWeb's settings) or resiliparse, in a killable sandbox.

Before parsing, cheap caps reject what should never be parsed (`too_large`, `too_many_tags`). The page is decoded
with its HTTP charset, else the charset its bytes reveal, and parsed in a child process with a time and memory limit.
Rules: `no_html`, `too_large`, `too_many_tags`, `no_text` (nothing extracted), `timeout`, `memory`, `crashed`,
`error:<Exception>`.
"""
from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa
from pydantic import Field
from resiliparse.parse.encoding import bytes_to_str, detect_encoding

from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit
from curate.stages.sandbox import Sandbox

_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)


def decode_html(html: bytes, content_type: str | None) -> str:
    """The page as text: the HTTP charset when it decodes cleanly, else detection on the bytes (meta tags count)."""
    declared = _CHARSET.search(content_type or "")
    if declared:
        try:
            return html.decode(declared.group(1))
        except (LookupError, UnicodeDecodeError):
            pass
    return bytes_to_str(html, detect_encoding(html, from_html_meta=True))


class ExtractParams(Params):
    backend: Literal["trafilatura", "resiliparse"] = Field("trafilatura", description="extractor")
    timeout: float = Field(5.0, gt=0, description="seconds one page may take before it is rejected (timeout)")
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

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        p = self.params
        pages = batch.column("html").to_pylist()
        types = batch.column("content_type").to_pylist() if "content_type" in batch.schema.names else [None] * len(pages)
        texts, reasons = [], []
        for html, content_type in zip(pages, types):
            text, rule = None, None
            if not html:
                rule = "no_html"
            elif len(html) > p.max_html_bytes:
                rule = "too_large"
            elif html.count(b"<") > p.max_tags:
                rule = "too_many_tags"
            else:
                text, rule = self.sandbox.extract(decode_html(html, content_type))
            texts.append(text)
            reasons.append(rule)
        self.subprocess_cpu_seconds = self.sandbox.cpu_seconds
        return emit(batch, reasons, text=pa.array(texts, pa.string()))
