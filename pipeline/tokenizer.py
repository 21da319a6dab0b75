"""Loading a tokenizer.json (HF tokenizers) the way the tokenize stage, the token shards and the commands all need it:
with its EOS token found, its vocabulary size and the sha256 of the file."""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from curate.pipeline.errors import CurateError

MAX_BYTES = 1 << 30  # the largest tokenizer.json read (published ones are tens of MB at most)
# Tried in order when `eos_token` is not given: GPT-2/BPE style, SentencePiece/Llama-2, Llama-3, Gemma.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")
UINT16_MAX_VOCAB = 65_535  # docs/FORMAT.md: uint16 shards when every id fits


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
