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

    remove_no_terminal_punct_lines: bool = Field(
        DEFAULTS.remove_no_terminal_punct_lines,
        description="drop lines that do not end in a terminal mark (. ! ? closing quote; not ...)")
    min_words_per_line: int = Field(
        DEFAULTS.min_words_per_line, description="drop lines with fewer words (0: keep every line)")
    remove_javascript_lines: bool = Field(
        DEFAULTS.remove_javascript_lines, description="drop lines containing the word 'javascript'")
    remove_policy_lines: bool = Field(
        DEFAULTS.remove_policy_lines,
        description="drop lines naming 'terms of use', 'privacy policy', 'cookie policy', 'uses cookies', …")
    remove_citations: bool = Field(
        DEFAULTS.remove_citations, description="cut citation markers: [1], [citation needed], [edit]")
    min_sentences: int = Field(
        DEFAULTS.min_sentences,
        description="pages with fewer sentences in their kept lines are rejected (kept_sentences)")
    reject_lorem_ipsum: bool = Field(DEFAULTS.reject_lorem_ipsum, description="reject pages containing 'lorem ipsum'")
    reject_curly_bracket: bool = Field(
        DEFAULTS.reject_curly_bracket, description="reject pages containing '{' (code, templates)")
    max_bad_words: int = Field(
        DEFAULTS.max_bad_words, description="pages with more words of bad_words_path are rejected (no list: no rule)")
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
