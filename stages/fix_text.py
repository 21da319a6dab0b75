"""fix_text: repairs `text` — ftfy's encoding fixes (mojibake, entities, control characters) and trafilatura's
table artefacts (lines of nothing but `|`) — as FineWeb-2's final touches do; rejects nothing.

The pure core is :mod:`curate.filters.repair`. A stage, not an `extract` option: text from JSONL, Parquet or WET
input never passes through `extract` and carries mojibake as often as HTML does, and FineWeb-2 repairs after its
quality filters (their thresholds were measured on the unrepaired text), which a place of its own in the pipeline
allows. Adds `text_fixed` (int8: 1 when ftfy changed the text) and `table_lines_removed` (int32); the run report sums
both over the kept documents (documents changed, lines removed).
"""
from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from curate.filters.repair import fix_encoding, table_lines, text_fixer
from curate.pipeline.registry import register
from curate.pipeline.sections import COUNTS
from curate.pipeline.stage import Params, Stage, emit


class FixTextParams(Params):
    encoding: bool = Field(True, description="repair encoding damage with ftfy (mojibake, HTML entities, control "
                                             "characters, terminal escapes, lone surrogates)")
    table_lines: bool = Field(True, description="replace each run of lines made of `|` and spaces (trafilatura's "
                                                "empty table rows) with one empty line")
    unescape_html: Literal["auto"] | bool = Field("auto", description="ftfy: decode HTML entities (auto: unless the "
                                                                      "text holds HTML tags)")
    uncurl_quotes: bool = Field(False, description="ftfy: curly quotes to straight ones")
    fix_character_width: bool = Field(False, description="ftfy: full-width Latin letters and half-width Katakana to "
                                                         "their usual width (also changes CJK punctuation)")
    fix_latin_ligatures: bool = Field(False, description="ftfy: ligatures such as ﬁ to their letters")
    fix_line_breaks: bool = Field(False, description="ftfy: \\r\\n, \\r and Unicode line breaks to \\n")
    normalization: Literal["NFC", "NFKC", "NFD", "NFKD"] | None = Field(None, description="ftfy: Unicode "
                                                                                          "normalisation; none = keep")


@register
class FixText(Stage):
    """Text repair: ftfy's encoding fixes and trafilatura's table-artefact lines; modifies text, rejects nothing."""

    name = "fix_text"
    Params = FixTextParams
    report = COUNTS  # the run report sums the counts it adds

    def adds(self) -> dict[str, pa.DataType]:
        return {"text_fixed": pa.int8(), "table_lines_removed": pa.int32()}

    def modifies(self) -> tuple[str, ...]:
        return ("text",)

    def setup(self) -> None:
        p = self.params
        self.fixer = text_fixer(unescape_html=p.unescape_html, uncurl_quotes=p.uncurl_quotes,
                                fix_character_width=p.fix_character_width, fix_latin_ligatures=p.fix_latin_ligatures,
                                fix_line_breaks=p.fix_line_breaks, normalization=p.normalization)

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text")
        fixed = pa.array([False] * batch.num_rows)
        if self.params.encoding:
            repaired, changed = fix_encoding(texts.to_pylist(), self.fixer)
            texts, fixed = pa.array(repaired, pa.string()), pa.array(changed)
        removed = pa.array([0] * batch.num_rows, pa.int32())
        if self.params.table_lines:
            texts, removed = table_lines(texts)
        return emit(batch, pa.nulls(batch.num_rows, pa.string()), text=texts, text_fixed=fixed.cast(pa.int8()),
                    table_lines_removed=removed)
