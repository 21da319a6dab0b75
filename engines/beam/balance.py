"""Beam plan of `balance`: a units histogram per (domain, hash bucket) -> the mixture and the cuts (pure core) ->
the rejected uids, and with repeats every document's count that is not 1. The histogram (at most 4,096 rows per
domain) and, with repeats, the inflation rows (one per domain and bucket or language) are all gathered in one place."""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import BeamJob
from curate.pipeline.engine import Planned, plan
from curate.stages.balance import Balance, Mixture


def _decide(rows: list, inflation: list | None, mixture: Mixture) -> tuple[dict, dict]:
    histogram: dict[str, dict[int, int]] = {}
    for (domain, bucket), amount in rows:
        histogram.setdefault(domain, {})[bucket] = amount
    grouped = None if inflation is None else [(domain, group, *sums) for (domain, group), sums in inflation]
    return mixture.decide(histogram, grouped)


def _reject(row: dict, cut: dict):
    decided = cut.get(row["domain"])
    reason = decided[1] if decided is not None and row["bucket"] > decided[0] else None
    if "repeats" in row:
        if reason is not None or row["repeats"] != 1:
            yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": reason, "repeats": row["repeats"]}
    elif reason is not None:
        yield {"uid": row["uid"], "file_key": row["file_key"], "reject_reason": reason}


@plan("beam", Balance)
def balance(mixture: Mixture, keys, job: BeamJob) -> Planned:
    """The rejected uids (with repeats, and every count that is not 1), and the mixture decided (the plan's
    result)."""
    histogram = (keys
                 | "Units per bucket" >> beam.Map(lambda row: ((row["domain"], row["bucket"]), int(row["amount"] or 0)))
                 | "Histogram" >> beam.CombinePerKey(sum)
                 | "Gather histogram" >> beam.combiners.ToList())
    inflation = None
    if mixture.params.repeats:
        inflation = beam.pvalue.AsSingleton(
            keys
            | "Per group" >> beam.Map(lambda row: ((row["domain"], row["group"]),
                                                   (1, int(row["unique"] or 0), int(row["amount"] or 0))))
            | "Inflation" >> beam.CombinePerKey(lambda values: tuple(map(sum, zip(*values))) if values else (0, 0, 0))
            | "Gather inflation" >> beam.combiners.ToList())
    decided = histogram | "Mixture and cuts" >> beam.Map(_decide, inflation, mixture)
    cut = decided | "Cuts" >> beam.Map(lambda pair: pair[1])
    return Planned(keys | "Down-sample" >> beam.FlatMap(_reject, cut=beam.pvalue.AsSingleton(cut)),
                   decided | "Mixture" >> beam.Map(lambda pair: pair[0]))
