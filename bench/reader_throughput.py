"""Reader throughput: the WARC reader against fastwarc's bare iteration, on the 990 trafilatura-eval pages as WARC.

The pages are packed by bench/end_to_end.py's builder (`--copies` times, one gzip member per record) into one file, then
read `--repeat` times by each side in the same process: `curate` is the pipeline's WARC reader (framing verified,
HTTP parsed, batches built), `fastwarc` is fastwarc's ArchiveIterator reading every response block (no HTTP parsing,
no batches), the floor a reader on fastwarc could reach. Prints MB/s of compressed input and records/s of each, and
the ratio.

    python bench/reader_throughput.py [--copies 3] [--repeat 5]
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import PAGES, build_warcs  # noqa: E402

from curate.pipeline.config import InputConfig  # noqa: E402
from curate.pipeline.inputs import resolve  # noqa: E402
from curate.pipeline.inputs import read  # noqa: E402
from curate.pipeline.ledger import ReaderLedger  # noqa: E402


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        build_warcs(PAGES, Path(tmp), args.copies, 1)
        (path,) = Path(tmp).glob("*.warc.gz")
        size = path.stat().st_size
        result = {"file_mb": round(size / 1e6, 1)}
        for name, one in (("fastwarc", fastwarc_pass), ("curate", curate_pass)):
            one(path)  # warm the page cache and imports
            started = time.perf_counter()
            rows = sum(one(path) for _ in range(args.repeat))
            seconds = time.perf_counter() - started
            result[name] = {"records": rows // args.repeat, "mb_per_s": round(size * args.repeat / seconds / 1e6, 1),
                            "records_per_s": round(rows / seconds)}
        result["curate_vs_fastwarc"] = round(result["curate"]["mb_per_s"] / result["fastwarc"]["mb_per_s"], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
