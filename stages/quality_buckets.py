"""Token-weighted percentile buckets of quality scores (Nemotron-CC's): the pure core both engines' plans call.

Per model, documents are ordered by their 64-bit rank (`quality_classifier.ranks`: the score, then a uid hash), and
each weighs its units (tokens, or characters; at least 1). A document's token-weighted percentile is the share of the
corpus's units held by documents ranked below it, p = below / total, and its bucket is floor(B · p): bucket b holds
the documents whose units below lie in [b/B, (b+1)/B) of the total, so every bucket holds 1/B of the units to within
one document's units. Documents with the same 64-bit rank (the same float32 score and 32-bit uid hash) share a bucket.

The engines find, per model, the B - 1 cuts (the lowest rank of each bucket 1..B-1) by weighted radix selection on
the rank's four 16-bit digits (`quality_classifier.digits`): each round sums units per (prefix, next digit) among the
documents whose earlier digits match the prefix some cut is still looking in (at most B - 1 prefixes, each at most
65,536 rows), and `advance` picks, per cut, the digit where the cumulative units cross j/B of the total. After four
rounds each cut has the document that straddles j/B and the exact units below it: the decision is exact, integer
arithmetic, and the same on both engines. `bucket_of` then places every document by its rank alone.
"""
from __future__ import annotations

from typing import Any

import numpy as np

DIGIT_BITS = 16
LEVELS = 4


def start(models: list[str], buckets: int) -> dict[str, Any]:
    """The state before the first round: per model, B - 1 cuts with an empty prefix and no units below yet."""
    return {"buckets": buckets, "level": 0,
            "models": {m: {"total": None, "cuts": [{"j": j, "prefix": 0, "below": 0, "units": None}
                                                   for j in range(1, buckets)]} for m in models}}


def wanted(state: dict[str, Any], model: str) -> list[int]:
    """The prefixes (the first `level` digits as one integer) whose documents this round must count for `model`."""
    return sorted({cut["prefix"] for cut in state["models"][model]["cuts"]})


def advance(state: dict[str, Any], histograms: dict[str, dict[tuple[int, int], int]]) -> dict[str, Any]:
    """One round: `histograms[model][(prefix, digit)]` = units of the documents with that prefix and next digit, for
    the prefixes `wanted` named. Each cut j moves to the digit where B · (units below) first exceeds j · total."""
    b, level = state["buckets"], state["level"]
    models = {}
    for model, info in state["models"].items():
        histogram = histograms.get(model, {})
        total = info["total"] if level else sum(histogram.values())
        if not total:
            models[model] = {"total": 0, "cuts": []}
            continue
        by_prefix: dict[int, list[tuple[int, int]]] = {}
        for (prefix, digit), units in histogram.items():
            by_prefix.setdefault(prefix, []).append((digit, units))
        cuts = []
        for cut in info["cuts"]:
            below, prefix, units = cut["below"], cut["prefix"], None
            for digit, amount in sorted(by_prefix.get(prefix, [])):
                if b * (below + amount) > cut["j"] * total:
                    prefix, units = (prefix << DIGIT_BITS) | digit, amount
                    break
                below += amount
            else:
                raise ValueError(f"advance: the units of prefix {cut['prefix']:#x} of {model} do not reach cut "
                                 f"{cut['j']}/{b} of {total}")
            cuts.append({"j": cut["j"], "prefix": prefix, "below": below, "units": units})
        models[model] = {"total": total, "cuts": cuts}
    return {"buckets": b, "level": level + 1, "models": models}


def cuts(state: dict[str, Any], model: str) -> list[int]:
    """After the last round: the signed rank from which documents are in bucket j, for j = 1..B-1 (ascending). The
    straddling document itself is in bucket j only when the units below it are exactly j/B of the total."""
    info = state["models"][model]
    if not info["total"]:
        return []
    out = []
    for cut in info["cuts"]:
        rank = cut["prefix"] - (1 << 63)
        out.append(rank if state["buckets"] * cut["below"] == cut["j"] * info["total"] else rank + 1)
    return out


def bucket_of(rank: np.ndarray, model_cuts: list[int]) -> np.ndarray:
    """Each document's bucket: how many cuts lie at or below its signed rank."""
    return np.searchsorted(np.asarray(model_cuts, np.int64), np.asarray(rank, np.int64), side="right") \
        .astype(np.int32)


def combine(buckets: list[np.ndarray], how: str) -> np.ndarray:
    """The document's quality_bucket from its buckets under each model: the highest (Nemotron-CC) or the mean,
    rounded half up."""
    stacked = np.stack(buckets).astype(np.int64)
    if how == "max":
        return stacked.max(axis=0).astype(np.int32)
    return ((2 * stacked.sum(axis=0) + len(buckets)) // (2 * len(buckets))).astype(np.int32)


def summary(state: dict[str, Any], model: str) -> dict[str, Any]:
    """What the manifest shows of one model's buckets: the total units and each bucket's units (exact: from the units
    below each cut and the straddling document's own), and each cut's rank."""
    info = state["models"][model]
    total = info["total"] or 0
    starts = [0]
    for cut, rank in zip(info["cuts"], cuts(state, model)):
        straddling = cut["prefix"] - (1 << 63)
        starts.append(cut["below"] if rank == straddling else cut["below"] + cut["units"])
    if not total:
        starts = [0] * state["buckets"]
    units = [end - begin for begin, end in zip(starts, starts[1:] + [total])]
    return {"total": total, "units": units, "cuts": cuts(state, model)}
