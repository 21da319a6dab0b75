"""Hostile input: every record accounted for with a reason, no crash, bounded time and memory per document.

The fixed cases are the ones that broke a reader before (each names its fix); the hypothesis sample draws a few hundred
files from the same strategies as bench/fuzz.py (>= 10,000 there). The extremes (50 MB page, gzip bombs) run in a
child process so its peak RSS is theirs alone.
"""
from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

import reliability_hostile as hostile

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def bound():
    """extract (trafilatura, the default, in its sandbox) and gopher_quality, set up once for the module."""
    stages = hostile.stages()
    yield stages
    stages["extract"].stage.sandbox.close()


def _warc(records: list[bytes], whole: bool = False) -> bytes:
    if whole:
        return gzip.compress(b"".join(records), mtime=0)
    return b"".join(gzip.compress(r, mtime=0) for r in records)


def _response(number: int, status: bytes = b"HTTP/1.1 200 OK", body: bytes | None = None, record_id: bool = True):
    body = body if body is not None else b"<html><body><p>" + b"A plain sentence of words. " * 40 + b"</p></body></html>"
    block = status + b"\r\nContent-Type: text/html\r\n\r\n" + body
    rid = f"WARC-Record-ID: <urn:uuid:t-{number}>\r\n".encode() if record_id else b""
    return (b"WARC/1.0\r\nWARC-Type: response\r\n" + rid + b"Content-Type: application/http; msgtype=response\r\n"
            + f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n")


def test_corrupt_gzip_inside_a_record_block_is_a_truncated_row(tmp_path, bound):
    # before the fix: the record was counted as seen but never became a row (the run's accounting check failed)
    big = _response(2, body=b"<html><body>" + random.Random(1).randbytes(300_000) + b"</body></html>")
    members = [gzip.compress(_response(1)), gzip.compress(big), gzip.compress(_response(3))]
    data = bytearray(b"".join(members))
    middle = len(members[0]) + len(members[1]) // 2
    data[middle:middle + 64] = random.Random(2).randbytes(64)
    path = tmp_path / "corrupt.warc.gz"
    path.write_bytes(bytes(data))
    outcome = hostile.check_file(path, "warc", bound)
    assert outcome.seen == 2 and outcome.reasons["read:truncated"] == 1
    assert outcome.file_error.endswith(f"corrupt gzip member at offset {len(members[0])}: Error -6 Incorrect "
                                       "checksum found")


def test_hostile_http_status_is_a_reject_and_the_file_goes_on(tmp_path, bound):
    # before the fix: '²00' passed str.isdigit(), int() raised and the rest of the file was lost
    path = tmp_path / "status.warc.gz"
    path.write_bytes(_warc([_response(1, b"HTTP/1.1 \xb200 OK"), _response(2, b"HTTP/1.1 " + b"9" * 5000),
                            _response(3)]))
    outcome = hostile.check_file(path, "warc", bound)
    assert outcome.seen == 3 and outcome.reasons["read:http:bad_status_line"] == 2 and outcome.file_error is None


def test_records_without_id_in_a_whole_file_gzip_get_distinct_ids(tmp_path):
    # before the fix: every record of a file gzipped whole had the offset of member 0, so one id for all
    path = tmp_path / "whole.warc.gz"
    path.write_bytes(_warc([_response(i, record_id=False) for i in range(3)], whole=True))
    outcome = hostile.check_file(path, "warc")  # check_file asserts one row per record and distinct (id, offset)
    assert outcome.seen == 3 and outcome.kept == 3


def test_a_record_parsed_twice_on_a_corrupt_stream_is_one_row(tmp_path, bound):
    # found by bench/fuzz.py: on this corrupt whole-file gzip, fastwarc yields record 1 twice (same offset, same id)
    case = hostile.WarcCase(records=(("html", "binary_value", "insert"), ("not_html", "length_negative", "truncate"),
                                     ("nested", "none", "nul_run"), ("html", "binary_value", "insert"),
                                     ("gzip_body", "bad_version", "nul_run")),
                            container="gzip_whole", container_mutation="corrupt", seed=627629470)
    outcome = hostile.check_file(case.build(tmp_path), "warc", bound)  # one row per record, every byte accounted
    assert outcome.file_error.startswith("corrupt gzip member at offset 0")


@pytest.mark.parametrize("line, reason", [
    (b"[" * 100_000, "read:invalid_json"),  # RecursionError escaped the reader
    (b'{"text": "bad \\ud800 surrogate"}', "read:invalid_unicode"),  # UnicodeEncodeError at the batch flush
    (b'{"text": "fine", "url": "\\udfff"}', "read:invalid_unicode"),
    (b'{"text": "a\x00b"}', "read:invalid_json"),
    (b'{"text": "bad \xff\xfe utf-8"}', "read:invalid_json"),
])
def test_hostile_jsonl_lines_are_rejected_with_a_reason(tmp_path, line, reason):
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b'{"text": "before"}\n' + line + b'\n{"text": "after"}\n')
    outcome = hostile.check_file(path, "jsonl")
    assert outcome.seen == 3 and outcome.kept == 2 and outcome.reasons == {reason: 1}


def test_corrupt_jsonl_gzip_is_a_file_error(tmp_path):
    # before the fix: zlib.error is neither OSError nor ValueError, and crashed the task
    data = bytearray(gzip.compress(b"".join(json.dumps({"text": f"line {i} " * 50}).encode() + b"\n"
                                            for i in range(2000)), mtime=0))
    data[len(data) // 2:len(data) // 2 + 16] = bytes(16)
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(data))
    outcome = hostile.check_file(path, "jsonl")
    assert outcome.file_error and outcome.seen == outcome.kept + sum(outcome.reasons.values())


def test_corrupt_and_truncated_parquet_are_file_errors(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "good.parquet"
    pq.write_table(pa.table({"text": [f"document {i}" for i in range(1000)]}), path, row_group_size=100)
    data = path.read_bytes()
    for name, broken in (("truncated.parquet", data[: len(data) // 2]), ("garbage.parquet", b"PAR1" + bytes(500))):
        (tmp_path / name).write_bytes(broken)
        outcome = hostile.check_file(tmp_path / name, "parquet")
        assert outcome.file_error and outcome.seen == 0


def test_parquet_with_a_list_url_and_dictionary_text(tmp_path):
    # before the fix: a list `url` raised ArrowNotImplementedError out of the reader (a crashed task), and
    # dictionary-encoded text (pandas categoricals) was rejected as read:no_text
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array(["one", "two", None]).dictionary_encode(), "url": [[1], [2], [3]]}),
                   tmp_path / "odd.parquet")
    outcome = hostile.check_file(tmp_path / "odd.parquet", "parquet")
    assert outcome.seen == 3 and outcome.kept == 2 and outcome.reasons == {"read:no_text": 1}


def _write_extremes(directory: Path) -> None:
    """A 50 MB page, a 256 MB JSONL line behind gzip and a 200 MB gzip HTTP body: written here, read in a child."""
    body = b"<html><body><p>" + b"word " * (10 << 20) + b"</p></body></html>"
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
    record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:x:big>\r\nContent-Type: application/http\r\n"
              + f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n")
    (directory / "big.warc.gz").write_bytes(gzip.compress(record, 1))
    bomb = zlib.compressobj(9, zlib.DEFLATED, 31)  # 256 MB of 'a' without a newline, then a good line
    with open(directory / "bomb.jsonl.gz", "wb") as out:
        out.write(gzip.compress(b'{"text": "before the bomb"}\n'))
        out.write(b"".join(bomb.compress(b"a" * (1 << 20)) for _ in range(256)) + bomb.flush())
        out.write(gzip.compress(b'\n{"text": "after the bomb"}\n'))
    http_bomb = gzip.compress(bytes(200 << 20), 1)  # Content-Encoding: gzip, 200 MB of zeros; the reader caps at 64 MB
    block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n" + http_bomb
    record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:x:bomb>\r\nContent-Type: application/http\r\n"
              + f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n")
    (directory / "http_bomb.warc.gz").write_bytes(gzip.compress(record, 1))


# The child only reads, so its peak memory is the pipeline's, not the making of the inputs.
_EXTREMES = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import reliability_hostile as hostile
directory, results = Path(sys.argv[2]), {}
bound = hostile.stages()
for name, fmt in (("big.warc.gz", "warc"), ("bomb.jsonl.gz", "jsonl"), ("http_bomb.warc.gz", "warc")):
    outcome = hostile.check_file(directory / name, fmt, bound, read_limit=120)
    results[name] = {"seen": outcome.seen, "kept": outcome.kept, "reasons": dict(outcome.reasons)}
bound["extract"].stage.sandbox.close()
# VmHWM: this process's own peak (ru_maxrss would carry the forking pytest process's peak across exec)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
results["peak_rss_mb"] = int(status["VmHWM"].split()[0]) // 1024
print(json.dumps(results))
"""


@pytest.mark.slow
def test_extremes_in_bounded_time_and_memory(tmp_path):
    _write_extremes(tmp_path)
    done = subprocess.run([sys.executable, "-c", _EXTREMES, str(HERE), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results["big.warc.gz"] == {"seen": 1, "kept": 0, "reasons": {"extract:too_large": 1}}
    assert results["bomb.jsonl.gz"]["seen"] == 3 and results["bomb.jsonl.gz"]["kept"] == 0
    assert results["bomb.jsonl.gz"]["reasons"]["read:too_large:268435457"] == 1
    assert results["http_bomb.warc.gz"]["reasons"] == {"extract:too_large": 1}  # decompressed up to the cap only
    # a 50 MB page, and bombs of 256 MB and 200 MB, in well under their decompressed size (the page is held twice)
    assert results["peak_rss_mb"] < 700, results


@pytest.mark.slow
@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=hostile.warc_cases())
def test_fuzzed_warc_files_every_record_accounted_for(case, bound, tmp_path_factory):
    hostile.check_file(case.build(tmp_path_factory.mktemp("warc")), "warc", bound)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(case=hostile.jsonl_cases())
def test_fuzzed_jsonl_files_every_record_accounted_for(case, bound, tmp_path_factory):
    hostile.check_file(case.build(tmp_path_factory.mktemp("jsonl")), "jsonl", bound)


def test_the_language_precheck_judges_every_hostile_page_in_the_worker_without_failing():
    # lang_precheck reads pages in the worker itself (decoding, then a scan of the tags): every kind of hostile body,
    # each mutated every way, must come out with no decision or a language, within its time
    from curate.stages.lang_precheck import LangPrecheck, LangPrecheckParams

    stage = LangPrecheck(LangPrecheckParams(languages=["en"]))
    stage.setup()
    rng = random.Random(5)
    pages, types = [], []
    for kind in hostile.WARC_KINDS:
        for mutation in hostile.BODY_MUTATIONS:
            for _ in range(3):
                _, content_type, body, _ = hostile.page(kind, rng)
                pages.append(hostile._mutate_bytes(body, mutation, rng))
                types.append(content_type or None)
    pages += [b"<" * 300_000, b"<script>" * 40_000, b"<!--" * 60_000, b"<b>" * 200_000 + b"word",
              b"\xff\xfe" + b"<\x00p\x00>\x00" * 1000]  # no closing '>', script, comment; 200,000 tags; UTF-16
    types += ["text/html"] * 5
    batch = pa.RecordBatch.from_pydict({"html": pa.array(pages, pa.binary()),
                                        "content_type": pa.array(types, pa.string())})
    with hostile.deadline(60.0, "lang_precheck on hostile pages"):
        reasons = stage.process(batch).column("reject_reason").to_pylist()
    assert len(reasons) == len(pages)
    assert all(r is None or r.startswith("language:") for r in reasons), reasons
    assert reasons.count(None) < len(reasons)  # it did judge: the random and foreign bodies are not English
