"""Spark plan of `balance`: a units histogram per (domain, hash bucket) -> the mixture and the cuts (pure core) ->
the rejected uids, and with repeats every document's count that is not 1.

What reaches the driver is bounded by the number of domains, not documents: at most 4,096 histogram rows per domain
(and with repeats one row per domain and bucket or language, for the inflation report). Each document is then decided
by its domain and bucket alone, through a broadcast join.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.pipeline.engine import Planned, plan
from curate.stages.balance import Balance, Mixture


@plan("spark", Balance)
def balance(mixture: Mixture, keys: DataFrame, job: SparkJob) -> Planned:
    """The rejected uids (with repeats, and every count that is not 1), and the mixture decided (the plan's
    result)."""
    histogram: dict[str, dict[int, int]] = {}
    for row in keys.groupBy("domain", "bucket").agg(F.sum("amount").alias("amount")).collect():
        histogram.setdefault(row["domain"], {})[row["bucket"]] = int(row["amount"] or 0)
    counted = "repeats" in keys.columns
    inflation = None
    if counted:
        inflation = [(r["domain"], r["group"], r["documents"], int(r["unique"] or 0), int(r["amount"] or 0))
                     for r in keys.groupBy("domain", "group").agg(
                         F.count("*").alias("documents"), F.sum("unique").alias("unique"),
                         F.sum("amount").alias("amount")).collect()]
    summary, cuts = mixture.decide(histogram, inflation)
    cut = F.broadcast(keys.sparkSession.createDataFrame(
        [(d, last, reason) for d, (last, reason) in sorted(cuts.items())],
        "domain string, last int, reason string"))
    if not counted:
        return Planned(keys.join(cut, "domain").where(F.col("bucket") > F.col("last"))
                       .select("uid", "file_key", F.col("reason").alias("reject_reason")), summary)
    reason = F.when(F.col("bucket") > F.col("last"), F.col("reason")).otherwise(F.lit(None).cast("string"))
    return Planned(keys.join(cut, "domain", "left").select("uid", "file_key", reason.alias("reject_reason"), "repeats")
                   .where(F.col("reject_reason").isNotNull() | (F.col("repeats") != 1)), summary)
