"""Repeat counts for balance (stages/repeats.py): FineWeb-2's rehydration tables read as its README's own loop reads
them, quality-bucket tables, a column, the cap, and the inflation report."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from curate.stages.balance import Balance, BalanceParams
from curate.stages.repeats import RepeatsParams, counts, step_counts


def rehydrater(weights: dict[int, int], size: int) -> int:
    """FineWeb-2's README loop (rehydration/README.md), restated: expand the table over every size, then look up."""
    expanded = [1]
    for i in range(1, max(weights) + 1):
        expanded.append(weights[i] if i in weights else expanded[-1])
    return expanded[-1] if size >= len(expanded) else expanded[size]


def test_the_shipped_fineweb2_tables_give_the_readmes_counts(shared_data):
    table = json.loads((shared_data / "fineweb-2/rehydration/weights/up_to_10_reps.json").read_text())
    sizes = np.arange(1, 400)
    for language in ("ita_Latn", "deu_Latn", "kao_Latn"):
        weights = {int(k): v for k, v in table[language].items()}
        assert step_counts(table[language], sizes).tolist() == [rehydrater(weights, int(s)) for s in sizes]
    # the README's example: no duplicates -> 1, one duplicate -> 3, 16 duplicates (size 17) -> 10
    assert step_counts(table["ita_Latn"], np.array([1, 2, 17, 500])).tolist() == [1, 3, 10, 1]


def test_per_language_file_looks_up_the_lang_column_and_caps(shared_data):
    path = str(shared_data / "fineweb-2/rehydration/weights/up_to_10_reps.json")
    params = RepeatsParams(by_cluster_size=path, max_repeats=7)
    assert params.requires() == ("dup_cluster_size", "lang") and params.group() == "lang"
    batch = pa.RecordBatch.from_pydict({"dup_cluster_size": pa.array([1, 2, 17, 17, None], pa.int64()),
                                        "lang": ["ita_Latn", "ita_Latn", "ita_Latn", "xxx_Zzzz", "ita_Latn"]})
    assert counts(params, batch).tolist() == [1, 3, 7, 1, 1]  # 10 capped at 7; unknown language and no size: 1


def test_bucket_table_column_and_cap():
    batch = pa.RecordBatch.from_pydict({"quality_bucket": pa.array([19, 18, 3, None], pa.int32()),
                                        "n": pa.array([4, 12, None, 2], pa.int64())})
    assert counts(RepeatsParams(by_bucket={19: 7, 18: 3}), batch).tolist() == [7, 3, 1, 1]
    assert counts(RepeatsParams(by_bucket={19: 7}, max_repeats=5), batch).tolist() == [5, 1, 1, 1]
    assert counts(RepeatsParams(column="n", max_repeats=10), batch).tolist() == [4, 10, 1, 2]


@pytest.mark.parametrize("raw, message", [
    ({}, "give one of by_bucket, by_cluster_size, column"),
    ({"by_bucket": {1: 2}, "column": "n"}, "not by_bucket and column"),
    ({"by_bucket": {1: 0}}, "counts must be >= 1"),
    ({"column": "n", "max_repeats": 0}, "greater than or equal to 1"),
])
def test_bad_repeats_are_refused(raw, message):
    with pytest.raises(ValueError, match=message):
        RepeatsParams(**raw)


def test_balance_counts_every_copy_and_reports_the_inflation():
    stage = Balance(BalanceParams(temperature=1, by="characters", repeats={"by_bucket": {2: 4}}))
    assert stage.requires() == ("domain", "text", "quality_bucket") and stage.adds() == {"repeats": pa.int32()}
    batch = pa.RecordBatch.from_pydict({
        "uid": pa.array([bytes([i]) * 16 for i in range(4)], pa.binary(16)), "domain": ["a", "a", "b", "b"],
        "text": ["xx", "yyyy", "z", "wwwww"], "quality_bucket": pa.array([2, 0, 2, 1], pa.int32())})
    keys = stage.keys(batch)
    assert keys.column("amount").to_pylist() == [8, 4, 4, 5] and keys.column("unique").to_pylist() == [2, 4, 1, 5]
    rows = [("a", "2", 1, 2, 8), ("a", "0", 1, 4, 4), ("b", "2", 1, 1, 4), ("b", "1", 1, 5, 5)]
    histogram = {"a": {0: 12}, "b": {0: 9}}
    summary, _ = stage.policy().decide(histogram, rows)
    report = summary["repeats"]
    assert report["domains"]["a"] == {"documents": 2, "units": 6, "repeated_units": 12, "inflation": 2.0}
    assert report["all"]["inflation"] == round(21 / 12, 4)
    assert list(report["quality_bucket"]) == ["0", "1", "2"] and report["quality_bucket"]["2"]["inflation"] == 4.0
    assert summary["domains"]["a"]["available"] == 12  # the domain's units count every copy


def test_a_missing_rehydration_file_is_named_before_the_run(tmp_path):
    from curate.pipeline import config as pipeline_config
    from curate.pipeline.check import check
    from curate.pipeline.errors import ConfigError
    from curate.pipeline.inputs import InputFile

    config = pipeline_config.parse({"input": {"paths": ["x"], "dataset": "d", "fields": ["domain"]}, "output": "o",
                                    "stages": [{"name": "exact_dedup"},
                                               {"name": "balance", "temperature": 1, "by": "characters",
                                                "repeats": {"by_cluster_size": str(tmp_path / "absent.json")}}]})
    with pytest.raises(ConfigError, match=r"\(balance\)\.repeats\.by_cluster_size: no file .*absent\.json"):
        check(config, [InputFile(str(tmp_path / "x.jsonl"), "x.jsonl", 1, "jsonl")])
