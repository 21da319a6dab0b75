"""Beam plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) -> every document's score and, below the cutoff, its reject reason.

The rounds are chained through side inputs: each counts documents per digit among those matching the digits chosen
so far (at most 65,536 rows gathered in one place) and picks the next digit.
"""
from __future__ import annotations

import apache_beam as beam

from curate.engines.beam import BeamJob
from curate.pipeline.engine import Planned, plan
from curate.stages.quality_classifier import QualityClassifier, RadixSelection


def _matches(row: dict, state, selection: RadixSelection) -> bool:
    return selection.matches([row[f"d{i}"] for i in range(selection.levels)], state)


def _decide(row: dict, decided: tuple[int, str | None]):
    lowest, reason = decided
    return {"uid": row["uid"], "file_key": row["file_key"], "quality_score": row["quality_score"],
            "reject_reason": reason if row["rank"] < lowest else None}


@plan("beam", QualityClassifier)
def quality_classifier(selection: RadixSelection, keys, job: BeamJob) -> Planned:
    """Every document's score and reject reason; the selection's summary (the plan's result)."""
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
    return Planned(keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided)),
                   state | "Summary" >> beam.Map(selection.summary))
