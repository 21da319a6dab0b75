"""Beam plan of `quality_classifier`: the cutoff rank (a threshold, or radix selection of the top fraction over the
rank digits, pure core) and the quality buckets (weighted radix selection of each model's percentile cuts, pure core
`quality_buckets`) -> every document's scores, buckets and, below the cutoff or outside keep_buckets, its reason.

The rounds are chained through side inputs: each counts documents (or sums units, for the buckets) per digit among
those matching the digits chosen so far (at most 65,536 rows per prefix gathered in one place) and picks the next.
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np

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


def _units(row: dict, state: dict, stage, level: int):
    """((model, prefix, digit), units) for each model whose cuts still look in this row's prefix."""
    for model in stage.bucket_models():
        prefix = 0
        for i in range(level):
            prefix = (prefix << 16) | row[f"d{i}{model}"]
        if prefix in state["wanted"][model]:
            yield (model, prefix, row[f"d{level}{model}"]), row["units"]


def _with_wanted(state: dict, stage) -> dict:
    return {**state, "wanted": {m: set(stage.bucket_wanted(state, m)) for m in stage.bucket_models()}}


def _advance(rows: list, state: dict, stage) -> dict:
    histograms: dict[str, dict] = {}
    for (model, prefix, digit), units in rows:
        histograms.setdefault(model, {})[prefix, digit] = units
    state = {key: value for key, value in state.items() if key != "wanted"}
    return _with_wanted(stage.bucket_advance(state, histograms), stage)


def _cuts(state: dict, stage, output_uri: str) -> dict:
    Output(output_uri).write_json(stage.buckets_path(), stage.bucket_summary(state))
    return stage.bucket_cuts(state)


def _decide(row: dict, decided: tuple[int, str | None], cuts: dict | None, stage):
    lowest, reason = decided
    out = {"uid": row["uid"], "file_key": row["file_key"],
           "reject_reason": reason if reason is not None and row["rank"] < lowest else None}
    out.update({name: row[name] for name in stage.adds() if name.startswith("quality_score")})
    if cuts is not None:
        columns = stage.bucket_columns({m: np.array([row[f"rank{m}"]], np.int64) for m in stage.bucket_models()}, cuts)
        out["reject_reason"] = out["reject_reason"] or columns.pop("bucket_reason")[0].as_py()
        out.update({name: column[0].as_py() for name, column in columns.items()})
    return out


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
    buckets = None
    if stage.params.buckets:
        buckets = keys.pipeline | "Buckets start" >> beam.Create([_with_wanted(stage.bucket_start(), stage)])
        for level in range(stage.levels):
            buckets = (keys
                       | f"Units round {level}" >> beam.FlatMap(_units, beam.pvalue.AsSingleton(buckets), stage, level)
                       | f"Sum units {level}" >> beam.CombinePerKey(sum)
                       | f"Gather units {level}" >> beam.combiners.ToList()
                       | f"Advance round {level}" >> beam.Map(_advance, beam.pvalue.AsSingleton(buckets), stage))
        buckets = buckets | "Buckets summary and cuts" >> beam.Map(_cuts, stage, output.uri)
        return keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided), beam.pvalue.AsSingleton(buckets),
                                           stage)
    return keys | "Decide" >> beam.Map(_decide, beam.pvalue.AsSingleton(decided), None, stage)
