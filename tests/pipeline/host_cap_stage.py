"""A global stage written as a user's plugin, with its plans: this one file is all it takes (the pipeline names it
under `plugins:`). `host_cap` keeps at most `max_per_host` documents of each web host, chosen by a seeded hash of
their uids (the same on every engine), and reports the hosts it capped: the plan's result, which the framework writes
into the manifest under `plans.<id>`.

Its parts, as docs/ARCHITECTURE.md lists them: the keys (`HostCap.keys`: uid, host, a 64-bit draw), the pure decision
(`Cap`: how many of a host's documents stay, and the summary), and a plan per engine, registered for the stage class
with `@plan(...)` when this module is imported (on the driver by `plugins:`, on the workers by the same config)."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import pyarrow as pa
from pydantic import Field

from curate.filters.uid_hash import uid_hash
from curate.pipeline.engine import Planned, plan
from curate.pipeline.registry import register
from curate.pipeline.stage import GlobalStage, Params

SEED = 7


class HostCapParams(Params):
    max_per_host: int = Field(2, ge=1, description="documents kept per web host at most")


@dataclass(frozen=True)
class Cap:
    """The decision, pure: a host with `documents` documents keeps the first `kept(documents)` in draw order."""

    max_per_host: int

    def kept(self, documents: int) -> int:
        return min(documents, self.max_per_host)

    def summary(self, counts: dict[str, int]) -> dict:
        """The hosts over the cap: documents seen and kept, by host."""
        return {host: {"documents": n, "kept": self.kept(n)} for host, n in sorted(counts.items())
                if n > self.max_per_host}


@register
class HostCap(GlobalStage):
    """Keeps at most `max_per_host` documents per web host (a seeded draw decides which)."""

    name = "host_cap"
    Params = HostCapParams

    def requires(self) -> tuple[str, ...]:
        return ("url",)

    def key_schema(self) -> pa.Schema:
        return pa.schema([("uid", pa.binary(16)), ("host", pa.string()), ("draw", pa.int64())])

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        hosts = [urlsplit(url or "").hostname or "" for url in batch.column("url").to_pylist()]
        draws = uid_hash(batch.column("uid"), SEED).view("int64")
        return pa.RecordBatch.from_arrays([batch.column("uid"), pa.array(hosts), pa.array(draws)],
                                          schema=self.key_schema())

    def policy(self) -> Cap:
        return Cap(self.params.max_per_host)


@plan("spark", HostCap)
def host_cap_on_spark(cap: Cap, keys, job) -> Planned:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    counts = {row["host"]: row["count"] for row in keys.groupBy("host").count().collect()}
    order = F.row_number().over(Window.partitionBy("host").orderBy("draw", "uid"))
    limits = F.broadcast(job.spark.createDataFrame(sorted((h, cap.kept(n)) for h, n in counts.items()),
                                                   "host string, keep long"))
    decided = keys.withColumn("position", order).join(limits, "host").where(F.col("position") > F.col("keep"))
    return Planned(decided.select("uid", "file_key", F.lit("over_cap").alias("reject_reason")), cap.summary(counts))


@plan("beam", HostCap)
def host_cap_on_beam(cap: Cap, keys, job) -> Planned:
    import apache_beam as beam

    def over(host_rows):
        _, rows = host_rows
        ordered = sorted(rows, key=lambda row: (row["draw"], row["uid"]))
        for row in ordered[cap.kept(len(ordered)):]:
            yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": "over_cap"}

    hosts = keys | "By host" >> beam.Map(lambda row: (row["host"], row)) | "Hosts" >> beam.GroupByKey()
    counts = (hosts | "Count" >> beam.MapTuple(lambda host, rows: (host, len(list(rows))))
              | "Gather" >> beam.combiners.ToList() | "Summary" >> beam.Map(lambda pairs: cap.summary(dict(pairs))))
    return Planned(hosts | "Over the cap" >> beam.FlatMap(over), counts)
