"""Fuzz the readers and the extract stage with hostile input: >= 10,000 generated files, every record accounted for.

Two fuzzers. The framing fuzz (`--framing-cases`, in-process on the reader and its accounting, minutes) draws the
structure-aware WARC mutations of tests/reliability/reliability_framing.py — Content-Length +/- k (a few bytes, a
record's length, megabytes, past the end), a cut at every byte of a gzip/zstd member (sweeps) or at a random byte,
headers cut short, records duplicated and swapped, garbage between records — over plain, per-record gzip, whole-file
gzip and per-record zstd files, and checks each against the generator's own map of where every record is: a record
neither a row nor inside a reported skip or break is a silent loss, a kept page that is not its record's a silent
change. `--pipeline-cases` of them then go through a real run (Beam, in-process), whose stats.json must agree with
the reader-level counts. The content fuzz (`--cases`):
cases come from the hypothesis strategies of tests/reliability/reliability_hostile.py (mutated WARC headers and bodies,
truncated and corrupt gzip, gzip bombs, invalid UTF-8 and mixed encodings, deep nesting, binary labelled as HTML,
NUL bytes, huge lines, JSONL of every kind), each read by the pipeline's reader and run through `extract` and
`gopher_quality` by `check_file`. Unlike the test sample, a failing case is recorded and the run goes on, so one run
counts every failure. Then the fixed extremes run once each: a 50 MB page, a 2 GB WARC gzip bomb, a 1 GB JSONL gzip
bomb without newlines. Prints and writes the counts, the slowest case and each worker's peak RSS.

    python bench/fuzz.py --cases 10000 --workers 2 --out fuzz.json
    python bench/fuzz.py --cases 0 --framing-cases 12000 --workers 2 --out framing.json
"""
from __future__ import annotations

import sys
from pathlib import Path

# `python bench/fuzz.py` puts bench/ first on sys.path, where bench/tokenize_throughput.py would shadow the standard library's
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json
import multiprocessing  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import zlib  # noqa: E402
from collections import Counter  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

import reliability_framing as framing  # noqa: E402
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


# A framing case is a file of a few KB: one that takes longer than this has hung.
_FRAMING_SECONDS = 20


def framing_cases(total: int, seed: int = 0) -> list[framing.Case]:
    """`total` cases: two fifths cut sweeps (every byte of a member, each container in turn), the rest drawn."""
    rng = random.Random(seed)
    cases: list[framing.Case] = []
    containers = iter(framing.CONTAINERS * total)
    while len(cases) < total * 2 // 5:
        cases += framing.sweep_cases(rng.getrandbits(32), next(containers))
    cases = cases[:total * 2 // 5]
    while len(cases) < total:
        cases.append(framing.Case(rng.getrandbits(32), rng.choice(framing.CONTAINERS), rng.choice(framing.MUTATIONS)))
    return cases


def _framing_worker(cases: list[framing.Case]) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="fuzz-framing-"))
    totals = {"cases": 0, "records": 0, "rows": 0, "kept": 0, "found": 0, "reported": 0, "file_errors": 0,
              "reasons": Counter(), "by_mutation": Counter(), "failures": [], "slowest": (0.0, "")}
    try:
        warm, _ = framing.Case(0, "gzip_members", "none").build(directory)
        framing.check_case(warm, _)  # imports and first-call set-up out of the slowest case's time
        for case in cases:
            started = time.monotonic()
            path = None
            try:
                with hostile.deadline(_FRAMING_SECONDS, repr(case)):
                    path, records = case.build(directory)
                    result = framing.check_case(path, records)
            except Exception as error:  # record and go on: one run counts every failure
                totals["failures"].append(f"{type(error).__name__}: {error} :: {case!r}"[:2000])
                continue
            finally:
                if path is not None:
                    path.unlink(missing_ok=True)
            totals["cases"] += 1
            totals["by_mutation"][f"{case.container}/{case.mutation}"] += 1
            for name in ("records", "rows", "kept", "found", "reported"):
                totals[name] += getattr(result, name)
            totals["file_errors"] += result.file_error
            totals["reasons"].update(result.reasons)
            seconds = time.monotonic() - started
            if seconds > totals["slowest"][0]:
                totals["slowest"] = (round(seconds, 3), repr(case))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    totals["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    return totals


def _framing(total: int, workers: int) -> dict:
    cases = framing_cases(total)
    started = time.time()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_framing_worker, [cases[i::workers] for i in range(workers)], chunksize=1)
    reasons: Counter = sum((p["reasons"] for p in parts), Counter())
    return {
        "cases": sum(p["cases"] for p in parts) + sum(len(p["failures"]) for p in parts),
        "by_mutation": dict(sorted(sum((p["by_mutation"] for p in parts), Counter()).items())),
        **{name: sum(p[name] for p in parts) for name in ("records", "rows", "kept", "found", "reported",
                                                           "file_errors")},
        "failures": [f for p in parts for f in p["failures"]],
        "seconds": round(time.time() - started, 1),
        "slowest_case": max((p["slowest"] for p in parts), key=lambda s: s[0]),
        "peak_rss_mb_per_worker": max(p["peak_rss_mb"] for p in parts),
        "reasons": dict(reasons.most_common()),
    }


def _through_the_pipeline(count: int) -> dict:
    """`count` drawn framing cases as one input folder through a real run (Beam): its stats against the reader's."""
    from curate.pipeline import config as pipeline_config
    from curate.pipeline.run import run

    directory = Path(tempfile.mkdtemp(prefix="fuzz-pipeline-"))
    crawl = directory / "crawl"
    crawl.mkdir()
    rng = random.Random(1)
    expected = {"input": 0, "read_rejects": Counter()}
    try:
        for _ in range(count):
            case = framing.Case(rng.getrandbits(32), rng.choice(framing.CONTAINERS),
                                rng.choice(["length", "cut", "header_cut", "garbage", "duplicate"]))
            path, records = case.build(crawl)
            result = framing.check_case(path, records)
            expected["input"] += result.rows
            expected["read_rejects"].update(result.reasons)
        raw = {"input": {"paths": [str(crawl)], "dataset": "fuzz"}, "output": str(directory / "out"),
               "engine": {"name": "beam"}, "stages": [{"name": "extract", "backend": "resiliparse"}]}
        stats = run(pipeline_config.parse(raw)).stats
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    read_rejects = {k: v for k, v in stats["rejected"].items() if k.startswith("read:")}
    agree = stats["input"] == expected["input"] and read_rejects == dict(expected["read_rejects"])
    return {"files": count, "input": stats["input"], "kept": stats["kept"], "read_rejects": read_rejects,
            "file_errors": len(stats["file_errors"]), "bytes": stats["bytes"], "agrees_with_reader": agree}


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
    parser.add_argument("--cases", type=int, default=10_000, help="content fuzz cases (0: none)")
    parser.add_argument("--framing-cases", type=int, default=12_000, help="framing fuzz cases (0: none)")
    parser.add_argument("--pipeline-cases", type=int, default=12, help="framing cases also run through a Beam run")
    parser.add_argument("--warc-share", type=float, default=0.7, help="share of WARC cases; the rest are JSONL")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--extract-timeout", type=float, default=5.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = {"command": " ".join(["python", "bench/fuzz.py", *sys.argv[1:]])}
    if args.framing_cases:
        result["framing"] = _framing(args.framing_cases, args.workers)
    if args.pipeline_cases:
        result["pipeline"] = _through_the_pipeline(args.pipeline_cases)
    if args.cases:
        result["content"] = _content(args)
    failures = result.get("framing", {}).get("failures", []) + result.get("content", {}).get("failures", [])
    if "pipeline" in result and not result["pipeline"]["agrees_with_reader"]:
        failures.append("the pipeline's stats disagree with the reader's counts")
    text = json.dumps(result, indent=1, ensure_ascii=False)
    print(text)
    if args.out:
        args.out.write_text(text)
    sys.exit(1 if failures else 0)


def _content(args) -> dict:
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
    return {
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


if __name__ == "__main__":
    try:
        main()
    except Exception:
        traceback.print_exc()
        sys.exit(2)
