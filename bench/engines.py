"""Engines side by side: the same pipeline on the same input with `--engine spark` and `--engine beam`.

    python bench/engines.py [--documents 4000] [--files 8] [--out results.json]

Input: the demo crawl made bigger (`curate.testing`'s articles and pages, seeded): new articles in four
languages, exact copies under mirror URLs, near copies (the last paragraph changed), drifting copies (each close to
the one before only), keyword spam and tiny pages, shuffled over `--files` WARC.gz files. Pipeline: the demo's
(extract → langid → gopher_quality → exact_dedup → minhash_dedup → domain → tokenize → balance), two global stages
of dedup and one of balance, with a tokenizer trained on the demo sentences.

Each engine runs as `curate run` in a fresh process (JVM and worker start-up count), both on every core of the
machine (Spark `local[*]`, Beam's in-process runner with one worker per core). Printed per engine: wall seconds,
input documents per second, kept documents, and the seconds of each global stage (from the run's decision
manifests); then the ratio and whether both kept the same documents.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curate.testing import LANGUAGE_SHARE, article, demo_texts, page, sentence, spam_page, warc_record
from curate.pipeline.tokenizer import train_bpe

STAGES = [{"name": "extract"}, {"name": "langid", "languages": ["en", "de", "fr", "es"], "threshold": 0.65},
          {"name": "gopher_quality"}, {"name": "exact_dedup"}, {"name": "minhash_dedup"},
          {"name": "domain", "column": "lang"}, {"name": "tokenize", "validation_fraction": 0.05},
          {"name": "balance", "by": "tokens", "temperature": 2.0, "max_epochs": 8}]


def build_crawl(directory: Path, documents: int, files: int, seed: int = 7) -> int:
    """`documents` WARC records over `files` files; returns the number written."""
    rng = random.Random(seed)
    languages = [lang for lang, share in LANGUAGE_SHARE for _ in range(share)]
    pages, articles = [], []
    while len(pages) < documents:
        n, kind = len(pages), rng.random()
        if kind < 0.70 or len(articles) < 10:
            lang = rng.choice(languages)
            title, paragraphs = article(rng, lang)
            articles.append((lang, title, paragraphs))
            pages.append((f"https://{lang}.example-news.org/{n}/story.html", page(lang, title, paragraphs)))
        elif kind < 0.78:  # an exact copy
            lang, title, paragraphs = rng.choice(articles)
            pages.append((f"https://mirror.example.net/{lang}/{n}.html", page(lang, title, paragraphs)))
        elif kind < 0.86:  # a near copy: the last paragraph changed
            lang, title, paragraphs = rng.choice(articles)
            pages.append((f"https://aggregator.example.com/{lang}/{n}",
                          page(lang, title, paragraphs[:-1] + [sentence(rng, lang)])))
        elif kind < 0.92:  # drifting copies: a sentence of the previous copy changed each time
            lang, title, paragraphs = rng.choice(articles)
            for k in range(rng.randint(3, 8)):
                i = rng.randrange(len(paragraphs))
                paragraphs = paragraphs[:i] + [sentence(rng, lang) + " " + paragraphs[i]] + paragraphs[i + 1:]
                pages.append((f"https://drift.example.org/{lang}/{n}/{k}", page(lang, title, paragraphs)))
        elif kind < 0.96:
            pages.append((f"https://shop.example.biz/deal/{n}", spam_page(rng)))
        else:
            pages.append((f"https://tiny.example.org/p/{n}", "<html><body><p>Page not found.</p></body></html>"))
    pages = pages[:documents]
    rng.shuffle(pages)
    directory.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    for part in range(files):
        with open(directory / f"crawl-{part:03d}.warc.gz", "wb") as f:
            for i, (url, html) in enumerate(pages[part::files]):
                f.write(warc_record(url, start + timedelta(seconds=i), "200 OK", "text/html; charset=utf-8",
                                html.encode()))
    return len(pages)


def run_engine(engine: str, pipeline: Path, crawl: Path, output: Path) -> dict:
    command = [sys.executable, "-m", "curate.cli.main", "run", str(pipeline), "--engine", engine,
               "--input", str(crawl), "--output", str(output), "--overwrite"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{engine} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    stats = json.loads((output / "stats.json").read_text())
    manifest = json.loads((output / "manifest.json").read_text())
    kept = pa.concat_tables([pq.read_table(output / p, columns=["id"]) for p in manifest["documents"]])
    stages = {s["id"]: json.loads((output / f"ledger/decisions-{s['id']}.json").read_text())["seconds"]
              for s in ({"id": st.get("id", st["name"])} for st in STAGES
                        if st["name"] in ("exact_dedup", "minhash_dedup", "balance"))}
    rounds = output / "work/components/minhash_dedup/components.json"  # Beam's chained rounds
    return {"engine": engine, "wall_s": round(wall, 1), "input": stats["input"], "kept": stats["kept"],
            "docs_per_s": round(stats["input"] / wall, 1), "global_stage_s": stages,
            "minhash_duplicates": stats["rejected"].get("minhash_dedup:duplicate", 0),
            "components_rounds": json.loads(rounds.read_text())["rounds"] if rounds.exists() else None,
            "kept_ids": sorted(kept.column("id").to_pylist())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=4000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--engines", default="spark,beam")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="curate-engines-") as tmp:
        work = Path(tmp)
        documents = build_crawl(work / "crawl", args.documents, args.files)
        tokenizer = work / "tokenizer.json"
        train_bpe(demo_texts(), vocab_size=1024).save(str(tokenizer))
        stages = [{**s, "tokenizer": str(tokenizer)} if s["name"] == "tokenize" else s for s in STAGES]
        pipeline = work / "pipeline.yaml"
        pipeline.write_text(yaml.safe_dump({"input": {"paths": [str(work / "crawl")], "dataset": "demo"},
                                            "output": str(work / "out"), "stages": stages}))
        print(f"input: {documents} WARC records in {args.files} files; {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}", flush=True)
        results = []
        for engine in args.engines.split(","):
            result = run_engine(engine, pipeline, work / "crawl", work / f"out-{engine}")
            result["load_average_after"] = round(os.getloadavg()[0], 2)
            results.append(result)
            print(f"{engine:6s} wall {result['wall_s']:7.1f} s  {result['docs_per_s']:7.1f} docs/s  "
                  f"kept {result['kept']}  minhash duplicates {result['minhash_duplicates']}  "
                  f"global stages (s) {result['global_stage_s']}  load {result['load_average_after']}", flush=True)
    if len(results) == 2:
        a, b = results
        print(f"{b['engine']} / {a['engine']} wall time: {b['wall_s'] / a['wall_s']:.2f}; "
              f"same kept documents: {a['kept_ids'] == b['kept_ids']}")
    summary = {"documents": documents, "files": args.files, "cores": os.cpu_count(),
               "runs": [{k: v for k, v in r.items() if k != "kept_ids"} for r in results],
               "same_kept": len(results) == 2 and results[0]["kept_ids"] == results[1]["kept_ids"]}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
