"""Spark plan of `exact_dedup`: group the keys by hash, keep one member per group by the keep policy.

With `against:`, earlier runs' index rows (their kept documents' hashes) join the groups and always win: a new
document in a group with one is rejected `seen_before`. The keys of the documents kept are written as this run's
index (`curate.stages.dedup.index`).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.pipeline.spark.components import checkpoint
from curate.pipeline.spark.dedup_index import read_earlier, write_index
from curate.stages.dedup.exact import ExactDedup


def plan(stage: ExactDedup, keys: DataFrame, output: Output) -> DataFrame:
    new = keys.where(F.col("hash").isNotNull()).withColumn("earlier", F.lit(False))
    earlier = read_earlier(stage, keys.sparkSession, new.columns)
    nodes = new if earlier is None else new.unionByName(earlier)
    # The keep policy as an ordering: the smallest struct wins (earlier runs' documents, then the longest first
    # for `longest`, then the smallest id).
    order = [F.when(F.col("earlier"), 0).otherwise(1).alias("fresh")]
    if stage.params.keep == "longest":
        order.append((-F.col("length")).alias("length"))
    ranked = nodes.withColumn("rank_key", F.struct(*order, F.col("id").alias("id"), F.col("uid").alias("uid")))
    groups = ranked.groupBy("hash").agg(F.min("rank_key").alias("winner"), F.count("*").alias("dup_cluster_size")) \
        .where(F.col("dup_cluster_size") > 1)
    members = ranked.where(~F.col("earlier")).join(groups, "hash")
    reason = F.when((F.col("uid") == F.col("winner.uid")) & (F.col("winner.fresh") == 1), F.lit(None).cast("string")) \
        .when(F.col("winner.fresh") == 0, F.lit("seen_before")).otherwise(F.lit("duplicate"))
    decisions = checkpoint(members.select(
        "uid", "file_key", reason.alias("reject_reason"), F.col("winner.uid").alias("dup_cluster"),
        "dup_cluster_size",
        F.when(reason.isNotNull(), F.col("winner.uid")).alias("kept_uid"),
        F.when(reason.isNotNull(), F.col("winner.id")).alias("kept_id"),
    ), "decisions")  # read twice: the index below, the engine's decision files
    write_index(stage, new, decisions, output)
    return decisions
