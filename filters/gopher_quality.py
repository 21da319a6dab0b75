"""Gopher quality filter: document-level heuristics of MassiveWeb (Rae et al. 2021, "Scaling Language Models: Methods,
Analysis & Insights from Training Gopher", Appendix A.1.1, "Quality filtering").

The paper removes any document that:

==============================================================  ==========================================
Rule (paper's wording, abridged)                                Rule name / signal here
==============================================================  ==========================================
does not contain between 50 and 100,000 words                   ``word_count``
has a mean word length outside the range of 3 to 10 characters  ``mean_word_length``
has a symbol-to-word ratio greater than 0.1 for the hash        ``hash_ratio``
symbol or the ellipsis                                          ``ellipsis_ratio``
has more than 90% of lines starting with a bullet point         ``bullet_line_fraction``
has more than 30% of lines ending with an ellipsis              ``ellipsis_line_fraction``
has fewer than 80% of words with at least one alphabetic char.  ``alpha_word_fraction``
does not contain at least two of the English words              ``stop_word_count``
the, be, to, of, and, that, have, with
==============================================================  ==========================================

Rules are checked in that order; :func:`reject` names the first that fails. Definitions where the paper is silent:

- Words, lines: :mod:`curate.filters.text` (whitespace tokens, punctuation attached; unspaced scripts by character or
  cluster; non-blank stripped lines). A word's *length* is that of its core, stripped of surrounding punctuation
  ("end." has length 3); words that are punctuation only count as words but not in the mean length.
- With ``punctuation_tokens`` (FineWeb's counting), the hash, ellipsis and alpha-word ratios divide by *tokens*:
  words with a letter or digit, plus each run of one punctuation character cut off a word's edges (``...``, ``||``
  once; a leading ``@`` stays on its handle), plus two for a dash between letters or a comma between words written
  without a space ("well-known" is three tokens, two with letters) — what spaCy's English tokenizer gives datatrove,
  near enough: on the 168 English pages of trafilatura's evaluation set the alpha-word fraction differs from
  datatrove's by 0.0004 on average (at most 0.05), and the rule decides as datatrove's on 167 of the 168.
- Symbol counts: occurrences of ``#``; of ``...`` (non-overlapping) or ``…`` for the ellipsis — divided by words.
- Bullets: a line starting with a bullet character (• ‣ ⁃ ◦ ● ○ ▪ ▫ ■ □ ∙ · ➢ ➤ ► ▸ ▶ ✓ ✔ ★ ☆ →) or with ``-``, ``*``,
  ``+``, ``–``, ``—`` followed by a space (Markdown/plain-text lists).
- Stop words: the *number of distinct* stop words present (the paper's "contain at least two of the following
  words"), matched on the lower-cased word core. The list is English, so the signal is NaN — and the rule skipped —
  when ``lang`` is given and is not English. With ``lang=None`` the text is treated as English (the paper's setting).
- Mean word length is NaN — and its rule skipped — for languages written without spaces (zh, ja, th, …): a unit there
  is a character or cluster, so lengths sit near 1 by construction. See :func:`curate.filters.text.unspaced`.

A NaN signal never fails its rule.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from itertools import compress, repeat
from operator import not_

from curate.filters.text import PUNCTUATION, lines, unspaced, words

__all__ = ["SIGNALS", "STOP_WORDS", "Thresholds", "signals", "reject"]

SIGNALS: tuple[str, ...] = (
    "word_count",
    "mean_word_length",
    "hash_ratio",
    "ellipsis_ratio",
    "bullet_line_fraction",
    "ellipsis_line_fraction",
    "alpha_word_fraction",
    "stop_word_count",
)

#: Rae et al. 2021, Appendix A.1.1.
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})


@dataclass(frozen=True)
class Thresholds:
    """Published defaults: Rae et al. 2021, Appendix A.1.1. Bounds are inclusive on the kept side."""

    min_words: int = 50  # "between 50 and 100,000 words"
    max_words: int = 100_000
    min_mean_word_length: float = 3.0  # "mean word length outside the range of 3 to 10 characters"
    max_mean_word_length: float = 10.0
    max_hash_ratio: float = 0.1  # "symbol-to-word ratio greater than 0.1 for either the hash symbol or the ellipsis"
    max_ellipsis_ratio: float = 0.1
    max_bullet_line_fraction: float = 0.9  # "more than 90% of lines starting with a bullet point"
    max_ellipsis_line_fraction: float = 0.3  # "more than 30% ending with an ellipsis"
    min_alpha_word_fraction: float = 0.8  # "80% of words in a document contain at least one alphabetic character"
    min_stop_words: int = 2  # "at least two of the following English words"
    # Count the punctuation cut off words as words of its own in the ratios' denominators, as datatrove (FineWeb)
    # does with spaCy's tokenizer: "end." is two words there, so the alpha-word fraction of prose falls from ~0.98 to
    # ~0.86 and pages with many numbers, dashes or brackets fall under 0.8. Off: the paper's whitespace words.
    punctuation_tokens: bool = False


_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_BULLET = re.compile(r"[•‣⁃◦●○▪▫■□∙·➢➤►▸▶✓✔★☆→]|[-*+–—]\s")
_HAS_ALPHA = re.compile(r"[^\W\d_]")
_INFIX = re.compile(r"(?<=[^\W_])(?:---?|[-–—~])(?=[^\W\d_])|(?<=[^\W\d_]),(?=[^\W\d_])")
_RUN = re.compile(r"(.)\1*", re.DOTALL)
_EDGE = PUNCTUATION.replace("@", "")


def _is_english(lang: str | None) -> bool:
    return lang is None or lang.replace("_", "-").split("-")[0].lower() in ("en", "eng")


def signals(text: str, lang: str | None = None, punctuation_tokens: bool = False) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for ``text``; ``punctuation_tokens``: see :class:`Thresholds`."""
    ws = words(text)
    n = len(ws)
    # map() over C functions, no per-word Python frame: this runs on every document.
    cores = list(map(str.strip, ws, repeat(PUNCTUATION)))
    lengths = list(map(len, cores))
    n_cores = n - lengths.count(0)
    if unspaced(lang, ws):
        mean_len = math.nan
    else:
        mean_len = sum(lengths) / n_cores if n_cores else 0.0
    if _is_english(lang):
        stop = float(len(STOP_WORDS.intersection(map(str.lower, cores))))
    else:
        stop = math.nan
    # Most words are all letters (str.isalpha is cheap); only the rest need the "contains a letter" search.
    all_alpha = list(map(str.isalpha, ws))
    rest = list(compress(ws, map(not_, all_alpha)))
    n_alpha = all_alpha.count(True) + len(rest) - list(map(_HAS_ALPHA.search, rest)).count(None)
    ls = lines(text)
    n_lines = len(ls)
    per = n  # the ratios' denominator
    if punctuation_tokens:
        infixes = len(_INFIX.findall(text))  # "well-known": two words with letters and a dash
        per = n_cores + _edge_tokens(ws) + 2 * infixes
        n_alpha += infixes
    return {
        "word_count": float(n),
        "mean_word_length": mean_len,
        "hash_ratio": text.count("#") / per if per else 0.0,
        "ellipsis_ratio": len(_ELLIPSIS.findall(text)) / per if per else 0.0,
        "bullet_line_fraction": sum(1 for s in ls if _BULLET.match(s)) / n_lines if n_lines else 0.0,
        "ellipsis_line_fraction": (
            sum(1 for s in ls if s.endswith(("...", "\u2026"))) / n_lines if n_lines else 0.0
        ),
        "alpha_word_fraction": n_alpha / per if per else 0.0,
        "stop_word_count": stop,
    }


def _edge_tokens(ws: list[str]) -> int:
    """Tokens spaCy would cut off the words' edges: one per run of a punctuation character."""
    count = 0
    for w in ws:
        core = w.strip(_EDGE)
        if len(core) == len(w):
            continue
        if not core:
            count += len(_RUN.findall(w))
            continue
        head = len(w) - len(w.lstrip(_EDGE))
        count += len(_RUN.findall(w[:head])) + len(_RUN.findall(w[head + len(core):]))
    return count


def reject(sig: dict[str, float], th: Thresholds = Thresholds()) -> str | None:
    """The rule name of the first rule that fails (e.g. 'mean_word_length'), or None when the text passes.

    Comparisons are written so that a NaN signal (rule not applicable) passes.
    """
    n = sig["word_count"]
    if n < th.min_words or n > th.max_words:
        return "word_count"
    m = sig["mean_word_length"]
    if m < th.min_mean_word_length or m > th.max_mean_word_length:
        return "mean_word_length"
    if sig["hash_ratio"] > th.max_hash_ratio:
        return "hash_ratio"
    if sig["ellipsis_ratio"] > th.max_ellipsis_ratio:
        return "ellipsis_ratio"
    if sig["bullet_line_fraction"] > th.max_bullet_line_fraction:
        return "bullet_line_fraction"
    if sig["ellipsis_line_fraction"] > th.max_ellipsis_line_fraction:
        return "ellipsis_line_fraction"
    if sig["alpha_word_fraction"] < th.min_alpha_word_fraction:
        return "alpha_word_fraction"
    if sig["stop_word_count"] < th.min_stop_words:
        return "stop_word_count"
    return None
