"""The dedup stages' keep policy (stages/dedup/keep.py) on one group of ten members: the declared order, the winner,
each member's decision, and the Spark plans' struct ranking the same group the same way."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.stages.dedup import keep
from curate.stages.dedup.exact import ExactDedup, ExactDedupParams
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams

NAN = float("nan")
# One group: (id, uid, rank, earlier, file_key); an earlier run's document has no file of this run.
GROUP = [
    ("d1", bytes([1]), None, False, "f0"),
    ("d2", bytes([2]), 5.0, False, "f0"),
    ("d3", bytes([3]), NAN, False, "f1"),
    ("d4", bytes([4]), 7.0, False, "f1"),
    ("d5", bytes([5]), float("-inf"), False, "f0"),
    ("d6", bytes([6]), 7.0, False, "f2"),
    ("d0", bytes([10]), 3.0, False, "f2"),
    ("d7", bytes([7]), -0.0, False, "f2"),
    ("d8", bytes([8]), 0.0, False, "f0"),
    ("d9", bytes([9]), 9.0, True, None),
]


def members(rows=GROUP) -> list[dict]:
    return [{"id": r[0], "uid": r[1], "rank": r[2], "earlier": r[3], "file_key": r[4]} for r in rows]


def ranked(group: list[dict], order: keep.Order) -> list[str]:
    """The whole order, by taking the first member again and again."""
    out = []
    while group:
        out.append(group.pop(keep.first(group, order))["id"])
    return out


def decide(group: list[dict], order: keep.Order) -> list[dict]:
    """A group's decision rows, as the Beam plans make them: its winner, then the labels."""
    return keep.verdicts(pa.Table.from_pylist(keep.winners(group, order), schema=keep.MEMBERS)).to_pylist()


def test_the_declared_orders():
    assert keep.order(None) == (("earlier", True), ("id", False), ("uid", False))
    assert keep.order("rank") == (("earlier", True), ("rank", True), ("id", False), ("uid", False))
    assert ExactDedup(ExactDedupParams(keep="longest")).policy().order == keep.order("length")
    assert MinHashDedup(MinHashDedupParams(keep="highest:score")).policy().order == keep.order("rank")
    assert MinHashDedup(MinHashDedupParams()).policy().order == keep.order(None)


def test_largest_rank_first_missing_last_earlier_runs_before_all():
    # the earlier run's d9 first; then by rank: 7.0 twice (the id breaks the tie), 5, 3, 0.0 and -0.0 tie (the id),
    # no rank and -inf tie (the id), NaN after everything
    assert ranked(members(), keep.order("rank")) == ["d9", "d4", "d6", "d2", "d0", "d7", "d8", "d1", "d5", "d3"]
    assert ranked(members(), keep.order(None)) == ["d9", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"]
    fresh = members(GROUP[:9])
    assert fresh[keep.first(fresh, keep.order("rank"))]["id"] == "d4"
    assert fresh[keep.first(fresh, keep.order(None))]["id"] == "d0"
    same_id = members([("x", bytes([2]), 1.0, False, "f"), ("x", bytes([1]), 1.0, False, "f")])
    assert keep.first(same_id, keep.order("rank")) == 1  # the uid last


def test_decisions_of_a_group():
    decided = decide(members(GROUP[:9]), keep.order("rank"))
    assert [d["uid"] for d in decided] == [r[1] for r in GROUP[:9]]
    assert [d["reject_reason"] for d in decided] == ["duplicate"] * 3 + [None] + ["duplicate"] * 5
    assert {d["dup_cluster"] for d in decided} == {bytes([4])} and {d["dup_cluster_size"] for d in decided} == {9}
    assert decided[3]["kept_uid"] is None and decided[3]["kept_id"] is None
    assert decided[0]["kept_uid"] == bytes([4]) and decided[0]["kept_id"] == "d4"
    assert [d["file_key"] for d in decided] == [r[4] for r in GROUP[:9]]
    # with the earlier run's document: it wins, nine rows (none for it), every one seen before it
    decided = decide(members(), keep.order("rank"))
    assert len(decided) == 9 and {d["reject_reason"] for d in decided} == {"seen_before"}
    assert {(d["kept_uid"], d["kept_id"], d["dup_cluster_size"]) for d in decided} == {(bytes([9]), "d9", 10)}
    assert decide(members(GROUP[:1]), keep.order("rank")) == []  # a group of one decides nothing


def test_verdicts_the_spark_plans_label_with():
    labelled = pa.table({"uid": pa.array([b"a", b"b", b"c", b"d"], pa.binary()), "file_key": ["f", "f", "g", "g"],
                         "dup_cluster_size": pa.array([2, 2, 3, 1], pa.int64()),
                         "winner_uid": pa.array([b"a", b"a", b"c", b"d"], pa.binary()),
                         "winner_id": ["A", "A", "X", "D"], "winner_earlier": [False, False, True, False]})
    rows = keep.verdicts(labelled).to_pylist()
    assert [(r["uid"], r["reject_reason"], r["kept_uid"], r["kept_id"]) for r in rows] == [
        (b"a", None, None, None), (b"b", "duplicate", b"a", "A"), (b"c", "seen_before", b"c", "X")]


def test_beam_rows_through_the_stage():
    """The Beam plans hand a group's key rows to the policy's `winners` (this run's rows carry no `earlier`), then
    batches of members from several groups to its `label`."""
    stage = ExactDedup(ExactDedupParams(keep="longest")).policy()
    rows = [{"id": f"d{i}", "uid": bytes([i]), "length": n, "file_key": "f"} for i, n in enumerate([5, 9, 9, 2])]
    seen = stage.winners(rows + [{"id": "e", "uid": bytes([7]), "length": 1, "earlier": True, "file_key": None}])
    other = [{"id": f"o{i}", "uid": bytes([20 + i]), "length": 3, "file_key": "g"} for i in range(2)]
    decided = stage.label(seen + stage.winners(rows) + stage.winners(other) + stage.winners(other[:1]))
    assert [d["reject_reason"] for d in decided] == ["seen_before"] * 4 + ["duplicate", None, "duplicate",
                                                                          "duplicate"] + [None, "duplicate"]
    assert [d["kept_id"] for d in decided][-2:] == [None, "o0"] and decided[-1]["dup_cluster_size"] == 2


def test_spark_struct_ranks_as_the_pure_order(spark):
    """The Spark plans' struct minimum (engines/spark/dedup_index.keep_struct) picks the pure order's winner."""
    from pyspark.sql import functions as F

    from curate.engines.spark.dedup_index import keep_struct

    stage = MinHashDedup(MinHashDedupParams(keep="longest")).policy()
    frame = spark.createDataFrame([(r[0], bytearray(r[1]), r[2], r[3]) for r in GROUP],
                                  "id string, uid binary, rank double, earlier boolean")
    for n in range(1, len(GROUP) + 1):
        part = frame.where(F.col("id").isin([r[0] for r in GROUP[-n:]]))
        winner = part.select(F.min(keep_struct(stage)).alias("w")).first()["w"]
        assert winner["id"] == members(GROUP[-n:])[keep.first(members(GROUP[-n:]), stage.order)]["id"]
    assert frame.select(F.min(keep_struct(stage)).alias("w")).first()["w"]["earlier"] is True


@pytest.mark.parametrize("threshold", [0.5, 0.8, 0.95])
def test_sketch_agreement_threshold(threshold):
    from curate.filters.minhash import sketch_jaccard, sketches_agree

    stage = MinHashDedup(MinHashDedupParams(threshold=threshold))
    needed = stage.policy().matches_needed
    assert sketch_jaccard(needed, 112) == pytest.approx(threshold)
    a = bytes(range(112))
    for agree in range(int(needed) - 3, int(needed) + 4):
        b = a[:agree] + bytes(255 - x for x in a[agree:])
        assert bool(sketches_agree(list(a), list(b), needed)) == (agree >= needed)
