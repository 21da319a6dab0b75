"""The peer of bench/multilingual_agreement.py: datatrove's three FineWeb-2 filters on each document, per language.

    PYTHON=/work/venvs/datatrove/bin/python
    $PYTHON bench/peers/datatrove_fineweb2_filters.py decide --corpus corpus.jsonl --configs DIR --out decisions.jsonl
    $PYTHON bench/peers/datatrove_fineweb2_filters.py time --corpus corpus.jsonl --configs DIR --out timing.json
    $PYTHON bench/peers/datatrove_fineweb2_filters.py words --corpus corpus.jsonl --out words.jsonl
    $PYTHON bench/peers/datatrove_fineweb2_filters.py load --language tha_Thai

Runs with the interpreter of a venv that has datatrove 0.10.1 and its multilingual word tokenizers (spaCy, jieba,
SudachiPy, PyThaiNLP, Kiwi, Indic NLP, pyvi), outside the project's dependencies. Per document language (`lang`, a
FineWeb-2 code) the filters are configured as FineWeb-2's filtering step configures them from `<configs>/<lang>.yml`:

- GopherRepetitionFilter(language, dup_line_frac, top_n_grams, dup_n_grams from the config; the paragraph and the
  line-character rules off: dup_para_frac = dup_line_char_frac = dup_para_char_frac = 0);
- FineWebQualityFilter(language, line_punct_thr and new_line_ratio from the config; short_line_thr = 999 (off),
  char_duplicates_ratio = 0.1);
- GopherQualityFilter(language, min/max_avg_word_length, max_non_alpha_words_ratio and stop_words from the config,
  min_stop_words = 2; word-count bounds, symbol, bullet and ellipsis rules at their defaults).

`decide` writes one line per document and filter: `{id, lang, filter, kept, reason, signals}`. `kept` and `reason` are
what the filter's own `filter()` returns; `signals` holds every active rule's measured value beside its threshold
(`{rule: [value, threshold, "max" | "min"]}`), measured with datatrove's own helpers the way the filter measures it, so
the bench can tell how near a threshold each document sits. A document whose signals would decide otherwise than the
filter did is counted and printed (none expected). An exception in a filter is the reason `error:<type>`.

`time` runs the three filters over each language's documents once (after one warm-up document per language, so the
tokenizers are loaded) and writes the CPU and wall seconds per language; the bench calls it once per round.
`words` writes each document's words as the filters split them (`{id, words}`), to compare the word tokenizers.
`load` loads one language's word tokenizer in this fresh process and prints the seconds and resident memory of the
script's imports, then the seconds and memory that loading the tokenizer and segmenting one text add (JSON).
"""
from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the imports: `load` counts them

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml
from datatrove.data import Document
from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.filters.gopher_repetition_filter import (find_all_duplicate, find_duplicates,
                                                                 find_top_duplicate, get_n_grams)
from datatrove.utils.text import PUNCTUATION_SET, split_into_words
from datatrove.utils.word_tokenizers import load_word_tokenizer

FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")


def build_filters(lang: str, config: dict) -> dict:
    """The three filters for one language, set as FineWeb-2's filtering step sets them."""
    return {
        "gopher_repetition": GopherRepetitionFilter(
            language=lang, dup_para_frac=0, dup_line_char_frac=0, dup_para_char_frac=0,
            dup_line_frac=config["dup_line_frac"], top_n_grams=config["top_n_grams"],
            dup_n_grams=config["dup_n_grams"]),
        "fineweb_quality": FineWebQualityFilter(
            language=lang, short_line_thr=999, char_duplicates_ratio=0.1,
            line_punct_thr=config["line_punct_thr"], new_line_ratio=config["new_line_ratio"]),
        "gopher_quality": GopherQualityFilter(
            language=lang, max_avg_word_length=config["max_avg_word_length"],
            min_avg_word_length=config["min_avg_word_length"], stop_words=config["stopwords"],
            max_non_alpha_words_ratio=config["max_non_alpha_words_ratio"], min_stop_words=2),
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("inf") if a else 0.0


def repetition_signals(f: GopherRepetitionFilter, text: str) -> dict:
    """Each active rule of GopherRepetitionFilter, in its order: [value, threshold, "max"]."""
    if not text:
        return {}
    out = {}
    lines = f._line_splitter.split(text)
    if f.dup_line_frac:
        out["dup_line_frac"] = [find_duplicates(lines)[0] / len(lines), f.dup_line_frac, "max"]
    words = split_into_words(text, f.language)
    for n, frac in f.top_n_grams:
        grams = get_n_grams(words, n)
        if grams:
            out[f"top_{n}_gram"] = [find_top_duplicate(grams) / len(text), frac, "max"]
    for n, frac in f.dup_n_grams:
        out[f"duplicated_{n}_n_grams"] = [find_all_duplicate(words, n) / len(text), frac, "max"]
    return out


def fineweb_signals(f: FineWebQualityFilter, text: str) -> dict:
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return {}
    words = split_into_words(text, f.language)
    return {
        "line_punct_ratio": [sum(line.endswith(f.stop_chars) for line in lines) / len(lines), f.line_punct_thr, "min"],
        "short_line_ratio": [sum(len(line) <= f.short_line_length for line in lines) / len(lines),
                             f.short_line_threshold, "max"],
        "char_dup_ratio": [_ratio(find_duplicates(lines)[1], len(text.replace("\n", ""))), f.char_duplicates_ratio,
                           "max"],
        "list_ratio": [_ratio(text.count("\n"), len(words)), f.new_line_ratio, "max"],
    }


def quality_signals(f: GopherQualityFilter, text: str) -> dict:
    words = split_into_words(text, f.language)
    n = len(words)
    non_symbol = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    out = {"gopher_short_doc": [len(non_symbol), f.min_doc_words, "min"],
           "gopher_long_doc": [len(non_symbol), f.max_doc_words, "max"]}
    mean = float(np.mean([len(w) for w in non_symbol])) if non_symbol else float("nan")
    if f.min_avg_word_length:
        out["gopher_below_avg_threshold"] = [mean, f.min_avg_word_length, "min"]
    if f.max_avg_word_length:
        out["gopher_above_avg_threshold"] = [mean, f.max_avg_word_length, "max"]
    out["gopher_too_many_hashes"] = [_ratio(text.count("#"), n), f.max_symbol_word_ratio, "max"]
    out["gopher_too_many_ellipsis"] = [_ratio(text.count("...") + text.count("…"), n), f.max_symbol_word_ratio, "max"]
    lines = text.splitlines()
    out["gopher_too_many_bullets"] = [
        _ratio(sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines), len(lines)),
        f.max_bullet_lines_ratio, "max"]
    out["gopher_too_many_end_ellipsis"] = [
        _ratio(sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines), len(lines)),
        f.max_ellipsis_lines_ratio, "max"]
    out["gopher_below_alpha_threshold"] = [_ratio(sum(any(c.isalpha() for c in w) for w in words), n),
                                           f.max_non_alpha_words_ratio, "min"]
    out["gopher_enough_stop_words"] = [len(f.stop_words.intersection(set(words))), f.min_stop_words, "min"]
    return out


SIGNALS = {"gopher_repetition": repetition_signals, "fineweb_quality": fineweb_signals,
           "gopher_quality": quality_signals}


def first_failing(signals: dict) -> str | None:
    for rule, (value, threshold, bound) in signals.items():
        if value != value:  # NaN compares false: it never fails a rule
            continue
        if (bound == "max" and value > threshold) or (bound == "min" and value < threshold):
            return rule
    return None


def decide(doc: Document, f) -> tuple[bool, str | None]:
    try:
        result = f.filter(doc)
    except Exception as e:  # noqa: BLE001 - a filter that raises decides nothing: the bench lists it
        return False, f"error:{type(e).__name__}"
    if result is True:
        return True, None
    return False, result[1]


def read_corpus(path: Path) -> dict[str, list[dict]]:
    by_lang: dict[str, list[dict]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            by_lang[d["lang"]].append(d)
    return by_lang


def configs(folder: Path, langs) -> dict[str, dict]:
    return {lang: yaml.safe_load((folder / f"{lang}.yml").read_text()) for lang in langs}


def run_decide(args) -> int:
    by_lang = read_corpus(args.corpus)
    mismatches = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for lang, docs in by_lang.items():
            filters = build_filters(lang, configs(args.configs, [lang])[lang])
            for d in docs:
                doc = Document(text=d["text"], id=d["id"])
                for name, f in filters.items():
                    kept, reason = decide(doc, f)
                    signals = {} if reason and reason.startswith("error:") else SIGNALS[name](f, d["text"])
                    if reason != "empty" and not (reason or "").startswith("error:") \
                            and first_failing(signals) != reason:
                        mismatches += 1
                        print(f"signals disagree with the filter: {d['id']} {name} {reason} {signals}",
                              file=sys.stderr)
                    out.write(json.dumps({"id": d["id"], "lang": lang, "filter": name, "kept": kept,
                                          "reason": reason, "signals": signals}, ensure_ascii=False) + "\n")
    print(json.dumps({"documents": sum(map(len, by_lang.values())), "signal_mismatches": mismatches}))
    return 0


def run_time(args) -> int:
    by_lang = read_corpus(args.corpus)
    result = {}
    for lang, docs in by_lang.items():
        filters = list(build_filters(lang, configs(args.configs, [lang])[lang]).values())
        documents = [Document(text=d["text"], id=d["id"]) for d in docs]
        for f in filters:  # warm-up: the tokenizer loads on its first document
            decide(documents[0], f)
        cpu, wall = time.process_time(), time.perf_counter()
        for doc in documents:
            for f in filters:
                decide(doc, f)
        result[lang] = {"documents": len(documents), "cpu_s": time.process_time() - cpu,
                        "wall_s": time.perf_counter() - wall}
    Path(args.out).write_text(json.dumps(result))
    return 0


def run_words(args) -> int:
    with open(args.out, "w", encoding="utf-8") as out:
        for lang, docs in read_corpus(args.corpus).items():
            for d in docs:
                out.write(json.dumps({"id": d["id"], "words": split_into_words(d["text"], lang)},
                                     ensure_ascii=False) + "\n")
    return 0


def rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_load(args) -> int:
    imported, base = time.perf_counter(), rss_bytes()
    load_word_tokenizer(args.language).word_tokenize(args.text)  # tokenizers load lazily, on their first text
    print(json.dumps({"language": args.language, "import_s": imported - STARTED, "import_rss_bytes": base,
                      "tokenizer_s": time.perf_counter() - imported, "tokenizer_rss_bytes": rss_bytes() - base}))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("decide", "time", "words"):
        p = sub.add_parser(name)
        p.add_argument("--corpus", type=Path, required=True)
        p.add_argument("--configs", type=Path, required=name != "words")
        p.add_argument("--out", type=Path, required=True)
    p = sub.add_parser("load")
    p.add_argument("--language", required=True)
    p.add_argument("--text", default="A short text, to make the tokenizer load.")
    args = parser.parse_args()
    return {"decide": run_decide, "time": run_time, "words": run_words, "load": run_load}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
