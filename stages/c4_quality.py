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


class C4QualityParams(Params):
    """`curate.filters.c4.Thresholds`, field for field, `keep_signals` and the bad-words file."""

    remove_no_terminal_punct_lines: bool = True
    min_words_per_line: int = 5
    remove_javascript_lines: bool = True
    remove_policy_lines: bool = True
    remove_citations: bool = True
    min_sentences: int = 3
    reject_lorem_ipsum: bool = True
    reject_curly_bracket: bool = True
    max_bad_words: int = 0
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
