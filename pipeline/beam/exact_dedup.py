"""Beam plan of `exact_dedup`: per hash, the keep policy's winner and the group size, joined back to members."""
from __future__ import annotations

import apache_beam as beam

from curate.pipeline.output import Output
from curate.stages.dedup.exact import ExactDedup


def _order(row: dict, keep: str) -> tuple:
    # The same ordering as the Spark plan: smallest wins (longest first for `longest`), uid breaks ties.
    return (row["id"], row["uid"]) if keep == "min_id" else (-row["length"], row["id"], row["uid"])


def _decide(item, keep: str):
    _, grouped = item
    members, winners, sizes = grouped["members"], grouped["winner"], grouped["size"]
    size = sizes[0]
    if size < 2:
        return
    winner = winners[0]
    for row in members:
        yield {"uid": row["uid"], "file_key": row["file_key"],
               "reject_reason": None if row["uid"] == winner else "duplicate",
               "dup_cluster": winner, "dup_cluster_size": size}


def plan(stage: ExactDedup, keys, output: Output):
    keep = stage.params.keep
    by_hash = (keys
               | "Has a hash" >> beam.Filter(lambda row: row["hash"] is not None)
               | "Key by hash" >> beam.Map(lambda row: (row["hash"], row)))
    winners = (by_hash
               | "Order" >> beam.Map(lambda kv: (kv[0], (_order(kv[1], keep), kv[1]["uid"])))
               | "Winner" >> beam.CombinePerKey(min)
               | "Winner uid" >> beam.MapTuple(lambda h, best: (h, best[1])))
    sizes = by_hash | "Group size" >> beam.combiners.Count.PerKey()
    return ({"members": by_hash, "winner": winners, "size": sizes}
            | "Join" >> beam.CoGroupByKey()
            | "Decide" >> beam.FlatMap(_decide, keep))
