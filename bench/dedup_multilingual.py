"""MinHash on Chinese, Japanese and Thai: near-duplicates built from real sentences, clustered by `minhash_dedup` with
three kinds of words — whitespace words, curate's default units, each language's word tokenizer — recall and
precision side by side.

    python bench/dedup_multilingual.py [--engine spark|beam] [--bases 20] [--out result.json]

Data: the `sentences` lines of `../shared/data/langid/lingua-dev.tsv` (Leipzig corpora news/web sentences, about 500
per language: 365 Chinese, 206 Japanese, 500 Thai). Per language, up to `--bases` documents of 16 distinct sentences
(as many as leave 40 sentences unused: 10 in Japanese), and of each:

- five variants, each a near-duplicate of the base and of each other: `replace` (one sentence swapped for an unused
  one), `insert` (one unused sentence added), `delete` (one sentence dropped), `words` (three words replaced by words
  of unused sentences, cut with the language's word tokenizer), `mixed` (one sentence swapped and two words replaced);
- one hard negative: the base's first 8 sentences and 8 unused ones (true 5-gram Jaccard about 1/3).

Positive pairs: two documents of one base (base and variants: 15 pairs a base). Every other pair is negative (other
bases, the hard negatives). Each mode is a real run of the pipeline (`minhash_dedup` with `partition_by: lang`,
FineWeb's 5-grams, 14 x 8 bands, verification at 0.8) on the engine; clusters are read back from the run (a kept
document's id, a rejected one's `kept_id`), and every pair of documents in one cluster is a predicted pair.

Modes (`language:` of the stage):
- `xx` — whitespace words: spaCy's multi-language rules, words end at spaces and punctuation; what an English
  configuration (FineWeb's, datatrove's default tokenizer after its punctuation removal) does to unspaced text;
- none — curate's default units: Han and Kana per character, Thai per character cluster;
- `auto` — each document's `lang` picks FineWeb-2's word tokenizer (jieba, SudachiPy, PyThaiNLP).

Also reported per mode: the median true 5-gram Jaccard of the positive pairs, on that mode's own words (what the
threshold sees), and the keys' speed (documents/s through `MinHashDedup.keys`, best of 3, one core, tokenizers
loaded before timing, each round on texts no tokenizer has seen: they remember the words of the texts they cut last).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import unicodedata
from itertools import combinations
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.filters.words import word_tokenizer
from curate.pipeline import config as pipeline_config
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.pipeline.schema import uid_of
from curate.stages.dedup.language import languages_of, words_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LANGUAGES = ("zh", "ja", "th")
JOIN = {"zh": "", "ja": "", "th": " "}  # how the language writes consecutive sentences
MODES = {"whitespace (xx)": "xx", "curate default": None, "word tokenizer (auto)": "auto"}
SENTENCES = 16
RESERVE = 40  # unused sentences kept for the edits
EDITS = ("replace", "insert", "delete", "words", "mixed")


def sentences() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for line in (DATA / "langid" / "lingua-dev.tsv").open(encoding="utf-8"):
        kind, lang, text = line.rstrip("\n").split("\t", 2)
        if kind == "sentences" and lang in found:
            found[lang].append(text.strip())
    return found


def is_word(token: str) -> bool:
    """Letters and the marks that go with them (Thai vowels and tones are marks), nothing else."""
    return any(c.isalpha() for c in token) and all(c.isalpha() or unicodedata.category(c)[0] == "M" for c in token)


def replace_words(text: str, lang: str, count: int, pool: list[str], rng: random.Random) -> str:
    """`text` with `count` of its words (as the language's tokenizer cuts them; :func:`is_word`) replaced by words of
    `pool`, in place: the rest of the text is untouched."""
    spans, position = [], 0
    for word in word_tokenizer(lang).words(text):
        start = text.find(word, position)
        if start < 0:
            continue
        position = start + len(word)
        if is_word(word):
            spans.append((start, position))
    for start, end in sorted(rng.sample(spans, count), reverse=True):
        text = text[:start] + rng.choice(pool) + text[end:]
    return text


def corpus(lang: str, lines: list[str], bases: int, rng: random.Random) -> list[dict]:
    """Documents of one language: each base, its five variants (group = the base) and a hard negative (its own
    group)."""
    lines = list(dict.fromkeys(lines))
    rng.shuffle(lines)
    bases = min(bases, (len(lines) - RESERVE) // SENTENCES)
    used, reserve = lines[: bases * SENTENCES], lines[bases * SENTENCES:]
    pool = [w for s in reserve for w in word_tokenizer(lang).words(s) if is_word(w)]
    join = JOIN[lang]
    docs = []
    for b in range(bases):
        base = used[b * SENTENCES:(b + 1) * SENTENCES]

        def text(parts: list[str]) -> str:
            return join.join(parts)

        def swapped() -> list[str]:
            parts = list(base)
            parts[rng.randrange(len(parts))] = rng.choice(reserve)
            return parts

        variants = {
            "base": text(base),
            "replace": text(swapped()),
            "insert": text(base[:(i := rng.randrange(len(base)))] + [rng.choice(reserve)] + base[i:]),
            "delete": text(base[:(i := rng.randrange(len(base)))] + base[i + 1:]),
            "words": replace_words(text(base), lang, 3, pool, rng),
            "mixed": replace_words(text(swapped()), lang, 2, pool, rng),
        }
        docs += [{"text": t, "lang": lang, "group": f"{lang}-{b}", "edit": edit} for edit, t in variants.items()]
        negative = base[:SENTENCES // 2] + rng.sample(reserve, SENTENCES // 2)
        docs.append({"text": text(negative), "lang": lang, "group": f"{lang}-{b}-negative", "edit": "negative"})
    return docs


def clusters(engine: str, docs: list[dict], language: str | None, root: Path) -> tuple[dict[str, str], float]:
    """Each document's cluster (the kept document's id) from a real run with `language`, and the run's wall time."""
    inputs = root / "in"
    if not inputs.exists():
        inputs.mkdir(parents=True)
        (inputs / "docs.jsonl").write_text("".join(json.dumps({"text": d["text"], "lang": d["lang"]},
                                                              ensure_ascii=False) + "\n" for d in docs))
    output = root / f"out-{language}"
    config = pipeline_config.parse({
        "input": {"paths": [str(inputs)], "dataset": "b", "fields": ["lang"]}, "output": str(output),
        "engine": {"name": engine, **({"master": "local[2]"} if engine == "spark" else {})},
        "stages": [{"name": "minhash_dedup", "partition_by": "lang", "language": language}]})
    started = time.time()
    run(config)
    seconds = time.time() - started
    manifest = json.loads((output / MANIFEST).read_text())
    found = {}
    for path in manifest["documents"]:
        for row in pq.read_table(output / path, columns=["id"]).to_pylist():
            found[row["id"]] = row["id"]
    for path in manifest["rejects"]:
        for row in pq.read_table(output / path, columns=["id", "kept_id"]).to_pylist():
            found[row["id"]] = row["kept_id"]
    return found, seconds


def scores(docs: list[dict], cluster: dict[str, str], ids: list[str]) -> dict:
    """Recall of positive pairs (overall and per edit: base-variant pairs), precision of predicted pairs."""
    positives = predicted = true_predicted = 0
    by_edit = {edit: [0, 0] for edit in EDITS}
    hard = 0
    for (i, a), (j, b) in combinations(enumerate(docs), 2):
        same = cluster[ids[i]] == cluster[ids[j]]
        positive = a["group"] == b["group"]
        positives += positive
        predicted += same
        true_predicted += same and positive
        if positive and a["edit"] == "base":
            by_edit[b["edit"]][0] += 1
            by_edit[b["edit"]][1] += same
        if same and not positive and "negative" in (a["group"] + b["group"]):
            hard += 1
    return {"recall": true_predicted / positives, "precision": true_predicted / predicted if predicted else None,
            "predicted_pairs": predicted, "positive_pairs": positives, "hard_negative_pairs_merged": hard,
            "recall_by_edit": {edit: found / n for edit, (n, found) in by_edit.items()}}


def true_jaccard(docs: list[dict], language: str | None) -> float:
    """The median exact 5-gram Jaccard of the positive pairs on this mode's words."""
    stage = MinHashDedup(MinHashDedupParams(language=language))
    texts = [d["text"] for d in docs]
    if language is None:
        shingles = stage.hasher.shingles(texts)
    else:
        batch = pa.RecordBatch.from_pydict({"text": texts, "lang": [d["lang"] for d in docs]})
        found = words_of(texts, languages_of(batch, language))
        shingles = stage.hasher.shingles([" ".join(w) for w in found], segmented=True)
    sets = [set(shingles.hashes[shingles.offsets[i]:shingles.offsets[i + 1]].tolist()) for i in range(len(docs))]
    values = [len(sets[i] & sets[j]) / len(sets[i] | sets[j])
              for i, j in combinations(range(len(docs)), 2) if docs[i]["group"] == docs[j]["group"]]
    return statistics.median(values)


def keys_speed(docs: list[dict], language: str | None) -> float:
    """Documents per CPU second through the keys, tokenizers loaded first. Each round's texts carry a mark of their
    own: the word tokenizers remember the words of the texts they cut last (so that the rule sets and MinHash of one
    pass segment a document once), and a round on texts already cut would time the memory, not the tokenizer."""
    stage = MinHashDedup(MinHashDedupParams(language=language, partition_by="lang"))

    def batch(mark: str) -> pa.RecordBatch:
        ids = [f"b/{i}" for i in range(len(docs))]
        return pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                           "text": [f"{d['text']}\n{mark}" for d in docs],
                                           "lang": [d["lang"] for d in docs]})

    stage.keys(batch("warm").slice(0, 8))  # tokenizers loaded before timing
    best = float("inf")
    for round_ in range(3):
        texts = batch(f"round {round_}")
        started = time.process_time()
        stage.keys(texts)
        best = min(best, time.process_time() - started)
    return len(docs) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["spark", "beam"], default="spark")
    parser.add_argument("--bases", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    lines = sentences()
    docs = [d for lang in LANGUAGES for d in corpus(lang, lines[lang], args.bases, rng)]
    ids = [f"b/docs.jsonl:{i}" for i in range(len(docs))]
    print(f"{len(docs)} documents (7 per base), load {os.getloadavg()}", file=sys.stderr)
    result = {"documents": len(docs), "bases": args.bases, "engine": args.engine, "modes": {}}
    with tempfile.TemporaryDirectory(prefix="dedup-multilingual-") as tmp:
        for name, language in MODES.items():
            cluster, seconds = clusters(args.engine, docs, language, Path(tmp))
            mode = {"language": language, "run_seconds": round(seconds, 1), "languages": {}}
            for lang in LANGUAGES:
                chosen = [i for i, d in enumerate(docs) if d["lang"] == lang]
                mine = [docs[i] for i in chosen]
                mode["languages"][lang] = {
                    **scores(mine, cluster, [ids[i] for i in chosen]),
                    "median_true_jaccard": round(true_jaccard(mine, language), 3),
                    "keys_docs_per_cpu_second": round(keys_speed(mine, language), 1)}
            result["modes"][name] = mode
            print(name, json.dumps(mode), file=sys.stderr)
    result["load_average"] = os.getloadavg()
    print(markdown(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


def markdown(result: dict) -> str:
    header = ["language (bases)", "words", "recall", "precision", "median true Jaccard",
              "recall: replace / insert / delete / words / mixed", "hard negatives merged", "keys docs/s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for lang in LANGUAGES:
        for name, mode in result["modes"].items():
            s = mode["languages"][lang]
            edits = " / ".join(f"{s['recall_by_edit'][e]:.2f}" for e in EDITS)
            precision = "–" if s["precision"] is None else f"{s['precision']:.3f}"
            cells = [f"{lang} ({s['positive_pairs'] // 15})", name, f"{s['recall']:.3f}", precision,
                     f"{s['median_true_jaccard']:.2f}", edits, str(s["hard_negative_pairs_merged"]),
                     f"{s['keys_docs_per_cpu_second']:,.0f}"]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
