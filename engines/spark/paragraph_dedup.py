"""Spark plan of `paragraph_dedup`: unit hashes → documents per hash → repeated hashes → positions to cut.

What crosses the network: one (hash, uid, file_key, positions) row per distinct unit of a document, twice (the count
per hash, with map-side partial counts, and the join back to the repeated hashes), then the cut positions of the
documents that lose a unit. Never text.
"""
from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from curate.pipeline.output import Output


def plan(stage, keys: DataFrame, output: Output) -> DataFrame:
    units = keys.select("uid", "file_key", F.explode("units").alias("unit")) \
        .select("uid", "file_key", F.col("unit.hash").alias("hash"), F.col("unit.positions").alias("positions"))
    counts = units.groupBy("hash").agg(F.count("*").alias("documents"))
    repeated = stage.repeated

    def decide(batches):
        for batch in batches:  # the stage's own rule, on Arrow batches of counted hashes
            yield batch.filter(pa.array(repeated(batch.column("documents").to_numpy())))

    frequent = counts.mapInArrow(decide, counts.schema).select("hash")
    cuts = units.join(frequent, "hash").groupBy("uid", "file_key") \
        .agg(F.array_sort(F.flatten(F.collect_list("positions"))).alias("paragraphs_removed"))
    return cuts.select("uid", "file_key", F.lit(None).cast("string").alias("reject_reason"), "paragraphs_removed")
