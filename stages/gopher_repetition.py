"""gopher_repetition: Gopher's repetition rules (Rae et al. 2021, Table A1; `curate.filters.gopher_repetition`).

Rejects a document whose duplicated lines or paragraphs, most frequent 2-4-grams or duplicated 5-10-grams cover more
than the paper's fraction of it. The defaults are Table A1's; `thresholds: fineweb2` judges each document by its
language's FineWeb-2 config instead (`curate.filters.fineweb2.gopher_repetition`).
"""
from __future__ import annotations

from pydantic import Field

from curate.filters import gopher_repetition
from curate.filters.fineweb2 import gopher_repetition as fineweb2_gopher_repetition
from curate.pipeline.registry import register
from curate.stages.heuristic import HeuristicStage, Judge, LanguageParams


DEFAULTS = gopher_repetition.Thresholds()  # the filter's defaults: Rae et al. 2021, Table A1


class GopherRepetitionParams(LanguageParams):
    """`curate.filters.gopher_repetition.Thresholds`, field for field (its defaults, the published ones),
    `keep_signals`, and where thresholds come from (`LanguageParams`)."""

    max_dup_line_fraction: float = Field(
        DEFAULTS.max_dup_line_fraction, description="rejected above this share of lines that repeat an earlier line")
    max_dup_paragraph_fraction: float = Field(
        DEFAULTS.max_dup_paragraph_fraction,
        description="rejected above this share of paragraphs that repeat an earlier one")
    max_dup_line_char_fraction: float = Field(
        DEFAULTS.max_dup_line_char_fraction, description="rejected above this share of characters in repeated lines")
    max_dup_paragraph_char_fraction: float = Field(
        DEFAULTS.max_dup_paragraph_char_fraction,
        description="rejected above this share of characters in repeated paragraphs")
    max_top_2gram_char_fraction: float = Field(
        DEFAULTS.max_top_2gram_char_fraction,
        description="rejected above this share of characters in the most frequent 2-gram")
    max_top_3gram_char_fraction: float = Field(
        DEFAULTS.max_top_3gram_char_fraction,
        description="rejected above this share of characters in the most frequent 3-gram")
    max_top_4gram_char_fraction: float = Field(
        DEFAULTS.max_top_4gram_char_fraction,
        description="rejected above this share of characters in the most frequent 4-gram")
    max_dup_5gram_char_fraction: float = Field(
        DEFAULTS.max_dup_5gram_char_fraction, description="rejected above this share of characters in repeated 5-grams")
    max_dup_6gram_char_fraction: float = Field(
        DEFAULTS.max_dup_6gram_char_fraction, description="rejected above this share of characters in repeated 6-grams")
    max_dup_7gram_char_fraction: float = Field(
        DEFAULTS.max_dup_7gram_char_fraction, description="rejected above this share of characters in repeated 7-grams")
    max_dup_8gram_char_fraction: float = Field(
        DEFAULTS.max_dup_8gram_char_fraction, description="rejected above this share of characters in repeated 8-grams")
    max_dup_9gram_char_fraction: float = Field(
        DEFAULTS.max_dup_9gram_char_fraction, description="rejected above this share of characters in repeated 9-grams")
    max_dup_10gram_char_fraction: float = Field(
        DEFAULTS.max_dup_10gram_char_fraction,
        description="rejected above this share of characters in repeated 10-grams")
    keep_signals: bool = Field(False, description="keep the signal columns to re-threshold later")


@register
class GopherRepetition(HeuristicStage):
    """Gopher repetition rules (Rae et al. 2021, Table A1): duplicate lines, paragraphs and n-grams."""

    name = "gopher_repetition"
    Params = GopherRepetitionParams
    module = gopher_repetition
    fineweb2 = fineweb2_gopher_repetition

    def measure_fineweb2(self, texts: list[str], words: list[list[str]], judge: Judge) -> list[dict[str, float]]:
        return fineweb2_gopher_repetition.signals_of(texts, words)  # the n-grams of many texts counted at once
