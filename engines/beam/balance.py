"""Beam plan of `balance`: a units histogram per (domain, hash bucket) -> the mixture and the cuts (pure core) ->
the rejected uids. The histogram (at most 4,096 rows per domain) is the only thing gathered in one place."""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import BeamJob
from curate.pipeline.engine import Planned, plan
from curate.stages.balance import Balance, Mixture


def _decide(rows: list, mixture: Mixture) -> tuple[dict, dict]:
    histogram: dict[str, dict[int, int]] = {}
    for (domain, bucket), amount in rows:
        histogram.setdefault(domain, {})[bucket] = amount
    return mixture.decide(histogram)


def _reject(row: dict, cut: dict):
    decided = cut.get(row["domain"])
    if decided is not None and row["bucket"] > decided[0]:
        yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": decided[1]}


@plan("beam", Balance)
def balance(mixture: Mixture, keys, job: BeamJob) -> Planned:
    """The rejected uids, and the mixture decided (the plan's result)."""
    decided = (keys
               | "Units per bucket" >> beam.Map(lambda row: ((row["domain"], row["bucket"]), int(row["amount"] or 0)))
               | "Histogram" >> beam.CombinePerKey(sum)
               | "Gather histogram" >> beam.combiners.ToList()
               | "Mixture and cuts" >> beam.Map(_decide, mixture))
    cut = decided | "Cuts" >> beam.Map(lambda pair: pair[1])
    return Planned(keys | "Down-sample" >> beam.FlatMap(_reject, cut=beam.pvalue.AsSingleton(cut)),
                   decided | "Mixture" >> beam.Map(lambda pair: pair[0]))
