"""Spark plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) -> every document's score and, below the cutoff, its reject reason.

What reaches the driver per round is at most 65,536 (digit, count) rows, whatever the corpus size.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.pipeline.engine import Planned, plan
from curate.stages.quality_classifier import QualityClassifier, RadixSelection


@plan("spark", QualityClassifier)
def quality_classifier(selection: RadixSelection, keys: DataFrame, job: SparkJob) -> Planned:
    """Every document's score and reject reason; the selection's summary (the plan's result)."""
    state = None
    if selection.keep_fraction is not None:
        for level in range(selection.levels):
            matching = [F.col(f"d{i}") == digit for i, digit in enumerate(state.prefix)] if state else []
            rows = reduce(DataFrame.where, matching, keys).groupBy(f"d{level}").count().collect()
            state = selection.select({row[0]: row[1] for row in rows}, state)
            if state.done:
                break
    lowest, reason = selection.cutoff(state)
    rejected = F.when(F.col("rank") < F.lit(lowest), F.lit(reason)).otherwise(F.lit(None)).cast("string")
    return Planned(keys.select("uid", "file_key", rejected.alias("reject_reason"), "quality_score"),
                   selection.summary(state))
