"""`curate tokenizer train`: a byte-level BPE tokenizer trained on a sample of a pipeline output's documents.

The sample is a seeded hash of `uid` (the same documents on every machine), streamed from the Parquet files the output's
manifest lists. The tokenizer has one special token, `<|endoftext|>` (id 0), which the tokenize stage appends as EOS.
"""
from __future__ import annotations

from pathlib import Path

from curate.pipeline.errors import CurateError
from curate.pipeline.tokenizer import sample_texts, train_bpe


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
