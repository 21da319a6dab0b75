"""Language-ID accuracy per kind of text: our `langid` stage against the raw fastText model, on the same lines.

On `../shared/data/langid/lingua-dev.tsv` (`kind \t lang \t text`; 75 languages, ISO 639-1; kinds `sentences`,
`word-pairs`, `single-words`), for the stage's model (bundled lid.176, or --model-path):

- `raw`: `model.predict(line)` on the line as it is, only newlines made spaces (fastText refuses them);
- `stage`: `Langid.process` on the same lines (its normalisation, threshold 0 so every line gets its label);
- normalisation variants tried for the stage (lowercase, digits or punctuation removed), to show what each would do.

A prediction is right when the model's label, mapped to lingua's codes (`LINGUA_CODES`: lid.176's `no` is lingua's
`nb`), equals the line's language. `all` counts every line; `known` only lines of languages the model has a label for
(lid.176 lacks lg, mi, sn, st, tn, ts, xh, zu; nb is `no`). Also prints the stage's throughput in lines/s.

    python bench/langid.py [--data FILE] [--model-path lid.176.bin] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa

from curate.stages.langid import Langid, LangidParams, normalise

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "langid" / "lingua-dev.tsv"
KINDS = ("sentences", "word-pairs", "single-words")
# lid.176 label -> lingua (ISO 639-1) code where they differ. lid.176's `sh` (Serbo-Croatian) is left as is: it is
# none of lingua's bs/hr/sr, so it counts as wrong for each.
LINGUA_CODES = {"no": "nb"}
_SPACE = re.compile(r"\s+")
_DIGITS = re.compile(r"\d+")
_PUNCT = re.compile(r"[^\w\s]|_")
VARIANTS = {
    "lowercase": lambda t: t.lower(),
    "no digits": lambda t: _SPACE.sub(" ", _DIGITS.sub(" ", t)).strip(),
    "no punctuation": lambda t: _SPACE.sub(" ", _PUNCT.sub(" ", t)).strip(),
    "lowercase, no digits, no punctuation": lambda t: _SPACE.sub(" ", _PUNCT.sub(" ", _DIGITS.sub(" ", t))).strip().lower(),
}


def load_lines(path: Path) -> list[tuple[str, str, str]]:
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 2) for line in f]
    return [(kind, lang, text) for kind, lang, text in rows[1:] if kind in KINDS]


def accuracy(lines, predicted: list[str], known: set[str]) -> dict:
    right, total, right_known, total_known = Counter(), Counter(), Counter(), Counter()
    for (kind, lang, _), label in zip(lines, predicted):
        hit = LINGUA_CODES.get(label, label) == lang
        right[kind] += hit
        total[kind] += 1
        if lang in known:
            right_known[kind] += hit
            total_known[kind] += 1
    return {kind: {"lines": total[kind], "all": right[kind] / total[kind],
                   "known_lines": total_known[kind], "known": right_known[kind] / max(total_known[kind], 1)}
            for kind in KINDS}


def labels_of(predictions) -> list[str]:
    return [label[0].removeprefix("__label__") if label else "" for label in predictions]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--model-path", default=None, help="a fastText model; default: the bundled lid.176")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"no lingua data at {args.data}", file=sys.stderr)
        return 2
    lines = load_lines(args.data)
    texts = [text for _, _, text in lines]

    stage = Langid(LangidParams(model_path=args.model_path, threshold=0.0))
    stage.setup()
    model = stage.model
    known = {LINGUA_CODES.get(label, label) for label in labels_of([[w] for w in model.get_labels()])}

    raw_labels, _ = model.predict([text.replace("\n", " ") for text in texts], k=1)
    started = time.perf_counter()
    out = stage.process(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string())}))
    stage_seconds = time.perf_counter() - started
    stage_labels = [label or "" for label in out.column("lang").to_pylist()]

    results = {"raw": accuracy(lines, labels_of(raw_labels), known),
               "stage": accuracy(lines, stage_labels, known), "variants": {}}
    base = [normalise(text, stage.params.max_chars) for text in texts]
    for name, variant in VARIANTS.items():
        labels, _ = model.predict([variant(text) for text in base], k=1)
        results["variants"][name] = accuracy(lines, labels_of(labels), known)

    rows = [("path", *(f"{kind} all / known" for kind in KINDS))]
    for name, figures in [("raw model", results["raw"]), ("stage", results["stage"]),
                          *((f"stage + {n}", f) for n, f in results["variants"].items())]:
        rows.append((name, *(f"{figures[k]['all']:.4f} / {figures[k]['known']:.4f}" for k in KINDS)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows))
    counts = ", ".join(f"{kind} {results['stage'][kind]['lines']}" for kind in KINDS)
    print(f"lines: {len(lines)} ({counts}); stage {len(lines) / stage_seconds:,.0f} lines/s")
    worse = [k for k in KINDS if results["stage"][k]["all"] < results["raw"][k]["all"]]
    report = {"data": str(args.data.resolve()), "model": args.model_path or "bundled lid.176.ftz",
              "label_map": LINGUA_CODES, "stage_lines_per_s": len(lines) / stage_seconds,
              "stage_worse_than_raw": worse, **results}
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
