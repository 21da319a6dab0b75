"""The keep policy of the dedup stages: which member of a group of duplicates is kept, and what each member is told.

A stage declares its policy as an ordering, `(column, descending)` pairs over the group's key columns (:func:`order`):
the member first in it is kept. An earlier run's document (`earlier`, from the stage's index) comes first, so it
always wins; `longest` / `highest:<column>` then rank the largest value first; the smallest `id` next; the `uid` last,
so no two members tie and the choice depends on nothing but the keys. A descending key puts missing values after
every value: null, then NaN (Spark's order: NaN above +inf).

Both engines take the rule from here. Beam hands each group to :func:`decide`; Spark, which decides with a minimum
over a struct of columns, builds the struct from the same declared pairs and labels the members with
:func:`verdicts`. The tests in `tests/stages/test_dedup_keep.py` pin both on one table of ten rows.
"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

Order = tuple[tuple[str, bool], ...]  # (column, descending): the first member in this order is kept

DECISIONS = pa.schema([("uid", pa.binary()), ("file_key", pa.string()), ("reject_reason", pa.string()),
                       ("dup_cluster", pa.binary()), ("dup_cluster_size", pa.int64()), ("kept_uid", pa.binary()),
                       ("kept_id", pa.string())])


def order(rank: str | None) -> Order:
    """The keep policy as an ordering: earlier runs' documents first, then the largest `rank` (when the policy ranks
    by one), then the smallest id, the uid last."""
    by_rank = () if rank is None else ((rank, True),)
    return (("earlier", True), *by_rank, ("id", False), ("uid", False))


def descending_key(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A descending key as an ascending one: the negated value as float64, null as +inf (NaN stays NaN, sorts last).
    Spark's plans build the same expression: `coalesce(-cast(value as double), +inf)`."""
    negated = pc.negate(pc.cast(values, pa.float64()))
    return pc.fill_null(negated, float("inf"))


def first(members: pa.Table, keep: Order) -> int:
    """The row of `members` that `keep` ranks first."""
    columns, sort_keys = {}, []
    for i, (name, descending) in enumerate(keep):
        columns[f"k{i}"] = descending_key(members.column(name)) if descending else members.column(name)
        # Arrow places NaN with the nulls: at the end for a descending key (which has no nulls); nulls first in an
        # ascending one, as Spark orders a struct's fields
        sort_keys.append((f"k{i}", "ascending", "at_end" if descending else "at_start"))
    return pc.sort_indices(pa.table(columns), sort_keys=sort_keys)[0].as_py()


def verdicts(members: pa.RecordBatch | pa.Table) -> pa.RecordBatch | pa.Table:
    """The decision rows of this run's members of groups: columns uid, file_key, dup_cluster_size and the group's
    winner (winner_uid, winner_id, winner_earlier) → `DECISIONS`. The winner is kept; the others are rejected
    `duplicate`, or `seen_before` when an earlier run's document won. A group of one decides nothing."""
    members = members.filter(pc.greater(members.column("dup_cluster_size"), 1))
    winner_uid, earlier = members.column("winner_uid"), members.column("winner_earlier")
    kept = pc.and_(pc.equal(members.column("uid"), winner_uid), pc.invert(earlier))
    reason = pc.if_else(kept, pa.scalar(None, pa.string()),
                        pc.if_else(earlier, pa.scalar("seen_before"), pa.scalar("duplicate")))
    columns = [members.column("uid"), members.column("file_key"), reason, winner_uid,
               members.column("dup_cluster_size"),
               pc.if_else(kept, pa.scalar(None, pa.binary()), winner_uid),
               pc.if_else(kept, pa.scalar(None, pa.string()), members.column("winner_id"))]
    columns = [c.cast(t) for c, t in zip(columns, DECISIONS.types)]
    if isinstance(members, pa.RecordBatch):
        return pa.RecordBatch.from_arrays(columns, schema=DECISIONS)
    return pa.Table.from_arrays(columns, schema=DECISIONS)


def decide(members: pa.Table, keep: Order) -> pa.Table:
    """One group (every member, earlier runs' included; `file_key` null for those) → the decision rows of this run's
    members."""
    winner = members.slice(first(members, keep), 1).to_pylist()[0]
    fresh = members.filter(pc.invert(members.column("earlier")))
    n = len(fresh)
    return verdicts(pa.table({
        "uid": fresh.column("uid"), "file_key": fresh.column("file_key"),
        "dup_cluster_size": pa.array([members.num_rows] * n, pa.int64()),
        "winner_uid": pa.array([winner["uid"]] * n, pa.binary()),
        "winner_id": pa.array([winner["id"]] * n, pa.string()),
        "winner_earlier": pa.array([winner["earlier"]] * n, pa.bool_()),
    }))
