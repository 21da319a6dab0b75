"""Gopher's repetition rules as FineWeb-2 measured them (datatrove's ``GopherRepetitionFilter``), and the thresholds
its pipeline set per language.

The signals keep the names of :mod:`curate.filters.gopher_repetition`; their definitions are datatrove's, which the
per-language maxima were computed with:

- Lines: the text split on runs of newlines (``\\n+``), not stripped, so a text that starts or ends with a newline has
  an empty first or last line. Paragraphs: the stripped text split on runs of two or more newlines. A line or
  paragraph repeats when an identical one came before it; the fractions are repeats over all lines (paragraphs), and
  the characters of the repeats over the characters of the whole text (newlines included).
- Words: the language's word tokenizer (:mod:`curate.filters.words`), passed in.
- Top n-gram character fraction (n = 2, 3, 4): the most frequent n-gram, as its words joined by single spaces; its
  length in characters times its count (overlapping occurrences counted in full), over the text's characters. On a
  tie, the n-gram that occurs first. A text of n words or more scores at least the length of its one n-gram, repeated
  or not; a text of fewer scores 0.
- Duplicate n-gram character fraction (n = 5 .. 10): the n-grams read left to right, as their words joined without a
  space; one equal to an n-gram already read is a repeat: its characters count, and reading resumes after it (the
  n-grams it overlaps are not read). The characters of the repeats over the text's characters.

An empty text fails every rule (datatrove rejects it as ``empty``), so its reason is the first rule that is on.

Thresholds (:func:`thresholds`): ``dup_line_frac``, ``top_n_grams`` and ``dup_n_grams`` from the language's config;
the paragraph rules and the duplicate-line character rule off (FineWeb-2's pipeline: trafilatura keeps no paragraphs,
and FineWeb's quality rules judge duplicated line characters). A ``dup_line_frac`` of 0 turns its rule off, as in
datatrove; an n-gram maximum of 0 rejects every text with that n-gram.

Cost: n-grams are compared by a 64-bit polynomial hash of their characters and their length, all of an order's
hashes at once in NumPy from one prefix sum (no string is built per n-gram); counting is one ``np.unique``, and the
left-to-right reading loops in Python only over the n-grams that occurred before (where a repeat can be).
"""
from __future__ import annotations

import math
import re
from bisect import bisect_left

import numpy as np

from curate.filters.fineweb2.configs import LanguageConfig
from curate.filters.gopher_repetition import SIGNALS, Thresholds

__all__ = ["SIGNALS", "signals", "thresholds"]

_TOP_N = (2, 3, 4)
_DUP_N = (5, 6, 7, 8, 9, 10)
_LINES = re.compile("\n+")
_PARAGRAPHS = re.compile("\n{2,}")
_BASE = 0x9E3779B97F4A7C15  # odd, so it has an inverse modulo 2**64
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)


def _repeats(parts: list[str]) -> tuple[int, int]:
    """(how many parts repeat an earlier one, their characters)."""
    seen: set[str] = set()
    count = chars = 0
    for part in parts:
        if part in seen:
            count += 1
            chars += len(part)
        else:
            seen.add(part)
    return count, chars


_LENGTH = np.uint64(0xC2B2AE3D27D4EB4F)  # odd: spreads the length over the key
_powers = np.ones(1, np.uint64), np.ones(1, np.uint64)  # BASE**k and BASE**-k for k < the longest text so far


def _power_tables(size: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**k and BASE**-k, k = 0 .. size, mod 2**64 (kept across calls, grown by doubling)."""
    global _powers
    if _powers[0].size <= size:
        k = max(size + 1, 2 * _powers[0].size)
        _powers = tuple(np.concatenate(([np.uint64(1)], np.cumprod(np.full(k - 1, b, np.uint64))))
                        for b in (np.uint64(_BASE), np.uint64(_BASE_INVERSE)))
    return _powers


class _Substrings:
    """Position-free hashes of any substring of one string: sum of c[j] * BASE**-(j - start), mod 2**64."""

    def __init__(self, text: str):
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        self.powers, inverse = _power_tables(codes.size)
        self.prefix = np.zeros(codes.size + 1, np.uint64)
        np.cumsum(codes * inverse[:codes.size], out=self.prefix[1:])

    def keys(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """A key per substring [start, end): equal substrings, equal keys (different ones: about 2**-64 odds)."""
        sums = (self.prefix[ends] - self.prefix[starts]) * self.powers[starts]
        return sums + (ends - starts).astype(np.uint64) * _LENGTH


def _top_chars(keys: np.ndarray, lengths: np.ndarray) -> int:
    """Characters of the most frequent n-gram times its count; the first to occur of tied n-grams."""
    _, first, counts = np.unique(keys, return_index=True, return_counts=True)
    top = counts.max()
    return int(top) * int(lengths[first[counts == top].min()])


def _repeated_chars(keys: np.ndarray, lengths: np.ndarray, n: int) -> int:
    """Characters of the n-grams equal to one read before them, reading on after each repeat (datatrove's
    ``find_all_duplicate``), on integer keys."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    if first.size == keys.size:
        return 0
    # The reading can only stop at an n-gram that occurred before it: between two such, it reads every n-gram (each
    # one's first occurrence), so those are added at once and the loop runs over the possible repeats alone.
    stops = np.flatnonzero(first[inverse] < np.arange(keys.size)).tolist()
    ids, sizes = inverse.tolist(), lengths.tolist()
    seen: set[int] = set()
    chars = i = k = 0
    while k < len(stops):
        at = stops[k]
        if at < i:  # inside the n-gram just counted: not read
            k = bisect_left(stops, i, k)
            continue
        seen.update(ids[i:at])
        if ids[at] in seen:
            chars += sizes[at]
            i = at + n
        else:
            seen.add(ids[at])
            i = at + 1
        k += 1
    return chars


def _ngram_signals(words: list[str], size: int) -> dict[str, float]:
    out = {f"top_{n}gram_char_fraction": 0.0 for n in _TOP_N}
    out.update({f"dup_{n}gram_char_fraction": 0.0 for n in _DUP_N})
    count = len(words)
    if count < 2:
        return out
    offsets = np.zeros(count + 1, np.int64)
    np.cumsum(np.fromiter(map(len, words), np.int64, count), out=offsets[1:])
    joined = _Substrings("".join(words))
    spaced = _Substrings(" ".join(words))
    positions = np.arange(count + 1)
    for n in _TOP_N:
        m = count - n + 1
        if m < 1:
            break
        starts = offsets[:m] + positions[:m]  # in the spaced string: one space after each word
        ends = offsets[n:] + positions[n:] - 1
        out[f"top_{n}gram_char_fraction"] = _top_chars(spaced.keys(starts, ends), ends - starts) / size
    for n in _DUP_N:
        m = count - n + 1
        if m < 1:
            break
        starts, ends = offsets[:m], offsets[n:]
        out[f"dup_{n}gram_char_fraction"] = _repeated_chars(joined.keys(starts, ends), ends - starts, n) / size
    return out


def signals(text: str, words: list[str]) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for `text`, whose words (by its language's tokenizer) are `words`."""
    size = len(text)
    if not size:  # datatrove rejects an empty text before any rule: here it fails every rule that is on
        return dict.fromkeys(SIGNALS, math.inf)
    paragraphs = _PARAGRAPHS.split(text.strip())
    para_count, para_chars = _repeats(paragraphs)
    lines = _LINES.split(text)
    line_count, line_chars = _repeats(lines)
    return {
        "dup_line_fraction": line_count / len(lines),
        "dup_paragraph_fraction": para_count / len(paragraphs),
        "dup_line_char_fraction": line_chars / size,
        "dup_paragraph_char_fraction": para_chars / size,
        **_ngram_signals(words, size),
    }


def thresholds(config: LanguageConfig) -> Thresholds:
    """The maxima FineWeb-2's pipeline set for `config`'s language (its step 5)."""
    top, dup = dict(config.top_n_grams), dict(config.dup_n_grams)
    return Thresholds(
        max_dup_line_fraction=config.dup_line_frac or math.inf,
        max_dup_paragraph_fraction=math.inf,
        max_dup_line_char_fraction=math.inf,
        max_dup_paragraph_char_fraction=math.inf,
        **{f"max_top_{n}gram_char_fraction": top[n] for n in _TOP_N},
        **{f"max_dup_{n}gram_char_fraction": dup[n] for n in _DUP_N},
    )
