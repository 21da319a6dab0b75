"""Gopher's quality rules as FineWeb-2 measured them (datatrove's ``GopherQualityFilter``), and the thresholds its
pipeline set per language.

The signals keep the names of :mod:`curate.filters.gopher_quality`; their definitions are datatrove's:

- Words: the language's word tokenizer (:mod:`curate.filters.words`), passed in; punctuation is a word of its own
  there. A *symbol* is a word made only of :data:`curate.filters.fineweb2.punctuation.SYMBOLS`.
- ``word_count``: the words that are not symbols. ``mean_word_length``: their mean length in characters (NaN when
  there are none).
- ``hash_ratio``: ``#`` characters in the text over all words, symbols included; ``ellipsis_ratio``: ``...``
  (non-overlapping) and ``…`` over all words.
- Lines: ``str.splitlines`` (every Unicode line break; blank lines count). ``bullet_line_fraction``: lines whose first
  non-space character starts ``•`` or ``-``; ``ellipsis_line_fraction``: lines ending, before trailing spaces, with
  ``...`` or ``…``.
- ``alpha_word_fraction``: words with at least one letter (``str.isalpha``) over all words.
- ``stop_word_count``: how many of the language's stop words occur as words, matched exactly (case included).

A text without words scores 0 on the ratios (datatrove divides by zero there, after its word-count rule has rejected
the text). Thresholds (:func:`thresholds`): word-length bounds, the alphabetic-word minimum and the stop words from
the language's config; 50 to 100,000 words, at most 0.1 hashes or ellipses per word, 90% bullet lines, 30% ellipsis
lines and at least 2 stop words for every language, as FineWeb-2's pipeline set them. A minimum word length of 0
turns its rule off, as in datatrove.
"""
from __future__ import annotations

import math
from itertools import compress, repeat
from operator import itemgetter, methodcaller, not_

from curate.filters.fineweb2.configs import LanguageConfig
from curate.filters.fineweb2.punctuation import SYMBOLS
from curate.filters.gopher_quality import SIGNALS, Thresholds

__all__ = ["SIGNALS", "signals", "thresholds"]

_DROP_SYMBOLS = str.maketrans(dict.fromkeys(SYMBOLS))


def _has_letter(word: str) -> bool:
    return any(map(str.isalpha, word))


_FIRST = itemgetter(slice(0, 1))  # a word's first character ("" for an empty word)
_BULLET = methodcaller("startswith", ("\u2022", "-"))
_ELLIPSIS = methodcaller("endswith", ("...", "\u2026"))


def signals(text: str, words: list[str], stopwords: frozenset[str]) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for `text`, whose words (by its language's tokenizer) are `words`."""
    # map() over C functions, no Python frame per word: a word that is alphabetic or starts with a letter has a
    # letter and is no symbol (no symbol is a letter); the few others (numbers, punctuation) are looked at closer. In
    # scripts with vowel signs, such as Devanagari, most words are not alphabetic but start with a letter.
    n = len(words)
    alphabetic = list(map(str.isalpha, words))
    others = list(compress(words, map(not_, alphabetic)))
    initial = list(map(str.isalpha, map(_FIRST, others)))
    rest = list(compress(others, map(not_, initial)))
    symbols = list(compress(rest, map(not_, map(str.translate, rest, repeat(_DROP_SYMBOLS)))))
    with_letter = alphabetic.count(True) + initial.count(True) + sum(map(_has_letter, rest))
    word_count = n - len(symbols)
    lines = text.splitlines()
    n_lines = len(lines)
    return {
        "word_count": float(word_count),
        "mean_word_length": (sum(map(len, words)) - sum(map(len, symbols))) / word_count if word_count else math.nan,
        "hash_ratio": text.count("#") / n if n else 0.0,
        "ellipsis_ratio": (text.count("...") + text.count("\u2026")) / n if n else 0.0,
        "bullet_line_fraction": sum(map(_BULLET, map(str.lstrip, lines))) / n_lines if n_lines else 0.0,
        "ellipsis_line_fraction": sum(map(_ELLIPSIS, map(str.rstrip, lines))) / n_lines if n_lines else 0.0,
        "alpha_word_fraction": with_letter / n if n else 0.0,
        "stop_word_count": float(len(stopwords.intersection(words))),
    }


def thresholds(config: LanguageConfig) -> Thresholds:
    """The bounds FineWeb-2's pipeline set for `config`'s language (its step 5; the rest are the Gopher defaults)."""
    return Thresholds(
        min_words=50,
        max_words=100_000,
        min_mean_word_length=config.min_avg_word_length or -math.inf,
        max_mean_word_length=config.max_avg_word_length,
        max_hash_ratio=0.1,
        max_ellipsis_ratio=0.1,
        max_bullet_line_fraction=0.9,
        max_ellipsis_line_fraction=0.3,
        min_alpha_word_fraction=config.max_non_alpha_words_ratio,
        min_stop_words=2,
    )
