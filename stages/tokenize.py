"""tokenize: text -> token ids with a local HF `tokenizers` file; exactly one EOS appended to every document.

Adds `tokens` (list<int32>; the shards store uint16 when the vocabulary fits) and `n_tokens` (the EOS included).
Special-token strings inside a document's text (a web page quoting "<|endoftext|>") are encoded as plain text, so the
appended EOS is the only one. Rule: `empty` (no text). The shard options (`shard_tokens`, `validation_fraction`,
`seed`) live here too: the last pass's shard writer reads them (docs/SHARDS.md).
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from itertools import chain
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit

# Tried in order when `eos_token` is not given: GPT-2/BPE style, SentencePiece/Llama-2, Llama-3, Gemma.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")
UINT16_MAX_VOCAB = 65_535  # docs/FORMAT.md: uint16 shards when every id fits


class TokenizeParams(Params):
    tokenizer: str = Field(description="a local tokenizer.json (HF tokenizers), e.g. from `curate tokenizer train`")
    eos_token: str | None = Field(None, description=f"the EOS token; none = the first of {', '.join(EOS_CANDIDATES)}")
    shard_tokens: int = Field(50_000_000, gt=0, description="tokens per shard file (a shard closes past it)")
    validation_fraction: float = Field(0.005, ge=0, lt=1, description="share of dedup clusters held out")
    seed: int = Field(0, description="seed of the train/validation split hash")


@lru_cache(maxsize=8)
def load_tokenizer(path: str, eos_token: str | None):
    """(Tokenizer, eos_id, vocab_size, sha256) for a tokenizer file; special tokens in text are encoded as text."""
    from tokenizers import Tokenizer

    file = Path(path)
    if not file.is_file():
        raise CurateError(f"tokenizer file {path!r} not found (tokenize.tokenizer)")
    data = file.read_bytes()
    tokenizer = Tokenizer.from_str(data.decode("utf-8"))
    tokenizer.encode_special_tokens = True
    candidates = (eos_token,) if eos_token else EOS_CANDIDATES
    eos_id = next((i for i in (tokenizer.token_to_id(t) for t in candidates) if i is not None), None)
    if eos_id is None:
        raise CurateError(f"{path}: no EOS token {' / '.join(candidates)} in the vocabulary (tokenize.eos_token)")
    return tokenizer, eos_id, tokenizer.get_vocab_size(with_added_tokens=True), hashlib.sha256(data).hexdigest()


def token_dtype(vocab_size: int) -> str:
    return "uint16" if vocab_size <= UINT16_MAX_VOCAB else "int32"


def encode(tokenizer, eos_id: int, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int32 of len n + 1, token values int32) of `texts`, each followed by one EOS."""
    ids = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    lengths = np.fromiter(map(len, ids), np.int64, len(ids))
    flat = np.fromiter(chain.from_iterable(ids), np.int32, int(lengths.sum()))
    ends = np.cumsum(lengths)
    values = np.insert(flat, ends, eos_id)  # one EOS after each document's ids
    offsets = np.concatenate([[0], ends + np.arange(1, len(ids) + 1)]).astype(np.int32)
    return offsets, values


@register
class Tokenize(Stage):
    """Tokenization with a local tokenizer.json; one EOS per document; feeds the token shards."""

    name = "tokenize"
    files = ("tokenizer",)
    Params = TokenizeParams

    def adds(self) -> dict[str, pa.DataType]:
        return {"tokens": pa.list_(pa.int32()), "n_tokens": pa.int32()}

    def setup(self) -> None:
        self.tokenizer, self.eos_id, self.vocab_size, _ = load_tokenizer(self.params.tokenizer, self.params.eos_token)

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        text = batch.column("text")
        empty = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True)
        offsets, values = encode(self.tokenizer, self.eos_id, pc.fill_null(text, "").to_pylist())
        tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
        n_tokens = pa.array(np.diff(offsets), pa.int32())
        reasons = pc.if_else(empty, pa.scalar("empty"), pa.scalar(None, pa.string()))
        return emit(batch, reasons, tokens=tokens, n_tokens=n_tokens)
