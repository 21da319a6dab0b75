"""gopher_quality: Gopher's quality rules (Rae et al. 2021, App. A.1.1; `curate.filters.gopher_quality`) as a stage.

Rejects a document outside the word-count and mean-word-length ranges, with too many hash or ellipsis symbols,
bullet or ellipsis lines, too few alphabetic words or too few stop words. The defaults are the paper's;
`thresholds: fineweb2` judges each document by its language's FineWeb-2 config and stop words instead
(`curate.filters.fineweb2.gopher_quality`).
"""
from __future__ import annotations

from pydantic import Field

from curate.filters import gopher_quality
from curate.filters.fineweb2 import gopher_quality as fineweb2_gopher_quality
from curate.pipeline.registry import register
from curate.stages.heuristic import HeuristicStage, Judge, LanguageParams


DEFAULTS = gopher_quality.Thresholds()  # the filter's defaults: Rae et al. 2021, App. A.1.1


class GopherQualityParams(LanguageParams):
    """`curate.filters.gopher_quality.Thresholds`, field for field (its defaults, the published ones),
    `keep_signals`, and where thresholds come from (`LanguageParams`)."""

    min_words: int = Field(DEFAULTS.min_words, description="documents with fewer words are rejected (word_count)")
    max_words: int = Field(DEFAULTS.max_words, description="documents with more words are rejected (word_count)")
    min_mean_word_length: float = Field(
        DEFAULTS.min_mean_word_length,
        description="documents whose mean word length in characters is below this are rejected")
    max_mean_word_length: float = Field(
        DEFAULTS.max_mean_word_length,
        description="documents whose mean word length in characters is above this are rejected")
    max_hash_ratio: float = Field(DEFAULTS.max_hash_ratio, description="documents with more '#' per word are rejected")
    max_ellipsis_ratio: float = Field(
        DEFAULTS.max_ellipsis_ratio, description="documents with more ellipses ('...', '…') per word are rejected")
    max_bullet_line_fraction: float = Field(
        DEFAULTS.max_bullet_line_fraction,
        description="documents with a larger share of lines starting with a bullet are rejected")
    max_ellipsis_line_fraction: float = Field(
        DEFAULTS.max_ellipsis_line_fraction,
        description="documents with a larger share of lines ending in an ellipsis are rejected")
    min_alpha_word_fraction: float = Field(
        DEFAULTS.min_alpha_word_fraction,
        description="documents with a smaller share of words holding a letter are rejected")
    min_stop_words: int = Field(
        DEFAULTS.min_stop_words,
        description="English documents with fewer of Gopher's stop words (the, be, to, of, …) are rejected")
    punctuation_tokens: bool = Field(
        DEFAULTS.punctuation_tokens,
        description="count punctuation as words of its own in the ratios, as datatrove (FineWeb) does")
    keep_signals: bool = Field(False, description="keep the signal columns to re-threshold later")


@register
class GopherQuality(HeuristicStage):
    """Gopher quality rules (Rae et al. 2021, App. A.1.1): word count and length, symbols, bullets, stop words."""

    name = "gopher_quality"
    Params = GopherQualityParams
    module = gopher_quality
    fineweb2 = fineweb2_gopher_quality

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return None, gopher_quality.signals(text, lang, self.thresholds.punctuation_tokens)

    def measure_fineweb2(self, texts: list[str], words: list[list[str]], judge: Judge) -> list[dict[str, float]]:
        return [fineweb2_gopher_quality.signals(text, ws, judge.config.stopwords) for text, ws in zip(texts, words)]
