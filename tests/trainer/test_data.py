"""Data: the Megatron-style indices against a brute-force reference, blending, data-parallel sharding, exact resume."""

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import counting_docs, write_corpus
from curate.trainer import data


def _train_docs_from_parquet(manifest_path: Path, domain: str) -> list[np.ndarray]:
    """The reference: a domain's training documents read straight from its Parquet shards, in manifest order."""
    m = json.loads(manifest_path.read_text())
    docs = []
    for s in m["shards"]:
        if s["domain"] != domain:
            continue
        t = pq.read_table(manifest_path.parent / s["path"]).to_pylist()
        docs += [np.array(r["tokens"], np.int64) for r in t if r["split"] == "train"]
    return docs


@pytest.mark.parametrize("seq_len", [7, 64])
def test_sample_index_matches_brute_force(corpus, tmp_path, seq_len):
    manifest = data.read_manifest(corpus)
    web = [(e, c) for e, c in zip(manifest.shards, data._shard_caches(manifest, tmp_path)) if e["domain"] == "web"]
    ds = data.DomainDataset("web", [c for _, c in web], [e["sha256"] for e, _ in web], "train", seq_len,
                            min_samples=3000, seed=5, cache_dir=tmp_path)
    docs = _train_docs_from_parquet(corpus, "web")
    n = len(docs)
    assert len(ds.doc_len) == n and ds.epochs >= 2
    # Each epoch of the document index is a permutation of all training documents, and epochs differ.
    epochs = np.asarray(ds.doc_idx).reshape(ds.epochs, n)
    assert all(np.array_equal(np.sort(e), np.arange(n)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    # Sample j is stream tokens [j L, (j+1) L] of the documents concatenated in document-index order.
    stream = np.concatenate([docs[i] for i in ds.doc_idx])
    assert len(ds) == (len(stream) - 1) // seq_len
    for j in range(len(ds)):
        np.testing.assert_array_equal(ds.unshuffled(j), stream[j * seq_len:(j + 1) * seq_len + 1])
    # The shuffle index is a permutation; item i is the shuffled sample.
    assert np.array_equal(np.sort(ds.shuffle_idx), np.arange(len(ds)))
    assert not np.array_equal(ds.shuffle_idx, np.arange(len(ds)))
    np.testing.assert_array_equal(ds[3], ds.unshuffled(int(ds.shuffle_idx[3])))


def test_indices_are_cached_by_their_description(corpus, tmp_path):
    manifest = data.read_manifest(corpus)
    a = data.build_train(manifest, 32, 500, 1, tmp_path, None)
    folders = sorted(p.name for p in (tmp_path / "index").iterdir())
    b = data.build_train(manifest, 32, 500, 1, tmp_path, None)
    assert sorted(p.name for p in (tmp_path / "index").iterdir()) == folders  # nothing new built
    assert all(np.array_equal(x.doc_idx, y.doc_idx) for x, y in zip(a.datasets, b.datasets))
    c = data.build_train(manifest, 32, 500, 2, tmp_path, None)  # another seed: another index
    assert len(list((tmp_path / "index").iterdir())) == len(folders) + 2
    assert not np.array_equal(a.datasets[0].doc_idx, c.datasets[0].doc_idx)


def _domain_of(sample: np.ndarray) -> str:
    body = sample[sample != 0]
    return "web" if body[0] < 128 else "wiki"


def test_blending_hits_weights_across_data_parallel_ranks(corpus, tmp_path):
    manifest = data.read_manifest(corpus)
    steps, gb = 50, 40
    ds = data.build_train(manifest, 32, steps * gb, 1, tmp_path, None)
    counts = {"web": 0, "wiki": 0}
    for rank in range(2):
        loader = data.Loader(ds, gb, 4, rank, 2)
        for _ in range(steps):
            for inputs, targets in loader.next():
                full = np.concatenate([inputs.numpy(), targets.numpy()[:, -1:]], axis=1)
                for row in full:
                    counts[_domain_of(row)] += 1
        loader.close()
    total = counts["web"] + counts["wiki"]
    assert total == steps * gb
    assert abs(counts["web"] / total - 0.7) < 0.01 and abs(counts["wiki"] / total - 0.3) < 0.01
    # And after every prefix, each domain is within one sample of its share.
    dom = np.asarray(ds.domain)
    for n in (1, 7, 100, 999):
        assert abs((dom[:n] == 0).sum() - 0.7 * n) <= 1


def test_ranks_split_each_global_batch_and_resume_continues_exactly(corpus, tmp_path):
    manifest = data.read_manifest(corpus)
    ds = data.build_train(manifest, 16, 6 * 8, 1, tmp_path, None)

    def rows(loader, steps):
        out = []
        for _ in range(steps):
            out += [x.numpy() for x, _ in loader.next()]
        loader.close()
        return np.concatenate(out)

    single = rows(data.Loader(ds, 8, 8, 0, 1), 6)
    r0, r1 = rows(data.Loader(ds, 8, 2, 0, 2), 6), rows(data.Loader(ds, 8, 2, 1, 2), 6)
    for step in range(6):  # rank 0 takes the first half of each global batch, rank 1 the second
        np.testing.assert_array_equal(single[step * 8:step * 8 + 4], r0[step * 4:step * 4 + 4])
        np.testing.assert_array_equal(single[step * 8 + 4:step * 8 + 8], r1[step * 4:step * 4 + 4])
    first = data.Loader(ds, 8, 8, 0, 1)
    rows_before = rows_after = None
    rows_before = [x.numpy() for _ in range(2) for x, _ in first.next()]
    state = first.state_dict()
    first.close()
    assert state == {"consumed_samples": 16}
    resumed = data.Loader(ds, 8, 8, 0, 1, consumed_samples=state["consumed_samples"])
    rows_after = rows(resumed, 4)
    np.testing.assert_array_equal(np.concatenate(rows_before + [rows_after]), single)


def test_epoch_cap_is_enforced(tmp_path):
    rng = np.random.default_rng(1)
    m = write_corpus(tmp_path / "c", {"a": counting_docs(rng, 50, 1, 100)}, {"a": 1.0}, max_epochs=2.0)
    manifest = data.read_manifest(m)
    tokens = manifest.domains["a"]["tokens"]
    data.build_train(manifest, 16, int(tokens * 1.5 / 16), 1, tmp_path / "cache", None)  # < 2 epochs: fine
    with pytest.raises(data.DataError, match="above its cap of 2"):
        data.build_train(manifest, 16, int(tokens * 3 / 16), 1, tmp_path / "cache", None)
    data.build_train(manifest, 16, int(tokens * 3 / 16), 1, tmp_path / "cache", max_epochs=4.0)


def test_validation_documents_stay_out_of_training(corpus, tmp_path):
    manifest = data.read_manifest(corpus)
    ds = data.build_train(manifest, 32, 100, 1, tmp_path, None)
    val = data.build_validation(manifest, 32, 1, tmp_path, 40)
    m = json.loads(corpus.read_text())
    assert sum(len(d.doc_len) for d in ds.datasets) == m["splits"]["train"]["documents"]
    assert sum(len(d.doc_len) for d in val.datasets) == m["splits"]["validation"]["documents"]
    assert sum(d.tokens_per_epoch for d in val.datasets) == m["splits"]["validation"]["tokens"]


def test_validation_is_blended_over_every_domain(corpus, tmp_path):
    """The first batches of the validation set hold every domain by weight (the manifest lists web's shards first,
    so a stream in manifest order would be web alone), and each sample is its domain's validation tokens."""
    manifest = data.read_manifest(corpus)
    val = data.build_validation(manifest, 16, 1, tmp_path, 20)
    assert len(val) == 20 and [d.name for d in val.datasets] == ["web", "wiki"]
    drawn = [_domain_of(val[i]) for i in range(20)]
    assert drawn.count("web") == 14 and drawn.count("wiki") == 6
    assert drawn == [val.datasets[int(d)].name for d in val.domain]
    wiki_tokens = np.concatenate([t for t in _validation_docs(corpus, "wiki")])
    first_wiki = next(i for i in range(20) if drawn[i] == "wiki")
    np.testing.assert_array_equal(val[first_wiki], wiki_tokens[:17])  # unshuffled: the stream's first sample


def _validation_docs(manifest_path: Path, domain: str) -> list[np.ndarray]:
    m = json.loads(manifest_path.read_text())
    docs = []
    for s in m["shards"]:
        if s["domain"] == domain:
            t = pq.read_table(manifest_path.parent / s["path"]).to_pylist()
            docs += [np.array(r["tokens"], np.int64) for r in t if r["split"] == "validation"]
    return docs


def test_ranks_share_shard_conversion(corpus, tmp_path):
    """Each rank converts its share of the shards (shard i: rank i % world), so a first run reads the corpus once
    over all ranks; a shard already converted is not converted again."""
    manifest = data.read_manifest(corpus)
    n = len(manifest.shards)
    assert n >= 4
    assert data.convert_shards(manifest, tmp_path, 1, 2) == n // 2
    converted = {p.name for p in (tmp_path / "shards").iterdir()}
    assert converted == {e["sha256"] for e in manifest.shards[1::2]}
    assert data.convert_shards(manifest, tmp_path, 0, 2) == n - n // 2
    assert data.convert_shards(manifest, tmp_path, 0, 1) == 0  # all there: nothing converted twice


def test_a_changed_shard_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    m = write_corpus(tmp_path / "c", {"a": counting_docs(rng, 20, 1, 100)}, {"a": 1.0})
    shard = next((tmp_path / "c" / "shards" / "a").iterdir())
    shard.write_bytes(shard.read_bytes() + b"x")
    with pytest.raises(data.DataError, match="sha256"):
        data.build_train(data.read_manifest(m), 16, 10, 1, tmp_path / "cache", None)


def _planted_repeats(root: Path, seq_len: int, batch: int) -> tuple[Path, list[np.ndarray], list[int]]:
    """70 training documents, document i marked by its first token i + 1 (no other document holds it) and repeated
    1 + i % 7 times (counts 1-7, ten documents each), and one last document (count 1) whose length makes one epoch
    exactly `n` samples, n a multiple of `batch`: (epoch tokens - 1) = n seq_len, so every token but the epoch's last
    (an EOS) is some sample's input."""
    rng = np.random.default_rng(4)
    docs = [np.concatenate([[i + 1], rng.integers(100, 256, int(rng.integers(4, 40))), [0]]) for i in range(70)]
    counts = [1 + i % 7 for i in range(70)]
    epoch = sum(len(d) * k for d, k in zip(docs, counts))
    n = -(-(epoch + 20) // (seq_len * batch)) * batch
    docs.append(np.concatenate([[71], rng.integers(100, 256, n * seq_len + 1 - epoch - 2), [0]]))
    counts.append(1)
    manifest = write_corpus(root, {"a": docs}, {"a": 1.0}, validation_every=10**6, docs_per_shard=30,
                            repeats={"a": counts})
    return manifest, docs, counts


def test_a_document_with_repeat_count_k_is_yielded_k_times_an_epoch_at_different_positions(tmp_path):
    """Counts 1-7 planted in the shards' `repeats` column: over one epoch the loader yields document i exactly k_i
    times (its marker token is some sample's input k_i times), each copy at its own place in the stream, in a sample of
    its own; an epoch holds the repeated tokens, not the unique ones."""
    seq_len, batch = 16, 5
    manifest_path, docs, counts = _planted_repeats(tmp_path / "c", seq_len, batch)
    manifest = data.read_manifest(manifest_path)
    caches = data._shard_caches(manifest, tmp_path / "cache")
    epoch_tokens = sum(len(d) * k for d, k in zip(docs, counts))
    n = (epoch_tokens - 1) // seq_len
    ds = data.DomainDataset("a", caches, [e["sha256"] for e in manifest.shards], "train", seq_len, min_samples=n,
                            seed=3, cache_dir=tmp_path / "cache")
    assert ds.epochs == 1 and ds.tokens_per_epoch == epoch_tokens and len(ds) == n
    loader = data.Loader(ds, batch, batch, 0, 1)
    seen: dict[int, list[int]] = {}  # marker -> stream positions where it was an input
    yielded = 0
    for _ in range(n // batch):
        for inputs, _ in loader.next():
            for row in inputs.numpy():
                sample = int(ds.shuffle_idx[yielded])  # where this sample starts in the epoch's stream: sample * L
                for offset in np.flatnonzero((row >= 1) & (row <= 71)):
                    seen.setdefault(int(row[offset]), []).append(sample * seq_len + int(offset))
                yielded += 1
    loader.close()
    assert yielded == n
    assert {marker: len(places) for marker, places in seen.items()} == {i + 1: k for i, k in enumerate(counts)}
    for marker, places in seen.items():
        assert len(set(places)) == len(places)  # k different positions, not one position counted k times
        assert len({p // seq_len for p in places}) == len(places)  # each copy in its own sample
    # The copies are spread over the epoch: copy j of a document with count k lies in the j-th k-th of the epoch
    # (its place is drawn there), give or take the drift of the other documents' draws.
    for i, k in enumerate(counts[:70]):
        for j, place in enumerate(sorted(seen[i + 1])):
            assert j / k - 0.1 < place / epoch_tokens < (j + 1) / k + 0.1, (i, k, j, place / epoch_tokens)


def test_data_weights_replace_the_manifests_mixture(corpus, tmp_path):
    """`data.weights` (the mixture search's proxies) blends the same shards by other weights; a domain it leaves out
    gets none, and a domain the manifest lacks is refused."""
    manifest = data.read_manifest(corpus)
    ds = data.build_train(manifest, 16, 1000, 1, tmp_path, None, {"web": 1.0, "wiki": 3.0})
    assert [d.name for d in ds.datasets] == ["web", "wiki"]
    assert abs((np.asarray(ds.domain) == 1).sum() - 750) <= 1  # wiki: 3/4 of the samples, not the manifest's 0.3
    alone = data.build_train(manifest, 16, 100, 1, tmp_path, None, {"wiki": 1.0})
    assert [d.name for d in alone.datasets] == ["wiki"]
    with pytest.raises(data.DataError, match="data.weights: no domain 'code'"):
        data.build_train(manifest, 16, 100, 1, tmp_path, None, {"code": 1.0})
