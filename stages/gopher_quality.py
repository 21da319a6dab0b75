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

    min_words: int = DEFAULTS.min_words
    max_words: int = DEFAULTS.max_words
    min_mean_word_length: float = DEFAULTS.min_mean_word_length
    max_mean_word_length: float = DEFAULTS.max_mean_word_length
    max_hash_ratio: float = DEFAULTS.max_hash_ratio
    max_ellipsis_ratio: float = DEFAULTS.max_ellipsis_ratio
    max_bullet_line_fraction: float = DEFAULTS.max_bullet_line_fraction
    max_ellipsis_line_fraction: float = DEFAULTS.max_ellipsis_line_fraction
    min_alpha_word_fraction: float = DEFAULTS.min_alpha_word_fraction
    min_stop_words: int = DEFAULTS.min_stop_words
    # count punctuation as words in the ratios, as datatrove (FineWeb) does
    punctuation_tokens: bool = DEFAULTS.punctuation_tokens
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

    def measure_fineweb2(self, text: str, words: list[str], judge: Judge) -> dict[str, float]:
        return fineweb2_gopher_quality.signals(text, words, judge.config.stopwords)
