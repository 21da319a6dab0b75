"""Training data from a curate output: manifest -> memory-mapped shards -> Megatron-style indices -> blended batches.

What happens, in order (Megatron-LM's GPTDataset / BlendedDataset semantics):
1. Each shard listed in `manifest.json` is converted once into a local memory-mapped token array, its document offsets,
   a per-document train/validation flag and repeat count, cached under the shard's sha256 (checked on conversion).
2. Per domain and split: the document index is the domain's documents, one seeded permutation per epoch, concatenated;
   documents keep their single EOS and samples run across document boundaries. A training document whose shard row
   has `repeats` = k is in every epoch k times, its j-th copy at a random place in the j-th k-th of the epoch: the
   index names it k times, nothing is copied on disk (`epoch_order`). The sample index gives where sample i
   starts (position in the document index, offset in that document): sample i is stream tokens [i L, (i+1) L], so
   seq_len + 1 tokens, consecutive samples sharing one. The shuffle index is a seeded permutation of the samples.
   The three arrays are built once and cached under a hash of their description.
3. Domains are blended by the manifest's weights (or `data.weights`, a mixture to try on the same shards): domain d's k-th sample is due at (k + 1/2) / w_d, and samples are
   taken in order of due time, so after any n samples each domain has had n w_d of them to within one.
   A domain is repeated at most `max_epochs` times (the manifest's cap, or `data.max_epochs`).
4. Step t's global batch is blended samples [t B, (t+1) B); data-parallel rank r takes the r-th contiguous slice.
   The loader's state is the number of samples consumed, so a resumed run continues at the exact sample.
A background thread prepares batches ahead in pinned memory, so the GPU does not wait on the loader.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

INDEX_VERSION = 1


class DataError(ValueError):
    """The manifest or its shards cannot serve the configured run."""


@dataclass
class Manifest:
    root: Path
    eos_id: int
    vocab_size: int
    dtype: np.dtype
    shards: list[dict]
    domains: dict[str, dict]


def read_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    try:
        m = json.loads(path.read_text())
    except OSError as e:
        raise DataError(f"{path}: cannot read manifest ({e.strerror})") from None
    if m.get("format_version") != 1:
        raise DataError(f"{path}: format_version {m.get('format_version')!r}, this trainer reads 1")
    for key in ("tokenizer", "shards", "domains"):
        if key not in m:
            raise DataError(f"{path}: no '{key}' (was the pipeline run with a tokenize stage?)")
    tok = m["tokenizer"]
    if tok.get("dtype") not in ("uint16", "int32"):
        raise DataError(f"{path}: tokenizer.dtype {tok.get('dtype')!r}, expected uint16 or int32")
    return Manifest(path.parent, int(tok["eos_id"]), int(tok["vocab_size"]), np.dtype(tok["dtype"]),
                    list(m["shards"]), dict(m["domains"]))


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _shard_folder(cache_dir: Path, entry: dict) -> Path:
    return cache_dir / "shards" / entry["sha256"]


def _is_converted(folder: Path) -> bool:
    return (folder / "repeats.npy").exists()  # written last (a cache from before counts existed is converted again)


def convert_shards(manifest: Manifest, cache_dir: Path, share: int, of: int) -> int:
    """Convert this process's share of the shards not yet in the cache (shard i goes to share i % of); returns how
    many it converted. Ranks call it with (rank, world), so a first run reads the corpus once over all ranks."""
    converted = 0
    for i, entry in enumerate(manifest.shards):
        if i % of == share and not _is_converted(_shard_folder(cache_dir, entry)):
            ShardCache(manifest, entry, cache_dir)
            converted += 1
    return converted


class ShardCache:
    """One shard as memory-mapped arrays: tokens, doc offsets (n_docs + 1), is_train and repeats (n_docs; 1 for every
    document of a shard without a `repeats` column)."""

    def __init__(self, manifest: Manifest, entry: dict, cache_dir: Path):
        self.path = manifest.root / entry["path"]
        folder = _shard_folder(cache_dir, entry)
        if not _is_converted(folder):
            self._convert(manifest, entry, folder)
        self.tokens = np.load(folder / "tokens.npy", mmap_mode="r")
        self.offsets = np.load(folder / "offsets.npy")
        self.is_train = np.load(folder / "is_train.npy")
        self.repeats = np.load(folder / "repeats.npy")

    def _convert(self, manifest: Manifest, entry: dict, folder: Path) -> None:
        if not self.path.exists():
            raise DataError(f"{entry['path']}: shard listed in the manifest is missing")
        if _file_sha256(self.path) != entry["sha256"]:
            raise DataError(f"{entry['path']}: sha256 differs from the manifest's")
        folder.mkdir(parents=True, exist_ok=True)
        total = int(entry["tokens"])
        tmp = folder / f".tokens.{uuid.uuid4().hex}.tmp.npy"
        tokens = np.lib.format.open_memmap(tmp, mode="w+", dtype=manifest.dtype, shape=(total,))
        lengths, is_train, repeats, filled = [], [], [], 0
        source = pq.ParquetFile(self.path)
        counted = "repeats" in source.schema_arrow.names
        for batch in source.iter_batches(columns=["split", "n_tokens", "tokens"] + (["repeats"] if counted else [])):
            col = batch.column("tokens")
            values = col.values.to_numpy(zero_copy_only=False)
            offs = col.offsets.to_numpy()
            values = values[offs[0]:offs[-1]]
            n = np.diff(offs)
            if not np.array_equal(n, batch.column("n_tokens").to_numpy(zero_copy_only=False)):
                raise DataError(f"{entry['path']}: n_tokens disagrees with the length of tokens")
            if filled + len(values) > total:
                raise DataError(f"{entry['path']}: more tokens than the manifest's {total}")
            tokens[filled:filled + len(values)] = values
            filled += len(values)
            lengths.append(n)
            is_train.append(np.asarray(batch.column("split").to_pylist()) == "train")
            k = batch.column("repeats").to_numpy(zero_copy_only=False) if counted else np.ones(len(n), np.int32)
            if len(k) and k.min() < 1:
                raise DataError(f"{entry['path']}: a repeats value below 1")
            repeats.append(k.astype(np.int32))
        if filled != total:
            raise DataError(f"{entry['path']}: {filled} tokens, the manifest says {total}")
        tokens.flush()
        del tokens
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        os.replace(tmp, folder / "tokens.npy")
        _save_atomic(folder / "offsets.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        _save_atomic(folder / "is_train.npy", np.concatenate(is_train) if is_train else np.zeros(0, bool))
        _save_atomic(folder / "repeats.npy", np.concatenate(repeats) if repeats else np.zeros(0, np.int32))


class DomainDataset:
    """The samples of one domain and split: document, sample and shuffle indices over its shards."""

    def __init__(self, name: str, shards: list[ShardCache], shard_ids: list[str], split: str, seq_len: int,
                 min_samples: int, seed: int, cache_dir: Path, shuffle: bool = True):
        self.name, self.seq_len, self.shards = name, seq_len, shards
        shard_of, start, length, repeats = [], [], [], []
        for i, sh in enumerate(shards):
            keep = sh.is_train if split == "train" else ~sh.is_train
            idx = np.flatnonzero(keep)
            shard_of.append(np.full(len(idx), i, np.int32))
            start.append(sh.offsets[idx])
            length.append(sh.offsets[idx + 1] - sh.offsets[idx])
            # validation documents are each scored once: the counts are for training
            repeats.append(sh.repeats[idx] if split == "train" else np.ones(len(idx), np.int32))
        self.doc_shard = np.concatenate(shard_of) if shard_of else np.zeros(0, np.int32)
        self.doc_start = np.concatenate(start) if start else np.zeros(0, np.int64)
        self.doc_len = np.concatenate(length) if length else np.zeros(0, np.int64)
        self.doc_repeats = np.concatenate(repeats) if repeats else np.zeros(0, np.int32)
        self.tokens_per_epoch = int((self.doc_len * self.doc_repeats).sum())  # an epoch holds every copy
        # The fewest epochs whose stream holds min_samples samples of seq_len + 1 tokens.
        self.epochs = max(1, math.ceil((min_samples * seq_len + 1) / max(self.tokens_per_epoch, 1)))
        if self.tokens_per_epoch <= seq_len:
            self.epochs = 0
        description = dict(version=INDEX_VERSION, domain=name, split=split, shards=shard_ids, seq_len=seq_len,
                           seed=seed, epochs=self.epochs, shuffle=shuffle)
        key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]
        folder = cache_dir / "index" / key
        if not (folder / "shuffle_idx.npy").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "description.json").write_text(json.dumps(description, indent=1))
            doc_idx, sample_idx, shuffle_idx = self._build(seed, shuffle)
            _save_atomic(folder / "doc_idx.npy", doc_idx)
            _save_atomic(folder / "sample_idx.npy", sample_idx)
            _save_atomic(folder / "shuffle_idx.npy", shuffle_idx)
        self.index_dir = folder
        self.doc_idx = np.load(folder / "doc_idx.npy", mmap_mode="r")
        self.sample_idx = np.load(folder / "sample_idx.npy", mmap_mode="r")
        self.shuffle_idx = np.load(folder / "shuffle_idx.npy", mmap_mode="r")

    def _build(self, seed: int, shuffle: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n_docs, L = len(self.doc_len), self.seq_len
        rng = np.random.default_rng([seed, int.from_bytes(hashlib.sha256(self.name.encode()).digest()[:4], "big")])
        epochs = [epoch_order(rng, self.doc_repeats) if shuffle else np.repeat(np.arange(n_docs), self.doc_repeats)
                  for _ in range(self.epochs)]
        doc_idx = (np.concatenate(epochs) if epochs else np.zeros(0, np.int64)).astype(np.int32)
        cum = np.concatenate([[0], np.cumsum(self.doc_len[doc_idx])])
        n_samples = max(0, (int(cum[-1]) - 1) // L)
        starts = np.arange(n_samples, dtype=np.int64) * L
        pos = np.searchsorted(cum, starts, side="right") - 1
        sample_idx = np.stack([pos, starts - cum[pos]], axis=1).astype(np.int64)
        shuffle_idx = rng.permutation(n_samples) if shuffle else np.arange(n_samples)
        return doc_idx, sample_idx, shuffle_idx.astype(np.int64)

    def __len__(self) -> int:
        return len(self.shuffle_idx)

    def unshuffled(self, j: int) -> np.ndarray:
        """Stream sample j: seq_len + 1 tokens starting at stream token j * seq_len."""
        pos, off = (int(v) for v in self.sample_idx[j])
        need, parts = self.seq_len + 1, []
        while need:
            d = int(self.doc_idx[pos])
            sh = self.shards[self.doc_shard[d]]
            begin = int(self.doc_start[d]) + off
            take = min(need, int(self.doc_len[d]) - off)
            parts.append(sh.tokens[begin:begin + take])
            need -= take
            pos, off = pos + 1, 0
        return np.concatenate(parts).astype(np.int64)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.unshuffled(int(self.shuffle_idx[i]))


def epoch_order(rng: np.random.Generator, repeats: np.ndarray) -> np.ndarray:
    """One epoch of a document index: document d `repeats[d]` times, in a seeded random order where copy j of a
    document with count k is drawn at a place in [j/k, (j+1)/k) of the epoch, so its copies spread over the epoch as
    k epochs of it would, never bunched. Without a count above 1 it is the plain permutation it always was (the same
    seed gives the same order as before counts existed)."""
    if not (repeats > 1).any():
        return rng.permutation(len(repeats))
    docs = np.repeat(np.arange(len(repeats)), repeats)
    copy = np.arange(len(docs)) - np.repeat(np.cumsum(repeats) - repeats, repeats)  # j: which copy of its document
    place = (copy + rng.random(len(docs))) / repeats[docs]
    return docs[np.argsort(place, kind="stable")]


def blend_index(weights: list[float], n: int) -> tuple[np.ndarray, np.ndarray]:
    """For blended samples 0..n-1: which domain, and which of that domain's samples (its k-th).

    Domain d's k-th sample is due at (k + 1/2) / w_d; samples are taken in due order (ties: lower d first).
    """
    due, dom, kth = [], [], []
    for d, w in enumerate(weights):
        if w <= 0:
            continue
        k = np.arange(math.ceil(w * n) + 1, dtype=np.int64)
        due.append((k + 0.5) / w)
        dom.append(np.full(len(k), d, np.int16))
        kth.append(k)
    due, dom, kth = np.concatenate(due), np.concatenate(dom), np.concatenate(kth)
    order = np.lexsort((dom, due))[:n]
    return dom[order], kth[order]


class BlendedDataset:
    """The training stream: domains mixed by weight, cached index (domain, k-th sample) per blended sample."""

    def __init__(self, datasets: list[DomainDataset], weights: list[float], n_samples: int, cache_dir: Path):
        self.datasets, self.weights = datasets, weights
        description = dict(version=INDEX_VERSION, domains=[str(d.index_dir.name) for d in datasets],
                           weights=weights, n=n_samples)
        key = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:24]
        folder = cache_dir / "blend" / key
        if not (folder / "kth.npy").exists():
            folder.mkdir(parents=True, exist_ok=True)
            dom, kth = blend_index(weights, n_samples)
            _save_atomic(folder / "domain.npy", dom)
            _save_atomic(folder / "kth.npy", kth)
        self.domain = np.load(folder / "domain.npy", mmap_mode="r")
        self.kth = np.load(folder / "kth.npy", mmap_mode="r")

    def __len__(self) -> int:
        return len(self.domain)

    def __getitem__(self, i: int) -> np.ndarray:
        ds = self.datasets[int(self.domain[i])]
        return ds[int(self.kth[i]) % len(ds)]


def build_train(manifest: Manifest, seq_len: int, n_samples: int, seed: int, cache_dir: Path,
                max_epochs: float | None, mixture: dict[str, float] | None = None) -> BlendedDataset:
    """The blended training stream of n_samples samples; fails if a domain would exceed its epoch cap. `mixture`
    (`data.weights`) replaces the manifest's domain weights: a domain it leaves out gets 0."""
    if mixture is not None:
        unknown = sorted(set(mixture) - set(manifest.domains))
        if unknown:
            raise DataError(f"data.weights: no domain {unknown[0]!r} in the manifest (it has "
                            f"{', '.join(sorted(manifest.domains))})")
    given = mixture if mixture is not None else {d: float(info.get("weight", 0)) for d, info in manifest.domains.items()}
    names = [d for d in manifest.domains if given.get(d, 0) > 0]
    if not names:
        raise DataError("data.weights: no domain has a positive weight" if mixture is not None
                        else "manifest: no domain has a positive weight")
    total = sum(given[d] for d in names)
    weights = [given[d] / total for d in names]
    caches = _shard_caches(manifest, cache_dir)
    datasets = []
    for name, w in zip(names, weights):
        shards = [(e, c) for e, c in zip(manifest.shards, caches) if e["domain"] == name]
        need = math.ceil(w * n_samples) + 1
        ds = DomainDataset(name, [c for _, c in shards], [e["sha256"] for e, _ in shards], "train", seq_len,
                           need, seed, cache_dir)
        if ds.tokens_per_epoch <= seq_len:
            raise DataError(f"domain {name!r}: {ds.tokens_per_epoch} training tokens, fewer than one sample "
                            f"of {seq_len + 1}")
        cap = max_epochs if max_epochs is not None else float(manifest.domains[name].get("max_epochs", math.inf))
        epochs_used = (need * seq_len + 1) / ds.tokens_per_epoch
        if epochs_used > cap:
            raise DataError(f"domain {name!r}: this run needs {epochs_used:.2f} epochs of its "
                            f"{ds.tokens_per_epoch:,} training tokens (every repeat counted), above its cap of {cap:g} "
                            f"({'data.max_epochs' if max_epochs is not None else 'manifest max_epochs'}); "
                            f"train on fewer tokens or raise data.max_epochs")
        datasets.append(ds)
    return BlendedDataset(datasets, weights, n_samples, cache_dir)


def build_validation(manifest: Manifest, seq_len: int, seed: int, cache_dir: Path,
                     n_samples: int) -> BlendedDataset | None:
    """The validation set: each domain's validation documents (one unshuffled stream per domain), blended by the
    manifest's weights, n_samples samples. Domains with less than one sample of validation tokens are left out;
    None when no domain has one."""
    names = [d for d, info in manifest.domains.items() if float(info.get("weight", 0)) > 0]
    caches = _shard_caches(manifest, cache_dir)
    datasets, weights = [], []
    for name in names:
        shards = [(e, c) for e, c in zip(manifest.shards, caches) if e["domain"] == name]
        ds = DomainDataset(name, [c for _, c in shards], [e["sha256"] for e, _ in shards], "validation", seq_len, 1,
                           seed, cache_dir, shuffle=False)
        if len(ds) > 0:
            datasets.append(ds)
            weights.append(float(manifest.domains[name]["weight"]))
    if not datasets:
        return None
    return BlendedDataset(datasets, [w / sum(weights) for w in weights], n_samples, cache_dir)


_CACHES: dict[tuple[str, str], ShardCache] = {}


def _shard_caches(manifest: Manifest, cache_dir: Path) -> list[ShardCache]:
    out = []
    for e in manifest.shards:
        key = (str(cache_dir), e["sha256"])
        if key not in _CACHES:
            _CACHES[key] = ShardCache(manifest, e, cache_dir)
        out.append(_CACHES[key])
    return out


class Loader:
    """Batches for one data-parallel rank, prepared ahead by a thread; state = samples consumed by all ranks."""

    def __init__(self, dataset, global_batch: int, micro_batch: int, dp_rank: int, dp_size: int,
                 consumed_samples: int = 0, device: torch.device | str = "cpu", prefetch: int = 4):
        self.dataset, self.global_batch, self.micro_batch = dataset, global_batch, micro_batch
        self.dp_rank, self.dp_size = dp_rank, dp_size
        self.consumed_samples = consumed_samples
        self.device = torch.device(device)
        self.pin = self.device.type == "cuda"
        self.wait_s = 0.0  # time the training loop spent blocked on data
        self._queue: queue.Queue = queue.Queue(maxsize=prefetch)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, args=(consumed_samples,), daemon=True)
        self._thread.start()

    def step_samples(self, first: int) -> list[range]:
        """The sample ids of this rank's micro-batches in the global batch starting at sample `first`."""
        per_rank = self.global_batch // self.dp_size
        base = first + self.dp_rank * per_rank
        return [range(base + a, base + a + self.micro_batch) for a in range(0, per_rank, self.micro_batch)]

    def _produce(self, first: int) -> None:
        try:
            while not self._stop.is_set() and first + self.global_batch <= len(self.dataset):
                micro = []
                for ids in self.step_samples(first):
                    batch = torch.from_numpy(np.stack([self.dataset[i] for i in ids]))
                    micro.append(batch.pin_memory() if self.pin else batch)
                self._put(micro)
                first += self.global_batch
        except Exception as e:  # surfaces in the training loop, not lost in the thread
            self._put(e)

    def _put(self, item) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def next(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(inputs, targets) per micro-batch of the next optimizer step, on the device."""
        t0 = time.perf_counter()
        item = self._queue.get()
        self.wait_s += time.perf_counter() - t0
        if isinstance(item, Exception):
            raise item
        self.consumed_samples += self.global_batch
        out = []
        for batch in item:
            batch = batch.to(self.device, non_blocking=True)
            out.append((batch[:, :-1], batch[:, 1:]))
        return out

    def state_dict(self) -> dict:
        return {"consumed_samples": self.consumed_samples}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
