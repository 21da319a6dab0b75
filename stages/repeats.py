"""Repeat counts per document for `balance` (its `repeats:` block): one mechanism, three sources, one cap.

- `by_bucket`: a table quality_bucket -> count (Dolma 3 repeats its best data up to 7x; Nemotron-CC weights its
  buckets), buckets not named count 1; the quality_classifier stage's `buckets` writes quality_bucket;
- `by_cluster_size`: FineWeb-2's rehydration. A table of duplicate-cluster sizes -> count, read as FineWeb-2's
  published `up_to_N_reps.json` are: a size takes the count of the largest size named at or below it (sizes below the
  smallest named count 1). The file is per language (`{"ita_Latn": {"1": 1, "2": 3, ...}}`, looked up by the `lang`
  column, languages not named count 1) or one table for all. `dup_cluster_size` is what exact_dedup and minhash_dedup
  write (1 for a document without duplicates, as FineWeb-2's `minhash_cluster_size`);
- `column`: a column of counts the input or an earlier stage wrote (null: 1).
Every count is cut to `max_repeats`. The cut and the budget are balance's: a domain's units count every copy, so its
weight, epoch cap and down-sampling apply to the repeated corpus (stages/balance.py).
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.pipeline.errors import CurateError
from curate.pipeline.stage import Params

SOURCES = ("by_bucket", "by_cluster_size", "column")


class RepeatsParams(Params):
    by_bucket: dict[int, int] | None = Field(None, description="quality_bucket -> repeat count (others 1)")
    by_cluster_size: str | dict[int, int] | None = Field(
        None, description="dup_cluster_size -> count: a table, or a JSON file such as FineWeb-2's up_to_N_reps.json "
                          "(per language, by the lang column)")
    column: str | None = Field(None, description="a column holding each document's count")
    max_repeats: int = Field(10, ge=1, le=1000, description="no document is repeated more than this")

    @model_validator(mode="after")
    def _one_source(self) -> RepeatsParams:
        given = [name for name in SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"repeats: give one of {', '.join(SOURCES)}" + (f", not {' and '.join(given)}"
                                                                             if given else ""))
        tables = [self.by_bucket] if self.by_bucket is not None else \
            [self.by_cluster_size] if isinstance(self.by_cluster_size, dict) else []
        if any(count < 1 for table in tables for count in table.values()):
            raise ValueError("repeats: counts must be >= 1")
        return self

    def requires(self) -> tuple[str, ...]:
        if self.by_bucket is not None:
            return ("quality_bucket",)
        if self.column is not None:
            return (self.column,)
        return ("dup_cluster_size", "lang") if self.per_language() else ("dup_cluster_size",)

    def per_language(self) -> bool:
        """A table file of tables, one per language (FineWeb-2's). A file that cannot be read is no such file here:
        the planned run's file check names it (`Balance.files`)."""
        if not isinstance(self.by_cluster_size, str):
            return False
        try:
            return isinstance(next(iter(load_table(self.by_cluster_size).values()), None), dict)
        except CurateError:
            return False

    def source(self) -> str:
        return next(name for name in SOURCES if getattr(self, name) is not None)

    def group(self) -> str:
        """What the inflation is reported by, besides the domain: the bucket, the language, or nothing more."""
        return "quality_bucket" if self.by_bucket is not None else "lang" if self.per_language() else ""


@lru_cache(maxsize=8)
def load_table(path: str) -> dict:
    """A rehydration table file: {size: count}, or {language: {size: count}}; keys as JSON writes them (text)."""
    try:
        table = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise CurateError(f"repeats.by_cluster_size: cannot read {path!r} ({error})") from None
    if not isinstance(table, dict):
        raise CurateError(f"repeats.by_cluster_size: {path!r} holds no table of cluster sizes")
    return table


def step_counts(table: dict, sizes: np.ndarray) -> np.ndarray:
    """FineWeb-2's reading of a table: each size takes the count of the largest size named at or below it."""
    if not table:
        return np.ones(len(sizes), np.int64)
    keys = np.array(sorted(int(k) for k in table), np.int64)
    values = np.array([int(table[str(k)] if str(k) in table else table[k]) for k in keys], np.int64)
    at = np.searchsorted(keys, sizes, side="right") - 1
    return np.where(at >= 0, values[np.clip(at, 0, None)], 1)


def counts(params: RepeatsParams, batch: pa.RecordBatch) -> np.ndarray:
    """Each document's repeat count (int32, 1..max_repeats), from the source the parameters name."""
    if params.by_bucket is not None:
        buckets = pc.fill_null(batch.column("quality_bucket").cast(pa.int64()), -1).to_numpy()
        out = np.array([params.by_bucket.get(int(b), 1) for b in buckets], np.int64)
    elif params.column is not None:
        from curate.stages.shards import repeat_counts

        out = repeat_counts(batch.column(params.column))[0].to_numpy(zero_copy_only=False).astype(np.int64)
    else:
        sizes = pc.fill_null(batch.column("dup_cluster_size").cast(pa.int64()), 1).to_numpy()
        table = params.by_cluster_size
        if isinstance(table, str):
            table = load_table(table)
        if params.per_language():
            languages = pc.fill_null(batch.column("lang").cast(pa.string()), "").to_pylist()
            out = np.ones(len(sizes), np.int64)
            for language in set(languages):
                mine = np.array([lang == language for lang in languages])
                out[mine] = step_counts(table.get(language, {}), sizes[mine])
        else:
            out = step_counts({str(k): v for k, v in table.items()}, sizes)
    return np.clip(out, 1, params.max_repeats).astype(np.int32)


def groups(params: RepeatsParams, batch: pa.RecordBatch) -> pa.Array:
    """Each document's group in the inflation report (the bucket or the language as text; empty: none)."""
    name = params.group()
    if not name:
        return pa.array([""] * batch.num_rows, pa.string())
    return pc.fill_null(batch.column(name).cast(pa.string()), "(none)")


def inflation(params: RepeatsParams, by: str, rows: list[tuple[str, str, int, int, int]]) -> dict:
    """The report of the repeats over the documents balance saw (before its down-sampling): per domain and per group
    (quality_bucket or language), documents, unique units, units with every copy, and the inflation. `rows` are
    (domain, group, documents, unique units, repeated units), as the plans sum them."""
    def line(documents: int, unique: int, repeated: int) -> dict:
        return {"documents": documents, "units": unique, "repeated_units": repeated,
                "inflation": round(repeated / unique, 4) if unique else 0.0}

    def total(key) -> dict:
        sums: dict[str, list[int]] = {}
        for row in rows:
            acc = sums.setdefault(key(row), [0, 0, 0])
            for i in range(3):
                acc[i] += int(row[2 + i])
        order = sorted(sums, key=lambda name: (not name.isdigit(), int(name) if name.isdigit() else 0, name))
        return {name: line(*sums[name]) for name in order}

    report = {"source": params.source(), "max_repeats": params.max_repeats, "by": by,
              "domains": total(lambda row: row[0]), "all": total(lambda row: "all").get("all", line(0, 0, 0))}
    if params.group():
        report[params.group()] = total(lambda row: row[1])
    return report
