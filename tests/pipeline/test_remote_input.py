"""Inputs over http(s): a WARC served on loopback is listed and read like a local one, with the same ids."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import pytest

from curate.pipeline.config import InputConfig
from curate.testing import generate_crawl
from curate.pipeline.inputs import resolve
from curate.pipeline.inputs import read
from curate.pipeline.ledger import ReaderLedger


@pytest.fixture()
def served(tmp_path: Path):
    generate_crawl(tmp_path, files=2)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def ids(paths: list[str]) -> tuple[list, list[str]]:
    cfg = InputConfig(paths=paths, dataset="cc")
    files = resolve(cfg)
    out = []
    for file in files:
        ledger = ReaderLedger(file.rel)
        out += [i for batch in read(file, cfg, ledger) for i in batch.column("id").to_pylist()]
        assert ledger.error is None
    return files, out


def test_http_input_reads_like_local(served):
    directory, base = served
    remote_files, remote_ids = ids([f"{base}/crawl-00.warc.gz", f"{base}/crawl-01.warc.gz"])
    local_files, local_ids = ids([str(directory / "crawl-00.warc.gz"), str(directory / "crawl-01.warc.gz")])
    assert [f.rel for f in remote_files] == [f.rel for f in local_files] == ["crawl-00.warc.gz", "crawl-01.warc.gz"]
    assert [f.size for f in remote_files] == [f.size for f in local_files]
    assert remote_files[0].uri.startswith("http://127.0.0.1:")
    assert remote_ids == local_ids and len(remote_ids) > 100
