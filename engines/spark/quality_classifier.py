"""Spark plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) -> every document's score and, below the cutoff, its reject reason.

What reaches the driver per round is at most 65,536 (digit, count) rows, whatever the corpus size.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.pipeline.output import Output


def plan(stage, keys: DataFrame, output: Output) -> DataFrame:
    state = None
    if stage.params.keep_fraction is not None:
        for level in range(stage.levels):
            matching = [F.col(f"d{i}") == digit for i, digit in enumerate(state["prefix"])] if state else []
            rows = reduce(DataFrame.where, matching, keys).groupBy(f"d{level}").count().collect()
            state = stage.select({row[0]: row[1] for row in rows}, state)
            if state["done"]:
                break
        output.write_json(stage.summary_path(), stage.kept(state))
    lowest, reason = stage.cutoff(state)
    rejected = F.when(F.col("rank") < F.lit(lowest), F.lit(reason)).otherwise(F.lit(None)).cast("string")
    return keys.select("uid", "file_key", rejected.alias("reject_reason"), "quality_score")
