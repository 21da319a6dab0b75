"""extract: caps before parsing, charset decoding, and the sandbox's time and memory limits."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.stages.extract import Extract, ExtractParams, decode_html
from curate.stages.sandbox import Sandbox

ARTICLE = ("<html><head><title>t</title></head><body><nav><a href='/'>Home</a> <a href='/n'>News</a></nav>"
           "<article><h1>Gardens in winter</h1>"
           + "".join(f"<p>Paragraph {i}: the old gardener explained how frost protects the soil and why the beds "
                     f"are covered with leaves before the first snow arrives in the valley.</p>" for i in range(6))
           + "</article><footer>Copyright 2026 · Privacy policy</footer></body></html>")


def run_extract(pages, content_types=None, **params):
    stage = Extract(ExtractParams(**params))
    stage.setup()
    batch = pa.RecordBatch.from_pydict({
        "html": pa.array(pages, pa.binary()),
        "content_type": pa.array(content_types or [None] * len(pages), pa.string()),
    })
    try:
        return stage.process(batch)
    finally:
        stage.sandbox.close()


@pytest.mark.parametrize("backend", ["trafilatura", "resiliparse"])
def test_main_text_without_boilerplate(backend):
    out = run_extract([ARTICLE.encode()], backend=backend)
    text = out.column("text")[0].as_py()
    assert out.column("reject_reason").to_pylist() == [None]
    assert "frost protects the soil" in text and "Paragraph 5" in text
    assert "Privacy policy" not in text


def test_caps_reject_before_parsing_and_empty_pages():
    pages = [b"<p>" * 50 + b"x", b"x" * 2000, None, b"<html><body></body></html>"]
    out = run_extract(pages, max_tags=10, max_html_bytes=1000)
    assert out.column("reject_reason").to_pylist() == ["too_many_tags", "too_large", "no_html", "no_text"]


def test_charset_from_header_then_from_bytes():
    text = "Überprüfung der Straßenbahn — €"
    assert decode_html(text.encode("cp1252"), "text/html; charset=windows-1252") == text
    assert decode_html(text.encode("utf-8"), "text/html") == text
    japanese = "<html><head><meta charset='euc-jp'></head><body>値段別カテゴリの商品です</body></html>"
    assert "値段別カテゴリ" in decode_html(japanese.encode("euc-jp"), None)
    # a wrong declared charset that fails to decode falls back to detection
    assert decode_html("naïve café".encode("utf-8"), "text/html; charset=ascii") == "naïve café"


def test_timeout_kills_the_child_and_the_next_page_works():
    sandbox = Sandbox("trafilatura", timeout=5.0, memory_bytes=1 << 30)
    try:
        sandbox.warm()
        first = sandbox.process.pid
        assert sandbox.extract(ARTICLE, timeout=1e-4) == (None, "timeout")
        assert sandbox.process is None  # killed
        text, rule = sandbox.extract(ARTICLE, timeout=60)
        assert rule is None and "frost" in text
        assert sandbox.process.pid != first
    finally:
        sandbox.close()


def test_memory_limit_rejects_the_page_not_the_worker():
    sandbox = Sandbox("trafilatura", timeout=60.0, memory_bytes=16 << 20)
    try:
        sandbox.warm()
        huge = "<html><body>" + "<div><p>word " * 400_000 + "</body></html>"
        text, rule = sandbox.extract(huge, timeout=60)
        assert text is None and rule in ("memory", "crashed", "error:MemoryError")
        text, rule = sandbox.extract(ARTICLE, timeout=60)
        assert rule is None and "frost" in text
    finally:
        sandbox.close()
