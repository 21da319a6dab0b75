"""The language pre-check against what the pipeline keeps: per language, the pages `lang_precheck` lets through.

    python bench/precheck.py [--pages DIR] [--threshold 0.65]

On the 990 pages of trafilatura's evaluation set (`../shared/data/extraction/trafilatura-eval/`): each page's language
after the recipe's own extraction (trafilatura, then `langid`'s model on the whole text, kept at `--threshold`) is
what the pre-check must not lose. For each language with pages, a recipe keeping that language alone: how many of its
pages `lang_precheck` passes (the rest it would lose) and how many pages of other languages it lets through to
trafilatura, for the stage as it is (the start of the visible text, `filters/visible_text.py`) and for resiliparse's
visible text of the whole page (what the stage read before 8 December 2026), with each one's CPU a page (one core,
this process; the stage's is the best of its runs, one a language).
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from end_to_end import PAGES, resiliparse_visible_text  # noqa: E402

from curate.stages.lang_precheck import LangPrecheck, LangPrecheckParams  # noqa: E402
from curate.stages.langid import load_model, normalise  # noqa: E402
from curate.stages.sandbox_worker import _extractor, decode_html  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=Path, default=PAGES)
    parser.add_argument("--threshold", type=float, default=0.65)
    args = parser.parse_args()
    index = [json.loads(line) for line in (args.pages / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    htmls = [gzip.decompress((args.pages / page["html"]).read_bytes()) for page in index]
    model, trafilatura = load_model(None), _extractor("trafilatura")

    finals = [normalise(trafilatura(decode_html(html, "text/html")) or "", 10**6) for html in htmls]
    labels, scores = model.predict(finals, k=1)
    language = [label[0].removeprefix("__label__") if text and score[0] >= args.threshold else None
                for text, label, score in zip(finals, labels, scores)]
    languages = [lang for lang, _ in Counter(filter(None, language)).most_common()]

    batch = pa.RecordBatch.from_pydict({"html": pa.array(htmls, pa.binary()),
                                        "content_type": pa.array(["text/html"] * len(htmls), pa.string())})
    started = time.process_time()
    old_guesses = [normalise(resiliparse_visible_text(decode_html(html, "text/html")), 1000) for html in htmls]
    old_labels, old_scores = model.predict(old_guesses, k=5)
    old_ms = (time.process_time() - started) / len(htmls) * 1000
    result: dict = {"pages": len(htmls), "languages": {}}
    stage_ms = float("inf")
    for lang in languages:
        stage = LangPrecheck(LangPrecheckParams(languages=[lang]))
        stage.setup()
        started = time.process_time()
        passed = [r is None for r in stage.process(batch).column("reject_reason").to_pylist()]
        stage_ms = min(stage_ms, (time.process_time() - started) / len(htmls) * 1000)
        old = [not guess or any(label == f"__label__{lang}" and score >= 0.1 for label, score in zip(ls, ss))
               for guess, ls, ss in zip(old_guesses, old_labels, old_scores)]
        mine = [other == lang for other in language]
        row = {"pages": sum(mine),
               "passed": sum(p and m for p, m in zip(passed, mine)),
               "others_passed": sum(p and not m for p, m in zip(passed, mine)),
               "resiliparse_passed": sum(p and m for p, m in zip(old, mine)),
               "resiliparse_others_passed": sum(p and not m for p, m in zip(old, mine))}
        result["languages"][lang] = row
        print(f"{lang:4} {row['pages']:4} pages: passed {row['passed']:4} (resiliparse {row['resiliparse_passed']:4}); "
              f"other pages passed {row['others_passed']:3} (resiliparse {row['resiliparse_others_passed']:3})")
    result["ms_per_page"] = {"lang_precheck": round(stage_ms, 2),
                             "resiliparse_visible_text_and_fasttext": round(old_ms, 2)}
    print(json.dumps(result["ms_per_page"]))


if __name__ == "__main__":
    main()
