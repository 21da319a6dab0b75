"""Fuzz the readers and the extract stage with hostile input: >= 10,000 generated files, every record accounted for.

Cases come from the hypothesis strategies of tests/reliability/reliability_hostile.py (mutated WARC headers and bodies,
truncated and corrupt gzip, gzip bombs, invalid UTF-8 and mixed encodings, deep nesting, binary labelled as HTML,
NUL bytes, huge lines, JSONL of every kind), each read by the pipeline's reader and run through `extract` and
`gopher_quality` by `check_file`. Unlike the test sample, a failing case is recorded and the run goes on, so one run
counts every failure. Then the fixed extremes run once each: a 50 MB page, a 2 GB WARC gzip bomb, a 1 GB JSONL gzip
bomb without newlines. Prints and writes the counts, the slowest case and each worker's peak RSS.

    python bench/fuzz.py --cases 10000 --workers 2 --out fuzz.json
"""
from __future__ import annotations

import sys
from pathlib import Path

# `python bench/fuzz.py` puts bench/ first on sys.path, where bench/tokenize_throughput.py would shadow the standard library's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json
import multiprocessing  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import zlib  # noqa: E402
from collections import Counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

import reliability_hostile as hostile  # noqa: E402
from hypothesis import HealthCheck, given, seed, settings  # noqa: E402


def _worker(args: tuple[int, int, str, float]) -> dict:
    index, cases, kind, extract_timeout = args
    bound = hostile.stages(extract_timeout)
    directory = Path(tempfile.mkdtemp(prefix=f"fuzz-{kind}-{index}-"))
    totals = {"cases": 0, "records": 0, "kept": 0, "reasons": Counter(), "file_errors": 0, "failures": [],
              "slowest": (0.0, "")}

    @seed(1000 + index)
    @settings(max_examples=cases, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(hostile.warc_cases() if kind == "warc" else hostile.jsonl_cases())
    def run(case):
        totals["cases"] += 1
        path = case.build(directory)
        try:
            outcome = hostile.check_file(path, kind, bound)
        except Exception as error:  # record and go on: one run counts every failure
            totals["failures"].append(f"{type(error).__name__}: {error} :: {case!r}"[:2000])
            return
        totals["records"] += outcome.seen
        totals["kept"] += outcome.kept
        totals["reasons"].update(outcome.reasons)
        totals["file_errors"] += outcome.file_error is not None
        if outcome.seconds > totals["slowest"][0]:
            totals["slowest"] = (round(outcome.seconds, 2), repr(case)[:300])

    try:
        run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    totals["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return totals


def _extremes(extract_timeout: float) -> list[dict]:
    """The fixed extremes, each in a fresh process so its peak RSS is its own."""
    with multiprocessing.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return [pool.apply(_extreme, (name, extract_timeout)) for name in ("page_50mb", "warc_bomb_2gb",
                                                                          "jsonl_bomb_1gb")]


def _extreme(name: str, extract_timeout: float) -> dict:
    import gzip

    directory = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    ok = hostile.warc_record("html", 0, "none", "none", __import__("random").Random(0))
    if name == "page_50mb":
        body = b"<html><body>" + b"<p>" + b"word " * (10 << 20) + b"</p></body></html>"
        record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: <urn:x:big>\r\nContent-Type: application/http;"
                  b" msgtype=response\r\n")
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + body
        path = directory / "big.warc.gz"
        path.write_bytes(gzip.compress(ok, 1) + gzip.compress(record + f"Content-Length: {len(block)}\r\n\r\n".encode()
                                                              + block + b"\r\n\r\n", 1))
        fmt = "warc"
    elif name == "warc_bomb_2gb":
        path = directory / "bomb.warc.gz"
        with open(path, "wb") as out:
            out.write(gzip.compress(ok))
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
            for _ in range(2048):
                out.write(compressor.compress(bytes(1 << 20)))
            out.write(compressor.flush())
            out.write(gzip.compress(ok))
        fmt = "warc"
    else:
        path = directory / "bomb.jsonl.gz"
        with open(path, "wb") as out:
            out.write(gzip.compress(b'{"text": "before the bomb"}\n'))
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
            for _ in range(1024):
                out.write(compressor.compress(b"a" * (1 << 20)))
            out.write(compressor.flush())
            out.write(gzip.compress(b'\n{"text": "after the bomb"}\n'))
        fmt = "jsonl"
    started, size = time.monotonic(), path.stat().st_size
    try:
        outcome = hostile.check_file(path, fmt, hostile.stages(extract_timeout), read_limit=600)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return {"case": name, "file_mb": round(size / 1e6, 1), "seen": outcome.seen,
            "kept": outcome.kept, "reasons": dict(outcome.reasons), "file_error": outcome.file_error,
            "seconds": round(time.monotonic() - started, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--warc-share", type=float, default=0.7, help="share of WARC cases; the rest are JSONL")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extract-timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    warc = round(args.cases * args.warc_share)
    jobs = []
    for kind, total in (("warc", warc), ("jsonl", args.cases - warc)):
        for i in range(args.workers):
            jobs.append((len(jobs), total // args.workers + (i < total % args.workers), kind, args.extract_timeout))
    started = time.time()
    with multiprocessing.get_context("fork").Pool(args.workers) as pool:
        parts = pool.map(_worker, jobs, chunksize=1)
    seconds = time.time() - started
    extremes = _extremes(args.extract_timeout)
    reasons: Counter = sum((p["reasons"] for p in parts), Counter())
    result = {
        "command": " ".join(["python", "bench/fuzz.py", *sys.argv[1:]]),
        "cases": sum(p["cases"] for p in parts),
        "cases_by_format": {kind: sum(p["cases"] for p, job in zip(parts, jobs) if job[2] == kind)
                            for kind in ("warc", "jsonl")},
        "records": sum(p["records"] for p in parts),
        "kept": sum(p["kept"] for p in parts),
        "rejected": sum(reasons.values()),
        "file_errors": sum(p["file_errors"] for p in parts),
        "failures": [f for p in parts for f in p["failures"]],
        "seconds": round(seconds, 1),
        "slowest_case": max((p["slowest"] for p in parts), key=lambda s: s[0]),
        "peak_rss_mb_per_worker": max(p["peak_rss_mb"] for p in parts),
        "top_reasons": dict(reasons.most_common(40)),
        "extremes": extremes,
    }
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text)
    sys.exit(1 if result["failures"] else 0)


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
