"""Beam plan of `paragraph_dedup`: unit hashes → documents per hash → repeated hashes → positions to cut.

The same decisions as the Spark plan (`curate.engines.spark.paragraph_dedup`): CombinePerKey counts the documents
of each hash, the stage's `repeated` rule keeps the hashes to cut, a CoGroupByKey takes them back to their documents.
"""
from __future__ import annotations

import apache_beam as beam

from curate.pipeline.output import Output


def _units(row: dict):
    for unit in row["units"] or []:
        yield unit["hash"], (row["uid"], row["file_key"], unit["positions"])


def _cut(item):
    """(hash, {unit: [(uid, file_key, positions)], repeated: [count]}) → ((uid, file_key), position) to cut."""
    _, grouped = item
    if list(grouped["repeated"]):
        for uid, file_key, positions in grouped["unit"]:
            for position in positions:
                yield (uid, file_key), position


def _decision(document, positions):
    uid, file_key = document
    return {"uid": uid, "file_key": file_key, "reject_reason": None, "paragraphs_removed": sorted(positions)}


def plan(stage, keys, output: Output):
    units = keys | "Units" >> beam.FlatMap(_units)
    frequent = (units
                | "One per document" >> beam.Map(lambda kv: (kv[0], 1))
                | "Documents per hash" >> beam.CombinePerKey(sum)
                | "Repeated" >> beam.Filter(lambda kv: bool(stage.repeated(kv[1]))))
    return ({"unit": units, "repeated": frequent}
            | "Join repeated" >> beam.CoGroupByKey()
            | "Positions to cut" >> beam.FlatMap(_cut)
            | "By document" >> beam.GroupByKey()
            | "Decision" >> beam.MapTuple(_decision))
