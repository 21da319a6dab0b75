"""Beam plan of `exact_dedup`: the keys grouped by hash, each group decided by the stage's keep policy.

With `against:`, earlier runs' index rows join the groups and always win (`seen_before`), as in the Spark plan; the
keys of the documents kept are written as this run's index.
"""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import read_keys
from curate.engines.beam.dedup_index import as_earlier, earlier_files, write_index
from curate.pipeline.output import Output


def plan(stage, keys, output: Output):
    columns = stage.member_columns()
    new = keys | "Has a hash" >> beam.Filter(lambda row: row["hash"] is not None)
    members = new
    if stage.params.against:
        earlier = (keys.pipeline
                   | "Index files" >> beam.Create(earlier_files(stage))
                   | "Read index" >> beam.FlatMap(read_keys)
                   | "Earlier" >> beam.Map(as_earlier))
        members = (new, earlier) | "With earlier" >> beam.Flatten()
    decisions = (members
                 | "Key by hash" >> beam.Map(lambda row: (row["hash"], {name: row.get(name) for name in columns}))
                 | "Groups" >> beam.GroupByKey()
                 | "Winners" >> beam.FlatMapTuple(lambda _, rows: stage.winners(list(rows)))
                 | "Batches" >> beam.BatchElements(max_batch_size=4096)
                 | "Keep policy" >> beam.FlatMap(stage.label))
    write_index(stage, new, decisions, output, shards=4)  # the index of a run is a few small files
    return decisions
