"""`curate tokenizer train`: a byte-level BPE tokenizer trained on a sample of a pipeline output's documents.

The sample is a seeded hash of `uid` (the same documents on every machine), streamed from the Parquet files the output's
manifest lists. The tokenizer has one special token, `<|endoftext|>` (id 0), which the tokenize stage appends as EOS.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow.parquet as pq

from curate.filters.uid_hash import uid_hash, unit_interval
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, STATS, Output

EOS = "<|endoftext|>"
SAMPLE_SALT = 0x746F6B656E  # "token": independent of the other hashes of uid


def train_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2):
    """A byte-level BPE `tokenizers.Tokenizer` trained on `texts`, with EOS as its only special token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=[EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def sample_texts(output_dir: str, sample: int, seed: int = 0) -> Iterator[str]:
    """About `sample` documents of a finished output, chosen by a seeded hash of their uid."""
    output = Output(str(output_dir))
    if not output.exists(MANIFEST):
        raise CurateError(f"{output_dir}: no {MANIFEST} (not a finished curate output)")
    manifest = output.read_json(MANIFEST)
    kept = output.read_json(STATS).get("kept", 0) if output.exists(STATS) else 0
    rate = 1.0 if not kept else min(1.0, sample / kept)
    for path in manifest.get("documents", []):
        with output.fs.open(output.path(path), "rb") as f:
            for batch in pq.ParquetFile(f).iter_batches(columns=["uid", "text"]):
                chosen = unit_interval(uid_hash(batch.column("uid"), seed, SAMPLE_SALT)) < rate
                for text, take in zip(batch.column("text").to_pylist(), chosen):
                    if take and text:
                        yield text


def train_tokenizer(output_dir: str, vocab_size: int = 32_000, sample: int = 100_000, out_path: str | None = None,
                    seed: int = 0) -> Path:
    """Train on about `sample` documents of `output_dir`; writes the tokenizer.json to `out_path`, returns it."""
    if vocab_size < 257:
        raise CurateError(f"--vocab-size {vocab_size}: a byte-level BPE needs at least 257 (256 bytes + EOS)")
    out = Path(out_path) if out_path else Path(output_dir) / "tokenizer.json"
    texts = sample_texts(output_dir, sample, seed)
    tokenizer = train_bpe(texts, vocab_size)
    if tokenizer.get_vocab_size() <= 257:
        raise CurateError(f"{output_dir}: no documents to train on")
    out.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(out))
    return out
