"""The dedup index on Beam: earlier runs' index rows read into a plan, and this run's kept keys written as its index."""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa

from curate.engines.beam import write_rows
from curate.engines.beam.components import shard_of
from curate.pipeline.output import Output


def earlier_files(stage) -> list[tuple[str, str]]:
    """The `against:` index files as (path, root) pairs, as `read_keys` takes them."""
    if not stage.params.against:
        return []
    return [(path, root) for root, path in stage.earlier_index_files()]


def as_earlier(row: dict) -> dict:
    """An index row as a vertex of the plan: an earlier run's document (no input file of this run)."""
    return {**row, "earlier": True, "file_key": None}


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


def write_index(stage, keys, decisions, output: Output, shards: int, label: str = "Index") -> None:
    """The key rows of the documents this run kept (not rejected by `decisions`): the run's index, its `index.json`
    written once every shard is (a global combine waits for them all; with no shard it still runs, on nothing)."""
    schema = stage.key_schema()
    folder = stage.index_folder()
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
         | f"{label}: describe" >> beam.Map(_describe, stage, output.uri))


def _describe(_written: int, stage, output_uri: str) -> None:
    stage.write_index_description(Output(output_uri))


