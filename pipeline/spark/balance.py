"""Spark plan of `balance`: per-domain totals -> the mixture (pure core) -> hash-bucket cuts -> down-sampled uids.

Only one row per domain reaches the driver (the totals `decide` needs); the cut of a down-sampled domain is found on
its 2^16-bucket histogram with a window per domain, and applied to the keys by a broadcast join.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.stages.balance import Balance, decide, summary_path


def plan(stage: Balance, keys: DataFrame) -> DataFrame:
    spark = keys.sparkSession
    totals = keys.groupBy("domain").agg(F.sum("amount").alias("amount")).collect()
    summary = decide({row["domain"]: int(row["amount"] or 0) for row in totals}, stage.params)
    _output_of(keys).write_json(summary_path(stage.id), summary)

    domains = summary["domains"]
    cut_domains = [(d, info["keep"]) for d, info in domains.items() if 0 < info["keep"] < info["available"]]
    unweighted = [d for d, info in domains.items() if info["keep"] == 0 and info["available"] > 0]
    budget = F.broadcast(spark.createDataFrame(cut_domains, "domain string, keep long"))

    # Keep a bucket while its midpoint lies within the domain's budget: the cut rounds to the nearest bucket edge.
    by_bucket = Window.partitionBy("domain").orderBy("bucket")
    last_kept = (keys.join(budget, "domain").groupBy("domain", "bucket", "keep").agg(F.sum("amount").alias("amount"))
                 .withColumn("before", F.sum("amount").over(by_bucket) - F.col("amount"))
                 .where(F.col("before") + F.col("amount") / 2 < F.col("keep"))
                 .groupBy("domain").agg(F.max("bucket").alias("last")))
    downsampled = (keys.join(budget, "domain").join(F.broadcast(last_kept), "domain", "left")
                   .where(F.col("last").isNull() | (F.col("bucket") > F.col("last")))
                   .select("uid", "file_key", F.lit("downsample").alias("reject_reason")))
    dropped = (keys.where(F.col("domain").isin(unweighted))
               .select("uid", "file_key", F.lit("unweighted").alias("reject_reason")))
    return downsampled.unionByName(dropped)


def _output_of(keys: DataFrame) -> Output:
    """The run's output root, from where the keys were read (OUTPUT/work/pass-<k>/keys/...).

    The engine passes a global stage's plan only its keys; the mixture summary must still reach the manifest.
    """
    path = sorted(keys.inputFiles())[0]
    root, marker, _ = path.rpartition("/work/pass-")
    if not marker:
        raise RuntimeError(f"balance: cannot find the output root from the keys path {path!r}")
    return Output(root)
