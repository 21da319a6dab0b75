"""Spark plan of `minhash_dedup`: band buckets → star edges → verified edges → connected components → keep policy.

What crosses the network per document: its `bands` keys exploded to one (bucket, uid) row per band (twice: the
sub-bucket aggregation and the join that links members to their sub-bucket's centre), and once its 8-bit sketch
(with `verify`) and its keep-policy columns (`id`, `rank`, `file_key`) for the documents that have an edge. Never text,
never whole signatures.

Star edges: a bucket (equal band key) links every member to the bucket's smallest uid, never all pairs. A bucket is
first spread over `salts` sub-buckets by a hash of the uid, so a templated page's bucket of 10^6 members is
aggregated and joined by many tasks: members link to their sub-bucket's smallest uid, and each sub-bucket's smallest
uid to the bucket's. Buckets of one document make no edge.

Determinism: every choice is a minimum over uids (bucket centres, component labels) or over the keep policy's
ordering with the uid last, so the kept set does not depend on partitioning, file split or task order.

Reported beside the decisions: `OUTPUT/work/components/<stage id>/components.json` holds the connected-components
rounds (`{"rounds": n}`, as the Beam plan's file has them).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from curate.pipeline.output import Output
from curate.pipeline.spark.components import connected_components
from curate.stages.dedup.minhash import MinHashDedup


def plan(stage: MinHashDedup, keys: DataFrame, output: Output) -> DataFrame:
    params = stage.params
    keys = keys.where(F.col("bands").isNotNull())
    rows = keys.select("uid", F.explode("bands").alias("bucket"))
    edges = star_edges(rows, params.salts)
    if params.verify:
        edges = verified(edges, keys.select("uid", "sketch"), params.threshold, stage.hasher.num_perm)
    labels, rounds = connected_components(edges, params.max_rounds, f"{stage.id}: connected components")
    output.write_json(f"work/components/{stage.id}/components.json", {"rounds": rounds})
    return keep(labels, keys, params.keep)


def star_edges(rows: DataFrame, salts: int) -> DataFrame:
    """(bucket, uid) rows → (src, dst) edges: each member to its (sub-)bucket's smallest uid, src < dst."""
    rows = rows.withColumn("salt", F.pmod(F.xxhash64("uid"), F.lit(salts)))
    subs = rows.groupBy("bucket", "salt").agg(F.min("uid").alias("centre"), F.count("*").alias("n"))
    buckets = subs.groupBy("bucket").agg(F.min("centre").alias("top"), F.sum("n").alias("size")) \
        .where(F.col("size") > 1)
    linked = subs.join(buckets, "bucket")  # sub-buckets of buckets with two members or more
    to_top = linked.where(F.col("centre") != F.col("top")).select(F.col("top").alias("src"), F.col("centre").alias("dst"))
    crowded = linked.where(F.col("n") > 1).select("bucket", "salt", "centre")
    to_centre = rows.join(crowded, ["bucket", "salt"]).where(F.col("uid") != F.col("centre")) \
        .select(F.col("centre").alias("src"), F.col("uid").alias("dst"))
    return to_top.union(to_centre).distinct()


def verified(edges: DataFrame, sketches: DataFrame, threshold: float, num_perm: int) -> DataFrame:
    """The edges whose endpoints' 8-bit sketches estimate a Jaccard of `threshold` or more."""
    a = sketches.select(F.col("uid").alias("src"), F.col("sketch").alias("a"))
    b = sketches.select(F.col("uid").alias("dst"), F.col("sketch").alias("b"))
    matches = F.aggregate(F.zip_with("a", "b", lambda x, y: F.when(x == y, 1).otherwise(0)), F.lit(0),
                          lambda acc, x: acc + x)
    # P[equal bytes] = J + (1 - J) / 256 (curate.filters.minhash.sketch_jaccard), solved for J >= threshold
    needed = num_perm * (threshold + (1.0 - threshold) / 256)
    return edges.join(a, "src").join(b, "dst").where(matches >= F.lit(needed)).select("src", "dst")


def _rank(policy: str) -> list:
    """The keep policy as an ordering (the smallest wins): the uid last, so there are no ties."""
    if policy == "min_id":
        return [F.col("id"), F.col("uid")]
    # longest / highest:<column>: the largest rank first, documents without a value last, then the smallest id
    return [F.coalesce(-F.col("rank"), F.lit(float("inf"))), F.col("id"), F.col("uid")]


def keep(labels: DataFrame, keys: DataFrame, policy: str) -> DataFrame:
    """The decision table: every member of a component but the one the policy ranks first is a duplicate."""
    ranked = keys.select("uid", "file_key", F.struct(*[c.alias(f"k{i}") for i, c in enumerate(_rank(policy))])
                         .alias("order"))
    members = labels.withColumnRenamed("vertex", "uid").join(ranked, "uid")
    cluster = Window.partitionBy("component")
    members = members.withColumn("winner", F.min("order").over(cluster)) \
        .withColumn("dup_cluster_size", F.count("*").over(cluster))
    winner_uid = F.col("winner").getField(f"k{len(_rank(policy)) - 1}")
    return members.select(
        "uid", "file_key",
        F.when(F.col("uid") == winner_uid, F.lit(None).cast("string")).otherwise(F.lit("duplicate"))
        .alias("reject_reason"),
        winner_uid.alias("dup_cluster"),
        F.col("dup_cluster_size"),
    )
