"""What the dedup plans share on Spark: earlier runs' index rows read into a plan, the keep policy as a struct whose
minimum is a group's winner, and this run's kept keys written as its index."""
from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from curate.pipeline.output import Output

if TYPE_CHECKING:
    from curate.engines.spark import SparkJob
    from curate.stages.dedup.keep import KeepPolicy

DECISIONS = "uid binary, file_key string, reject_reason string, dup_cluster binary, dup_cluster_size long, " \
            "kept_uid binary, kept_id string"


def read_earlier(policy: KeepPolicy, spark: SparkSession, columns: list[str]) -> DataFrame | None:
    """The index rows of the runs in `against` as earlier documents with `columns` (None without `against`)."""
    if not policy.earlier:
        return None
    frame = spark.read.parquet(*[Output(root).uri_of(path) for root, path in policy.earlier])
    return frame.withColumn("earlier", F.lit(True)).withColumn("file_key", F.lit(None).cast("string")) \
        .select(*columns)


def keep_struct(policy: KeepPolicy) -> Column:
    """The declared keep order (`policy.order`) as a struct whose minimum is a group's winner: a descending key as
    `coalesce(-value, +inf)` (missing last; NaN stays NaN, which Spark orders above +inf), as the pure `winners`
    ranks it; then the winner's `earlier`, `id` and `uid` to read back (after the unique uid, they never change the
    order)."""
    keys = [F.coalesce(-F.col(name).cast("double"), F.lit(float("inf"))) if descending else F.col(name)
            for name, descending in policy.order]
    return F.struct(*[key.alias(f"k{i}") for i, key in enumerate(keys)], "earlier", "id", "uid")


def verdicts(policy: KeepPolicy, members: DataFrame, winner: str = "winner") -> DataFrame:
    """Members (uid, file_key, dup_cluster_size and their group's `winner` struct) → the decision rows, labelled by
    the policy's pure `verdicts` (kept, `duplicate`, `seen_before`)."""
    label = policy.verdicts
    flat = members.select("uid", "file_key", "dup_cluster_size", F.col(f"{winner}.uid").alias("winner_uid"),
                          F.col(f"{winner}.id").alias("winner_id"), F.col(f"{winner}.earlier").alias("winner_earlier"))
    return flat.mapInArrow(lambda batches: (label(batch) for batch in batches), DECISIONS)


def write_index(policy: KeepPolicy, new: DataFrame, decisions: DataFrame, job: SparkJob) -> None:
    """The key rows of this run's documents that `decisions` does not reject: the run's index in the stage's folder,
    then its `index.json` (the folder's files, whole once the write returns)."""
    kept = new.join(decisions.where(F.col("reject_reason").isNotNull()), "uid", "left_anti")
    kept.select(*policy.index_schema.names).write.mode("overwrite").parquet(job.output.uri_of(job.folder))
    policy.describe_index(job.output, job.folder)
