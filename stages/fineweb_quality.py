"""fineweb_quality: FineWeb's own quality rules (Penedo et al. 2024, §3.6; `curate.filters.fineweb`) as a stage.

Rejects a document with too few lines ending in punctuation, too many short lines, too many characters in duplicated
lines, or too many list-like lines. The defaults are those of the filter that produced FineWeb; `thresholds: fineweb2`
judges each document by its language's FineWeb-2 config instead (`curate.filters.fineweb2.fineweb_quality`).
"""
from __future__ import annotations

from pydantic import Field

from curate.filters import fineweb
from curate.filters.fineweb2 import fineweb_quality as fineweb2_fineweb_quality
from curate.pipeline.registry import register
from curate.stages.heuristic import HeuristicStage, Judge, LanguageParams


DEFAULTS = fineweb.Thresholds()  # the filter's defaults: Penedo et al. 2024


class FineWebQualityParams(LanguageParams):
    """`curate.filters.fineweb.Thresholds`, field for field (its defaults, the published ones), `keep_signals`, and
    where thresholds come from (`LanguageParams`)."""

    min_line_punct_ratio: float = Field(
        DEFAULTS.min_line_punct_ratio,
        description="documents with a smaller share of lines ending in punctuation are rejected")
    short_line_length: int = Field(
        DEFAULTS.short_line_length, description="a line of at most this many characters is short")
    max_short_line_ratio: float = Field(
        DEFAULTS.max_short_line_ratio, description="documents with this share of short lines or more are rejected")
    max_dup_line_char_fraction: float = Field(
        DEFAULTS.max_dup_line_char_fraction,
        description="documents with this share of characters in repeated lines or more are rejected")
    max_list_ratio: float = Field(
        DEFAULTS.max_list_ratio, description="documents with more newlines per word are rejected (list-like pages)")
    keep_signals: bool = Field(False, description="keep the signal columns to re-threshold later")


@register
class FineWebQuality(HeuristicStage):
    """FineWeb's own rules (Penedo et al. 2024): line punctuation, short lines, duplicated lines, lists."""

    name = "fineweb_quality"
    Params = FineWebQualityParams
    module = fineweb
    fineweb2 = fineweb2_fineweb_quality

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return None, fineweb.signals(text, lang, th=self.thresholds)

    def measure_fineweb2(self, texts: list[str], words: list[list[str]], judge: Judge) -> list[dict[str, float]]:
        return [fineweb2_fineweb_quality.signals(text, ws, judge.thresholds.short_line_length)
                for text, ws in zip(texts, words)]
