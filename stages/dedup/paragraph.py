"""paragraph_dedup: paragraphs (or lines) repeated across the corpus — navigation, cookie banners, legal text — cut.

A global stage, after CCNet (Wenzek et al. 2020, §3.1: lines hashed after normalisation, duplicates across a shard
group removed) and Dolma (Soldaini et al. 2024, §3: repeated paragraphs removed). A *unit* is a paragraph (text
between blank lines) or a line. Its key is a 64-bit hash of the unit normalised as CCNet does (lower case, accents
and punctuation removed, digits → 0, whitespace collapsed); units that normalise to nothing have no key and stay.

Keys per document (never text): `uid`, and `units` — one (hash, positions) per distinct keyed unit, with every
position the unit holds in the document. A document counts once per hash however often it repeats the unit (a
paragraph repeated inside one page and nowhere else is that page's business: Gopher's repetition rules judge it). The
engine's plan counts, over the whole corpus, the documents each hash appears in, keeps the hashes seen in more than
`max_count` documents (:class:`RepeatedUnits`, the same call on both engines), and gives each document the positions of its
units to cut (`paragraphs_removed`, the unit positions in the text as it arrived; null when none). Applying the
decision (:meth:`ParagraphDedup.revise`, per file) rewrites `text` without those units; a document left with fewer
than `min_words` words is rejected `paragraph_dedup:too_short`: whitespace words by default, the language's word
tokenizer with `language: auto` (each document's `lang`) or a fixed code (:mod:`curate.stages.dedup.language`) — a
Chinese or Thai page has one whitespace "word" per sentence, so `min_words` means nothing there without it.

Every occurrence goes, the first included (as CCNet), and every copy inside a document: nothing decides which page,
or which place on a page, a banner "belongs" to.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field, field_validator

from curate.pipeline.estimate import Estimate, KeySample
from curate.pipeline.registry import register
from curate.pipeline.stage import GlobalStage, Params
from curate.stages.dedup.language import AUTO, LANGUAGE, check_installed, language_columns, words_of
from curate.stages.dedup.report import CLUSTER_SIZES

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_DIGIT = re.compile(r"\d")
_SPACE = re.compile(r"\s+")


class ParagraphDedupParams(Params):
    unit: Literal["line", "paragraph"] = Field("line", description="line, or paragraph (text between blank lines)")
    max_count: int = Field(1, ge=1, description="a unit in more documents than this is cut from all of them")
    min_words: int = Field(10, ge=0, description="a document left with fewer words is rejected too_short")
    language: str | None = LANGUAGE

    @field_validator("language")
    @classmethod
    def _installed(cls, language: str | None) -> str | None:
        return check_installed(language)


def split_units(text: str, unit: str) -> list[str]:
    """The text's units, in order; joining them with their separator gives the text back."""
    return text.split("\n") if unit == "line" else _BLANK_LINE.split(text)


def normalise(unit: str) -> str:
    """CCNet's normalisation: lower case, accents and punctuation removed, digits → 0, whitespace collapsed."""
    decomposed = unicodedata.normalize("NFD", unit.lower())
    kept = "".join(c for c in decomposed if unicodedata.category(c)[0] not in "PM")
    return _SPACE.sub(" ", _DIGIT.sub("0", kept)).strip()


def unit_keys(text: str | None, unit: str) -> tuple[list[int], list[list[int]]]:
    """(hashes, positions) of a text's keyed units: each distinct hash once, in order of first appearance, with
    every position it holds."""
    positions: dict[int, list[int]] = {}
    for position, part in enumerate(split_units(text or "", unit)):
        normal = normalise(part)
        if normal:
            positions.setdefault(xxhash.xxh3_64_intdigest(normal.encode()) - (1 << 63), []).append(position)
    return list(positions), list(positions.values())


@dataclass(frozen=True)
class RepeatedUnits:
    """paragraph_dedup's decision, as both engines' plans call it on counted unit hashes: True where a unit is in
    more than `max_count` documents (it is cut from all of them)."""

    max_count: int

    def repeated(self, documents: np.ndarray) -> np.ndarray:
        return np.asarray(documents) > self.max_count


def cut(text: str, positions: list[int], unit: str) -> str:
    """`text` without the units at `positions` (positions as `split_units` numbers them)."""
    drop = set(positions)
    parts = split_units(text, unit)
    separator = "\n" if unit == "line" else "\n\n"
    return separator.join(p for i, p in enumerate(parts) if i not in drop)


@register
class ParagraphDedup(GlobalStage):
    """Repeated paragraphs (or lines) across the corpus cut from every document; too little left, rejected."""

    name = "paragraph_dedup"
    Params = ParagraphDedupParams
    report = CLUSTER_SIZES

    def requires(self) -> tuple[str, ...]:
        return ("text", *language_columns(self.params.language))

    def adds(self) -> dict[str, pa.DataType]:
        return {"paragraphs_removed": pa.list_(pa.int32())}

    def modifies(self) -> tuple[str, ...]:
        return ("text",)

    def defaults(self) -> dict[str, Any]:
        return {"paragraphs_removed": None}

    def key_schema(self) -> pa.Schema:
        return pa.schema([("uid", pa.binary(16)),
                          ("units", pa.list_(pa.struct([("hash", pa.int64()), ("positions", pa.list_(pa.int32()))])))])

    def policy(self) -> RepeatedUnits:
        return RepeatedUnits(self.params.max_count)

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        units = []
        for text in batch.column("text").to_pylist():
            hashes, positions = unit_keys(text, self.params.unit)
            units.append([{"hash": h, "positions": p} for h, p in zip(hashes, positions)])
        return pa.RecordBatch.from_arrays([batch.column("uid"), pa.array(units, self.key_schema().field("units").type)],
                                          schema=self.key_schema())

    def estimate(self, sample: KeySample) -> Estimate:
        """What the plan moves: one (hash, count) row per distinct unit of a document (the documents per hash, with
        map-side partial counts); the repeated hashes are few and broadcast to the units, so only the repeated units'
        (uid, file_key, hash, positions) rows move, twice (gathered per document, then its cuts written by input
        file). Every row of one hash lands on one task: the largest group is the most repeated unit's documents. A
        task holds two buffers at once (the aggregation, the collection per document)."""
        keys = sample.keys
        units = pc.list_flatten(keys.column("units").combine_chunks())
        n = len(units)
        counts = pc.value_counts(units.field("hash")).field("counts") if n else pa.array([], pa.int64())
        repeated = pc.sum(pc.if_else(pc.greater(counts, self.params.max_count), counts, 0)).as_py() or 0
        file_key = keys.column("file_key").nbytes / max(1, keys.num_rows) if "file_key" in keys.column_names else 0
        row = (units.nbytes / max(1, n)) + 16 + file_key  # the unit, its document's uid and file key
        shuffle = sample.scaled(n) * (8 + 8) + 2 * sample.scaled(repeated) * row
        largest = sample.largest(counts)
        return Estimate(sample.documents, sample.key_bytes, round(shuffle), largest,
                        sample.held(sample.scaled(n) * 16, largest * row), buffers=2,
                        bounds={"unit": self.params.unit, "max_count": self.params.max_count,
                                "units": f"{sample.scaled(n):,}"},
                        suggestion="the largest group is one unit repeated in that many documents (boilerplate): "
                        "remove it first (a line filter), or give workers more memory")

    def revise(self, batch: pa.RecordBatch, reasons: pa.Array) -> tuple[pa.RecordBatch, pa.Array]:
        """The decided units cut from `text`; a document left with fewer than `min_words` words is too short."""
        removed = batch.column("paragraphs_removed").to_pylist()
        texts = batch.column("text").to_pylist()
        out_texts, out_reasons = [], reasons.to_pylist()
        for i, (text, positions) in enumerate(zip(texts, removed)):
            if positions and text is not None:
                text = cut(text, positions, self.params.unit)
                if out_reasons[i] is None and self._word_count(batch, i, text) < self.params.min_words:
                    out_reasons[i] = "too_short"
            out_texts.append(text)
        index = batch.schema.get_field_index("text")
        return batch.set_column(index, "text", pa.array(out_texts, pa.string())), pa.array(out_reasons, pa.string())

    def _word_count(self, batch: pa.RecordBatch, row: int, text: str) -> int:
        """The words of `text` (row `row`'s, cut): whitespace words, or by the row's language's word tokenizer."""
        language = self.params.language
        if language is None:
            return len(text.split())
        lang = batch.column("lang")[row].as_py() if language == AUTO else language
        return len(words_of([text], [lang])[0])
