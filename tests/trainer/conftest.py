"""Fixtures: small token shards + manifest.json written with pyarrow exactly as docs/FORMAT.md specifies."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

EOS = 0
VOCAB = 256


def counting_docs(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[np.ndarray]:
    """Documents that count upward from a random start within [lo, hi): learnable, and each domain's ids are its own."""
    docs = []
    for _ in range(n):
        length = int(rng.integers(8, 60))
        start = int(rng.integers(lo, hi))
        body = lo + (start - lo + np.arange(length)) % (hi - lo)
        docs.append(np.append(body, EOS))
    return docs


def write_corpus(root: Path, domains: dict[str, list[np.ndarray]], weights: dict[str, float],
                 max_epochs: float = 100.0, docs_per_shard: int = 150, validation_every: int = 20,
                 dtype: str = "uint16", repeats: dict[str, list[int]] | None = None) -> Path:
    """Write shards/<domain>/part-*.parquet and manifest.json; every `validation_every`-th document is validation.
    `repeats`: a repeat count per document of a domain, written as the shards' `repeats` column."""
    root.mkdir(parents=True, exist_ok=True)
    shards, dom_info = [], {}
    splits = {"train": {"documents": 0, "tokens": 0}, "validation": {"documents": 0, "tokens": 0}}
    list_type = pa.list_(pa.uint16() if dtype == "uint16" else pa.int32())
    for name, docs in domains.items():
        (root / "shards" / name).mkdir(parents=True, exist_ok=True)
        for part, lo in enumerate(range(0, len(docs), docs_per_shard)):
            chunk = docs[lo:lo + docs_per_shard]
            ids = [f"test/{name}/{lo + i}.jsonl:0" for i in range(len(chunk))]
            split = ["validation" if (lo + i) % validation_every == validation_every - 1 else "train"
                     for i in range(len(chunk))]
            table = pa.table({
                "id": pa.array(ids, pa.string()),
                "uid": pa.array([hashlib.md5(i.encode()).digest() for i in ids], pa.binary(16)),
                "domain": pa.array([name] * len(chunk), pa.string()),
                "split": pa.array(split, pa.string()),
                "n_tokens": pa.array([len(d) for d in chunk], pa.int32()),
                "tokens": pa.array([d.tolist() for d in chunk], list_type),
            })
            if repeats and name in repeats:
                table = table.append_column("repeats", pa.array(repeats[name][lo:lo + docs_per_shard], pa.int32()))
            rel = f"shards/{name}/part-{part:05d}.parquet"
            pq.write_table(table, root / rel, row_group_size=64)
            n_tok = int(sum(len(d) for d in chunk))
            shards.append({"path": rel, "domain": name, "rows": len(chunk), "tokens": n_tok,
                           "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest()})
            for d, s in zip(chunk, split):
                splits[s]["documents"] += 1
                splits[s]["tokens"] += len(d)
        dom_info[name] = {"documents": len(docs), "tokens": int(sum(len(d) for d in docs)),
                          "weight": weights[name], "max_epochs": max_epochs}
    manifest = {
        "format_version": 1, "created": "2026-01-01T00:00:00Z", "config": {}, "config_hash": "0" * 64,
        "inputs": [], "phases": {},
        "tokenizer": {"file": "tokenizer/tokenizer.json", "sha256": "0" * 64, "vocab_size": VOCAB, "eos_id": EOS,
                      "dtype": dtype},
        "shards": shards, "domains": dom_info, "splits": splits,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root / "manifest.json"


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Two domains (web: ids 1-127, weight 0.7; wiki: ids 128-255, weight 0.3); returns the manifest path."""
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("corpus")
    return write_corpus(root, {"web": counting_docs(rng, 400, 1, 128), "wiki": counting_docs(rng, 300, 128, 256)},
                        {"web": 0.7, "wiki": 0.3})
