"""Beam plan of `balance`: a units histogram per (domain, hash bucket) -> the mixture and the cuts (pure core) ->
the rejected uids. The histogram (at most 4,096 rows per domain) is the only thing gathered in one place."""
from __future__ import annotations

import apache_beam as beam

from curate.pipeline.output import Output


def _decide(rows: list, stage, output_uri: str) -> dict:
    histogram: dict[str, dict[int, int]] = {}
    for (domain, bucket), amount in rows:
        histogram.setdefault(domain, {})[bucket] = amount
    summary, cuts = stage.decide(histogram)
    Output(output_uri).write_json(stage.summary_path(), summary)
    return cuts


def _reject(row: dict, cut: dict):
    decided = cut.get(row["domain"])
    if decided is not None and row["bucket"] > decided[0]:
        yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": decided[1]}


def plan(stage, keys, output: Output):
    cut = (keys
           | "Units per bucket" >> beam.Map(lambda row: ((row["domain"], row["bucket"]), int(row["amount"] or 0)))
           | "Histogram" >> beam.CombinePerKey(sum)
           | "Gather histogram" >> beam.combiners.ToList()
           | "Mixture and cuts" >> beam.Map(_decide, stage, output.uri))
    return keys | "Down-sample" >> beam.FlatMap(_reject, cut=beam.pvalue.AsSingleton(cut))
