"""Beam plan of `exact_dedup`: per hash, the keep policy's winner and the group size, joined back to members.

With `against:`, earlier runs' index rows join the groups and always win (`seen_before`), as in the Spark plan; the
keys of the documents kept are written as this run's index.
"""
from __future__ import annotations

import apache_beam as beam

from curate.pipeline.beam import read_keys
from curate.pipeline.beam.dedup_index import as_earlier, earlier_files, write_index
from curate.pipeline.output import Output
from curate.stages.dedup.exact import ExactDedup


def _order(row: dict, keep: str) -> tuple:
    # The same ordering as the Spark plan: earlier runs' documents first, then the smallest wins (longest first
    # for `longest`), the uid breaks ties.
    fresh = 0 if row.get("earlier") else 1
    return (fresh, row["id"], row["uid"]) if keep == "min_id" else (fresh, -row["length"], row["id"], row["uid"])


def _decide(item):
    _, grouped = item
    members, winners, sizes = grouped["members"], grouped["winner"], grouped["size"]
    size = sizes[0]
    if size < 2:
        return
    best = winners[0]
    fresh, kept_id, winner = best[0], best[-2], best[-1]
    for row in members:
        if row.get("earlier"):
            continue
        reason = None if row["uid"] == winner and fresh else "duplicate" if fresh else "seen_before"
        yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": reason, "dup_cluster": winner,
               "dup_cluster_size": size, "kept_uid": winner if reason else None, "kept_id": kept_id if reason else None}


def plan(stage: ExactDedup, keys, output: Output):
    keep = stage.params.keep
    new = keys | "Has a hash" >> beam.Filter(lambda row: row["hash"] is not None)
    members = new
    if stage.params.against:
        earlier = (keys.pipeline
                   | "Index files" >> beam.Create(earlier_files(stage))
                   | "Read index" >> beam.FlatMap(read_keys)
                   | "Earlier" >> beam.Map(as_earlier))
        members = (new, earlier) | "With earlier" >> beam.Flatten()
    by_hash = members | "Key by hash" >> beam.Map(lambda row: (row["hash"], row))
    winners = (by_hash
               | "Order" >> beam.Map(lambda kv: (kv[0], _order(kv[1], keep)))
               | "Winner" >> beam.CombinePerKey(min))
    sizes = by_hash | "Group size" >> beam.combiners.Count.PerKey()
    decisions = ({"members": by_hash, "winner": winners, "size": sizes}
                 | "Join" >> beam.CoGroupByKey()
                 | "Decide" >> beam.FlatMap(_decide))
    write_index(stage, new, decisions, output, shards=4)  # the index of a run is a few small files
    return decisions
