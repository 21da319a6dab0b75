"""Spark plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) and the quality buckets (weighted radix selection of each model's percentile cuts, pure core
`quality_buckets`) -> every document's scores, buckets and, below the cutoff or outside keep_buckets, its reason.

What reaches the driver per round is at most 65,536 (digit, count) rows for the top fraction, and per model at most
65,536 (prefix, digit, units) rows per cut still being looked for, whatever the corpus size.
"""
from __future__ import annotations

from functools import reduce

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.pipeline.engine import Planned, plan
from curate.stages.quality_classifier import BucketSelection, BucketState, QualityClassifier, RadixSelection


@plan("spark", QualityClassifier)
def quality_classifier(selection: RadixSelection, keys: DataFrame, job: SparkJob) -> Planned:
    """Every document's scores, buckets and reject reason; the selection's summary and each model's buckets (the
    plan's result)."""
    state = None
    if selection.keep_fraction is not None:
        for level in range(selection.levels):
            matching = [F.col(f"d{i}") == digit for i, digit in enumerate(state.prefix)] if state else []
            rows = reduce(DataFrame.where, matching, keys).groupBy(f"d{level}").count().collect()
            state = selection.select({row[0]: row[1] for row in rows}, state)
            if state.done:
                break
    lowest, reason = selection.cutoff(state)
    rejected = F.lit(None).cast("string") if reason is None else \
        F.when(F.col("rank") < F.lit(lowest), F.lit(reason)).otherwise(F.lit(None)).cast("string")
    scores = [name for name in keys.columns if name.startswith("quality_score")]
    if selection.buckets is None:
        return Planned(keys.select("uid", "file_key", rejected.alias("reject_reason"), *scores),
                       selection.result(state))
    buckets = selection.buckets
    found = bucket_state(buckets, keys)
    cuts = buckets.cuts(found)
    placed = [f"quality_bucket{m}" for m in buckets.models if m] + ["quality_bucket"]
    schema = ", ".join(["uid binary", "file_key string", "reject_reason string"] +
                       [f"{name} float" for name in scores] + [f"{name} int" for name in placed])

    def decide(batches):
        for batch in batches:
            columns = buckets.columns({m: batch.column(f"rank{m}").to_numpy() for m in buckets.models}, cuts)
            reason = pc.coalesce(batch.column("reject_reason"), columns.pop("bucket_reason"))
            yield pa.RecordBatch.from_arrays(
                [batch.column("uid"), batch.column("file_key"), reason, *(batch.column(s) for s in scores),
                 *(columns[name] for name in placed)], names=["uid", "file_key", "reject_reason", *scores, *placed])

    ranked = [f"rank{m}" for m in buckets.models]
    decisions = keys.select("uid", "file_key", rejected.alias("reject_reason"), *scores, *ranked).mapInArrow(decide,
                                                                                                           schema)
    return Planned(decisions, selection.result(state, found))


def bucket_state(buckets: BucketSelection, keys: DataFrame) -> BucketState:
    """The weighted radix selection: per digit level and model, the units per (prefix, digit) among the documents
    whose earlier digits form a prefix some cut still looks in."""
    state = buckets.start()
    for level in range(buckets.levels):
        histograms = {}
        for model in buckets.models:
            prefixes = buckets.wanted(state, model)
            if level and not prefixes:
                continue
            prefix = reduce(lambda a, b: a + b, [F.col(f"d{i}{model}").cast("long") * (1 << (16 * (level - 1 - i)))
                                                 for i in range(level)], F.lit(0).cast("long"))
            rows = (keys.select(prefix.alias("prefix"), F.col(f"d{level}{model}").alias("digit"), "units")
                    .where(F.col("prefix").isin(prefixes)) if level else
                    keys.select(F.lit(0).cast("long").alias("prefix"), F.col(f"d0{model}").alias("digit"), "units"))
            histograms[model] = {(row["prefix"], row["digit"]): int(row["units"]) for row in
                                 rows.groupBy("prefix", "digit").agg(F.sum("units").alias("units")).collect()}
        state = buckets.advance(state, histograms)
    return state
