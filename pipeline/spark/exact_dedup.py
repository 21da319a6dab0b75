"""Spark plan of `exact_dedup`: group the keys by hash, keep one member per group by the keep policy."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.stages.dedup.exact import ExactDedup


def plan(stage: ExactDedup, keys: DataFrame, output: Output) -> DataFrame:
    keys = keys.where(F.col("hash").isNotNull())
    # The keep policy as an ordering: the smallest struct wins (longest first, then the smallest id).
    order = [F.col("id")] if stage.params.keep == "min_id" else [-F.col("length"), F.col("id")]
    ranked = keys.withColumn("rank_key", F.struct(*[o.alias(f"k{i}") for i, o in enumerate(order)], F.col("uid")))
    groups = ranked.groupBy("hash").agg(F.min("rank_key").alias("winner"), F.count("*").alias("dup_cluster_size")) \
        .where(F.col("dup_cluster_size") > 1)
    members = ranked.join(groups, "hash")
    return members.select(
        "uid", "file_key",
        F.when(F.col("uid") == F.col("winner.uid"), F.lit(None).cast("string")).otherwise(F.lit("duplicate"))
        .alias("reject_reason"),
        F.col("winner.uid").alias("dup_cluster"),
        F.col("dup_cluster_size"),
    )
