"""Beam plan of `paragraph_dedup`: unit hashes → documents per hash → repeated hashes → positions to cut.

The same decisions as the Spark plan (`curate.engines.spark.paragraph_dedup`): CombinePerKey counts the documents
of each hash, the stage's `repeated` rule keeps the hashes to cut, a CoGroupByKey takes them back to their documents.
"""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import BeamJob
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.paragraph import ParagraphDedup, RepeatedUnits


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


@plan("beam", ParagraphDedup)
def paragraph_dedup(rule: RepeatedUnits, keys, job: BeamJob) -> Planned:
    units = keys | "Units" >> beam.FlatMap(_units)
    frequent = (units
                | "One per document" >> beam.Map(lambda kv: (kv[0], 1))
                | "Documents per hash" >> beam.CombinePerKey(sum)
                | "Repeated" >> beam.Filter(lambda kv: bool(rule.repeated(kv[1]))))
    return Planned({"unit": units, "repeated": frequent}
                   | "Join repeated" >> beam.CoGroupByKey()
                   | "Positions to cut" >> beam.FlatMap(_cut)
                   | "By document" >> beam.GroupByKey()
                   | "Decision" >> beam.MapTuple(_decision))
