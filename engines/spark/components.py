"""Connected components of an edge list in the DataFrame API: large-star / small-star, checkpointed each round.

Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii (2014), "Connected Components in MapReduce and Beyond". With
vertices ordered (here: binary uids, compared as unsigned bytes) and Γ+(u) = u's neighbours and u itself:

- **large-star**: every u links each *larger* neighbour v to m(u) = min Γ+(u); u's other edges go.
- **small-star**: every u links each *smaller-or-equal* member of Γ+(u) to their minimum m; u's larger edges go.

Each keeps the components and never loses a component's minimum; alternating them converges in O(log² n) rounds (a
few in practice) to a star forest: every vertex points at its component's minimum. That state is a fixed point of both
steps, so convergence is checked directly: no vertex has two parents, and no parent has a parent.

Each step is one window over the vertex (min over its neighbours) plus a distinct. Every round's edges are
checkpointed — written as Parquet under the SparkContext's checkpoint directory and read back: one job, where
`Dataset.checkpoint` computes a round twice (once to count it, once to save it) — so the plan stays one round long
however many rounds run. Nothing is collected to the driver except one count per round; the number of rounds is
returned beside the labels (a plan reports it; it grows about as the log of the largest component).
"""
from __future__ import annotations

import uuid

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from curate.pipeline.errors import CurateError


def checkpoint(frame: DataFrame, name: str) -> DataFrame:
    """`frame` saved under the checkpoint directory and read back: its lineage ends here (one job)."""
    directory = frame.sparkSession.sparkContext.getCheckpointDir()
    if directory is None:
        raise CurateError("no Spark checkpoint directory: call SparkContext.setCheckpointDir first")
    path = f"{directory.rstrip('/')}/{name}-{uuid.uuid4().hex[:12]}"
    frame.write.parquet(path)
    return frame.sparkSession.read.parquet(path)


def large_star(edges: DataFrame) -> DataFrame:
    both = edges.select(F.col("src").alias("u"), F.col("dst").alias("v")) \
        .union(edges.select(F.col("dst").alias("u"), F.col("src").alias("v")))
    smallest = F.least(F.min("v").over(Window.partitionBy("u")), F.col("u"))
    return both.withColumn("m", smallest).where(F.col("v") > F.col("u")) \
        .select(F.col("v").alias("src"), F.col("m").alias("dst")).distinct()


def small_star(edges: DataFrame) -> DataFrame:
    """`edges` oriented larger → smaller (as large-star leaves them)."""
    ranked = edges.withColumn("m", F.min("dst").over(Window.partitionBy("src")))
    neighbours = ranked.where(F.col("dst") != F.col("m")).select(F.col("dst").alias("src"), F.col("m").alias("dst"))
    return neighbours.union(ranked.select("src", F.col("m").alias("dst"))).distinct()


def unsettled(edges: DataFrame) -> int:
    """Vertices that keep `edges` from being a star forest: with two parents, or a parent that has one."""
    roles = edges.select(F.col("src").alias("x"), F.lit(1).alias("child"), F.lit(0).alias("parent")) \
        .union(edges.select(F.col("dst").alias("x"), F.lit(0).alias("child"), F.lit(1).alias("parent")))
    counts = roles.groupBy("x").agg(F.sum("child").alias("child"), F.max("parent").alias("parent"))
    return counts.where((F.col("child") > 1) | ((F.col("child") > 0) & (F.col("parent") > 0))).count()


def connected_components(edges: DataFrame, max_rounds: int,
                         what: str = "connected components") -> tuple[DataFrame, int]:
    """`edges` (src, dst: any orderable type, no orientation needed) → (vertex, component) for every vertex that
    has an edge, and the rounds it took; `component` is the smallest vertex of its component. Raises CurateError
    after `max_rounds`."""
    current = checkpoint(edges.where(F.col("src") != F.col("dst")).select(
        F.least("src", "dst").alias("src"), F.greatest("src", "dst").alias("dst")).distinct(), "cc-edges")
    for round_ in range(max_rounds):
        current = checkpoint(small_star(large_star(current)), f"cc-round-{round_}")
        if unsettled(current) == 0:
            roots = current.select(F.col("dst").alias("vertex"), F.col("dst").alias("component")).distinct()
            labels = current.select(F.col("src").alias("vertex"), F.col("dst").alias("component")).union(roots)
            return labels, round_ + 1
    raise CurateError(f"{what} did not converge in {max_rounds} rounds ({unsettled(current)} vertices still "
                      "moving): raise max_rounds")
