"""Whether the slow word tokenizers (Kiwi for Korean, PyThaiNLP's newmm-safe for Thai) could segment a document line by
line, each distinct line once, and give the words of the whole text; and how Kiwi's cost grows with a text's length.

    python bench/multilingual_segments.py [--corpus /tmp/curate-multilingual/throughput.jsonl]
        [--languages kor_Hang,tha_Thai] [--lengths 5,10,20,40,80]

The corpus is the throughput corpus `bench/multilingual_agreement.py` writes. Per language: the documents whose words
(`curate.filters.words`, the whole text at once, as FineWeb-2 measured them) equal the words of their distinct lines
segmented one by one and put back in order, and the CPU seconds of both ways (the tokenizer's memory of texts emptied
before each). A document whose words differ is a document whose decision could change: segmenting per line is then no
exact speed-up. Kiwi: CPU microseconds per character of a text of the first n words of a Korean document, for each n.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from curate.filters.words import REMEMBERED, word_tokenizer


def per_line(lang: str, texts: list[str]) -> dict:
    tokenizer = word_tokenizer(lang)
    tokenizer.words("warm up")
    REMEMBERED.clear()
    started = time.process_time()
    whole = [tokenizer.words(text) for text in texts]
    whole_s = time.process_time() - started
    REMEMBERED.clear()
    started = time.process_time()
    lined = []
    for text in texts:
        lines = text.split("\n")
        distinct = list(dict.fromkeys(lines))
        words = dict(zip(distinct, tokenizer.words_of(distinct)))
        lined.append([w for line in lines for w in words[line]])
    lines_s = time.process_time() - started
    REMEMBERED.clear()
    differ = [i for i, (a, b) in enumerate(zip(whole, lined)) if a != b]
    example = ""
    if differ:
        a, b = whole[differ[0]], lined[differ[0]]
        k = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        example = f"whole text {a[k:k + 4]}, per line {b[k:k + 4]} (word {k})"
    return {"documents": len(texts), "differ": len(differ), "whole_cpu_s": whole_s, "per_line_cpu_s": lines_s,
            "example": example}


def kiwi_growth(texts: list[str], lengths: list[int]) -> dict[int, float]:
    """CPU microseconds per character of Kiwi on the first n words (by spaces) of the longest texts, best of 3."""
    tokenizer = word_tokenizer("kor_Hang")
    tokenizer.words("warm up")
    samples = sorted(texts, key=len, reverse=True)[:5]
    out = {}
    for n in lengths:
        pieces = [" ".join(text.split()[:n]) for text in samples]
        best = float("inf")
        for _ in range(3):
            REMEMBERED.clear()
            started = time.process_time()
            tokenizer.words_of(pieces)
            best = min(best, time.process_time() - started)
        out[n] = 1e6 * best / sum(map(len, pieces))
    REMEMBERED.clear()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("/tmp/curate-multilingual/throughput.jsonl"))
    parser.add_argument("--languages", default="kor_Hang,tha_Thai")
    parser.add_argument("--lengths", default="5,10,20,40,80")
    args = parser.parse_args()
    languages = args.languages.split(",")
    texts: dict[str, list[str]] = {lang: [] for lang in languages}
    with open(args.corpus, encoding="utf-8") as f:
        for d in map(json.loads, f):
            if d["lang"] in texts:
                texts[d["lang"]].append(d["text"])
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'lang':9} {'docs':>5} {'words differ':>12} {'whole CPU s':>11} {'per line CPU s':>14}  first difference")
    for lang in languages:
        row = per_line(lang, texts[lang])
        print(f"{lang:9} {row['documents']:>5} {row['differ']:>12} {row['whole_cpu_s']:>11.2f} "
              f"{row['per_line_cpu_s']:>14.2f}  {row['example']}")
    if "kor_Hang" in texts:
        growth = kiwi_growth(texts["kor_Hang"], [int(n) for n in args.lengths.split(",")])
        print("Kiwi, CPU microseconds per character of the first n words of the 5 longest Korean documents: "
              + ", ".join(f"n={n}: {us:.0f}" for n, us in growth.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
