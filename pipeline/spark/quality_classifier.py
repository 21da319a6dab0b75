"""Spark plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) -> every document's score and, below the cutoff, its reject reason.

What reaches the driver per round is at most 65,536 (digit, count) rows, whatever the corpus size.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.stages.quality_classifier import LEVELS, QualityClassifier, cutoff, select, summary, summary_path


def plan(stage: QualityClassifier, keys: DataFrame, output: Output) -> DataFrame:
    state = None
    if stage.params.keep_fraction is not None:
        for level in range(LEVELS):
            matching = [F.col(f"d{i}") == digit for i, digit in enumerate(state["prefix"])] if state else []
            rows = reduce(DataFrame.where, matching, keys).groupBy(f"d{level}").count().collect()
            state = select({row[0]: row[1] for row in rows}, state, stage.params.keep_fraction)
            if state["done"]:
                break
        output.write_json(summary_path(stage.id), summary(state))
    lowest, reason = cutoff(stage.params, state)
    rejected = F.when(F.col("rank") < F.lit(lowest), F.lit(reason)).otherwise(F.lit(None)).cast("string")
    return keys.select("uid", "file_key", rejected.alias("reject_reason"), "quality_score")
