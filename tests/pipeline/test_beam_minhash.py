"""minhash_dedup on Beam: the round functions against union-find, the chained rounds, the salt, Spark's decisions."""
import pickle
import random

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.filters.minhash import sketches_agree
from curate.pipeline.beam import components as cc
from curate.pipeline.beam import read_keys
from curate.pipeline.beam import minhash_dedup as beam_minhash
from curate.pipeline.errors import CurateError
from curate.pipeline.output import Output
from curate.pipeline.schema import uid_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams


def union_find(edges) -> dict[bytes, bytes]:
    """Each vertex → the smallest vertex of its component, by brute force."""
    parent: dict[bytes, bytes] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {v: find(v) for v in list(parent)}


def group(pairs):
    grouped: dict = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    return grouped.items()


def one_round(edges: set) -> set:
    """A round as the pipeline runs it, with dicts for GroupByKey."""
    both = [e for a, b in edges for e in ((a, b), (b, a))]
    large = [e for u, vs in group(both) for e in cc.large_star(u, vs)]
    return {e for u, ps in group(large) for e in cc.small_star(u, ps)}


def settled(edges: set) -> bool:
    totals: dict = {}
    for vertex, (children, parent) in cc.roles(edges):
        c, p = totals.get(vertex, (0, 0))
        totals[vertex] = (c + children, p + parent)
    return not any(cc.unsettled(c, p) for c, p in totals.values())


def graphs():
    rng = random.Random(5)
    v = [uid_of(f"v{i}") for i in range(250)]  # uids: vertex order unrelated to the graphs' shapes
    chain = [(v[i], v[i + 1]) for i in range(0, 16)]
    star = [(v[50], v[i]) for i in range(51, 80)]
    two = [(v[100], v[101]), (v[101], v[102]), (v[110], v[111]), (v[111], v[112]), (v[112], v[110])]
    random_graph = [(v[rng.randrange(150, 250)], v[rng.randrange(150, 250)]) for _ in range(90)]
    return v, chain, chain + star + two + [e for e in random_graph if e[0] != e[1]]


def test_rounds_of_the_pure_steps_reach_union_find():
    v, chain, edges = graphs()
    current, rounds = {(min(a, b), max(a, b)) for a, b in edges}, 0
    while True:
        current, rounds = one_round(current), rounds + 1
        if settled(current):
            break
        assert rounds < 30
    labels = {src: dst for src, dst in current} | {dst: dst for _, dst in current}
    assert labels == union_find(edges)
    assert rounds > 1  # the chain needs several rounds: the test would catch a round that stops early
    assert not settled(one_round({(min(a, b), max(a, b)) for a, b in chain}))


def test_the_steps_on_one_group():
    a, b, c, d = b"\x01", b"\x02", b"\x03", b"\x04"
    assert sorted(cc.large_star(b, [d, a, c, a])) == [(c, a), (d, a)]  # larger neighbours → the smallest
    assert cc.large_star(a, [b]) == [(b, a)]
    assert sorted(cc.small_star(d, [c, b, b])) == [(c, b), (d, b)]  # u and its parents → the smallest parent
    assert dict(cc.roles([(c, a), (d, a), (b, a)]))[a] == (0, 1)
    assert cc.unsettled(2, 0) and cc.unsettled(1, 1) and not cc.unsettled(1, 0) and not cc.unsettled(0, 1)


def in_process(build) -> None:
    with beam.Pipeline() as p:
        build(p)


def write_round_0(output: Output, work: str, edges) -> None:
    table = pa.table({"src": [a for a, _ in edges], "dst": [b for _, b in edges]}, schema=cc.EDGES)
    with output.open_write(f"{work}/round-0/part-00000.parquet") as f:
        pq.write_table(table, f)


@pytest.mark.beam
def test_chained_round_pipelines_match_union_find(tmp_path):
    v, chain, edges = graphs()
    output = Output(str(tmp_path))
    write_round_0(output, "work/cc", edges)
    files, rounds = cc.connected_components(output, "work/cc", 3, 30, in_process)
    labels = {}
    for path in files:
        for vertex, component in cc.read_edges((path, output.uri)):
            labels[vertex] = labels[component] = component
    assert labels == union_find(edges) and rounds > 1
    assert (tmp_path / f"work/cc/round-{rounds}/unsettled.json").is_file()

    write_round_0(output, "work/chain", chain)
    with pytest.raises(CurateError, match=r"chain: did not converge in 1 rounds \(\d+ vertices still moving\)"):
        cc.connected_components(output, "work/chain", 2, 1, in_process, "chain:")


def test_salt_is_sparks_pmod_xxhash64(spark):
    from pyspark.sql import functions as F

    uids = [uid_of(f"doc{i}") for i in range(500)]
    frame = spark.createDataFrame([(u,) for u in uids], "uid binary")
    for salts in (1, 3, 16):
        rows = frame.select("uid", F.pmod(F.xxhash64("uid"), F.lit(salts)).alias("salt")).collect()
        assert {bytes(r["uid"]): r["salt"] for r in rows} == {u: beam_minhash.salt(u, salts) for u in uids}


def test_keep_policy_through_the_stage():
    """The Beam plan hands a component's rows to the stage's pure `winners`, then the members to `label` (the order:
    tests/stages/test_dedup_keep)."""
    def row(i, rank):
        return {"id": f"d{i}", "uid": bytes([i]), "rank": rank, "file_key": "f"}

    rows = [row(1, None), row(2, 5.0), row(3, float("nan")), row(4, 7.0), row(5, float("-inf")), row(6, 7.0)]
    stage = MinHashDedup(MinHashDedupParams(keep="longest"))
    decided = stage.label(stage.winners(rows))
    assert [d["reject_reason"] for d in decided] == ["duplicate", "duplicate", "duplicate", None, "duplicate",
                                                     "duplicate"]
    assert {d["dup_cluster"] for d in decided} == {bytes([4])} and decided[0]["dup_cluster_size"] == 6
    by_id = MinHashDedup(MinHashDedupParams())
    assert {d["kept_id"] for d in by_id.label(by_id.winners(rows))} == {None, "d1"}


def corpus(rng: random.Random) -> list[str]:
    """30 groups of 6 variants of an article, 4 words changed each (pairwise Jaccard near 0.8, so verification keeps
    some star edges and drops others: which uids are centres matters), a chain of drifting copies (each close to the
    next only: several rounds), a page copied 40 times (one hot bucket per band) and unrelated texts."""
    vocab = [f"w{i}" for i in range(3000)]

    def article(n):
        return [rng.choice(vocab) for _ in range(n)]

    texts = []
    for _ in range(30):
        base = article(300)
        for _ in range(6):
            words = list(base)
            for _ in range(4):
                words[rng.randrange(len(words))] = rng.choice(vocab)
            texts.append(" ".join(words))
    drifting = article(400)
    for step in range(12):
        drifting[step * 30:step * 30 + 6] = article(6)
        texts.append(" ".join(drifting))
    texts += [" ".join(article(200))] * 40
    texts += [" ".join(article(200)) for _ in range(60)]
    rng.shuffle(texts)
    return texts


def clusters(rows: list[dict], salt_of, needed: float) -> set[frozenset]:
    """The plan by brute force (every bucket in a dict, union-find): components of two or more uids."""
    subs: dict = {}
    for row in rows:
        for band in row["bands"]:
            subs.setdefault((band, salt_of(row["uid"])), []).append(row["uid"])
    centres: dict = {}
    edges = set()
    for (band, _), uids in subs.items():
        edges.update(beam_minhash.sub_bucket_edges(uids))
        centres.setdefault(band, []).append(min(uids))
    for tops in centres.values():
        edges.update(beam_minhash.bucket_edges(tops))
    sketches = {row["uid"]: bytes(x & 0xFF for x in row["sketch"]) for row in rows}
    labels = union_find([(a, b) for a, b in edges
                         if sketches_agree(np.frombuffer(sketches[a], np.uint8), np.frombuffer(sketches[b], np.uint8),
                                           needed)])
    return {frozenset(v for v in labels if labels[v] == c) for c in set(labels.values())}


@pytest.mark.parametrize("keep", ["min_id", "longest"])
def test_same_decisions_as_the_spark_plan(spark, tmp_path, keep):
    from curate.pipeline.spark.minhash_dedup import plan as spark_plan

    texts = corpus(random.Random(3))
    ids = [f"t/f.jsonl:{i}" for i in range(len(texts))]
    stage = MinHashDedup(MinHashDedupParams(keep=keep, salts=3))
    batch = pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                        "text": texts})
    keys = pa.Table.from_batches([stage.keys(batch)])
    (tmp_path / "keys").mkdir()
    key_files = []
    for f in range(3):
        part = keys.take(list(range(f, len(texts), 3)))
        pq.write_table(part.append_column("file_key", pa.array([f"f{f}"] * len(part))), tmp_path / f"keys/{f}.parquet")
        key_files.append(f"keys/{f}.parquet")
    output = Output(str(tmp_path))

    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    on_spark = {bytes(r["uid"]): (r["reject_reason"], bytes(r["dup_cluster"]), r["dup_cluster_size"])
                for r in spark_plan(stage, spark.read.parquet(str(tmp_path / "keys")), output).collect()}

    beam_minhash.prepare(stage, key_files, output, in_process)
    saved = tmp_path / "decisions.pickle"

    def build(p):
        keys_ = p | beam.Create([(path, output.uri) for path in key_files]) | beam.FlatMap(read_keys)
        _ = (beam_minhash.plan(stage, keys_, output)
             | beam.combiners.ToList()
             | beam.Map(lambda rows: saved.write_bytes(pickle.dumps(rows))))

    in_process(build)
    on_beam = {d["uid"]: (d["reject_reason"], d["dup_cluster"], d["dup_cluster_size"])
               for d in pickle.loads(saved.read_bytes())}
    assert on_beam == on_spark
    assert output.read_json(f"work/components/{stage.id}/components.json")["rounds"] > 1

    # The input can tell salts apart: the brute-force plan with Spark's salt gives these clusters, with another not.
    found = {frozenset(u for u, d in on_beam.items() if d[1] == c) for c in {d[1] for d in on_beam.values()}}
    rows, needed = keys.to_pylist(), stage.matches_needed()
    assert clusters(rows, lambda uid: beam_minhash.salt(uid, 3), needed) == found
    assert clusters(rows, lambda uid: uid[-1] % 3, needed) != found
    assert 40 in {len(c) for c in found} and len(found) > 20


def test_same_decisions_against_an_earlier_index(spark, tmp_path):
    """`against:` on both plans: a third of the corpus is an earlier run's index, the rest this run's keys."""
    from curate.pipeline.spark.minhash_dedup import plan as spark_plan
    from curate.stages.dedup import index

    texts = corpus(random.Random(4))
    ids = [f"t/f.jsonl:{i}" for i in range(len(texts))]
    batch = pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                        "text": texts})
    earlier_run = Output(str(tmp_path / "earlier"))
    plain = MinHashDedup(MinHashDedupParams(salts=3))
    keys = pa.Table.from_batches([plain.keys(batch)])
    (tmp_path / "earlier" / index.folder("minhash_dedup")).mkdir(parents=True)
    pq.write_table(keys.take(list(range(0, len(texts), 3))),
                   tmp_path / "earlier" / index.folder("minhash_dedup") / "part-0.parquet")
    index.write_description(earlier_run, "minhash_dedup", plain.index_description())
    stage = MinHashDedup(MinHashDedupParams(salts=3, against=[str(tmp_path / "earlier" / "stages/minhash_dedup")]))
    new = [i for i in range(len(texts)) if i % 3]
    (tmp_path / "run" / "keys").mkdir(parents=True)
    part = keys.take(new)
    pq.write_table(part.append_column("file_key", pa.array(["f0"] * len(part))), tmp_path / "run/keys/0.parquet")
    output = Output(str(tmp_path / "run"))

    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    on_spark = {bytes(r["uid"]): (r["reject_reason"], r["kept_id"], r["dup_cluster_size"])
                for r in spark_plan(stage, spark.read.parquet(str(tmp_path / "run/keys")), output).collect()}
    def index_ids() -> set:
        folder = tmp_path / "run" / index.folder("minhash_dedup")
        return {i for f in folder.rglob("*.parquet") for i in pq.read_table(f).column("id").to_pylist()}

    spark_index = index_ids()

    beam_minhash.prepare(stage, ["keys/0.parquet"], output, in_process)
    saved = tmp_path / "decisions.pickle"

    def build(p):
        keys_ = p | beam.Create([("keys/0.parquet", output.uri)]) | beam.FlatMap(read_keys)
        _ = (beam_minhash.plan(stage, keys_, output)
             | beam.combiners.ToList()
             | beam.Map(lambda rows: saved.write_bytes(pickle.dumps(rows))))

    in_process(build)
    on_beam = {d["uid"]: (d["reject_reason"], d["kept_id"], d["dup_cluster_size"])
               for d in pickle.loads(saved.read_bytes())}
    beam_index = index_ids()
    assert on_beam == on_spark
    assert beam_index == spark_index and len(spark_index) > 50
    reasons = [d[0] for d in on_beam.values()]
    assert reasons.count("seen_before") > 20 and reasons.count("duplicate") > 5
    assert all(int(d[1].rsplit(":", 1)[1]) % 3 == 0 for d in on_beam.values() if d[0] == "seen_before")
