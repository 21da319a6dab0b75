"""Token-weighted percentile buckets (stages/quality_buckets.py): the engines' weighted radix rounds, run here in NumPy
on the key columns, place every document exactly where a sort and a cumulative sum over all scores put it."""
from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

from curate.stages import quality_buckets
from curate.stages.quality_classifier import (LEVELS, QualityClassifier, QualityClassifierParams, digits, ranks,
                                              score_of_rank)


def uids(n: int, seed: int = 0) -> pa.Array:
    return pa.array([random.Random(seed * 1_000_003 + i).randbytes(16) for i in range(n)], pa.binary(16))


def reference(rank: np.ndarray, units: np.ndarray, buckets: int) -> np.ndarray:
    """floor(B x units ranked below / total units), by a sort and a cumulative sum over every document."""
    order = np.argsort(rank, kind="stable")
    below = np.empty(len(rank), np.int64)
    below[order] = np.cumsum(units[order]) - units[order]
    return (buckets * below // units.sum()).astype(np.int32)


def rounds(rank_by_model: dict[str, np.ndarray], units: np.ndarray, buckets: int) -> dict:
    """What both plans do: per level and model, units per (prefix, digit) among the wanted prefixes -> advance."""
    state = quality_buckets.start(list(rank_by_model), buckets)
    for level in range(LEVELS):
        histograms = {}
        for model, rank in rank_by_model.items():
            d = digits(rank)
            prefix = np.zeros(len(rank), np.int64)
            for i in range(level):
                prefix = (prefix << 16) | d[i]
            wanted = np.isin(prefix, quality_buckets.wanted(state, model))
            histogram: dict = {}
            for p, digit, u in zip(prefix[wanted].tolist(), d[level][wanted].tolist(), units[wanted].tolist()):
                histogram[p, digit] = histogram.get((p, digit), 0) + u
            histograms[model] = histogram
        state = quality_buckets.advance(state, histograms)
    return state


@pytest.mark.parametrize("n, buckets, seed", [(5_000, 20, 0), (997, 7, 1), (40, 20, 2), (3, 10, 3), (1, 2, 4)])
def test_every_document_lands_in_the_bucket_a_full_sort_gives(n, buckets, seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.beta(2, 5, n), 2).astype(np.float32)  # 2 decimals: many tied scores, ranked by uid hash
    units = rng.integers(1, 3_000, n)
    rank = ranks(scores, uids(n, seed))
    state = rounds({"": rank}, units, buckets)
    placed = quality_buckets.bucket_of(rank, quality_buckets.cuts(state, ""))
    assert np.array_equal(placed, reference(rank, units, buckets))
    summary = quality_buckets.summary(state, "")
    assert summary["units"] == [int(units[placed == b].sum()) for b in range(buckets)]
    assert sum(summary["units"]) == units.sum() == summary["total"]
    if n >= 40:  # each bucket holds 1/B of the units to within one document's units
        assert max(abs(u - units.sum() / buckets) for u in summary["units"]) <= units.max()


def test_a_cut_exactly_on_a_documents_start_puts_it_in_the_upper_bucket():
    """Four documents of 5 units: with 2 buckets the third begins exactly at half the units."""
    rank = ranks(np.array([0.1, 0.2, 0.3, 0.4], np.float32), uids(4))
    units = np.full(4, 5)
    state = rounds({"": rank}, units, 2)
    assert quality_buckets.bucket_of(rank, quality_buckets.cuts(state, "")).tolist() == [0, 0, 1, 1]
    assert quality_buckets.summary(state, "")["units"] == [10, 10]


def test_no_units_at_all_leaves_every_document_in_bucket_zero():
    state = rounds({"": np.zeros(0, np.int64)}, np.zeros(0, np.int64), 5)
    assert quality_buckets.cuts(state, "") == [] and quality_buckets.summary(state, "")["units"] == [0] * 5


def test_max_and_mean_combine_the_models_buckets():
    a, b = np.array([0, 19, 5, 10]), np.array([3, 0, 6, 11])
    assert quality_buckets.combine([a, b], "max").tolist() == [3, 19, 6, 11]
    assert quality_buckets.combine([a, b], "mean").tolist() == [2, 10, 6, 11]  # 1.5 -> 2, 9.5 -> 10, 5.5 -> 6


def test_a_cuts_rank_gives_back_its_score():
    scores = np.array([-3.5, 0.0, 0.25, 0.9999, 7.0], np.float32)
    assert [score_of_rank(int(r)) for r in ranks(scores, uids(5))] == scores.tolist()


def test_the_stage_places_ensemble_documents_and_leaves_out_buckets_not_kept(tmp_path):
    """Through the stage's decision, `policy().buckets` (what both plans call): two models, max, keep_buckets."""
    for name in ("a.bin", "b.bin"):
        (tmp_path / name).touch()
    params = QualityClassifierParams(models=[{"name": "a", "model": str(tmp_path / "a.bin")},
                                             {"name": "b", "model": str(tmp_path / "b.bin")}],
                                     buckets=4, keep_buckets=[3])
    stage = QualityClassifier(params, "qc")
    assert list(stage.adds()) == ["quality_score_a", "quality_score_b", "quality_bucket_a", "quality_bucket_b",
                                  "quality_bucket"]
    rng = np.random.default_rng(5)
    units = np.full(400, 10)
    buckets = stage.policy().buckets
    assert buckets.models == ("_a", "_b") and buckets.keep_buckets == (3,)
    rank = {m: ranks(rng.random(400).astype(np.float32), uids(400, i)) for i, m in enumerate(buckets.models)}
    state = rounds(rank, units, 4)
    columns = buckets.columns(rank, buckets.cuts(state))
    a, b = (reference(rank[m], units, 4) for m in ("_a", "_b"))
    assert columns["quality_bucket_a"].to_numpy().tolist() == a.tolist()
    assert columns["quality_bucket"].to_numpy().tolist() == np.maximum(a, b).tolist()
    outside = columns["bucket_reason"].is_valid().to_numpy(zero_copy_only=False)
    assert outside.tolist() == (np.maximum(a, b) != 3).tolist()
    assert set(buckets.summary(state)) == {"a", "b"}


@pytest.mark.parametrize("raw, message", [
    ({"models": [{"name": "a", "model": "x.bin"}], "keep_fraction": 0.5}, "several models select by keep_buckets"),
    ({"model": "x.bin", "keep_buckets": [1]}, "keep_buckets needs buckets"),
    ({"model": "x.bin", "buckets": 4, "keep_buckets": [4]}, "outside 0..3"),
    ({"models": [{"name": "a", "model": "x.bin"}, {"name": "a", "model": "y.bin"}]}, "a name of its own"),
    ({"model": "x.bin", "models": [{"name": "a", "model": "y.bin"}]}, "not both"),
    ({"buckets": 4}, r"give model \(one classifier\) or models \(several\) \["),
    ({"model": "x.bin", "buckets": 4, "keep_buckets": [3], "threshold": 0.5}, "not threshold and keep_buckets"),
])
def test_bad_ensemble_parameters_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        QualityClassifierParams(**raw)
