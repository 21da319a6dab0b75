"""Extraction quality and speed of both backends on trafilatura's evaluation pages, through our stage and the raw library.

For each backend, on `../shared/data/extraction/trafilatura-eval/` (990 real pages, each with snippets its main text
must contain, `with`, and boilerplate it must not, `without`):

- `with found`: share of `with` snippets found in the extracted text; `without absent`: share of `without` snippets not
  in it. Snippets and text are compared with whitespace collapsed on both sides (extractors turn spaces into newlines).
  A page the stage rejects counts as empty text: its `with` snippets are missed, its `without` snippets are absent.
- speed on one core (the process and its sandbox child pinned to one CPU), as documents per CPU second (this process
  plus the sandbox child: robust on a shared machine) and per wall second: through `Extract.process` (checks,
  charset decoding, the sandbox round trip) and through the raw library call in this process on the same decoded page
  (`decode_html` + the backend call with the stage's settings). `stage/raw` is the share of raw speed the stage keeps.
- per language: `de` against the rest, the page's language taken from its `with` snippets by the bundled lid.176.

    python bench/extraction.py [--data DIR] [--backend trafilatura --backend resiliparse] [--limit N] [--repeat 2] [--out FILE.json]

Prints a table; writes the figures as JSON to --out when given.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
from pathlib import Path

import pyarrow as pa

from curate.stages.extract import Extract, ExtractParams
from curate.stages.langid import load_model
from curate.stages.sandbox_worker import _extractor, decode_html

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "extraction" / "trafilatura-eval"
_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def load_pages(root: Path, limit: int | None) -> list[dict]:
    pages = []
    with open(root / "index.jsonl", encoding="utf-8") as index:
        for line in index:
            page = json.loads(line)
            page["bytes"] = gzip.decompress((root / page["html"]).read_bytes())
            pages.append(page)
            if limit and len(pages) >= limit:
                break
    model = load_model(None)
    labels, _ = model.predict([squash(" ".join(p["with"])) for p in pages], k=1)
    for page, label in zip(pages, labels):
        page["lang"] = label[0].removeprefix("__label__")
    return pages


def score(pages: list[dict], texts: list[str | None]) -> dict:
    found = total_with = absent = total_without = 0
    for page, text in zip(pages, texts):
        text = squash(text or "")
        found += sum(squash(s) in text for s in page["with"])
        absent += sum(squash(s) not in text for s in page["without"])
        total_with += len(page["with"])
        total_without += len(page["without"])
    return {"pages": len(pages), "with_found": found / max(total_with, 1),
            "without_absent": absent / max(total_without, 1),
            "with_snippets": total_with, "without_snippets": total_without}


def child_cpu(pid: int) -> float:
    """CPU seconds (user + system) a live child has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_stage(backend: str, pages: list[dict], batch_rows: int) -> tuple[list, list, float, float]:
    """Texts, reasons, wall seconds, CPU seconds (this process + the sandbox child) through `Extract.process`."""
    stage = Extract(ExtractParams(backend=backend))
    stage.setup()  # starts and warms the sandbox child: not timed
    pid = stage.sandbox.process.pid
    texts, reasons = [], []
    child_before, cpu_started = child_cpu(pid), time.process_time()
    started = time.perf_counter()
    try:
        for i in range(0, len(pages), batch_rows):
            chunk = pages[i:i + batch_rows]
            batch = pa.RecordBatch.from_pydict({
                "html": pa.array([p["bytes"] for p in chunk], pa.binary()),
                "content_type": pa.array([None] * len(chunk), pa.string()),
            })
            out = stage.process(batch)
            texts += out.column("text").to_pylist()
            reasons += out.column("reject_reason").to_pylist()
        seconds = time.perf_counter() - started
        assert stage.sandbox.process.pid == pid, "the sandbox restarted: its CPU time is not all counted"
        cpu = time.process_time() - cpu_started + child_cpu(pid) - child_before
        return texts, reasons, seconds, cpu
    finally:
        stage.sandbox.close()


def run_raw(backend: str, pages: list[dict]) -> tuple[list, float]:
    extract = _extractor(backend)
    extract("<html><body><p>warm up</p></body></html>")
    texts = []
    started, cpu_started = time.perf_counter(), time.process_time()
    for page in pages:
        try:
            texts.append(extract(decode_html(page["bytes"], None)))
        except Exception:  # the raw call has no sandbox: a failing page is an empty result
            texts.append(None)
    return texts, time.perf_counter() - started, time.process_time() - cpu_started


def measure(backend: str, pages: list[dict], batch_rows: int, repeat: int) -> dict:
    # stage and raw alternate, best time of each kept: the machine is shared, and noise only ever adds time
    stage_s = raw_s = stage_cpu = raw_cpu = float("inf")
    for _ in range(repeat):
        stage_texts, reasons, seconds, cpu = run_stage(backend, pages, batch_rows)
        stage_s, stage_cpu = min(stage_s, seconds), min(stage_cpu, cpu)
        raw_texts, seconds, cpu = run_raw(backend, pages)
        raw_s, raw_cpu = min(raw_s, seconds), min(raw_cpu, cpu)
    rejects: dict[str, int] = {}
    for reason in reasons:
        if reason:
            rejects[reason] = rejects.get(reason, 0) + 1
    same = sum(a == (b if b and b.strip() else None) for a, b in zip(stage_texts, raw_texts))
    result = {
        "backend": backend,
        "stage": {**score(pages, stage_texts), "docs_per_cpu_s": len(pages) / stage_cpu, "cpu_seconds": stage_cpu,
                  "docs_per_s": len(pages) / stage_s, "seconds": stage_s, "rejects": rejects},
        "raw": {**score(pages, raw_texts), "docs_per_cpu_s": len(pages) / raw_cpu, "cpu_seconds": raw_cpu,
                "docs_per_s": len(pages) / raw_s, "seconds": raw_s},
        "stage_over_raw_cpu": raw_cpu / stage_cpu,
        "stage_over_raw_speed": raw_s / stage_s,
        "same_text_as_raw": same / len(pages),
        "by_language": {},
    }
    for group, keep in (("de", lambda lang: lang == "de"), ("other", lambda lang: lang != "de")):
        idx = [i for i, p in enumerate(pages) if keep(p["lang"])]
        result["by_language"][group] = score([pages[i] for i in idx], [stage_texts[i] for i in idx])
    return result


def table(results: list[dict]) -> str:
    rows = [("backend", "path", "pages", "with found", "without absent", "docs/CPU-s", "stage/raw",
             "docs/s wall (1 core)", "stage/raw")]
    for r in results:
        for path in ("stage", "raw"):
            s = r[path]
            cpu_ratio = f"{r['stage_over_raw_cpu']:.2f}" if path == "stage" else ""
            ratio = f"{r['stage_over_raw_speed']:.2f}" if path == "stage" else ""
            rows.append((r["backend"], path, str(s["pages"]), f"{s['with_found']:.3f}", f"{s['without_absent']:.3f}",
                         f"{s['docs_per_cpu_s']:.1f}", cpu_ratio, f"{s['docs_per_s']:.1f}", ratio))
        for group, s in r["by_language"].items():
            rows.append((r["backend"], f"stage, {group}", str(s["pages"]), f"{s['with_found']:.3f}",
                         f"{s['without_absent']:.3f}", "", "", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--backend", action="append", choices=["trafilatura", "resiliparse"])
    parser.add_argument("--limit", type=int, default=None, help="first N pages only")
    parser.add_argument("--batch-rows", type=int, default=64, help="pages per Arrow batch given to the stage")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes per path; the best is kept")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the last one allowed)")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if not (args.data / "index.jsonl").is_file():
        print(f"no evaluation data at {args.data}", file=sys.stderr)
        return 2
    cpu = args.cpu if args.cpu is not None else max(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})  # the sandbox child inherits it: one core for both
    pages = load_pages(args.data, args.limit)
    results = [measure(b, pages, args.batch_rows, args.repeat) for b in args.backend or ["trafilatura", "resiliparse"]]
    print(table(results))
    report = {"data": str(args.data.resolve()), "cpu": cpu, "pages": len(pages),
              "pages_de": sum(p["lang"] == "de" for p in pages), "results": results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
