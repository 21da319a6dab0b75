"""The dedup index on Beam: earlier runs' index rows read into a plan, and this run's kept keys written as its index."""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from typing import TYPE_CHECKING

from curate.engines.beam import read_keys, write_rows
from curate.engines.beam.components import shard_of
from curate.pipeline.output import Output

if TYPE_CHECKING:
    from curate.engines.beam import BeamJob
    from curate.stages.dedup.keep import KeepPolicy


def read_earlier(p, policy: KeepPolicy, label: str = "Earlier"):
    """The index rows of the runs in `against`, as vertices of the plan: earlier runs' documents (no input file of
    this run)."""
    return (p
            | f"{label}: index files" >> beam.Create([(path, root) for root, path in policy.earlier])
            | f"{label}: read index" >> beam.FlatMap(read_keys)
            | f"{label}: as earlier" >> beam.Map(lambda row: {**row, "earlier": True, "file_key": None}))


def _index_row(item, columns: list[str]):
    """(uid, {key: [row], decision: [reason]}) → the key row of a document this run kept."""
    _, grouped = item
    if not any(grouped["decision"]):
        for row in grouped["key"]:
            yield {name: row[name] for name in columns}


class WriteIndex(beam.DoFn):
    """One shard of the run's index as `stages/<stage id>/part-<shard>.parquet` (a retry rewrites the same file)."""

    def __init__(self, output_uri: str, folder: str, schema: pa.Schema):
        self.output_uri, self.folder, self.schema = output_uri, folder, schema

    def process(self, item):
        shard, rows = item
        write_rows(self.output_uri, f"{self.folder}/part-{shard:05d}.parquet", rows, self.schema)
        yield shard


def write_index(policy: KeepPolicy, keys, decisions, job: BeamJob, shards: int, label: str = "Index") -> None:
    """The key rows of the documents this run kept (not rejected by `decisions`): the run's index in the stage's
    folder, its `index.json` written once every shard is (a global combine waits for them all; with no shard it still
    runs, on nothing)."""
    schema, folder, output = policy.index_schema, job.folder, job.output
    if output.exists(folder):
        output.fs.rm(output.path(folder), recursive=True)
    _ = ({"key": keys | f"{label}: keys by uid" >> beam.Map(lambda r: (r["uid"], r)),
          "decision": decisions | f"{label}: decisions by uid" >> beam.Map(lambda d: (d["uid"], d["reject_reason"]))}
         | f"{label}: join" >> beam.CoGroupByKey()
         | f"{label}: kept" >> beam.FlatMap(_index_row, schema.names)
         | f"{label}: by shard" >> beam.Map(lambda r: (shard_of(r["uid"], shards), r))
         | f"{label}: group shard" >> beam.GroupByKey()
         | f"{label}: write" >> beam.ParDo(WriteIndex(output.uri, folder, schema))
         | f"{label}: all written" >> beam.combiners.Count.Globally()
         | f"{label}: describe" >> beam.Map(_describe, policy, output.uri, folder))


def _describe(_written: int, policy: KeepPolicy, output_uri: str, folder: str) -> None:
    policy.describe_index(Output(output_uri), folder)


