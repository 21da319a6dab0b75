"""`curate quality train`: a fastText quality classifier from a positive and a negative source, with its model card.

DCLM's recipe (Li et al. 2024, "DataComp-LM"; mlfoundations/dclm `baselines/train_fasttext_classifier.py` and
`baselines/README.md`, "Training your own fasttext classifiers"): fastText `train_supervised` with word bigrams
(`wordNgrams 2`) and fastText's supervised defaults otherwise — "we did not deviate from their default values for our
OH2.5 + ELI5 classifier": lr 0.1, dim 100, ws 5, epoch 5, minCount 1, softmax loss, 2,000,000 hash buckets. Labels
`__label__hq` (positive) and `__label__cc` (negative), as DCLM's. Each document is one line, lower-cased, newlines
turned into spaces (`filters.quality_model.prepare`; fastText splits words at any run of whitespace, so that
normalises whitespace as fastText sees it); the card records it so the stage prepares text the same way.

Sized to its data: the model file is (words + buckets) x dim x 4 bytes, and DCLM's 2,000,000 buckets (an 800 MB
file) are for corpora with millions of distinct word bigrams. Unless `bucket` is given, it is two per distinct word
bigram of the training lines (`sized_bucket`), at most DCLM's 2,000,000: a bigram is hashed into a bucket, so buckets
beyond the bigrams are rows no training document reaches. The expected size is said before training, with the flags
that shrink it, and the card records the file's size.

Sampling: the same number of documents from each class (the smaller class's size, at most `max_per_class`), chosen
with `seed`; `heldout` of each class is kept out of training and scored afterwards: AUC, and precision/recall of the
positive class at `threshold`. The card (`<model>.json`) records sources, counts, seed, hyper-parameters and metrics.
"""
from __future__ import annotations

import glob
import json
import multiprocessing
import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pyarrow.dataset as ds

from curate.pipeline.errors import CurateError
from curate.filters.quality_model import FastTextScorer, card_path, prepare

POSITIVE, NEGATIVE = "__label__hq", "__label__cc"
DCLM_HYPERPARAMETERS = {"lr": 0.1, "dim": 100, "ws": 5, "epoch": 5, "minCount": 1, "wordNgrams": 2,
                        "loss": "softmax", "bucket": 2_000_000}
BUCKETS_PER_BIGRAM = 2
MIN_PER_CLASS = 10  # below this the held-out metrics say nothing
# fastText's Hogwild threads diverge to NaN on small corpora (notes-dependencies.md); one thread there.
SMALL_CORPUS_LINES = 20_000


def read_source(path: str, text_field: str = "text") -> list[str]:
    """The non-empty texts of a source: a curate output (its documents/), a folder of .txt files (one document
    each), or JSONL/Parquet files (a file, a folder of them, or a glob) with a `text_field`."""
    root = Path(path)
    if (root / "documents").is_dir():
        return _table_texts(sorted(str(p) for p in (root / "documents").glob("*.parquet")), "parquet", "text", path)
    if root.is_dir():
        texts = sorted(root.rglob("*.txt"))
        if texts:
            return [t for t in (p.read_text(encoding="utf-8", errors="replace") for p in texts) if t.strip()]
        files = sorted(str(p) for p in root.rglob("*") if p.suffix in (".jsonl", ".json", ".parquet"))
    else:
        files = sorted(glob.glob(path)) if any(c in path for c in "*?[") else ([path] if root.is_file() else [])
    if not files:
        raise CurateError(f"quality train: source {path!r} has no documents/ folder, .txt, .jsonl or .parquet files")
    if root.is_file() and root.suffix == ".txt":
        return [t for t in [root.read_text(encoding="utf-8", errors="replace")] if t.strip()]
    kinds = {"parquet" if f.endswith(".parquet") else "json" for f in files}
    if len(kinds) > 1:
        raise CurateError(f"quality train: source {path!r} mixes JSONL and Parquet files; give one kind")
    return _table_texts(files, kinds.pop(), text_field, path)


def _table_texts(files: list[str], kind: str, text_field: str, source: str) -> list[str]:
    if not files:
        return []
    try:
        dataset = ds.dataset(files, format=kind)
    except Exception as error:  # noqa: BLE001 - pyarrow's parse errors for broken files
        raise CurateError(f"quality train: cannot read {source!r} ({type(error).__name__}: "
                          f"{str(error).splitlines()[0][:200]})") from None
    if text_field not in dataset.schema.names:
        raise CurateError(f"quality train: {source!r} has no field {text_field!r} (fields: "
                          f"{', '.join(dataset.schema.names)}); set --text-field")
    column = dataset.to_table(columns=[text_field]).column(text_field)
    return [t for t in pc.drop_null(column).to_pylist() if isinstance(t, str) and t.strip()]


def balanced_split(positives: list[str], negatives: list[str], max_per_class: int | None, heldout: float,
                   seed: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, held-out) lists of (label, text): the same count from each class, drawn and split with `seed`."""
    rng = random.Random(seed)
    per_class = min(len(positives), len(negatives), max_per_class or len(positives))
    train, test = [], []
    for label, texts in ((POSITIVE, positives), (NEGATIVE, negatives)):
        chosen = rng.sample(texts, per_class)
        cut = int(round(per_class * heldout))
        test += [(label, t) for t in chosen[:cut]]
        train += [(label, t) for t in chosen[cut:]]
    rng.shuffle(train)
    return train, test


def metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Held-out AUC, and precision/recall of the positive class at `threshold` (scikit-learn's definitions)."""
    from sklearn.metrics import precision_score, recall_score, roc_auc_score

    predicted = scores >= threshold
    return {"auc": round(float(roc_auc_score(labels, scores)), 4),
            "precision": round(float(precision_score(labels, predicted, zero_division=0)), 4),
            "recall": round(float(recall_score(labels, predicted, zero_division=0)), 4)}


def vocabulary(lines: list[str]) -> tuple[int, int]:
    """(distinct words, distinct word bigrams) of fastText training lines as fastText reads them: words split at
    whitespace, the label first (not a word), an end-of-line word `</s>` closing each line."""
    words, bigrams = set(), set()
    for line in lines:
        tokens = line.split()[1:] + ["</s>"]
        words.update(tokens)
        bigrams.update(zip(tokens, tokens[1:]))
    return len(words), len(bigrams)


def sized_bucket(bigrams: int) -> int:
    """Buckets for this many distinct bigrams: BUCKETS_PER_BIGRAM each (a bigram then shares its bucket with another
    about 1 - e^(-1/2) = 39% of the time, as in DCLM's 2,000,000 buckets with 1,000,000 bigrams), at most DCLM's."""
    return max(1, min(DCLM_HYPERPARAMETERS["bucket"], BUCKETS_PER_BIGRAM * bigrams))


def model_bytes(words: int, bucket: int, dim: int) -> int:
    """The size of a fastText supervised model file, to within its dictionary: one float32 row of `dim` per word
    and per bucket."""
    return 4 * dim * (words + bucket)


def _train(lines: str, model: str, seed: int, threads: int, hyperparameters: dict) -> str | None:
    """Train and save the fastText model (in a child process); the error text when training fails."""
    import fasttext

    try:
        classifier = fasttext.train_supervised(input=lines, seed=seed, thread=threads, verbose=0, **hyperparameters)
    except RuntimeError as error:
        return str(error)
    classifier.save_model(model)
    return None


def train_quality(positive: str, negative: str, model: str, *, text_field: str = "text",
                  max_per_class: int | None = None, heldout: float = 0.1, seed: int = 0, threshold: float = 0.5,
                  threads: int | None = None, overrides: dict | None = None,
                  log: Callable[[str], None] = print) -> dict:
    """Train, evaluate on the held-out documents, write `model` and its card; returns the card.

    `overrides` replaces DCLM's hyper-parameters by name; `bucket` left out is sized to the data (module docstring)."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(overrides) - set(DCLM_HYPERPARAMETERS)
    if unknown:
        raise CurateError(f"quality train: unknown hyper-parameter(s) {', '.join(sorted(unknown))}")
    if not 0 < heldout < 1:
        raise CurateError(f"quality train: --heldout must be between 0 and 1, got {heldout}")
    sources = {}
    for name, path in (("positive", positive), ("negative", negative)):
        texts = read_source(path, text_field)
        log(f"{name}: {len(texts):,} documents with text in {path}")
        if len(texts) < MIN_PER_CLASS:
            raise CurateError(f"quality train: the {name} source {path!r} has {len(texts)} document(s) with text; "
                              f"at least {MIN_PER_CLASS} are needed")
        sources[name] = texts
    train, test = balanced_split(sources["positive"], sources["negative"], max_per_class, heldout, seed)
    if len(test) < 2:
        raise CurateError(f"quality train: --heldout {heldout} leaves no held-out documents; raise it")
    threads = threads or (1 if len(train) < SMALL_CORPUS_LINES else min(os.cpu_count() or 1, 8))
    lines = [f"{label} {prepare(text, True)}" for label, text in train]
    words, bigrams = vocabulary(lines)
    hyperparameters = {**DCLM_HYPERPARAMETERS, "bucket": sized_bucket(bigrams), **overrides}
    size = model_bytes(words, hyperparameters["bucket"], hyperparameters["dim"])
    log(f"training on {len(train):,} documents ({len(train) // 2:,} per class), {len(test):,} held out; "
        f"fastText, {threads} thread(s), {hyperparameters}")
    log(f"model: about {size / 1e6:,.1f} MB = ({words:,} words + {hyperparameters['bucket']:,} buckets"
        f"{' for ' + format(bigrams, ',') + ' distinct word bigrams' if 'bucket' not in overrides else ''}) x dim "
        f"{hyperparameters['dim']} x 4 bytes; --bucket and --dim shrink it")
    out = Path(model)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        lines_file = Path(scratch) / "train.txt"
        lines_file.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        # In a fresh process: inside a long-lived one that had loaded many libraries (the test suite), fastText's
        # training diverged ("Encountered NaN") on lines it trains on cleanly in a new process, every time tried.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            failure = pool.apply(_train, (str(lines_file), str(out), seed, threads, hyperparameters))
        if failure:  # fastText's "Encountered NaN": training diverged
            raise CurateError(f"quality train: fastText failed ({failure}); on small data use --threads 1 "
                              "and the default --dim")
    card = {
        "model": out.name,
        "kind": "fasttext",
        "recipe": "DCLM (Li et al. 2024): fastText supervised, word bigrams, fastText's defaults otherwise",
        "labels": {"positive": POSITIVE, "negative": NEGATIVE},
        "preprocess": {"lowercase": True, "newlines": "to spaces (fastText splits words at whitespace runs)"},
        "hyperparameters": {**hyperparameters, "thread": threads},
        "bucket": ("--bucket" if "bucket" in overrides else
                   f"sized to the data: {BUCKETS_PER_BIGRAM} per distinct word bigram ({bigrams:,}), at most "
                   f"{DCLM_HYPERPARAMETERS['bucket']:,}"),
        "vocabulary": {"words": words, "bigrams": bigrams},
        "size_bytes": out.stat().st_size,
        "sources": {"positive": str(positive), "negative": str(negative), "text_field": text_field},
        "counts": {"positive_available": len(sources["positive"]), "negative_available": len(sources["negative"]),
                   "per_class": len(train) // 2 + len(test) // 2, "train": len(train), "heldout": len(test)},
        "seed": seed,
        "heldout_fraction": heldout,
        "threshold": threshold,
    }
    card_path(str(out)).write_text(json.dumps(card, indent=1))  # the scorer reads the preprocessing from it
    scores = FastTextScorer(str(out), POSITIVE)([text for _, text in test])
    card["heldout"] = metrics(np.array([label == POSITIVE for label, _ in test]), scores, threshold)
    card_path(str(out)).write_text(json.dumps(card, indent=1))
    log(f"held-out AUC {card['heldout']['auc']:.4f}; at threshold {threshold}: precision "
        f"{card['heldout']['precision']:.4f}, recall {card['heldout']['recall']:.4f}")
    log(f"model: {out} ({card['size_bytes'] / 1e6:,.1f} MB); card: {card_path(str(out))}")
    return card
