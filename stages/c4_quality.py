"""c4_quality: C4's cleaning rules (Raffel et al. 2020, §2.2; `curate.filters.c4`) as a stage that rewrites `text`.

Removes the lines C4 drops (no terminal punctuation, too few words, javascript, policy boilerplate) and citation
markers, then rejects the page with too few sentences, lorem ipsum, a curly bracket or too many of the user's bad words.
"""
from __future__ import annotations

from pathlib import Path

from pydantic import Field

from curate.filters import c4
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params
from curate.stages.heuristic import HeuristicStage


DEFAULTS = c4.Thresholds()  # the filter's defaults: Raffel et al. 2020, §2.2


class C4QualityParams(Params):
    """`curate.filters.c4.Thresholds`, field for field (its defaults, the published ones), `keep_signals` and the
    bad-words file."""

    remove_no_terminal_punct_lines: bool = DEFAULTS.remove_no_terminal_punct_lines
    min_words_per_line: int = DEFAULTS.min_words_per_line
    remove_javascript_lines: bool = DEFAULTS.remove_javascript_lines
    remove_policy_lines: bool = DEFAULTS.remove_policy_lines
    remove_citations: bool = DEFAULTS.remove_citations
    min_sentences: int = DEFAULTS.min_sentences
    reject_lorem_ipsum: bool = DEFAULTS.reject_lorem_ipsum
    reject_curly_bracket: bool = DEFAULTS.reject_curly_bracket
    max_bad_words: int = DEFAULTS.max_bad_words
    keep_signals: bool = Field(False, description="keep the signal columns to re-threshold later")
    bad_words_path: str | None = Field(None, description="file of bad words, one a line")


@register
class C4Quality(HeuristicStage):
    """C4 rules (Raffel et al. 2020, §2.2): drops lines (no end mark, short, javascript, policy), then pages."""

    name = "c4_quality"
    Params = C4QualityParams
    files = ("bad_words_path",)
    module = c4

    def modifies(self) -> tuple[str, ...]:
        return ("text",)

    def setup(self) -> None:
        super().setup()
        self.bad_words = None
        if self.params.bad_words_path:
            path = Path(self.params.bad_words_path)
            try:
                self.bad_words = c4.BadWords.of(path.read_text(encoding="utf-8").splitlines())
            except OSError as error:
                raise CurateError(f"c4_quality.bad_words_path {str(path)!r}: {error.strerror}") from None

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return c4.clean(text, lang, th=self.thresholds, bad_words=self.bad_words)
