"""Spark plan of `balance`: a units histogram per (domain, hash bucket) -> the mixture and the cuts (pure core) ->
the rejected uids.

What reaches the driver is bounded by the number of domains, not documents: at most 4,096 histogram rows per domain.
Each document is then decided by its domain and bucket alone, through a broadcast join.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.pipeline.engine import Planned, plan
from curate.stages.balance import Balance, Mixture


@plan("spark", Balance)
def balance(mixture: Mixture, keys: DataFrame, job: SparkJob) -> Planned:
    """The rejected uids, and the mixture decided (the plan's result)."""
    histogram: dict[str, dict[int, int]] = {}
    for row in keys.groupBy("domain", "bucket").agg(F.sum("amount").alias("amount")).collect():
        histogram.setdefault(row["domain"], {})[row["bucket"]] = int(row["amount"] or 0)
    summary, cuts = mixture.decide(histogram)
    cut = F.broadcast(keys.sparkSession.createDataFrame(
        [(d, last, reason) for d, (last, reason) in sorted(cuts.items())],
        "domain string, last int, reason string"))
    return Planned(keys.join(cut, "domain").where(F.col("bucket") > F.col("last"))
                   .select("uid", "file_key", F.col("reason").alias("reject_reason")), summary)

