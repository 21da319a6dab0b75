"""Beam plan of `exact_dedup`: the keys grouped by hash, each group decided by the stage's keep policy.

With `against:`, earlier runs' index rows join the groups and always win (`seen_before`), as in the Spark plan; the
keys of the documents kept are written as this run's index.
"""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import BeamJob
from curate.engines.beam.dedup_index import read_earlier, write_index
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.exact import ExactDedup
from curate.stages.dedup.keep import KeepPolicy


@plan("beam", ExactDedup)
def exact_dedup(policy: KeepPolicy, keys, job: BeamJob) -> Planned:
    columns = policy.member_columns()
    new = keys | "Has a hash" >> beam.Filter(lambda row: row["hash"] is not None)
    members = new
    if policy.earlier:
        members = (new, read_earlier(keys.pipeline, policy)) | "With earlier" >> beam.Flatten()
    decisions = (members
                 | "Key by hash" >> beam.Map(lambda row: (row["hash"], {name: row.get(name) for name in columns}))
                 | "Groups" >> beam.GroupByKey()
                 | "Winners" >> beam.FlatMapTuple(lambda _, rows: policy.winners(list(rows)))
                 | "Batches" >> beam.BatchElements(max_batch_size=4096)
                 | "Keep policy" >> beam.FlatMap(policy.label))
    write_index(policy, new, decisions, job, shards=4)  # the index of a run is a few small files
    return Planned(decisions)
