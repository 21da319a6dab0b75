"""What a task's in-flight figures cost: one pass over real WARC files with and without the reporting thread.

    python bench/inflight_overhead.py [--files 4] [--repeat 5]

The WARCs are the 990 trafilatura-eval pages of `../shared/data` (uncompressed, `--files` files). The pass reads each
file and runs a cheap map stage (`gopher_quality` needs text: the pages go through `extract` with resiliparse, the
fast backend, so the reading part weighs as much as it can). Each round runs every file three ways, in turn (each first in one round of three): no
reporting (`every` None, as with no progress shown), the terminal's interval (1 s) and a hundred times that rate
(0.01 s); the best of `--repeat` rounds is kept. The overhead is the ratio to the run without reporting. On a
loaded machine that ratio is noisier than the overhead, so the cost of one write is timed too (2,000 writes of a
task's figures): its share of a task's time at the terminal's interval is the write's seconds per second.
"""
from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "extraction" / "trafilatura-eval"


def write_crawl(directory: Path, files: int) -> list[Path]:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    index = [json.loads(line) for line in (DATA / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    paths = []
    for f in range(files):
        path = directory / f"pages-{f}.warc"
        with open(path, "wb") as stream:
            writer = WARCWriter(stream, gzip=False)
            for page in index[f::files]:
                body = gzip.decompress((DATA / page["html"]).read_bytes())
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(page["url"], "response", payload=io.BytesIO(body),
                                                              http_headers=http))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from curate.pipeline import config as pipeline_config
    from curate.pipeline import inflight
    from curate.pipeline.inputs import resolve
    from curate.pipeline.output import Output
    from curate.pipeline.passes import Pipeline, run_pass

    with tempfile.TemporaryDirectory(prefix="curate-inflight-") as scratch:
        crawl = Path(scratch) / "crawl"
        crawl.mkdir()
        paths = write_crawl(crawl, args.files)
        config = pipeline_config.parse({
            "input": {"paths": [str(crawl)], "dataset": "c"}, "output": str(Path(scratch) / "out"),
            "stages": [{"name": "extract", "backend": "resiliparse"}, {"name": "gopher_quality"}]})
        pipeline = Pipeline(config)
        files, step, output = resolve(config.input), pipeline.passes[0], Output(config.output)
        for file in files[:1]:
            run_pass(pipeline, step, file, output)  # warm: stages built, sandbox started, pages in the page cache
        best = {None: float("inf"), 1.0: float("inf"), 0.01: float("inf")}
        for round_ in range(args.repeat):
            order = list(best)
            for every in order[round_ % 3:] + order[:round_ % 3]:  # each setting first in turn
                started = time.perf_counter()
                for file in files:
                    run_pass(pipeline, step, file, output, progress_every=every)
                best[every] = min(best[every], time.perf_counter() - started)
        base = best[None]
        size = sum(p.stat().st_size for p in paths)
        figures = inflight.Figures(1234, None, 12_345_678, 40_000_000, 600)
        started, writes = time.perf_counter(), 2000
        for _ in range(writes):
            output.write_json(f"{inflight.folder(0)}/bench.json", figures.__dict__, durable=False)
        per_write = (time.perf_counter() - started) / writes
        print(json.dumps({
            "files": len(files), "megabytes": round(size / 1e6, 1), "load_average": os.getloadavg(),
            "seconds_best": {str(k): round(v, 3) for k, v in best.items()},
            "ratio_to_no_reporting": {str(k): round(v / base, 4) for k, v in best.items()},
            "one_write_microseconds": round(per_write * 1e6, 1),
            "share_of_a_task_at_1s": f"{per_write / 1.0:.2e}",
        }, indent=1))


if __name__ == "__main__":
    main()
