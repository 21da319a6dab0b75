"""Beam plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) -> every document's score and, below the cutoff, its reject reason.

The rounds are chained through side inputs: each counts documents per digit among those matching the digits chosen
so far (at most 65,536 rows gathered in one place) and picks the next digit.
"""
from __future__ import annotations

import apache_beam as beam

from curate.pipeline.output import Output


def _matches(row: dict, state: dict | None) -> bool:
    if state is not None and state["done"]:
        return False
    return all(row[f"d{i}"] == digit for i, digit in enumerate(state["prefix"] if state else []))


def _select(rows: list, state: dict | None, stage) -> dict:
    return stage.select(dict(rows), state)


def _cutoff(state: dict | None, stage, output_uri: str) -> tuple[int, str | None]:
    if state is not None:
        Output(output_uri).write_json(stage.summary_path(), stage.kept(state))
    return stage.cutoff(state)


def _decide(row: dict, decided: tuple[int, str | None]):
    lowest, reason = decided
    return {"uid": row["uid"], "file_key": row["file_key"], "quality_score": row["quality_score"],
            "reject_reason": reason if row["rank"] < lowest else None}


def plan(stage, keys, output: Output):
    fraction = stage.params.keep_fraction
    state = None
    if fraction is not None:
        state = keys.pipeline | "No state yet" >> beam.Create([None])
        for level in range(stage.levels):
            state = (keys
                     | f"Matching round {level}" >> beam.Filter(_matches, beam.pvalue.AsSingleton(state))
                     | f"Digit {level}" >> beam.Map(lambda row, d=f"d{level}": (row[d], 1))
                     | f"Count digit {level}" >> beam.CombinePerKey(sum)
                     | f"Gather round {level}" >> beam.combiners.ToList()
                     | f"Select round {level}" >> beam.Map(_select, beam.pvalue.AsSingleton(state), stage))
    decided = ((state if state is not None else keys.pipeline | "Threshold" >> beam.Create([None]))
               | "Cutoff" >> beam.Map(_cutoff, stage, output.uri))
    return keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided))
