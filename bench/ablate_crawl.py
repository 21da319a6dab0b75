"""Builds the crawls of the ablation must-show from `../shared/data`: a training crawl and held-out web text.

    python bench/ablate_crawl.py OUT_DIR [--heldout 0.15] [--seed 0]
    curate ablate examples/ablation.yaml          # with OUT_DIR = ablation-data, as the example expects

Pages: the 990 real pages of `extraction/trafilatura-eval/`. A seeded hash of each URL holds out `--heldout` of them
(`OUT_DIR/heldout/heldout.warc.gz`: a reference set once extracted, never trained on). The rest go into
`OUT_DIR/crawl/pages-*.warc.gz` (4 files), some more than once: a crawl fetches popular pages again under other URLs
(Common Crawl's URL-level duplicates), so each page gets 0-3 extra copies (probabilities 0.6, 0.25, 0.1, 0.05) under
a changed URL, shuffled. The shared WARC files (`warc/*.warc.gz`: wget and Common Crawl responses, the ClueWeb quirks,
the clipped file) are linked beside it unchanged. The held-out pages are then extracted by curate itself
(trafilatura, English by langid >= 0.65) into `OUT_DIR/heldout-docs/`: the held-out web reference set of
examples/ablation.yaml. Nothing here decides what the arms keep: that is the pipelines' job.

With `--quality` (for examples/ablation_selection.yaml), two fastText quality classifiers trained by `curate quality
train`'s code, on nothing the evaluation reads: WikiText-2's articles are split by a seeded hash, the held-out ones
written to `OUT_DIR/wikitext-heldout.txt` (the example's Wikipedia reference set) and the others are the positives;
`quality/wiki.bin` learns them against the raw text (every text node, boilerplate included) of the crawl's training
pages (never a held-out page), `quality/main.bin` against the main text of the same pages (resiliparse's
main-content extraction: prose of another kind, a different notion of quality).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import random
import re
import uuid
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
PAGES = DATA / "extraction" / "trafilatura-eval"
EXTRA_COPIES = [(0, 0.6), (1, 0.25), (2, 0.1), (3, 0.05)]


def held_out(url: str, fraction: float, seed: int) -> bool:
    digest = hashlib.sha256(f"{seed}:{url}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def record_id(url: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, url)


def write_warc(path: Path, pages: list[tuple[dict, int]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for page, copy in pages:
            url = page["url"] if copy == 0 else f"{page['url']}{'&' if '?' in page['url'] else '?'}copy={copy}"
            body = gzip.decompress((PAGES / page["html"]).read_bytes())
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http,
                                               warc_headers_dict={
                                                   "WARC-Record-ID": f"<urn:uuid:{record_id(url)}>",
                                                   "WARC-Identified-Payload-Type": "text/html"})
            writer.write_record(record)


def build(out: Path, fraction: float, seed: int, files: int = 4) -> dict:
    index = [json.loads(line) for line in (PAGES / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    rng = random.Random(seed)
    train, heldout = [], []
    for page in index:
        if held_out(page["url"], fraction, seed):
            heldout.append((page, 0))
            continue
        extra = rng.choices([k for k, _ in EXTRA_COPIES], [p for _, p in EXTRA_COPIES])[0]
        train += [(page, copy) for copy in range(extra + 1)]
    rng.shuffle(train)
    for f in range(files):  # one Spark task per file: a few files keep every core busy
        write_warc(out / "crawl" / f"pages-{f}.warc.gz", train[f::files])
    write_warc(out / "heldout" / "heldout.warc.gz", heldout)
    for warc in sorted((DATA / "warc").glob("*.warc.gz")):
        link = out / "crawl" / warc.name
        if not link.exists():
            link.symlink_to(warc)
    return {"train_pages": len(train) - sum(c > 0 for _, c in train), "train_records": len(train),
            "heldout_pages": len(heldout), "shared_warcs": len(list((DATA / "warc").glob("*.warc.gz")))}


HELDOUT_PIPELINE = {
    "input": {"paths": ["heldout/"], "dataset": "heldout"},
    "output": "heldout-docs/",
    "stages": [{"name": "extract"}, {"name": "langid", "languages": ["en"], "threshold": 0.65}],
}


def extract_heldout(out: Path) -> int:
    """The held-out pages' English main text, by a curate run; returns the documents kept."""
    from curate.pipeline.config import parse
    from curate.pipeline.run import run

    config = HELDOUT_PIPELINE | {"input": {**HELDOUT_PIPELINE["input"], "paths": [str(out / "heldout")]},
                                 "output": str(out / "heldout-docs")}
    return run(parse(config), resume=(out / "heldout-docs" / "run.json").exists()).stats["kept"]


def quality_models(out: Path, fraction: float, seed: int) -> dict:
    """The two classifiers of examples/ablation_selection.yaml and the Wikipedia articles they never saw."""
    import sys

    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    from curate.cli.quality_train import train_quality

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from quality import wikitext_articles  # bench/quality.py: one document per section, tokenisation undone

    lines = (DATA / "reference" / "wikitext-2-valid.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if re.match(r"^ = [^=].* = $", line)] + [len(lines)]
    articles = ["".join(lines[a:b]) for a, b in zip(starts, starts[1:])]
    kept = [held_out(article.splitlines()[0], 0.5, seed) for article in articles]  # half the articles held out
    (out / "wikitext-heldout.txt").write_text("".join(a for a, k in zip(articles, kept) if k), encoding="utf-8")
    train_text = out / "quality" / "wikitext-train.txt"
    train_text.parent.mkdir(parents=True, exist_ok=True)
    train_text.write_text("".join(a for a, k in zip(articles, kept) if not k), encoding="utf-8")
    sections = [s for article in wikitext_articles(train_text) for s in article]
    index = [json.loads(line) for line in (PAGES / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    pages, main = [], []
    for page in index:
        if held_out(page["url"], fraction, seed):
            continue
        raw = gzip.decompress((PAGES / page["html"]).read_bytes())
        html = bytes_to_str(raw, detect_encoding(raw))
        text = extract_plain_text(html, main_content=False)
        if len(text.split()) >= 50:
            pages.append(text)
        text = extract_plain_text(html, main_content=True)
        if len(text.split()) >= 50:
            main.append(text)
    files = {"positive": sections, "web": pages, "main": main}
    for name, texts in files.items():
        (out / "quality" / f"{name}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    cards = {}
    for name, negative in (("wiki", "web"), ("main", "main")):
        card = train_quality(str(out / "quality" / "positive.jsonl"), str(out / "quality" / f"{negative}.jsonl"),
                             str(out / "quality" / f"{name}.bin"), seed=seed, log=lambda line: None)
        cards[name] = card.get("heldout", card)
    return {"wikitext_articles": [sum(not k for k in kept), sum(kept)], "positives": len(sections),
            "web_negatives": [len(pages), len(main)], "models": cards}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--heldout", type=float, default=0.15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quality", action="store_true", help="also the classifiers of ablation_selection.yaml")
    args = parser.parse_args()
    built = build(args.out, args.heldout, args.seed)
    built["heldout_documents"] = extract_heldout(args.out)
    if args.quality:
        built["quality"] = quality_models(args.out, args.heldout, args.seed)
    print(json.dumps(built))


if __name__ == "__main__":
    main()
