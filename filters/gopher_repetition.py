"""Gopher repetition filter: repeated lines, paragraphs and n-grams within one document (Rae et al. 2021, "Scaling
Language Models: Methods, Analysis & Insights from Training Gopher", Appendix A.1.2, Table A1).

A document is removed when any measure exceeds its maximum:

=========================================  ==========  =================================
Measurement (Table A1)                     Threshold   Signal / rule name here
=========================================  ==========  =================================
Duplicate line fraction                    0.30        ``dup_line_fraction``
Duplicate paragraph fraction               0.30        ``dup_paragraph_fraction``
Duplicate line character fraction          0.20        ``dup_line_char_fraction``
Duplicate paragraph character fraction     0.20        ``dup_paragraph_char_fraction``
Top 2-gram character fraction              0.20        ``top_2gram_char_fraction``
Top 3-gram character fraction              0.18        ``top_3gram_char_fraction``
Top 4-gram character fraction              0.16        ``top_4gram_char_fraction``
Duplicate 5-gram character fraction        0.15        ``dup_5gram_char_fraction``
Duplicate 6-gram character fraction        0.14        ``dup_6gram_char_fraction``
Duplicate 7-gram character fraction        0.13        ``dup_7gram_char_fraction``
Duplicate 8-gram character fraction        0.12        ``dup_8gram_char_fraction``
Duplicate 9-gram character fraction        0.11        ``dup_9gram_char_fraction``
Duplicate 10-gram character fraction       0.10        ``dup_10gram_char_fraction``
=========================================  ==========  =================================

Rules are checked in table order; :func:`reject` names the first whose signal is greater than its threshold.
Definitions (the paper's wording in quotes, our reading after it):

- Lines and paragraphs ("separated by newlines" / "by two newlines"): :func:`curate.filters.text.lines` and
  :func:`~curate.filters.text.paragraphs` (stripped, blank ones dropped). A line or paragraph is a *duplicate* when an
  identical one came earlier in the document: the first occurrence is the original, only the repeats count, so a
  document made of one line stated twice scores 1/2. Character fractions divide the characters of the repeats by the
  characters of all lines (or paragraphs) — newlines and indentation are not counted on either side.
- n-grams are over words (:func:`curate.filters.text.words`, matched exactly as written); a character count is the
  sum of its words' lengths, and the denominator is the characters of all words (spaces never count).
- "Top n-gram character fraction" (n = 2, 3, 4): the characters covered by all occurrences of the most frequent
  n-gram, overlapping occurrences counted once ("a a a a": the 2-gram "a a" covers 4 characters, not 6). On a tie,
  the n-gram covering most characters. When no n-gram occurs twice the signal is 0: a text without repetition is not
  penalised for being short.
- "Duplicate n-gram character fraction" (n = 5..10): the characters of words covered by at least one repeated
  occurrence (not the first) of any n-gram — "taking care not to count characters that occur in overlapping n-grams
  more than once".

Cost: words are mapped to integer ids once; each n-gram order is grouped exactly (no hashing, so no collisions) by
pairing the (n-1)-gram's group with the next word and sorting with NumPy — O(W log W) per order for W words, no
Python loop over n-grams.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.filters.text import lines, paragraphs, words

__all__ = ["SIGNALS", "Thresholds", "signals", "reject"]

_TOP_N = (2, 3, 4)
_DUP_N = (5, 6, 7, 8, 9, 10)

SIGNALS: tuple[str, ...] = (
    "dup_line_fraction",
    "dup_paragraph_fraction",
    "dup_line_char_fraction",
    "dup_paragraph_char_fraction",
    *(f"top_{n}gram_char_fraction" for n in _TOP_N),
    *(f"dup_{n}gram_char_fraction" for n in _DUP_N),
)


@dataclass(frozen=True)
class Thresholds:
    """Published maxima: Rae et al. 2021, Table A1. A document is kept when each signal is <= its maximum."""

    max_dup_line_fraction: float = 0.30
    max_dup_paragraph_fraction: float = 0.30
    max_dup_line_char_fraction: float = 0.20
    max_dup_paragraph_char_fraction: float = 0.20
    max_top_2gram_char_fraction: float = 0.20
    max_top_3gram_char_fraction: float = 0.18
    max_top_4gram_char_fraction: float = 0.16
    max_dup_5gram_char_fraction: float = 0.15
    max_dup_6gram_char_fraction: float = 0.14
    max_dup_7gram_char_fraction: float = 0.13
    max_dup_8gram_char_fraction: float = 0.12
    max_dup_9gram_char_fraction: float = 0.11
    max_dup_10gram_char_fraction: float = 0.10


def _duplicates(segments: list[str]) -> tuple[float, float]:
    """(fraction of segments that repeat an earlier one, fraction of characters in those repeats)."""
    if not segments:
        return 0.0, 0.0
    seen: set[str] = set()
    n_dup = dup_chars = total = 0
    for s in segments:
        total += len(s)
        if s in seen:
            n_dup += 1
            dup_chars += len(s)
        else:
            seen.add(s)
    return n_dup / len(segments), (dup_chars / total if total else 0.0)


def _group(key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense group id per element, "repeats an earlier element" mask, and the size of each group."""
    order = np.argsort(key, kind="stable")  # equal keys keep text order: the first of a run is the original
    sk = key[order]
    new_run = np.empty(key.size, dtype=bool)
    new_run[0] = True
    np.not_equal(sk[1:], sk[:-1], out=new_run[1:])
    group = np.empty(key.size, dtype=np.int64)
    group[order] = np.cumsum(new_run) - 1
    repeat = np.empty(key.size, dtype=bool)
    repeat[order] = ~new_run
    counts = np.diff(np.append(np.flatnonzero(new_run), key.size))
    return group, repeat, counts


def _ngram_signals(ws: list[str]) -> dict[str, float]:
    out = {f"top_{n}gram_char_fraction": 0.0 for n in _TOP_N}
    out.update({f"dup_{n}gram_char_fraction": 0.0 for n in _DUP_N})
    w = len(ws)
    if w < 2:
        return out
    # Word ids: the position of the word's first occurrence (dense ids are not needed, only ids < w).
    first_pos: dict[str, int] = {}
    ids = np.fromiter(map(first_pos.setdefault, ws, range(w)), dtype=np.int64, count=w)
    if len(first_pos) == w:
        return out  # no word repeats, so no n-gram does
    lengths = np.fromiter(map(len, ws), dtype=np.int64, count=w)
    total = int(lengths.sum())
    if total == 0:
        return out
    # cum[i] = characters in words[:i]; characters of words[a:b] = cum[b] - cum[a]
    cum = np.zeros(w + 1, dtype=np.int64)
    np.cumsum(lengths, out=cum[1:])
    group = ids  # group id of the n-gram starting at each position; n = 1 here
    for n in range(2, max(_DUP_N) + 1):
        m = w - n + 1  # number of n-grams
        if m < 2:
            break
        # Exact grouping: an n-gram is its (n-1)-gram prefix's group plus its last word; both < w, so no overflow.
        group, repeat, counts = _group(group[:m] * w + ids[n - 1 :])
        if counts.size == m:
            break  # every n-gram is unique, and so is every longer one
        if n in _TOP_N:
            out[f"top_{n}gram_char_fraction"] = _top_coverage(group, counts, n, cum) / total
        else:
            starts = np.flatnonzero(repeat)
            diff = np.bincount(starts, minlength=w + 1) - np.bincount(starts + n, minlength=w + 1)
            covered = np.cumsum(diff[:w]) > 0
            out[f"dup_{n}gram_char_fraction"] = int(lengths[covered].sum()) / total
    return out


def _top_coverage(group: np.ndarray, counts: np.ndarray, n: int, cum: np.ndarray) -> int:
    """Characters covered by the most frequent n-gram (union of its occurrences), best of ties; 0 without repeats."""
    top = counts.max()
    if top < 2:
        return 0
    pos = np.flatnonzero(counts[group] == top)  # occurrences of the tied top n-grams, in text order
    order = np.argsort(group[pos], kind="stable")  # by n-gram, then position
    pos = pos[order]
    g = group[pos]
    end = pos + n
    # An occurrence followed by an overlapping one of the same n-gram covers only up to where that one starts.
    stop = end.copy()
    same = g[1:] == g[:-1]
    stop[:-1][same] = np.minimum(end[:-1][same], pos[1:][same])
    covered = cum[stop] - cum[pos]
    # Occurrences of one n-gram are contiguous and each has `top` of them: sum per block of `top`.
    return int(covered.reshape(-1, top).sum(axis=1).max())


def signals(text: str, lang: str | None = None) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for ``text``. ``lang`` is unused: segmentation follows the script."""
    line_frac, line_chars = _duplicates(lines(text))
    para_frac, para_chars = _duplicates(paragraphs(text))
    sig = {
        "dup_line_fraction": line_frac,
        "dup_paragraph_fraction": para_frac,
        "dup_line_char_fraction": line_chars,
        "dup_paragraph_char_fraction": para_chars,
    }
    sig.update(_ngram_signals(words(text)))
    return {name: float(sig[name]) for name in SIGNALS}


def reject(sig: dict[str, float], th: Thresholds = Thresholds()) -> str | None:
    """The rule name of the first rule that fails (e.g. 'dup_line_fraction'), or None when the text passes."""
    for name in SIGNALS:
        if sig[name] > getattr(th, f"max_{name}"):
            return name
    return None
