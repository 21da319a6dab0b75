"""FineWeb's quality rules as FineWeb-2 measured them (datatrove's ``FineWebQualityFilter``), and the thresholds its
pipeline set per language.

The signals keep the names of :mod:`curate.filters.fineweb`; their definitions are datatrove's:

- Lines: the text split on ``\\n``, lines of only whitespace dropped, the others *not* stripped (a line that ends in
  a space or ``\\r`` does not end in punctuation).
- ``line_punct_ratio``: lines whose last character is in
  :data:`curate.filters.fineweb2.punctuation.TERMINAL`, over all lines. A text without a non-blank line scores
  ``-inf``, so the rule rejects it whatever the threshold (datatrove rejects it as ``empty`` first).
- ``short_line_ratio``: lines of at most ``short_line_length`` characters.
- ``dup_line_char_fraction``: characters of the lines that repeat an earlier line, over the text's characters other
  than newlines.
- ``list_ratio``: newlines over words (the language's word tokenizer); a text without words counts its newlines
  (datatrove divides by zero there).

Thresholds (:func:`thresholds`): ``line_punct_thr`` and ``new_line_ratio`` from the language's config; the short-line
rule off and at most 0.1 of the characters in duplicated lines for every language (FineWeb-2's pipeline: it set the
short-line maximum to 999 and changed FineWeb's 0.01 to 0.1). Every rule rejects when its signal is past its bound,
never at it.
"""
from __future__ import annotations

import math

from curate.filters.fineweb import SIGNALS, Thresholds
from curate.filters.fineweb2.configs import LanguageConfig
from curate.filters.fineweb2.punctuation import TERMINAL

__all__ = ["SIGNALS", "signals", "thresholds"]


def signals(text: str, words: list[str], short_line_length: int = 30) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for `text`, whose words (by its language's tokenizer) are `words`."""
    lines = [line for line in text.split("\n") if line.strip()]
    n = len(lines)
    if not n:
        return {"line_punct_ratio": -math.inf, "short_line_ratio": 0.0, "dup_line_char_fraction": 0.0,
                "list_ratio": float(text.count("\n"))}
    seen: set[str] = set()
    repeated = 0
    for line in lines:
        if line in seen:
            repeated += len(line)
        else:
            seen.add(line)
    newlines = text.count("\n")
    return {
        "line_punct_ratio": sum(line[-1] in TERMINAL for line in lines) / n,
        "short_line_ratio": sum(len(line) <= short_line_length for line in lines) / n,
        "dup_line_char_fraction": repeated / (len(text) - newlines),
        "list_ratio": newlines / max(len(words), 1),
    }


def thresholds(config: LanguageConfig) -> Thresholds:
    """The bounds FineWeb-2's pipeline set for `config`'s language (its step 5)."""
    return Thresholds(
        min_line_punct_ratio=config.line_punct_thr,
        short_line_length=30,
        max_short_line_ratio=math.inf,
        max_dup_line_char_fraction=0.1,
        max_list_ratio=config.new_line_ratio,
    )
