"""Normalised word n-grams as 64-bit hashes, vectorised over a batch of texts (decontamination, lexicon matching).

Normalisation is the same for documents and for the lists they are matched against, so a passage copied verbatim
always matches: the text is lowercased (Unicode), every run of characters that are not letters, digits or combining
marks (``\\pL \\pN \\pM``) becomes one space — punctuation stripped, whitespace collapsed — and the text splits into
words on those spaces ("It's 3.5%!" -> ``it s 3 5``). Scripts written without spaces (Chinese, Japanese, Thai) come
out as one "word" per run of letters: n-grams of words mean little there.

Hashes: a word is a polynomial over its UTF-8 bytes, finished with the splitmix64 mixer; an n-gram is a sum of its
words' hashes, each times an odd constant of its position, mixed again (so order matters). All of it is NumPy over the
Arrow buffers of a batch — no Python per word — and unsigned 64-bit arithmetic wraps, which is the modulus.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["NOT_WORD", "Words", "NGrams", "words", "ngrams", "ngram_hashes", "word_spans"]

#: Characters that separate words (RE2 syntax, as pyarrow's regex kernels take it).
NOT_WORD = r"[^\pL\pN\pM]+"

_BYTE_BASE = np.uint64(0x100000001B3)  # the FNV-1 64-bit prime, as the polynomial base over bytes
# One odd multiplier per position in an n-gram, from a fixed seed: changing them changes every stored hash.
_POSITION = np.random.default_rng(0x5EED_1234).integers(1, 2**63, size=256, dtype=np.uint64) * np.uint64(2) + \
    np.uint64(1)


def mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads every input bit over the output (Steele et al. 2014)."""
    z = z ^ (z >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass(frozen=True)
class Words:
    """The normalised words of a batch of texts: one hash per word, and where each text's words start."""

    hashes: np.ndarray  # uint64, every word of every text, in order
    offsets: np.ndarray  # int64, len(texts) + 1: text i has words hashes[offsets[i]:offsets[i + 1]]

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass(frozen=True)
class NGrams:
    """Every n-gram of a batch (no n-gram crosses two texts): its hash, its text, its first word within the text."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64 index of the text
    start: np.ndarray  # int64 index of the n-gram's first word within its text


def _string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets as int64 with len+1 entries, the UTF-8 bytes) of a string array, honouring a sliced array's offset."""
    array = array.cast(pa.large_string()) if array.type == pa.string() else array
    offsets = np.frombuffer(array.buffers()[1], np.int64)[array.offset: array.offset + len(array) + 1]
    data = array.buffers()[2]
    return offsets, np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)


def _hash_strings(array: pa.Array) -> np.ndarray:
    """One uint64 per (non-empty) string: a polynomial over its bytes, then mixed."""
    offsets, data = _string_buffers(array)
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return np.zeros(0, np.uint64)
    base = offsets[0]
    values = data[base: offsets[-1]].astype(np.uint64)
    position = np.arange(len(values), dtype=np.int64) - np.repeat(offsets[:-1] - base, lengths)
    powers = np.cumprod(np.full(int(lengths.max()), _BYTE_BASE, np.uint64))  # wraps: arithmetic mod 2**64
    sums = np.add.reduceat(values * powers[position], offsets[:-1] - base)
    return mix64(sums ^ lengths.astype(np.uint64))


def words(texts: pa.Array | pa.ChunkedArray) -> Words:
    """Normalise and split every text (null = no words); hash each word."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    cleaned = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts.fill_null("")), NOT_WORD, " "))
    lists = pc.split_pattern(cleaned, " ")
    flat = lists.flatten()
    list_offsets = np.asarray(lists.offsets, np.int64)
    list_offsets = list_offsets - list_offsets[0]
    # an empty text splits into one empty word: drop those
    empty = np.diff(_string_buffers(flat)[0]) == 0
    if empty.any():
        flat = flat.filter(pa.array(~empty))
        dropped = np.concatenate([[0], np.cumsum(empty)])
        list_offsets = list_offsets - dropped[list_offsets]
    return Words(_hash_strings(flat), list_offsets)


def ngrams(batch_words: Words, n: int) -> NGrams:
    """Every run of `n` consecutive words within one text, hashed."""
    if n < 1 or n > len(_POSITION):
        raise ValueError(f"n must be between 1 and {len(_POSITION)}, got {n}")
    hashes, offsets = batch_words.hashes, batch_words.offsets
    total = len(hashes) - n + 1
    if total <= 0:
        empty = np.zeros(0, np.int64)
        return NGrams(np.zeros(0, np.uint64), empty, empty)
    acc = np.zeros(total, np.uint64)
    for i in range(n):
        acc += hashes[i: i + total] * _POSITION[i]
    doc_of_word = np.repeat(np.arange(len(offsets) - 1, dtype=np.int64), np.diff(offsets))[:total]
    starts = np.arange(total, dtype=np.int64)
    valid = starts + n <= offsets[doc_of_word + 1]
    doc = doc_of_word[valid]
    return NGrams(mix64(acc[valid] ^ np.uint64(n)), doc, starts[valid] - offsets[doc])


def ngram_hashes(texts: list[str] | pa.Array, n: int) -> NGrams:
    """Shorthand: the n-grams of a list of texts."""
    array = texts if isinstance(texts, (pa.Array, pa.ChunkedArray)) else pa.array(texts, pa.string())
    return ngrams(words(array), n)


def word_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) character offsets of `text`'s words, as :func:`words` splits them (letters, digits, marks).

    Per character in Python: meant for the few documents whose text gets cut, not for every document.
    """
    import unicodedata

    is_word = np.fromiter((unicodedata.category(c)[0] in "LNM" for c in text), bool, len(text))
    edges = np.diff(np.concatenate([[False], is_word, [False]]).astype(np.int8))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))
