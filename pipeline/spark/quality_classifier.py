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

from curate.pipeline.output import Output

SPARK_TYPES = {pa.float32(): "float", pa.int32(): "int"}


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
    rejected = F.lit(None).cast("string") if reason is None else \
        F.when(F.col("rank") < F.lit(lowest), F.lit(reason)).otherwise(F.lit(None)).cast("string")
    scores = [name for name in stage.adds() if name.startswith("quality_score")]
    if not stage.params.buckets:
        return keys.select("uid", "file_key", rejected.alias("reject_reason"), *scores)
    buckets = bucket_state(stage, keys)
    output.write_json(stage.buckets_path(), stage.bucket_summary(buckets))
    cuts = stage.bucket_cuts(buckets)
    placed = [name for name in stage.adds() if name.startswith("quality_bucket")]
    schema = ", ".join(["uid binary", "file_key string", "reject_reason string"] +
                       [f"{name} {SPARK_TYPES[t]}" for name, t in stage.adds().items()])

    def decide(batches):
        for batch in batches:
            ranks = {m: batch.column(f"rank{m}").to_numpy() for m in stage.bucket_models()}
            columns = stage.bucket_columns(ranks, cuts)
            reason = batch.column("reject_reason")
            reason = pc.coalesce(reason, columns.pop("bucket_reason"))
            yield pa.RecordBatch.from_arrays(
                [batch.column("uid"), batch.column("file_key"), reason, *(batch.column(s) for s in scores),
                 *(columns[name] for name in placed)], names=["uid", "file_key", "reject_reason", *scores, *placed])

    ranked = [f"rank{m}" for m in stage.bucket_models()]
    return keys.select("uid", "file_key", rejected.alias("reject_reason"), *scores, *ranked).mapInArrow(decide, schema)


def bucket_state(stage, keys: DataFrame) -> dict:
    """The weighted radix selection: per digit level and model, the units per (prefix, digit) among the documents
    whose earlier digits form a prefix some cut still looks in."""
    state = stage.bucket_start()
    for level in range(stage.levels):
        histograms = {}
        for model in stage.bucket_models():
            prefixes = stage.bucket_wanted(state, model)
            if level and not prefixes:
                continue
            prefix = reduce(lambda a, b: a + b, [F.col(f"d{i}{model}").cast("long") * (1 << (16 * (level - 1 - i)))
                                                 for i in range(level)], F.lit(0).cast("long"))
            rows = (keys.select(prefix.alias("prefix"), F.col(f"d{level}{model}").alias("digit"), "units")
                    .where(F.col("prefix").isin(prefixes)) if level else
                    keys.select(F.lit(0).cast("long").alias("prefix"), F.col(f"d0{model}").alias("digit"), "units"))
            histograms[model] = {(row["prefix"], row["digit"]): int(row["units"]) for row in
                                 rows.groupBy("prefix", "digit").agg(F.sum("units").alias("units")).collect()}
        state = stage.bucket_advance(state, histograms)
    return state
