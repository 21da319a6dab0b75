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
hashes at once in NumPy from one prefix sum (no string is built per n-gram); counting is one sort, and the
left-to-right reading loops in Python only over the n-grams that occurred before (where a repeat can be).
:func:`signals_of` hashes the words of many texts together (runs of about 32,000 characters, each key with its text's
number mixed in), so that NumPy's fixed cost per call is paid per run, not per text: on short texts (a few hundred
words) it was most of the time.
"""
from __future__ import annotations

import math
import re
from bisect import bisect_left

import numpy as np

from curate.filters.fineweb2.configs import LanguageConfig
from curate.filters.gopher_repetition import SIGNALS, Thresholds

__all__ = ["SIGNALS", "signals", "signals_of", "thresholds"]

_TOP_N = (2, 3, 4)
_DUP_N = (5, 6, 7, 8, 9, 10)
_NGRAM_SIGNALS = tuple(f"top_{n}gram_char_fraction" for n in _TOP_N) + tuple(
    f"dup_{n}gram_char_fraction" for n in _DUP_N)
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


_TEXT = np.uint64(0xD6E8FEB86659FD93)  # odd: spreads a text's number over the key
_RUN_CHARS = 1 << 15  # characters of words hashed together: NumPy's cost per call shared, sorts small enough to be fast


def _read_repeats(ids: list[int], sizes: list[int], stops: list[int], n: int) -> int:
    """Characters of the n-grams equal to one read before them, reading one text's n-grams (`ids`: equal n-grams,
    equal ids) from the first and on after each repeat (datatrove's ``find_all_duplicate``). The reading can only stop
    at an n-gram that occurred before it (`stops`, ascending, with their `sizes`): between two such, it reads every
    n-gram (each one's first occurrence), so those are added at once and the loop runs over the possible repeats
    alone."""
    seen: set[int] = set()
    chars = i = k = 0
    while k < len(stops):
        at = stops[k]
        if at < i:  # inside the n-gram just counted: not read
            k = bisect_left(stops, i, k)
            continue
        seen.update(ids[i:at])
        if ids[at] in seen:
            chars += sizes[k]
            i = at + n
        else:
            seen.add(ids[at])
            i = at + 1
        k += 1
    return chars


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(each key's group: equal keys, one group; each group's first position; each group's size). NumPy's unique
    sorts stably, which is several times slower on random 64-bit keys than the sort used here."""
    order = np.argsort(keys)
    ordered = keys[order]
    new = np.empty(keys.size, bool)
    new[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    heads = np.flatnonzero(new)
    group = np.empty(keys.size, np.int64)
    group[order] = np.cumsum(new) - 1
    first = np.minimum.reduceat(order, heads)
    sizes = np.diff(np.append(heads, keys.size))
    return group, first, sizes


def _top_chars(keys: np.ndarray, lengths: np.ndarray, texts: np.ndarray, out: np.ndarray) -> None:
    """Per text (`texts`: each n-gram's, ascending): the characters of its most frequent n-gram times its count, the
    first to occur of tied n-grams, into ``out[text]``."""
    _, first, counts = _groups(keys)
    span = keys.size + 1
    best = np.full(out.size, -1, np.int64)
    np.maximum.at(best, texts[first], counts * span - first)  # the highest count, then the first to occur
    found = np.flatnonzero(best >= 0)
    count = -(-best[found] // span)
    out[found] = count * lengths[count * span - best[found]]


def _repeated_chars(keys: np.ndarray, lengths: np.ndarray, texts: np.ndarray, n: int, out: np.ndarray) -> None:
    """Per text (`texts`: each n-gram's, ascending): the characters of its n-grams that repeat one read before, into
    ``out[text]``."""
    group, first, _ = _groups(keys)
    if first.size == keys.size:
        return
    stops = np.flatnonzero(first[group] < np.arange(keys.size))
    owners = texts[stops]
    heads = np.flatnonzero(np.diff(owners, prepend=-1))  # each text's first stop
    bounds = [*heads.tolist(), stops.size]
    with_stops = owners[heads]
    starts = np.searchsorted(texts, with_stops).tolist()  # each text's n-grams: [start, end)
    ends = np.searchsorted(texts, with_stops, "right").tolist()
    local, sizes = (stops - np.repeat(starts, np.diff(bounds))).tolist(), lengths[stops].tolist()
    for text, start, end, lo, hi in zip(with_stops.tolist(), starts, ends, bounds, bounds[1:]):
        out[text] = _read_repeats(group[start:end].tolist(), sizes[lo:hi], local[lo:hi], n)


def _ngram_chars(words: list[list[str]]) -> np.ndarray:
    """Per text (rows) and n-gram signal (columns: the top 2-4-grams, the duplicate 5-10-grams): characters."""
    out = np.zeros((len(words), len(_TOP_N) + len(_DUP_N)), np.int64)
    runs, chars = [[]], 0
    for i, ws in enumerate(words):  # runs of texts hashed together, a long text alone
        size = sum(map(len, ws)) + len(ws)
        if runs[-1] and chars + size > _RUN_CHARS:
            runs.append([])
            chars = 0
        runs[-1].append(i)
        chars += size
    for run in runs:
        out[run] = _run_ngram_chars([words[i] for i in run])
    return out


def _run_ngram_chars(words: list[list[str]]) -> np.ndarray:
    """:func:`_ngram_chars` of texts hashed together: every text's words in one string (an n-gram never crosses a
    text's end), each key with its text's number mixed in, so equal n-grams of different texts differ."""
    out = np.zeros((len(words), len(_TOP_N) + len(_DUP_N)), np.int64)
    counts = np.fromiter(map(len, words), np.int64, len(words))
    every = [w for ws in words for w in ws]
    total = len(every)
    if total < 2:
        return out
    text_of_word = np.repeat(np.arange(len(words)), counts)
    offsets = np.zeros(total + 1, np.int64)
    np.cumsum(np.fromiter(map(len, every), np.int64, total), out=offsets[1:])
    joined = _Substrings("".join(every))
    spaced = _Substrings(" ".join(every))
    for column, n in enumerate(_TOP_N + _DUP_N):
        m = total - n + 1
        if m < 1:
            break
        at = np.flatnonzero(text_of_word[:m] == text_of_word[n - 1:])  # the n-grams inside one text
        if not at.size:
            break
        texts = text_of_word[at]
        if n in _TOP_N:
            starts = offsets[at] + at  # in the spaced string: one space after each word
            ends = offsets[at + n] + at + n - 1
            keys = spaced.keys(starts, ends) + texts.astype(np.uint64) * _TEXT
            _top_chars(keys, ends - starts, texts, out[:, column])
        else:
            starts, ends = offsets[at], offsets[at + n]
            keys = joined.keys(starts, ends) + texts.astype(np.uint64) * _TEXT
            _repeated_chars(keys, ends - starts, texts, n, out[:, column])
    return out


def signals(text: str, words: list[str]) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for `text`, whose words (by its language's tokenizer) are `words`."""
    return signals_of([text], [words])[0]


def signals_of(texts: list[str], words: list[list[str]]) -> list[dict[str, float]]:
    """:func:`signals` of each text with its words, the n-grams of all of them hashed and counted together."""
    ngram_chars = _ngram_chars(words).tolist()
    out = []
    for text, chars in zip(texts, ngram_chars):
        size = len(text)
        if not size:  # datatrove rejects an empty text before any rule: here it fails every rule that is on
            out.append(dict.fromkeys(SIGNALS, math.inf))
            continue
        paragraphs = _PARAGRAPHS.split(text.strip())
        para_count, para_chars = _repeats(paragraphs)
        lines = _LINES.split(text)
        line_count, line_chars = _repeats(lines)
        out.append({
            "dup_line_fraction": line_count / len(lines),
            "dup_paragraph_fraction": para_count / len(paragraphs),
            "dup_line_char_fraction": line_chars / size,
            "dup_paragraph_char_fraction": para_chars / size,
            **{name: c / size for name, c in zip(_NGRAM_SIGNALS, chars)},
        })
    return out


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
