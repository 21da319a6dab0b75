"""Spark plan of `paragraph_dedup`: unit hashes → documents per hash → repeated hashes → positions to cut.

What crosses the network: one (hash, uid, file_key, positions) row per distinct unit of a document, twice (the count
per hash, with map-side partial counts, and the join back to the repeated hashes), then the cut positions of the
documents that lose a unit. Never text.
"""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.engines.spark import SparkJob
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.paragraph import ParagraphDedup, RepeatedUnits


@plan("spark", ParagraphDedup)
def paragraph_dedup(rule: RepeatedUnits, keys: DataFrame, job: SparkJob) -> Planned:
    units = keys.select("uid", "file_key", F.explode("units").alias("unit")) \
        .select("uid", "file_key", F.col("unit.hash").alias("hash"), F.col("unit.positions").alias("positions"))
    counts = units.groupBy("hash").agg(F.count("*").alias("documents"))
    repeated = rule.repeated

    def decide(batches):
        for batch in batches:  # the stage's own rule, on Arrow batches of counted hashes
            yield batch.filter(pa.array(repeated(batch.column("documents").to_numpy())))

    frequent = counts.mapInArrow(decide, counts.schema).select("hash")
    cuts = units.join(frequent, "hash").groupBy("uid", "file_key") \
        .agg(F.array_sort(F.flatten(F.collect_list("positions"))).alias("paragraphs_removed"))
    return Planned(cuts.select("uid", "file_key", F.lit(None).cast("string").alias("reject_reason"),
                               "paragraphs_removed"))
