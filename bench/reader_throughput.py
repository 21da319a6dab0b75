"""Reader throughput: the WARC reader against a reader on fastwarc, on the 990 trafilatura-eval pages as WARC.

The pages are packed by bench/end_to_end.py's builder (`--copies` times, one gzip member per record) into one file, then
read `--repeat` times by each side in the same process, the sides alternating, the best pass of each kept:
- `curate`: the pipeline's WARC reader (framing verified, HTTP parsed, batches built);
- `fastwarc_loop`: the reader curate had before it framed records itself — fastwarc's ArchiveIterator, trusting each
  Content-Length, with the same work per record as `curate` (HTTP parsed, rows, batches): the baseline to match;
- `fastwarc`: fastwarc's ArchiveIterator reading every response block (no HTTP parsing, no batches), the floor a
  reader on fastwarc could reach.
Prints MB/s of compressed input and records/s of each, the ratios, and the load average.

    python bench/reader_throughput.py [--copies 3] [--repeat 5]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
from collections import Counter  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import PAGES, build_warcs  # noqa: E402

from curate.pipeline.config import InputConfig  # noqa: E402
from curate.pipeline.inputs import resolve  # noqa: E402
from curate.pipeline.inputs import read  # noqa: E402
from curate.pipeline.ledger import ReaderLedger  # noqa: E402
from curate.pipeline.schema import CORE  # noqa: E402
from curate.readers.batching import BatchBuilder  # noqa: E402
from curate.readers.warc import _read_block, target_uri  # noqa: E402


def curate_pass(path: Path) -> int:
    cfg = InputConfig(paths=[str(path)], dataset="bench")
    (file,) = resolve(cfg)
    ledger = ReaderLedger(file.rel)
    rows = sum(batch.num_rows for batch in read(file, cfg, ledger))
    assert ledger.error is None and rows == ledger.records_seen, ledger
    return rows


def fastwarc_pass(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    rows = 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=False):
            record.reader.read()
            rows += 1
    return rows


class _Fastwarc:
    """A fastwarc record seen through the attributes `_read_block` reads."""

    __slots__ = ("headers", "block")

    def __init__(self, headers: dict[str, str], block: bytes):
        self.headers, self.block = headers, block


def fastwarc_loop_pass(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    batch, positions, rows = BatchBuilder(CORE), Counter(), 0
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=False):
            headers = {name.lower(): value for name, value in record.headers}
            record_id, offset = (record.record_id or "").strip("<> "), record.stream_pos
            repeat = positions[offset]
            positions[offset] += 1
            row = {"id": f"bench/{path.name}:{offset}" + (f".{repeat}" if repeat else "") + f"/{record_id}",
                   "source": "bench", "file": path.name, "offset": offset,
                   "url": target_uri(headers.get("warc-target-uri")), "date": headers.get("warc-date") or None}
            _read_block(_Fastwarc(headers, record.reader.read()), row)
            batch.add(row, len(row.get("html") or b""))
            if batch.full:
                rows += sum(b.num_rows for b in batch.flush())
    return rows + sum(b.num_rows for b in batch.flush())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build_warcs(PAGES, Path(tmp), args.copies, 1)
        (path,) = Path(tmp).glob("*.warc.gz")
        size = path.stat().st_size
        result = {"file_mb": round(size / 1e6, 1), "load_before": round(os.getloadavg()[0], 2)}
        sides = {"fastwarc": fastwarc_pass, "fastwarc_loop": fastwarc_loop_pass, "curate": curate_pass}
        best, rows = {name: float("inf") for name in sides}, {}
        for name, one in sides.items():
            rows[name] = one(path)  # warm the page cache and imports
        for _ in range(args.repeat):
            for name, one in sides.items():
                started = time.perf_counter()
                one(path)
                best[name] = min(best[name], time.perf_counter() - started)
        for name in sides:
            result[name] = {"records": rows[name], "mb_per_s": round(size / best[name] / 1e6, 1),
                            "records_per_s": round(rows[name] / best[name])}
        result["curate_vs_fastwarc_loop"] = round(best["fastwarc_loop"] / best["curate"], 2)
        result["curate_vs_fastwarc"] = round(best["fastwarc"] / best["curate"], 2)
        result["load_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
