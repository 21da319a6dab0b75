"""Toxicity backends on HateCheck: ROC AUC of each score against the gold hateful/non-hateful label, overall and per
target group, printed as a table and written as JSON.

HateCheck (Röttger et al. 2021, ACL; CC BY 4.0) is 3,728 short English test cases made from templates over 29
functionalities — derogation, threats, slurs, profanity, negation, counter-speech, quoting — and 7 target groups.
Its non-hateful cases are hard on purpose (profanity that is not hate, counter-speech that quotes hate), so it
measures whether a score follows hate rather than swear words. The data is not part of the project: it is read from
`../shared/data/toxicity/` (or `--cases`).

    python bench/toxicity_hatecheck.py [--cases CSV] [--json OUT.json] [--detoxify-checkpoint CKPT --detoxify-model M]

The offline backend (`profanity`) always runs. Detoxify runs for a `--detoxify-checkpoint`, and for each model whose
weights are already in torch's hub cache; otherwise it is listed as skipped, with the reason.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from curate.pipeline.errors import CurateError
from curate.stages.toxicity import DETOXIFY_LABELS, Toxicity, ToxicityParams

DEFAULT_CASES = Path(__file__).resolve().parents[2] / "shared" / "data" / "toxicity" / "hatecheck_test_suite_cases.csv"
NO_TARGET = "(no target)"


def load_cases(path: Path) -> tuple[list[str], np.ndarray, list[str], list[str]]:
    """(texts, 1 = hateful, target group, functionality)."""
    with path.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    texts = [row["test_case"].strip() for row in rows]
    labels = np.array([row["label_gold"] == "hateful" for row in rows], np.int8)
    targets = [row["target_ident"] or NO_TARGET for row in rows]
    return texts, labels, targets, [row["functionality"] for row in rows]


def auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC, or None where only one class is present."""
    return float(roc_auc_score(labels, scores)) if len(set(labels.tolist())) == 2 else None


def evaluate(name: str, params: ToxicityParams, texts, labels, targets, functionalities) -> dict:
    stage = Toxicity(params)
    stage.setup()
    started = time.perf_counter()
    scores = stage.score(texts)
    seconds = time.perf_counter() - started
    result = {"backend": name, "texts_per_second": round(len(texts) / seconds, 1), "labels": {}}
    groups = sorted(set(targets))
    for label, values in scores.items():
        per_group = {}
        for group in groups:
            mask = np.array([t == group for t in targets])
            per_group[group] = {"cases": int(mask.sum()), "hateful": int(labels[mask].sum()),
                                "auc": auc(labels[mask], values[mask])}
        by_function = {}
        for function in sorted(set(functionalities)):
            mask = np.array([f == function for f in functionalities])
            by_function[function] = {"cases": int(mask.sum()), "hateful": int(labels[mask].sum()),
                                     "mean_score": round(float(values[mask].mean()), 4)}
        result["labels"][label] = {"auc": auc(labels, values), "groups": per_group, "functionalities": by_function}
    return result


def detoxify_runs(args) -> list[tuple[str, ToxicityParams | str]]:
    """(name, params) for each Detoxify model to try, or (name, reason it is skipped)."""
    import torch
    from detoxify.detoxify import MODEL_URLS

    runs: list[tuple[str, ToxicityParams | str]] = []
    if args.detoxify_checkpoint:
        runs.append((f"detoxify:{args.detoxify_model} ({args.detoxify_checkpoint})",
                     ToxicityParams(backend="detoxify", model=args.detoxify_model, languages="all",
                                    checkpoint=args.detoxify_checkpoint, labels=["toxicity", "identity_attack"])))
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    for model in DETOXIFY_LABELS:
        cached = hub / MODEL_URLS[model].rsplit("/", 1)[-1]
        if cached.is_file():
            runs.append((f"detoxify:{model}", ToxicityParams(backend="detoxify", model=model, languages="all",
                                                              labels=["toxicity", "identity_attack"])))
        elif not args.detoxify_checkpoint:
            runs.append((f"detoxify:{model}", f"weights not present locally ({cached} absent; no --detoxify-checkpoint)"))
    return runs


def table(results: list[dict], groups: list[str]) -> str:
    columns = [(r["backend"] if r["backend"] != label else "", label, data)
               for r in results for label, data in r["labels"].items()]
    width = max([len(f"{b} {label}".strip()) for b, label, _ in columns] + [22])
    head = f"{'target group':<18}{'cases':>7}{'hateful':>9}  " + "  ".join(f"{f'{b} {label}'.strip():>{width}}"
                                                                         for b, label, _ in columns)
    lines = [head, "-" * len(head)]

    def cell(value):
        return f"{'-' if value is None else f'{value:.3f}':>{width}}"

    first = columns[0][2]["groups"]
    total_cases = sum(g["cases"] for g in first.values())
    total_hateful = sum(g["hateful"] for g in first.values())
    lines.append(f"{'all':<18}{total_cases:>7}{total_hateful:>9}  " + "  ".join(cell(d["auc"]) for *_, d in columns))
    for group in groups:
        g = first[group]
        lines.append(f"{group:<18}{g['cases']:>7}{g['hateful']:>9}  " +
                     "  ".join(cell(d["groups"][group]["auc"]) for *_, d in columns))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    parser.add_argument("--json", type=Path, default=Path("toxicity_hatecheck.json"))
    parser.add_argument("--detoxify-checkpoint")
    parser.add_argument("--detoxify-model", default="original", choices=sorted(DETOXIFY_LABELS))
    args = parser.parse_args()
    if not args.cases.is_file():
        raise SystemExit(f"HateCheck cases not found at {args.cases} (--cases)")
    texts, labels, targets, functionalities = load_cases(args.cases)
    cases = (texts, labels, targets, functionalities)
    results = [evaluate("profanity", ToxicityParams(backend="profanity", languages="all"), *cases)]
    skipped = {}
    for name, params in detoxify_runs(args):
        if isinstance(params, str):
            skipped[name] = params
            continue
        try:
            results.append(evaluate(name, params, *cases))
        except CurateError as error:
            skipped[name] = str(error)
    groups = sorted(set(targets))
    print(f"HateCheck: {len(texts)} cases, {int(labels.sum())} hateful ({args.cases})\nROC AUC\n")
    print(table(results, groups))
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    body = {"cases": len(texts), "hateful": int(labels.sum()), "source": str(args.cases), "results": results,
            "skipped": skipped}
    args.json.write_text(json.dumps(body, indent=1))
    print(f"\nwritten {args.json}")


if __name__ == "__main__":
    main()
