"""Spark plan of `exact_dedup`: group the keys by hash, keep one member per group by the stage's keep policy.

With `against:`, earlier runs' index rows (their kept documents' hashes) join the groups and always win: a new
document in a group with one is rejected `seen_before`. The keys of the documents kept are written as this run's
index (the stage's folder).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.engines.spark.components import checkpoint
from curate.engines.spark.dedup_index import keep_struct, read_earlier, verdicts, write_index
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.exact import ExactDedup
from curate.stages.dedup.keep import KeepPolicy


@plan("spark", ExactDedup)
def exact_dedup(policy: KeepPolicy, keys: DataFrame, job: SparkJob) -> Planned:
    new = keys.where(F.col("hash").isNotNull()).withColumn("earlier", F.lit(False))
    earlier = read_earlier(policy, job.spark, new.columns)
    nodes = new if earlier is None else new.unionByName(earlier)
    ranked = nodes.withColumn("rank_key", keep_struct(policy))  # the smallest struct wins
    groups = ranked.groupBy("hash").agg(F.min("rank_key").alias("winner"), F.count("*").alias("dup_cluster_size")) \
        .where(F.col("dup_cluster_size") > 1)
    members = ranked.where(~F.col("earlier")).join(groups, "hash")
    decisions = checkpoint(verdicts(policy, members), "decisions")  # read twice: the index, the decision files
    write_index(policy, new, decisions, job)
    return Planned(decisions)
