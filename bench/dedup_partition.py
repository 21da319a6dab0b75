"""What `partition_by` costs the dedup keys: `MinHashDedup.keys` and `ExactDedup.keys` with and without it, on the same
batch (90% of the documents in one language), alternating, best of `--repeats`, CPU seconds of this process.

    python -P bench/dedup_partition.py [--docs 4096] [--repeats 5]

The plans are not measured: they run unchanged over the partitioned keys (the partition is folded into the hash and
band keys, which the shuffles spread as before; docs/DEDUP.md).
"""
from __future__ import annotations

import argparse
import os
import random
import time

import pyarrow as pa

from curate.pipeline.schema import uid_of
from curate.stages.dedup.exact import ExactDedup, ExactDedupParams
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams


def batch(documents: int, rng: random.Random) -> pa.RecordBatch:
    vocab = [f"w{i}" for i in range(5000)]
    ids = [f"t/{i}" for i in range(documents)]
    return pa.RecordBatch.from_pydict({
        "id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
        "text": [" ".join(rng.choice(vocab) for _ in range(300)) for _ in ids],
        "lang": [rng.choice(["en"] * 18 + ["de", "fr"]) for _ in ids]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    documents = batch(args.docs, random.Random(1))
    for name, stage, params in (("minhash_dedup", MinHashDedup, MinHashDedupParams),
                                ("exact_dedup", ExactDedup, ExactDedupParams)):
        plain, parted = stage(params()), stage(params(partition_by="lang"))
        best = {"without": float("inf"), "with": float("inf")}
        for _ in range(args.repeats):
            for label, chosen in (("without", plain), ("with", parted)):
                started = time.process_time()
                chosen.keys(documents)
                best[label] = min(best[label], time.process_time() - started)
        print(f"{name}: keys of {args.docs} documents {best['without']:.3f} CPU-s without partition_by, "
              f"{best['with']:.3f} with ({best['with'] / best['without']:.3f}x); load {os.getloadavg()}")


if __name__ == "__main__":
    main()
