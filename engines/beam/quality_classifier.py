"""Beam plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) and the quality buckets (weighted radix selection of each model's percentile cuts, pure core
`quality_buckets`) -> every document's scores, buckets and, below the cutoff or outside keep_buckets, its reason.

The rounds are chained through side inputs: each counts documents (or sums units, for the buckets) per digit among
those matching the digits chosen so far (at most 65,536 rows per prefix gathered in one place) and picks the next.
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np

from curate.engines.beam import BeamJob
from curate.pipeline.engine import Planned, plan
from curate.stages.quality_classifier import BucketSelection, BucketState, QualityClassifier, RadixSelection


def _matches(row: dict, state, selection: RadixSelection) -> bool:
    return selection.matches([row[f"d{i}"] for i in range(selection.levels)], state)


def _units(row: dict, wanted: dict[str, set[int]], buckets: BucketSelection, level: int):
    """((model, prefix, digit), units) for each model whose cuts still look in this row's prefix."""
    for model in buckets.models:
        prefix = 0
        for i in range(level):
            prefix = (prefix << 16) | row[f"d{i}{model}"]
        if prefix in wanted[model]:
            yield (model, prefix, row[f"d{level}{model}"]), row["units"]


def _advance(rows: list, state: BucketState, buckets: BucketSelection) -> BucketState:
    histograms: dict[str, dict] = {}
    for (model, prefix, digit), units in rows:
        histograms.setdefault(model, {})[prefix, digit] = units
    return buckets.advance(state, histograms)


def _decide(row: dict, decided: tuple[int, str | None], cuts: dict | None, buckets: BucketSelection | None):
    lowest, reason = decided
    out = {"uid": row["uid"], "file_key": row["file_key"],
           "reject_reason": reason if reason is not None and row["rank"] < lowest else None}
    out.update({name: value for name, value in row.items() if name.startswith("quality_score")})
    if buckets is not None:
        columns = buckets.columns({m: np.array([row[f"rank{m}"]], np.int64) for m in buckets.models}, cuts)
        out["reject_reason"] = out["reject_reason"] or columns.pop("bucket_reason")[0].as_py()
        out.update({name: column[0].as_py() for name, column in columns.items()})
    return out


@plan("beam", QualityClassifier)
def quality_classifier(selection: RadixSelection, keys, job: BeamJob) -> Planned:
    """Every document's scores, buckets and reject reason; the selection's summary and each model's buckets (the
    plan's result)."""
    state = keys.pipeline | "No state yet" >> beam.Create([None])
    if selection.keep_fraction is not None:
        for level in range(selection.levels):
            state = (keys
                     | f"Matching round {level}" >> beam.Filter(_matches, beam.pvalue.AsSingleton(state), selection)
                     | f"Digit {level}" >> beam.Map(lambda row, d=f"d{level}": (row[d], 1))
                     | f"Count digit {level}" >> beam.CombinePerKey(sum)
                     | f"Gather round {level}" >> beam.combiners.ToList()
                     | f"Select round {level}" >> beam.Map(lambda rows, last: selection.select(dict(rows), last),
                                                           beam.pvalue.AsSingleton(state)))
    decided = state | "Cutoff" >> beam.Map(selection.cutoff)
    buckets = selection.buckets
    if buckets is None:
        return Planned(keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided), None, None),
                       state | "Result" >> beam.Map(selection.result))
    found = keys.pipeline | "Buckets start" >> beam.Create([buckets.start()])
    for level in range(buckets.levels):
        wanted = found | f"Wanted {level}" >> beam.Map(lambda s: {m: set(buckets.wanted(s, m)) for m in buckets.models})
        found = (keys
                 | f"Units round {level}" >> beam.FlatMap(_units, beam.pvalue.AsSingleton(wanted), buckets, level)
                 | f"Sum units {level}" >> beam.CombinePerKey(sum)
                 | f"Gather units {level}" >> beam.combiners.ToList()
                 | f"Advance round {level}" >> beam.Map(_advance, beam.pvalue.AsSingleton(found), buckets))
    cuts = found | "Bucket cuts" >> beam.Map(buckets.cuts)
    return Planned(keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided), beam.pvalue.AsSingleton(cuts),
                                               buckets),
                   state | "Result" >> beam.Map(selection.result, beam.pvalue.AsSingleton(found)))
