"""Tokenizer files (HF tokenizers' tokenizer.json): loaded the way the tokenize stage, the token shards and the
commands all need them (with the EOS token found, the vocabulary size and the sha256 of the file), and trained as a
byte-level BPE on a sample of a run's documents (`curate tokenizer train`, `curate demo`, `curate ablate`).

The sample is a seeded hash of `uid` (the same documents on every machine), streamed from the Parquet files the output's
manifest lists. A trained tokenizer has one special token, `<|endoftext|>` (id 0), which the tokenize stage appends as
EOS."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

import pyarrow.parquet as pq

from curate.filters.uid_hash import uid_hash, unit_interval
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, STATS, Output

MAX_BYTES = 1 << 30  # the largest tokenizer.json read (published ones are tens of MB at most)
# Tried in order when `eos_token` is not given: GPT-2/BPE style, SentencePiece/Llama-2, Llama-3, Gemma.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")
UINT16_MAX_VOCAB = 65_535  # docs/FORMAT.md: uint16 shards when every id fits
EOS = "<|endoftext|>"  # the one special token of a tokenizer `train_bpe` makes
SAMPLE_SALT = 0x746F6B656E  # "token": independent of the other hashes of uid


@lru_cache(maxsize=8)
def load_tokenizer(path: str, eos_token: str | None):
    """(Tokenizer, eos_id, vocab_size, sha256) for a tokenizer file; special tokens in text are encoded as text."""
    from tokenizers import Tokenizer

    file = Path(path)
    if not file.is_file():
        raise CurateError(f"tokenizer file {path!r} not found (tokenize.tokenizer)")
    if file.stat().st_size > MAX_BYTES:
        raise CurateError(f"tokenizer file {path!r} is {file.stat().st_size:,} bytes: not a tokenizer.json")
    data = file.read_bytes()
    try:
        tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    except Exception as error:  # noqa: BLE001 - tokenizers raises a plain Exception for a file it cannot read
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise CurateError(f"tokenizer file {path!r} is not a tokenizers JSON file ({first})") from None
    tokenizer.encode_special_tokens = True
    candidates = (eos_token,) if eos_token else EOS_CANDIDATES
    eos_id = next((i for i in (tokenizer.token_to_id(t) for t in candidates) if i is not None), None)
    if eos_id is None:
        raise CurateError(f"{path}: no EOS token {' / '.join(candidates)} in the vocabulary (tokenize.eos_token)")
    return tokenizer, eos_id, tokenizer.get_vocab_size(with_added_tokens=True), hashlib.sha256(data).hexdigest()


def token_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= UINT16_MAX_VOCAB else "int32"


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
