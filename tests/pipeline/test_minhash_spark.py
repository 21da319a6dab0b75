"""minhash_dedup on Spark: connected components against union-find, the demo crawl end to end, determinism."""
import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.filters.minhash import MinHasher
from curate.pipeline import config as pipeline_config
from curate.testing import generate_crawl
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output
from curate.pipeline.schema import uid_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams


def union_find(edges: list[tuple[bytes, bytes]]) -> dict[bytes, bytes]:
    """Each vertex → the smallest vertex of its component, by brute force."""
    parent: dict[bytes, bytes] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {v: find(v) for v in list(parent)}


def test_connected_components_match_union_find(spark, tmp_path):
    from curate.engines.spark.components import connected_components

    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    rng = random.Random(5)
    v = [uid_of(f"v{i}") for i in range(250)]  # uids: vertex order unrelated to the graphs' shapes
    chain = [(v[i], v[i + 1]) for i in range(0, 16)]
    star = [(v[50], v[i]) for i in range(51, 80)]
    two = [(v[100], v[101]), (v[101], v[102]), (v[110], v[111]), (v[111], v[112]), (v[112], v[110])]
    random_graph = [(v[rng.randrange(150, 250)], v[rng.randrange(150, 250)]) for _ in range(90)]
    edges = chain + star + two + random_graph + [(v[120], v[120])]
    frame = spark.createDataFrame(edges, "src binary, dst binary")
    labels, rounds = connected_components(frame, max_rounds=30)
    labels = {r["vertex"]: r["component"] for r in labels.collect()}
    assert rounds == len(list((tmp_path / "checkpoints").glob("*/cc-round-*"))) > 1  # one checkpoint per round
    expected = union_find([(a, b) for a, b in edges if a != b])
    assert labels == expected
    assert len(set(labels[x] for x in v[:17])) == 1 and labels[v[0]] == min(v[:17])
    assert labels[v[100]] != labels[v[110]]
    with pytest.raises(CurateError, match="did not converge in 1 rounds"):
        connected_components(spark.createDataFrame(chain, "src binary, dst binary"), max_rounds=1)


def parts(output, section: str) -> pa.Table:
    manifest = json.loads((output / MANIFEST).read_text())
    return pa.concat_tables([pq.read_table(output / p) for p in manifest[section]])


def test_demo_crawl_near_and_exact_copies(spark, tmp_path):
    from curate.pipeline.run import run

    generate_crawl(tmp_path / "crawl")
    config = pipeline_config.parse({"input": {"paths": [str(tmp_path / "crawl")], "dataset": "demo"},
                                    "output": str(tmp_path / "out"), "write_rejects": True,
                                    "stages": [{"name": "extract"}, {"name": "minhash_dedup"}]})
    stats = run(config).stats
    assert stats["input"] == stats["kept"] + sum(stats["rejected"].values()) == 218
    kept, rejects = parts(tmp_path / "out", "documents"), parts(tmp_path / "out", "rejects")
    rejected = rejects.filter(pa.compute.equal(rejects.column("reject_reason"), "minhash_dedup:duplicate"))
    texts = kept.column("text").to_pylist()
    assert len(texts) == len(set(texts))  # every verbatim copy (20 mirrored articles, 15 tiny pages) is gone

    hasher = MinHasher()

    def jaccard(a, b):
        x, y = (set(hasher.shingles([t]).hashes.tolist()) for t in (a, b))
        return len(x & y) / len(x | y)

    # The 20 near copies swap an article's last paragraph for a sentence: their Jaccard to the article varies
    # with its length. Those at >= 0.85 are always merged with it, those below 0.7 never.
    by_title: dict[str, list[tuple[str, bool]]] = {}
    for text, is_kept in [(t, True) for t in texts] + [(t, False) for t in rejected.column("text").to_pylist()]:
        by_title.setdefault(text.split("\n")[0], []).append((text, is_kept))
    near = [(a, b) for group in by_title.values() for a, b in zip(group, group[1:]) if a[0] != b[0]]
    assert len(near) >= 15
    for (a, a_kept), (b, b_kept) in near:
        similarity = jaccard(a, b)
        if similarity >= 0.85:
            assert not (a_kept and b_kept)
        elif similarity < 0.7:
            assert a_kept and b_kept
    # the tiny pages repeat 5 texts 3 times: one of each kept, carrying its cluster's size
    sizes = dict(zip(texts, kept.column("dup_cluster_size").to_pylist()))
    assert sizes["Page not found."] == 3 and sizes["Thank you for your order."] == 3
    assert stats["rejected"]["minhash_dedup:duplicate"] == 42  # 10 tiny, 20 mirrors, 12 near copies (fixed seed)


def corpus(rng: random.Random) -> tuple[list[str], dict[int, int]]:
    """Texts and each text's planted cluster: groups of close variants (a word or two changed), a templated page
    copied 60 times (one hot bucket per band), and unrelated texts."""
    vocab = [f"w{i}" for i in range(3000)]
    texts, cluster = [], {}

    def article():
        return [rng.choice(vocab) for _ in range(rng.randrange(150, 300))]

    for group in range(25):
        base = article()
        for _ in range(rng.randrange(2, 5)):
            words = list(base)
            words[rng.randrange(len(words))] = rng.choice(vocab)
            cluster[len(texts)] = group
            texts.append(" ".join(words))
    template = " ".join(article())
    for _ in range(60):
        cluster[len(texts)] = 99
        texts.append(template)
    for _ in range(80):
        texts.append(" ".join(article()))
    order = list(range(len(texts)))
    rng.shuffle(order)
    return [texts[i] for i in order], {order.index(i): g for i, g in cluster.items()}


def test_same_kept_set_whatever_partitions_and_files(spark, tmp_path):
    from curate.engines.spark import SparkJob
    from curate.engines.spark.minhash_dedup import minhash_dedup as plan

    texts, cluster = corpus(random.Random(11))
    ids = [f"t/f.jsonl:{i}" for i in range(len(texts))]
    stage = MinHashDedup(MinHashDedupParams(keep="longest", salts=4))
    batch = pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                        "text": texts})
    keys = pa.Table.from_batches([stage.keys(batch)])

    def decide(files: int, partitions: int) -> dict:
        directory = tmp_path / f"keys-{files}"
        directory.mkdir()
        for f in range(files):  # as the passes write them: one keys file per input file
            part = keys.take(list(range(f, len(texts), files)))
            pq.write_table(part.append_column("file_key", pa.array([f"f{f}"] * len(part))), directory / f"{f}.parquet")
        spark.conf.set("spark.sql.shuffle.partitions", str(partitions))
        spark.sparkContext.setCheckpointDir(str(tmp_path / f"checkpoints-{files}-{partitions}"))
        try:
            job = SparkJob(spark, Output(str(tmp_path)), "stages/minhash_dedup")
            rows = plan(stage.policy(), spark.read.parquet(str(directory)), job).decisions.collect()
        finally:
            spark.conf.unset("spark.sql.shuffle.partitions")
        return {r["uid"]: (r["reject_reason"], r["dup_cluster"], r["dup_cluster_size"]) for r in rows}

    one, many = decide(1, 1), decide(4, 7)
    assert one == many
    rounds = Output(str(tmp_path)).read_json(f"work/components/{stage.id}/components.json")["rounds"]
    assert rounds == len(list((tmp_path / "checkpoints-4-7").glob("*/cc-round-*")))
    # the planted clusters, exactly: one kept per cluster (the longest, ties by id), the rest duplicates
    uid_index = {uid_of(i): n for n, i in enumerate(ids)}
    expected: dict[int, list[int]] = {}
    for doc, group in cluster.items():
        expected.setdefault(group, []).append(doc)
    assert {frozenset(uid_index[u] for u, d in one.items() if d[1] == c)
            for c in {d[1] for d in one.values()}} == {frozenset(m) for m in expected.values()}
    for members in expected.values():
        winner = min(members, key=lambda d: (-len(texts[d]), ids[d]))
        assert one[uid_of(ids[winner])] == (None, uid_of(ids[winner]), len(members))
        assert all(one[uid_of(ids[d])][0] == "duplicate" for d in members if d != winner)
