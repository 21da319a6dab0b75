"""Spark plan of `minhash_dedup`: band buckets → star edges → verified edges → connected components → keep policy.

What crosses the network per document: its `bands` keys exploded to one (bucket, uid) row per band (twice: the
sub-bucket aggregation and the join that links members to their sub-bucket's centre), and once its 8-bit sketch
(with `verify`) and its keep-policy columns (`id`, `rank`, `file_key`) for the documents that have an edge. Never text,
never whole signatures.

Star edges: a bucket (equal band key) links every member to the bucket's smallest uid, never all pairs. A bucket is
first spread over `salts` sub-buckets by the keys' `salt` column (the stage computes it; an earlier run's index rows
get theirs from the policy, `ClusterPolicy.with_salts`), so a templated page's bucket of 10^6 members is
aggregated and joined by many tasks: members link to their sub-bucket's smallest uid, and each sub-bucket's smallest
uid to the bucket's. Buckets of one document make no edge.

Determinism: every choice is a minimum over uids (bucket centres, component labels) or over the keep policy's
ordering with the uid last, so the kept set does not depend on partitioning, file split or task order.

Earlier runs (`against:`): their index rows join the vertices as earlier documents (first in every keep policy);
a component holding one rejects this run's members `seen_before`, and a document an earlier run kept under the same
id is `seen_before` it without becoming a vertex. The decision rows name the kept document (`kept_uid`, `kept_id`)
for the reject ledger; the keys of the documents kept are written as this run's index (`dedup_index`).

Reported beside the decisions: `OUTPUT/work/components/<stage id>/components.json` holds the connected-components
rounds (`{"rounds": n}`, as the Beam plan's file has them).
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StructField, StructType

from curate.engines.spark import SparkJob
from curate.engines.spark.components import checkpoint, connected_components
from curate.engines.spark.dedup_index import keep_struct, read_earlier, verdicts, write_index
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.minhash import ClusterPolicy, MinHashDedup


@plan("spark", MinHashDedup)
def minhash_dedup(policy: ClusterPolicy, keys: DataFrame, job: SparkJob) -> Planned:
    output = job.output
    new = keys.where(F.col("bands").isNotNull()).withColumn("earlier", F.lit(False))
    earlier = read_earlier(policy, job.spark, [c for c in new.columns if c != "salt"])
    if earlier is not None:  # index rows carry no salt: the policy gives them theirs
        salted = StructType([*earlier.schema.fields, StructField("salt", IntegerType())])
        earlier = earlier.mapInArrow(lambda batches: (policy.with_salts(b) for b in batches), salted) \
            .select(*new.columns)
    again = None
    if earlier is not None:
        # A document an earlier run kept, here again under the same id: seen before, and no vertex of its own.
        again = keys.join(earlier.select("uid", F.col("id").alias("kept_id")), "uid").select(
            "uid", "file_key", F.lit("seen_before").alias("reject_reason"), F.col("uid").alias("dup_cluster"),
            F.lit(2).cast("long").alias("dup_cluster_size"), F.col("uid").alias("kept_uid"), "kept_id")
        new = new.join(earlier.select("uid"), "uid", "left_anti")
    nodes = new if earlier is None else new.unionByName(earlier)
    rows = nodes.select("uid", "salt", F.explode("bands").alias("bucket"))
    edges = star_edges(rows)
    if policy.matches_needed is not None:
        edges = verified(edges, nodes.select("uid", "sketch"), policy.matches_needed)
    labels, rounds = connected_components(edges, policy.max_rounds, f"{policy.stage_id}: connected components")
    output.write_json(f"work/components/{policy.stage_id}/components.json", {"rounds": rounds})
    decisions = keep(policy, labels, nodes)
    if again is not None:
        decisions = decisions.unionByName(again)
    decisions = checkpoint(decisions, "decisions")  # read twice: the index below, the engine's decision files
    write_index(policy, new, decisions, job)
    return Planned(decisions)


def star_edges(rows: DataFrame) -> DataFrame:
    """(bucket, salt, uid) rows → (src, dst) edges: each member to its (sub-)bucket's smallest uid, src < dst."""
    subs = rows.groupBy("bucket", "salt").agg(F.min("uid").alias("centre"), F.count("*").alias("n"))
    buckets = subs.groupBy("bucket").agg(F.min("centre").alias("top"), F.sum("n").alias("size")) \
        .where(F.col("size") > 1)
    linked = subs.join(buckets, "bucket")  # sub-buckets of buckets with two members or more
    to_top = linked.where(F.col("centre") != F.col("top")).select(F.col("top").alias("src"), F.col("centre").alias("dst"))
    crowded = linked.where(F.col("n") > 1).select("bucket", "salt", "centre")
    to_centre = rows.join(crowded, ["bucket", "salt"]).where(F.col("uid") != F.col("centre")) \
        .select(F.col("centre").alias("src"), F.col("uid").alias("dst"))
    return to_top.union(to_centre).distinct()


def verified(edges: DataFrame, sketches: DataFrame, needed: float) -> DataFrame:
    """The edges whose endpoints' 8-bit sketches agree in `needed` bytes or more (the stage's `matches_needed`)."""
    a = sketches.select(F.col("uid").alias("src"), F.col("sketch").alias("a"))
    b = sketches.select(F.col("uid").alias("dst"), F.col("sketch").alias("b"))
    matches = F.aggregate(F.zip_with("a", "b", lambda x, y: F.when(x == y, 1).otherwise(0)), F.lit(0),
                          lambda acc, x: acc + x)
    return edges.join(a, "src").join(b, "dst").where(matches >= F.lit(needed)).select("src", "dst")


def keep(policy: ClusterPolicy, labels: DataFrame, nodes: DataFrame) -> DataFrame:
    """The decision table of this run's documents: every member of a component but the one the keep policy ranks
    first is a duplicate, or `seen_before` when that one is an earlier run's."""
    ranked = nodes.select("uid", "file_key", "earlier", keep_struct(policy).alias("order"))
    members = labels.withColumnRenamed("vertex", "uid").join(ranked, "uid")
    cluster = Window.partitionBy("component")
    members = members.withColumn("winner", F.min("order").over(cluster)) \
        .withColumn("dup_cluster_size", F.count("*").over(cluster)).where(~F.col("earlier"))
    return verdicts(policy, members)
