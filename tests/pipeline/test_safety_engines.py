"""The safety stages in one pipeline (url_filter -> opt_out -> extract -> pii) on Spark and on Beam: the same kept
documents, reasons and PII counts, and the run report's Counts section; a missing list file exits 2 in one line."""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.testing import page
from curate.cli.report import write_report
from curate.pipeline.run import run


def warc_response(url: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    """One gzipped WARC response record (status 200) with the given HTTP headers."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers)
    http = f"HTTP/1.1 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body
    warc = (f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>\r\n"
            f"WARC-Date: 2026-01-01T00:00:00Z\r\nWARC-Target-URI: {url}\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(http)}\r\n\r\n").encode()
    return gzip.compress(warc + http + b"\r\n\r\n", mtime=0)

STORY = ("The river crossing was rebuilt last spring after the old ferry stopped running, and the town council "
         "published the new timetable together with a long account of how the work was planned and paid for.")
PAGES = [  # url, extra HTTP headers, a paragraph with or without PII
    ("https://news.example/a", [], "Questions go to editor.desk@news-mail.org or (415) 555-2671 any weekday."),
    ("https://news.example/b", [], "The server at 93.184.216.34 logged card 4111 1111 1111 1111 by mistake."),
    ("https://ads.blocked.example/c", [], "An advertising page that the domain list removes before extraction."),
    ("https://news.example/xxx-d", [], "A page whose address holds a banned word of the FineWeb rule."),
    ("https://news.example/e", [("X-Robots-Tag", "noai")], "A page that refuses AI use in its HTTP header."),
    ("https://private.example/f", [], "A page on a host whose robots.txt refuses GPTBot everything."),
    ("https://news.example/g", [], "Order #415-555-2671 shipped on 2024-03-05 for $1,234.56, ISBN 978-3-16-148410-0."),
]


def crawl(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "crawl").mkdir()
    with open(tmp_path / "crawl" / "pages.warc.gz", "wb") as f:
        for url, headers, paragraph in PAGES:
            body = page("en", "Town news", [STORY, paragraph, STORY.replace("river", "bridge")]).encode()
            f.write(warc_response(url, [("Content-Type", "text/html; charset=utf-8"), *headers], body))
    (tmp_path / "robots").mkdir()
    (tmp_path / "robots" / "private.example.txt").write_text("User-agent: GPTBot\nDisallow: /\n")
    return tmp_path / "crawl", tmp_path / "robots"


def outcome(output: Path) -> tuple[dict, dict, dict]:
    manifest = json.loads((output / "manifest.json").read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]]).to_pylist()
    texts = {r["id"]: (r["text"], {k: v for k, v in r.items() if k.startswith("pii_")}) for r in kept}
    return texts, {r["id"]: r["reject_reason"] for r in rejects}, json.loads((output / "stats.json").read_text())


def test_safety_stages_on_spark_and_beam(tmp_path, spark):
    inputs, robots = crawl(tmp_path)
    stages = [{"name": "url_filter", "domains": ["blocked.example"], "banned_words": ["xxx"]},
              {"name": "opt_out", "robots": [str(robots)]},
              {"name": "extract"},
              {"name": "pii"}]
    results = {}
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(tmp_path / engine),
               "engine": {"name": engine}, "stages": stages}
        run(pipeline_config.parse(raw))
        results[engine] = outcome(tmp_path / engine)
    assert results["spark"][:2] == results["beam"][:2]
    texts, reasons, stats = results["spark"]
    assert sorted(reasons.values()) == ["opt_out:robots:GPTBot", "opt_out:x_robots_tag:noai",
                                        "url_filter:banned_word", "url_filter:domain"]
    assert stats["kept"] == 3 and stats["input"] == 7
    kept = sorted(texts.values(), key=lambda t: t[0])
    pii = {text.split(STORY.replace("river", "bridge"))[0].split(STORY)[1].strip(): counts for text, counts in kept}
    assert pii == {
        "Questions go to <EMAIL> or <PHONE> any weekday.":
            {"pii_email": 1, "pii_iban": 0, "pii_card": 0, "pii_ssn": 0, "pii_ip": 0, "pii_phone": 1},
        "The server at <IP> logged card <CARD> by mistake.":
            {"pii_email": 0, "pii_iban": 0, "pii_card": 1, "pii_ssn": 0, "pii_ip": 1, "pii_phone": 0},
        PAGES[-1][2]: {"pii_email": 0, "pii_iban": 0, "pii_card": 0, "pii_ssn": 0, "pii_ip": 0, "pii_phone": 0},
    }
    page = Path(write_report(str(tmp_path / "beam"))).read_text()
    assert "<h2>Counts</h2>" in page and "<td class=\"\">pii: pii_email</td><td class=\"num\">1</td>" in page


def test_a_missing_list_file_exits_2_in_one_line(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text('{"text": "x", "url": "https://a.example/"}\n')
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"input": {"paths": [str(tmp_path / "in")], "dataset": "t"},
                                "output": str(tmp_path / "out"), "engine": {"name": "beam"},
                                "stages": [{"name": "url_filter", "domain_files": ["lists/missing.txt"]}]}))
    result = subprocess.run([sys.executable, "-c", "from curate.cli.main import main; main()", "run", str(path)],
                            capture_output=True, text=True, timeout=300, cwd=tmp_path, env=dict(os.environ))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (  # read beside the pipeline file
        f"curate: error: stages[0] (url_filter).domain_files[0]: no file or folder '{tmp_path / 'lists/missing.txt'}' "
        "(a relative path in a pipeline file is read beside that file, or in the current folder)")


def test_the_safety_example_is_a_valid_pipeline():
    config = pipeline_config.load(Path(__file__).resolve().parents[2] / "examples" / "safety.yaml")
    assert [s.name for s in config.stages][:3] == ["url_filter", "opt_out", "extract"]
    assert "pii" in [s.name for s in config.stages]
