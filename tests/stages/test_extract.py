"""extract: checks before parsing, charset decoding, and the sandbox's time and memory limits."""
from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from curate.stages.extract import Extract, ExtractParams, sniff_binary
from curate.stages.sandbox import Sandbox
from curate.stages.sandbox_worker import decode_html

WARC = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "warc"

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


def test_the_stage_decodes_with_the_http_charset_in_the_child():
    page = ARTICLE.replace("Gardens in winter", "Gärten im Winter: Straßen, Frost und Schnee")
    out = run_extract([page.encode("cp1252")] * 2, ["text/html; charset=windows-1252", "text/html"])
    assert out.column("reject_reason").to_pylist() == [None, None]
    assert all("Gärten im Winter: Straßen" in text for text in out.column("text").to_pylist())


def test_charset_labels_mean_what_browsers_take_them_to_mean():
    quoted = "“Smart” quotes cost 5 € – ok"
    # latin-1 is read as windows-1252 (0x93 is a quote, not a C1 control); a plain decode would give '\x93Smart\x94'
    assert decode_html(quoted.encode("cp1252"), "text/html; charset=ISO-8859-1") == quoted
    # valid UTF-8 wins over a single-byte label
    assert decode_html(quoted.encode("utf-8"), "text/html; charset=iso-8859-1") == quoted
    # gb2312 is read as gbk, its superset: 镕 is in gbk only
    chinese = "<meta charset=gb2312><p>朱镕基 总理</p>"
    assert decode_html(chinese.encode("gbk"), None) == chinese
    # BOMs win; UTF-16 with a BOM is text, not binary
    page = "<html><body><p>Grüße aus Köln</p></body></html>"
    assert decode_html(page.encode("utf-16"), "text/html; charset=utf-8") == page
    assert sniff_binary(page.encode("utf-16")) is None
    # a 7-bit encoding declared in the page is honoured though its bytes are ASCII
    japanese = "<meta charset=iso-2022-jp><p>日本語のページ</p>"
    assert decode_html(japanese.encode("iso-2022-jp"), None) == japanese


def _warc_pages(name):
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    from curate.readers.warc import parse_http

    path = WARC / name
    if not path.is_file():
        pytest.skip(f"{path} absent (../shared/data)")
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=False):
            _, headers, body = parse_http(record.reader.read())
            yield record.headers.get("WARC-Target-URI"), headers.get("content-type"), body


def test_real_pages_in_other_charsets_decode_to_their_script():
    # Common Crawl pages in gbk/gb2312 (header or meta only), windows-1251; ClueWeb09 pages in EUC-JP (header only)
    han, cyrillic, kana = re.compile("[\u4e00-\u9fff]"), re.compile("[\u0400-\u04ff]"), re.compile("[\u3040-\u30ff]")
    seen = {"gb": 0, "windows-1251": 0, "euc-jp": 0}
    for name in ("warcfile.warc.gz", "clueweb-quirk.warc.gz"):
        for url, content_type, body in _warc_pages(name):
            declared = (content_type or "") + " " + body[:3000].decode("latin-1")
            text = decode_html(body, content_type)
            assert "\ufffd" not in text, url
            if re.search("charset=[\"']?(gbk|gb2312)", declared, re.I):
                seen["gb"] += 1
                assert len(han.findall(text)) > 100, url
            elif "charset=windows-1251" in declared:
                seen["windows-1251"] += 1
                assert len(cyrillic.findall(text)) > 100, url
            elif re.search("charset=euc-jp", declared, re.I):
                seen["euc-jp"] += 1
                assert len(kana.findall(text)) > 100, url
    assert seen == {"gb": 6, "windows-1251": 1, "euc-jp": 29}


def test_content_type_and_binary_bytes_are_rejected_unparsed():
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj"
    noise = bytes((i * 7919 + 13) % 256 for i in range(20_000))  # every byte value, like compressed data
    pages = [ARTICLE.encode()] * 3 + [pdf, noise, b"\x1f\x8b\x08\x00" + noise]
    types = ["application/pdf", "text/html; charset=utf-8", None, "text/html", "text/html", "text/html"]
    out = run_extract(pages, types)
    assert out.column("reject_reason").to_pylist() == [
        "content_type:application/pdf", None, None, "binary:pdf", "binary", "binary:gzip"]


@pytest.mark.parametrize("backend", ["trafilatura", "resiliparse"])
def test_pathological_pages_are_rejected_and_the_batch_goes_on(backend):
    huge = b"<html><body>" + b"<p>hello world</p>" * (50_000_000 // 18) + b"</body></html>"  # 50 MB
    deep = ("<html><body>" + "<div>" * 100_000 + "deep " * 10 + "</div>" * 100_000 + "</body></html>").encode()
    binary = bytes((i * 7919 + 13) % 256 for i in range(1 << 20))
    out = run_extract([huge, deep, binary, ARTICLE.encode()], ["text/html"] * 4, backend=backend)
    assert out.column("reject_reason").to_pylist() == ["too_large", "too_many_tags", "binary", None]
    assert "frost" in out.column("text")[3].as_py()


def test_timeout_kills_the_child_and_the_next_page_works():
    sandbox = Sandbox("trafilatura", timeout=5.0, memory_bytes=1 << 30)
    try:
        sandbox.warm()
        first = sandbox.process.pid
        assert sandbox.extract(ARTICLE.encode(), timeout=1e-4) == (None, "timeout")
        assert sandbox.process is None  # killed
        text, rule = sandbox.extract(ARTICLE.encode(), timeout=60)
        assert rule is None and "frost" in text
        assert sandbox.process.pid != first
    finally:
        sandbox.close()


def test_memory_limit_rejects_the_page_not_the_worker():
    sandbox = Sandbox("trafilatura", timeout=60.0, memory_bytes=16 << 20)
    try:
        sandbox.warm()
        huge = b"<html><body>" + b"<div><p>word " * 400_000 + b"</body></html>"
        text, rule = sandbox.extract(huge, timeout=60)
        assert text is None and (rule in ("memory", "error:MemoryError") or rule.startswith("crashed")), rule
        text, rule = sandbox.extract(ARTICLE.encode(), timeout=60)
        assert rule is None and "frost" in text
    finally:
        sandbox.close()


def _finishes(call, seconds=120.0):
    """Run `call` in a thread; its result, or a failure if it is still blocked after `seconds` (a liveness check)."""
    result = []
    thread = threading.Thread(target=lambda: result.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, "the call is still blocked"
    return result[0]


def test_a_stuck_child_cannot_block_the_write_of_a_big_page():
    sandbox = Sandbox("resiliparse", timeout=1.0, memory_bytes=1 << 30)
    try:
        sandbox.warm()
        os.kill(sandbox.process.pid, signal.SIGSTOP)  # stuck: reads nothing, so the 4 MB cannot fit in the pipe
        page = b"<html><body>" + b"<p>many words here</p>" * 200_000 + b"</body></html>"
        assert _finishes(lambda: sandbox.extract(page)) == (None, "timeout")
        assert sandbox.extract(ARTICLE.encode(), timeout=60)[1] is None  # a fresh child
    finally:
        sandbox.close()


def test_a_child_that_dies_is_a_crash_with_its_signal_and_is_replaced():
    sandbox = Sandbox("resiliparse", timeout=30.0, memory_bytes=1 << 30)
    try:
        sandbox.warm()
        # resiliparse's main-content pass is quadratic in nesting depth: this page takes seconds
        slow = b"<html><body>" + b"<div>" * 20_000 + b"deep " * 10 + b"</div>" * 20_000 + b"</body></html>"
        # killed mid-page, as the kernel's OOM killer would
        threading.Timer(0.5, os.kill, (sandbox.process.pid, signal.SIGKILL)).start()
        assert sandbox.extract(slow) == (None, "crashed:SIGKILL")
        text, rule = sandbox.extract(ARTICLE.encode())
        assert rule is None and "frost" in text
    finally:
        sandbox.close()


def test_pipes_above_descriptor_1024_work():
    # select() cannot watch descriptors >= 1024; an executor with many open files hands the sandbox such pipes
    held = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    sandbox = Sandbox("resiliparse", timeout=30.0, memory_bytes=1 << 30)
    try:
        sandbox.warm()
        assert sandbox.process.stdout.fileno() > 1024
        text, rule = sandbox.extract(ARTICLE.encode())
        assert rule is None and "frost" in text
    finally:
        sandbox.close()
        for fd in held:
            os.close(fd)
