"""tokenize: text -> token ids with a local HF `tokenizers` file; exactly one EOS appended to every document.

Adds `tokens` (list<int32>; the shards store uint16 when the vocabulary fits) and `n_tokens` (the EOS included).
Special-token strings inside a document's text (a web page quoting "<|endoftext|>") are encoded as plain text, so the
appended EOS is the only one. Rules: `empty` (no text); `bad_repeats` where the documents carry a `repeats` column
(a count per document for the trainer, docs/TRAINER.md) and a row's is not a whole number in 1..1000. The shard options (`shard_tokens`, `validation_fraction`,
`seed`) live here too: its collector, the shard writer (stages/shards.py), reads them (docs/SHARDS.md).
"""
from __future__ import annotations

from itertools import chain

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.pipeline.errors import CurateError
from curate.pipeline.output import Folder, Output
from curate.pipeline.registry import register
from curate.pipeline.sections import Report
from curate.pipeline.stage import Collector, Facts, Params, Stage, emit
from curate.pipeline.tokenizer import EOS_CANDIDATES, load_tokenizer
from curate.stages.balance import MIXTURE
from curate.stages.shards import SHARDS, ShardSink, domains_section, manifest_section, mixture_text, repeat_counts


TEST_TEXT = "A short test text, tokenized once when the run is planned."


class TokenizeParams(Params):
    tokenizer: str = Field(description="a local tokenizer.json (HF tokenizers), e.g. from `curate tokenizer train`")
    eos_token: str | None = Field(None, description=f"the EOS token; none = the first of {', '.join(EOS_CANDIDATES)}")
    shard_tokens: int = Field(50_000_000, gt=0, description="tokens per shard file (a shard closes past it)")
    validation_fraction: float = Field(0.005, ge=0, lt=1, description="share of dedup clusters held out")
    seed: int = Field(0, description="seed of the train/validation split hash")


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
    publishes = (SHARDS,)  # its collector's folder: the token shards
    Params = TokenizeParams
    report = Report(domains_section, mixture_text)

    def adds(self) -> dict[str, pa.DataType]:
        return {"tokens": pa.list_(pa.int32()), "n_tokens": pa.int32()}

    def setup(self) -> None:
        self.tokenizer, self.eos_id, self.vocab_size, _ = load_tokenizer(self.params.tokenizer, self.params.eos_token)

    def check_files(self) -> None:
        """The tokenizer file loads, has its EOS, and encodes a test text to ids inside its vocabulary."""
        tokenizer, _, vocab_size, _ = load_tokenizer(self.params.tokenizer, self.params.eos_token)
        ids = tokenizer.encode(TEST_TEXT, add_special_tokens=False).ids
        if not ids or not all(0 <= i < vocab_size for i in ids):
            raise CurateError(f"tokenizer {self.params.tokenizer!r} encodes a test text as {ids[:8]}: not ids of its "
                              f"{vocab_size:,}-token vocabulary")

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        text = batch.column("text")
        empty = pc.fill_null(pc.equal(pc.utf8_length(text), 0), True)
        offsets, values = encode(self.tokenizer, self.eos_id, pc.fill_null(text, "").to_pylist())
        tokens = pa.ListArray.from_arrays(pa.array(offsets), pa.array(values))
        n_tokens = pa.array(np.diff(offsets), pa.int32())
        reasons = pc.if_else(empty, pa.scalar("empty"), pa.scalar(None, pa.string()))
        if "repeats" in batch.schema.names:  # checked here: the shard writer sees kept rows only, it cannot reject
            bad = repeat_counts(batch.column("repeats"))[1]
            reasons = pc.if_else(pc.and_(pc.is_null(reasons), bad), pa.scalar("bad_repeats"), reasons)
        return emit(batch, reasons, tokens=tokens, n_tokens=n_tokens)

    def collector(self, folder: Folder, tag: str) -> Collector:
        """The token shards: `tokens` leaves the kept documents for `shards/<domain>/` (docs/FORMAT.md)."""
        return ShardSink(self.params, folder, tag)

    def result(self, partials: list[list[dict]], output: Output, run: Facts) -> dict:
        return manifest_section(self.params, output, partials, run.published.get(MIXTURE))
