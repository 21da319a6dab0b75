"""The cost of the word tokenizers (curate.filters.words) per worker: per family, the seconds its library takes to
load, the memory it adds to the process, and its words per CPU second on real text (lingua's sentences).

Each family is measured in a fresh Python process (what a worker pays the first time a document of that language
arrives): resident memory after importing curate's words module, after the library loaded and segmented its first
200 characters (some read their dictionary then), and at its peak while tokenizing; that load in wall and CPU seconds; words per CPU second, best of `--repeats` passes over the same
documents (20 sentences each). A last process loads every family, the worst case of a worker that sees every kind of
language. Figures go to stdout as a table, and to `--out` as JSON with the machine's load average.

    python bench/word_tokenizers.py --out word_tokenizers.json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

LINGUA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "langid" / "lingua-dev.tsv"

# (family, the FineWeb-2 code whose tokenizer is measured, the lingua language of the text)
CASES = [
    ("spacy (German rules)", "deu_Latn", "de"),
    ("spacy (German rules), torch imported before", "deu_Latn", "de"),
    ("spacy (xx: whitespace/punctuation)", "kat_Geor", "ka"),
    ("spacy (Vietnamese, pyvi)", "vie_Latn", "vi"),
    ("jieba", "cmn_Hani", "zh"),
    ("sudachi", "jpn_Jpan", "ja"),
    ("pythainlp", "tha_Thai", "th"),
    ("kiwi", "kor_Hang", "ko"),
    ("indic", "hin_Deva", "hi"),
    ("clusters (on Thai text)", "khm_Khmr", "th"),
]


def rss_mb() -> tuple[float, float]:
    """(resident now, resident peak) of this process in MiB."""
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]) / 1024, int(status["VmHWM"].split()[0]) / 1024


def documents(lang: str, per_document: int = 20) -> list[str]:
    rows = (line.split("\t") for line in LINGUA.read_text(encoding="utf-8").split("\n")[1:])
    sentences = [row[2] for row in rows if len(row) == 3 and row[0] == "sentences" and row[1] == lang]
    return [" ".join(sentences[i:i + per_document]) for i in range(0, len(sentences), per_document)]


def child(code: str, lang: str, repeats: int, torch_first: bool) -> dict:
    """Measured in this process: the load, then tokenizing the documents."""
    from curate.filters.words import word_tokenizer

    if torch_first:  # spaCy's thinc imports torch; a worker that ran a model stage has it already
        import torch  # noqa: F401
    texts = documents(lang)
    tokenizer = word_tokenizer(code)
    before, _ = rss_mb()
    Path("/proc/self/clear_refs").write_text("5")  # the peak counts from here, not from reading lingua's file
    wall, cpu = time.perf_counter(), time.process_time()
    tokenizer.words(texts[0][:200])  # some libraries read their dictionary on the first call, not on import
    load_wall, load_cpu = time.perf_counter() - wall, time.process_time() - cpu
    loaded, _ = rss_mb()
    best, count = float("inf"), 0
    for _ in range(repeats):
        tokenizer._recent.clear()  # measure segmenting, not remembering
        cpu = time.process_time()
        count = sum(len(ws) for ws in tokenizer.words_of(texts))
        best = min(best, time.process_time() - cpu)
    _, peak = rss_mb()
    return {"tokenizer": f"{tokenizer.family} {tokenizer.argument}".strip(), "documents": len(texts), "words": count,
            "load_wall_s": round(load_wall, 2), "load_cpu_s": round(load_cpu, 2), "rss_before_mb": round(before, 1),
            "rss_loaded_mb": round(loaded, 1), "rss_peak_mb": round(peak, 1),
            "load_mb": round(loaded - before, 1), "words_per_cpu_s": round(count / best)}


def child_all() -> dict:
    from curate.filters.words import word_tokenizer

    before, _ = rss_mb()
    wall = time.perf_counter()
    for _, code, lang in CASES:
        word_tokenizer(code).words(documents(lang)[0][:200])  # (the repeated German case loads nothing more)
    loaded, _ = rss_mb()
    return {"load_wall_s": round(time.perf_counter() - wall, 2), "rss_before_mb": round(before, 1),
            "rss_loaded_mb": round(loaded, 1), "load_mb": round(loaded - before, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="write the figures as JSON here")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("CODE", "LANG"), help=argparse.SUPPRESS)
    parser.add_argument("--torch-first", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--all", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.repeats, args.torch_first)))
        return
    if args.all:
        print(json.dumps(child_all()))
        return
    if not LINGUA.is_file():
        sys.exit(f"{LINGUA} is absent (../shared/data)")

    def measured(*extra: str) -> dict:
        out = subprocess.run([sys.executable, __file__, *extra], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    results = {"load_average_start": os.getloadavg(), "families": []}
    print("| family | tokenizer | load s (wall / CPU) | memory added MiB (loaded / peak) | words / CPU s |")
    print("|---|---|---|---|---|")
    for name, code, lang in CASES:
        extra = ["--torch-first"] if "torch imported" in name else []
        row = {"family": name, "code": code, "text": lang,
               **measured("--child", code, lang, "--repeats", str(args.repeats), *extra)}
        results["families"].append(row)
        print(f"| {name} | {row['tokenizer']} | {row['load_wall_s']} / {row['load_cpu_s']} | {row['load_mb']} / "
              f"{round(row['rss_peak_mb'] - row['rss_before_mb'], 1)} | {row['words_per_cpu_s']:,} |", flush=True)
    results["all_families_one_worker"] = measured("--all")
    results["load_average_end"] = os.getloadavg()
    every = results["all_families_one_worker"]
    print(f"\nevery family in one worker: {every['load_mb']} MiB added, {every['load_wall_s']} s to load "
          f"(resident {every['rss_loaded_mb']} MiB; {every['rss_before_mb']} MiB before)")
    print(f"load average: {results['load_average_start']} at the start, {results['load_average_end']} at the end")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
