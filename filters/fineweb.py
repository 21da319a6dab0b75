"""FineWeb's custom quality filters (Penedo et al. 2024, "The FineWeb Datasets: Decanting the Web for the Finest Text
Data at Scale", §3.6 and Appendix E.4), applied after the Gopher and C4 filters in the FineWeb recipe.

=====================================================  ===============  ====================  =====================
Rule                                                   §3.6 text        used for the dataset  Signal / rule name
=====================================================  ===============  ====================  =====================
fraction of lines ending with punctuation              remove <= 0.12   remove < 0.12         ``line_punct_ratio``
fraction of short lines (30 characters, see below)     remove >= 0.67   remove >= 0.67        ``short_line_ratio``
fraction of characters in duplicated lines             remove >= 0.1    remove >= 0.01        ``dup_line_char_fraction``
newlines per word ("list ratio")                       —                remove > 0.3          ``list_ratio``
=====================================================  ===============  ====================  =====================

Where the paper's §3.6 prose and the filter that produced the released dataset differ, the defaults follow the
dataset: the duplicated-line threshold 0.01 is the value in the paper's Appendix E.4 table and in the released
filter (datatrove ``FineWebQualityFilter``); §3.6 says 0.1. The list-ratio rule is in the released filter only. §3.6
calls a line short when it is "shorter than 30 characters"; the released filter when it has at most 30, which we
follow. The released filter keeps a punctuation ratio of exactly 0.12.
Set ``max_dup_line_char_fraction=0.1`` for the §3.6 variant.

Definitions:

- Lines: :func:`curate.filters.text.lines` (split on ``\\n``, stripped, blank lines dropped). Line length in
  characters, after stripping.
- Punctuation at a line's end: ``.``, ``!``, ``?``, ``"``, ``'`` (the released filter's set), plus the typographic
  closing quotes ``”`` ``’`` and the sentence-final marks of other scripts
  (:data:`curate.filters.text.SENTENCE_END_MARKS`: ``。`` ``।`` ``؟`` ...), as FineWeb-2 does per language.
- Duplicated lines: a line identical to an earlier line of the document (repeats only, the first occurrence is the
  original); characters of the repeats over the characters of all lines — the same measure as Gopher's duplicate
  line character fraction (:mod:`curate.filters.gopher_repetition`), with FineWeb's threshold.
- List ratio: newline characters in the raw text (blank lines included) per word
  (:func:`curate.filters.text.words`); a text with no words counts its newlines.

A document with no non-blank line has a punctuation ratio of 0 and is rejected by the first rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from curate.filters.text import SENTENCE_END_MARKS, lines, words

__all__ = ["SIGNALS", "Thresholds", "signals", "reject"]

SIGNALS: tuple[str, ...] = ("line_punct_ratio", "short_line_ratio", "dup_line_char_fraction", "list_ratio")


@dataclass(frozen=True)
class Thresholds:
    """Defaults of the filter that produced FineWeb (Penedo et al. 2024, Appendix E.4; datatrove's release)."""

    min_line_punct_ratio: float = 0.12  # rejected when below (§3.6: "<= 0.12")
    short_line_length: int = 30  # a line of at most this many characters is short
    max_short_line_ratio: float = 0.67  # rejected when at or above
    max_dup_line_char_fraction: float = 0.01  # rejected when at or above (§3.6 text: 0.1)
    max_list_ratio: float = 0.3  # rejected when above


_LINE_END = (*SENTENCE_END_MARKS, '"', "'", "\u201d", "\u2019")


def signals(text: str, lang: str | None = None, *, th: Thresholds = Thresholds()) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for ``text``. ``th.short_line_length`` decides which lines are short; ``lang``
    is unused (segmentation follows the script)."""
    ls = lines(text)
    n = len(ls)
    punct = short = total = dup = 0
    seen: set[str] = set()
    for s in ls:
        size = len(s)
        total += size
        if s.endswith(_LINE_END):
            punct += 1
        if size <= th.short_line_length:
            short += 1
        if s in seen:
            dup += size
        else:
            seen.add(s)
    n_words = len(words(text))
    return {
        "line_punct_ratio": punct / n if n else 0.0,
        "short_line_ratio": short / n if n else 0.0,
        "dup_line_char_fraction": dup / total if total else 0.0,
        "list_ratio": text.count("\n") / max(n_words, 1),
    }


def reject(sig: dict[str, float], th: Thresholds = Thresholds()) -> str | None:
    """The rule name of the first rule that fails (e.g. 'line_punct_ratio'), or None when the text passes."""
    if sig["line_punct_ratio"] < th.min_line_punct_ratio:
        return "line_punct_ratio"
    if sig["short_line_ratio"] >= th.max_short_line_ratio:
        return "short_line_ratio"
    if sig["dup_line_char_fraction"] >= th.max_dup_line_char_fraction:
        return "dup_line_char_fraction"
    if sig["list_ratio"] > th.max_list_ratio:
        return "list_ratio"
    return None
