"""The keep policy of the dedup stages: which member of a group of duplicates is kept, and what each member is told.

A stage declares its policy as an ordering, `(column, descending)` pairs over the group's key columns (:func:`order`):
the member first in it is kept. An earlier run's document (`earlier`, from the stage's index) comes first, so it
always wins; `longest` / `highest:<column>` then rank the largest value first; the smallest `id` next; the `uid` last,
so no two members tie and the choice depends on nothing but the keys. A descending key puts missing values after
every value: null, then NaN (Spark's order: NaN above +inf).

Both engines take the rule from here, through the stage's :class:`KeepPolicy`. Beam finds each group's winner with
:func:`winners` (a group is a handful of rows: a Python sort key, not an Arrow table per group) and labels batches of
members with :func:`verdicts`; Spark, which decides with a minimum over a struct of columns, builds the struct from
the same declared pairs and labels the members with the same :func:`verdicts`. The tests in
`tests/stages/test_dedup_keep.py` pin both on one group of ten.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from curate.stages.dedup import index

Order = tuple[tuple[str, bool], ...]  # (column, descending): the first member in this order is kept

# A member of a group with its group's winner: what `verdicts` labels.
MEMBERS = pa.schema([("uid", pa.binary()), ("file_key", pa.string()), ("dup_cluster_size", pa.int64()),
                     ("winner_uid", pa.binary()), ("winner_id", pa.string()), ("winner_earlier", pa.bool_())])
DECISIONS = pa.schema([("uid", pa.binary()), ("file_key", pa.string()), ("reject_reason", pa.string()),
                       ("dup_cluster", pa.binary()), ("dup_cluster_size", pa.int64()), ("kept_uid", pa.binary()),
                       ("kept_id", pa.string())])


def order(rank: str | None) -> Order:
    """The keep policy as an ordering: earlier runs' documents first, then the largest `rank` (when the policy ranks
    by one), then the smallest id, the uid last."""
    by_rank = () if rank is None else ((rank, True),)
    return (("earlier", True), *by_rank, ("id", False), ("uid", False))


def sort_key(keep: Order) -> Callable[[dict], tuple]:
    """`keep` as a sort key on a member's row (the smallest is kept). A descending key sorts as its negated value,
    a missing one as +inf and NaN after everything: Spark's plans build the same struct field,
    `coalesce(-cast(value as double), +inf)`, and Spark orders NaN above +inf. A missing ascending key sorts first,
    as Spark orders a struct's null fields."""
    def key(row: dict) -> tuple:
        out = []
        for name, descending in keep:
            value = row.get(name)
            if descending:
                negated = math.inf if value is None else -float(value)
                out.append((1, 0.0) if math.isnan(negated) else (0, negated))
            else:
                out.append((0,) if value is None else (1, value))
        return tuple(out)

    return key


def first(members: list[dict], keep: Order) -> int:
    """The index of the member that `keep` ranks first."""
    key = sort_key(keep)
    return min(range(len(members)), key=lambda i: key(members[i]))


def winners(members: list[dict], keep: Order) -> list[dict]:
    """One group's members (every member, earlier runs' included: `earlier` true and no `file_key`) → this run's
    members with their group's winner, as `verdicts` takes them (`MEMBERS`). A group of one decides nothing."""
    if len(members) < 2:
        return []
    members = [{**row, "earlier": bool(row.get("earlier"))} for row in members]
    best = members[first(members, keep)]
    return [{"uid": row["uid"], "file_key": row["file_key"], "dup_cluster_size": len(members),
             "winner_uid": best["uid"], "winner_id": best["id"], "winner_earlier": best["earlier"]}
            for row in members if not row["earlier"]]


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


@dataclass(frozen=True)
class KeepPolicy:
    """What the exact and MinHash dedup plans decide with, on every engine: the keep order, the index files of the
    earlier runs in `against` (as (root URI, path under it): their rows join the groups and always win), and what
    this run's index holds (the columns of the documents kept, and the description written beside them)."""

    order: Order
    earlier: tuple[tuple[str, str], ...]
    index_schema: pa.Schema
    index_description: dict

    def member_columns(self) -> list[str]:
        """What a group member carries to the decision: the keep order's columns and its input file."""
        return [name for name, _ in self.order] + ["file_key"]

    def winners(self, rows: list[dict]) -> list[dict]:
        """One group's key rows (an earlier run's with `earlier` true and no `file_key`) → this run's members with
        their group's winner (:func:`winners`); none for a group of one, as most hashes of a corpus are."""
        return winners(rows, self.order)

    def label(self, members: list[dict]) -> list[dict]:
        """Members with their winners, from any number of groups → their decision rows (:func:`verdicts`)."""
        return verdicts(pa.Table.from_pylist(members, schema=MEMBERS)).to_pylist()

    verdicts = staticmethod(verdicts)

    def describe_index(self, output, folder: str) -> None:
        """`index.json` beside this run's index files in `folder`, once they are whole (:mod:`.index`)."""
        index.write_description(output, folder, self.index_description)
