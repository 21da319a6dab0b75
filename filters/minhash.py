"""MinHash signatures and LSH band keys, vectorised over a batch of texts: the pure core of near-duplicate detection.

MinHash (Broder 1997, "On the resemblance and containment of documents"): for a random permutation h of shingle
hashes, P[min h(A) = min h(B)] = |A ∩ B| / |A ∪ B| (the Jaccard similarity J). `num_perm` permutations give a
signature whose share of equal entries estimates J. LSH banding (Leskovec, Rajaraman & Ullman, *Mining of Massive
Datasets*, ch. 3.4): the signature is cut into `bands` bands of `rows` entries; two documents become candidates when
any band is equal, with probability P(J) = 1 - (1 - J^rows)^bands (an S-curve).

Defaults are FineWeb's (Penedo et al. 2024): 5-word shingles, 112 hashes = 14 bands x 8 rows (P(0.7) = 0.56,
P(0.8) = 0.92, P(0.85) = 0.99).

Shingles. Text is lowercased and every character that is not a letter, digit or combining mark becomes a space
(punctuation and layout never make two copies differ). Words are then :func:`curate.filters.text.words`: whitespace
tokens, with Han/Kana text split per character and Thai, Lao, Khmer, Myanmar and Tibetan per character cluster, so
n-grams of words mean the same thing in unspaced scripts; texts a word tokenizer has already segmented (words joined
by spaces: `segmented=True`) keep its words. A shingle is `ngram` consecutive words (or characters, for
`shingle="char"`); a text shorter than `ngram` units is one shingle of all its units, and an empty text has none (no
signature: it is nobody's near-duplicate).

Hashing, all in NumPy over the batch: a word is a 64-bit polynomial over its UTF-8 bytes (as in
:mod:`curate.filters.ngrams`), an n-gram a position-weighted sum of its units' hashes passed through the splitmix64
finaliser. Permutation i is h_i(x) = a_i * x + b_i mod 2^64 (a_i odd: a bijection of the 64-bit hashes; x is already
well mixed, and the minimum is decided by the high bits, which depend on every bit of x). A batch's shingles x
(N of them) go through all permutations as one num_perm x N matrix, cut in chunks of columns that stay in cache,
and `np.minimum.reduceat` along the rows takes each document's minimum.

Band keys: the `rows` values of a band and the band's index are combined into one 64-bit hash, so the engine groups
by that value alone. Verification sketches: the low byte of each (mixed) signature entry — b-bit minwise hashing
(Li & König 2010) with b = 8: num_perm bytes instead of 8 x num_perm, and P[bytes equal] = J + (1 - J) / 256, which
:func:`sketch_jaccard` inverts.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import xxhash

from curate.filters import text as segment
from curate.filters.ngrams import mix64

__all__ = ["MinHasher", "Shingles", "collision_probability", "bands_for", "sketch_jaccard", "sketch_matches",
           "sketches_agree", "estimated_jaccard", "EMPTY"]

#: The signature value of an empty document (no shingles): larger than every permuted hash can be in practice.
EMPTY = np.uint64(0xFFFF_FFFF_FFFF_FFFF)

_SEED = 0x4D49_4E48_4153_4831  # changing it changes every stored signature and band key
_CHUNK = 4096  # shingles per block: a 112 x 4096 uint64 block is 3.5 MiB


@dataclass(frozen=True)
class Shingles:
    """The shingle hashes of a batch: text i has hashes[offsets[i]:offsets[i + 1]] (duplicates allowed)."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, len(texts) + 1

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def collision_probability(similarity: np.ndarray | float, bands: int, rows: int) -> np.ndarray | float:
    """P[two documents with Jaccard `similarity` share at least one band] = 1 - (1 - s^rows)^bands."""
    return 1.0 - (1.0 - np.power(similarity, rows)) ** bands


def bands_for(threshold: float, num_perm: int, false_positive_weight: float = 0.5) -> tuple[int, int]:
    """The (bands, rows) with bands x rows <= num_perm that minimise the weighted error area around `threshold`.

    False positive area: the integral of P(s) over s in [0, threshold] (pairs below the threshold that collide);
    false negative area: the integral of 1 - P(s) over [threshold, 1] (pairs above it that never collide). Every
    (bands, rows) pair is scored on a 1,001-point trapezoid grid and the smallest
    `w * FP + (1 - w) * FN` wins (ties: fewer hashes used, then more rows).
    """
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    grid = np.linspace(0.0, 1.0, 1001)
    below, above = grid <= threshold, grid >= threshold
    best, best_score = (1, 1), np.inf
    for rows in range(1, num_perm + 1):
        for bands in range(1, num_perm // rows + 1):
            p = collision_probability(grid, bands, rows)
            fp = np.trapezoid(p[below], grid[below])
            fn = np.trapezoid(1.0 - p[above], grid[above])
            score = false_positive_weight * fp + (1.0 - false_positive_weight) * fn
            if score < best_score - 1e-12:
                best, best_score = (bands, rows), score
    return best


def sketch_jaccard(matches: np.ndarray | float, num_perm: int) -> np.ndarray | float:
    """Jaccard estimated from the number of equal bytes of two 8-bit sketches (corrects the 1/256 chance agreement)."""
    share = np.asarray(matches, np.float64) / num_perm
    return np.clip((share - 1.0 / 256) / (1.0 - 1.0 / 256), 0.0, 1.0)


def sketch_matches(threshold: float, num_perm: int) -> float:
    """The equal bytes two 8-bit sketches need for an estimated Jaccard of `threshold` or more: P[equal byte] =
    J + (1 - J) / 256 (what :func:`sketch_jaccard` inverts), solved for J >= threshold."""
    return num_perm * (threshold + (1.0 - threshold) / 256)


def sketches_agree(a: np.ndarray, b: np.ndarray, needed: float) -> np.ndarray | bool:
    """True where two 8-bit sketches (or two (n, num_perm) matrices of them, row by row) agree in `needed` bytes or
    more."""
    return np.count_nonzero(np.asarray(a) == np.asarray(b), axis=-1) >= needed


@dataclass(frozen=True)
class MinHasher:
    """Shingling + MinHash + band keys for one configuration; call it on a batch of texts."""

    num_perm: int = 112
    bands: int = 14
    rows: int = 8
    ngram: int = 5
    shingle: Literal["word", "char"] = "word"
    _params: tuple[np.ndarray, np.ndarray] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        if self.ngram < 1 or self.ngram > len(_POSITION):
            raise ValueError(f"ngram must be between 1 and {len(_POSITION)}, got {self.ngram}")
        if self.shingle not in ("word", "char"):
            raise ValueError(f"shingle must be 'word' or 'char', got {self.shingle!r}")
        rng = np.random.default_rng(_SEED)
        a = rng.integers(0, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        b = rng.integers(0, 2**63, size=self.num_perm, dtype=np.uint64) * np.uint64(2)
        object.__setattr__(self, "_params", (a, b))

    # --- shingles -------------------------------------------------------------------------------------------------

    def shingles(self, texts: list[str | None] | pa.Array | pa.ChunkedArray, segmented: bool = False) -> Shingles:
        """Every shingle hash of every text (null = empty). `segmented`: a word tokenizer already put spaces between
        the texts' words, so Han, Kana and Thai runs are words as it cut them, not split per character."""
        if self.shingle == "char":
            hashes, offsets = _Units.of(texts, segment_unspaced=False).chars()
        else:
            hashes, offsets = _Units.of(texts, segment_unspaced=not segmented).words()
        return _ngrams(hashes, offsets, self.ngram)

    # --- signatures -----------------------------------------------------------------------------------------------

    def signatures(self, texts: list[str | None] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """(len(texts), num_perm) uint64 MinHash signatures; a text without shingles gets a row of :data:`EMPTY`."""
        return self.signatures_of(self.shingles(texts))

    def signatures_of(self, shingles: Shingles) -> np.ndarray:
        a, b = self._params
        n_docs = len(shingles.offsets) - 1
        out = np.full((n_docs, self.num_perm), EMPTY, np.uint64)
        x, offsets = shingles.hashes, shingles.offsets
        total = len(x)
        if total == 0:
            return out
        nonempty = np.flatnonzero(np.diff(offsets) > 0)
        # Segments: a document's shingles, cut again at chunk boundaries; each chunk reduces its segments at once.
        starts = np.union1d(offsets[nonempty], np.arange(0, total, _CHUNK))
        doc_of = np.searchsorted(offsets, starts, side="right") - 1
        chunk_of = starts // _CHUNK
        bounds = np.searchsorted(chunk_of, np.arange(0, (total - 1) // _CHUNK + 2))
        # Permutations on the rows, shingles on the columns: the reduction runs along contiguous memory.
        block = np.empty((self.num_perm, _CHUNK), np.uint64)
        for c in range(len(bounds) - 1):
            lo, hi = bounds[c], bounds[c + 1]
            if lo == hi:
                continue
            begin, end = c * _CHUNK, min((c + 1) * _CHUNK, total)
            view = block[:, : end - begin]
            np.multiply(a[:, None], x[None, begin:end], out=view)
            view += b[:, None]
            mins = np.minimum.reduceat(view, starts[lo:hi] - begin, axis=1).T
            docs = doc_of[lo:hi]  # distinct within a chunk: plain fancy assignment is safe
            out[docs] = np.minimum(out[docs], mins)
        return out

    # --- LSH keys and verification sketches -----------------------------------------------------------------------

    def band_hashes(self, signatures: np.ndarray, partitions: np.ndarray | None = None) -> np.ndarray:
        """(n, bands) int64: one key per band, the band's index folded in (equal keys = an equal band). With
        `partitions` (one uint64 seed per row), the row's seed is folded in too: rows of two partitions share no key."""
        n = signatures.shape[0]
        acc = np.zeros((n, self.bands), np.uint64)
        cut = signatures[:, : self.bands * self.rows].reshape(n, self.bands, self.rows)
        for i in range(self.rows):
            acc += cut[:, :, i] * _POSITION[i]
        acc ^= np.arange(self.bands, dtype=np.uint64)[None, :] * np.uint64(0x9E37_79B9_7F4A_7C15)
        keys = mix64(acc)
        if partitions is not None:
            keys = mix64(keys ^ partitions[:, None])
        return keys.view(np.int64)

    def sketches(self, signatures: np.ndarray) -> np.ndarray:
        """(n, num_perm) int8: the low byte of each mixed signature entry (8-bit minwise hashing)."""
        return (mix64(signatures) & np.uint64(0xFF)).astype(np.uint8).view(np.int8)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of equal signature entries, row by row (both (n, num_perm))."""
    return (a == b).mean(axis=-1)


# --- helpers ----------------------------------------------------------------------------------------------------

# One odd multiplier per position in an n-gram or band (fixed seed).
_POSITION = np.random.default_rng(0x5348_494E_474C_45).integers(1, 2**63, size=64, dtype=np.uint64) * \
    np.uint64(2) + np.uint64(1)


_WORD, _UNSPACED = np.uint8(1), np.uint8(2)
_CLASSES: np.ndarray | None = None


def _classes() -> np.ndarray:
    """Flags for every code point: `_WORD` (letter, digit, mark) and `_UNSPACED` (a script `text.words` splits)."""
    global _CLASSES
    if _CLASSES is None:
        table = np.zeros(0x110000, np.uint8)
        for c in range(0x10000):
            char = chr(c)
            table[c] = (_WORD if unicodedata.category(char)[0] in "LNM" else 0) | \
                (_UNSPACED if segment.UNSPACED_CHAR.match(char) else 0)
        # Beyond the BMP: historic scripts and CJK extensions B-G are words (the latter unspaced); emoji and
        # other symbols (U+1F000-U+1FFFF) are not.
        table[0x10000:0x1F000] = _WORD
        table[0x20000:0x31350] = _WORD | _UNSPACED
        table[0x31350:] = _WORD
        _CLASSES = table
    return _CLASSES


_PRIME = np.uint64(0x100000001B3)  # the FNV-1 64-bit prime: the polynomial base over code points
_PRIME_INVERSE = np.uint64(pow(0x100000001B3, -1, 1 << 64))


@dataclass(frozen=True)
class _Units:
    """A batch's texts as one array of lowercased code points, texts separated by a space."""

    codepoints: np.ndarray  # uint32
    is_word: np.ndarray  # bool, per code point
    text_starts: np.ndarray  # int64, len(texts) + 1 (the last one: the end)

    @classmethod
    def of(cls, texts, segment_unspaced: bool) -> _Units:
        if isinstance(texts, (pa.Array, pa.ChunkedArray)):
            texts = texts.to_pylist()
        values = [t.lower() if t else "" for t in texts]
        codepoints, text_starts, flags = cls._encode(values)
        if segment_unspaced:
            unspaced = np.logical_or.reduceat((flags & _UNSPACED) > 0, text_starts[:-1]) & \
                (np.diff(text_starts) > 1)
            if unspaced.any():  # Han, Kana, Thai...: words are characters or clusters, as `text.words` cuts them
                for i in np.flatnonzero(unspaced):
                    values[i] = " ".join(segment.words(values[i]))
                codepoints, text_starts, flags = cls._encode(values)
        return cls(codepoints, (flags & _WORD) > 0, text_starts)

    @staticmethod
    def _encode(values: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lengths = np.fromiter(map(len, values), np.int64, len(values)) + 1
        text_starts = np.concatenate([[0], np.cumsum(lengths)])
        codepoints = np.frombuffer((" ".join(values) + " ").encode("utf-32-le"), np.uint32)
        return codepoints, text_starts, _classes()[codepoints]

    def words(self) -> tuple[np.ndarray, np.ndarray]:
        """One hash per word (a run of word characters) and each text's word offsets."""
        edges = np.diff(np.concatenate([[False], self.is_word, [False]]).astype(np.int8))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        offsets = np.searchsorted(starts, self.text_starts).astype(np.int64)
        if len(starts) == 0:
            return np.zeros(0, np.uint64), offsets
        # Polynomial of each word from one prefix sum: S_k = sum_{j<k} c_j P^j, word [s, e) = (S_e - S_s) P^-s.
        n = len(self.codepoints)
        powers = np.cumprod(np.full(n, _PRIME, np.uint64))  # P^1 .. P^n (uint64 arithmetic wraps: mod 2^64)
        prefix = np.concatenate([[np.uint64(0)], np.cumsum(self.codepoints.astype(np.uint64) * powers)])
        inverse = np.cumprod(np.full(n, _PRIME_INVERSE, np.uint64))  # P^-1 .. P^-n
        hashes = (prefix[ends] - prefix[starts]) * inverse[starts]
        return mix64(hashes ^ (ends - starts).astype(np.uint64)), offsets

    def chars(self) -> tuple[np.ndarray, np.ndarray]:
        """One hash per character; each run of non-word characters between two words of a text is one space."""
        word = self.is_word
        count = np.cumsum(word)  # word characters up to and including each position
        text_of = np.repeat(np.arange(len(self.text_starts) - 1), np.diff(self.text_starts))
        count_at_end = count[self.text_starts[1:] - 1]  # at each text's last position (its separator)
        gap = ~word & np.concatenate([[False], word[:-1]])  # the first non-word character after a word
        keep = word | (gap & (count < count_at_end[text_of]))  # ... when a word follows in the same text
        values = np.where(word, self.codepoints, 0x20).astype(np.uint64)[keep]
        offsets = np.searchsorted(np.flatnonzero(keep), self.text_starts).astype(np.int64)
        return mix64(values * np.uint64(0x9E37_79B9_7F4A_7C15) + np.uint64(1)), offsets


def _ngrams(units: np.ndarray, offsets: np.ndarray, n: int) -> Shingles:
    """Every run of `n` consecutive units within a text, hashed; a shorter non-empty text is one shingle."""
    counts = np.diff(offsets)
    per_doc = np.where(counts >= n, counts - n + 1, np.minimum(counts, 1))
    out_offsets = np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int64)
    hashes = np.zeros(out_offsets[-1], np.uint64)
    total = len(units) - n + 1
    full = counts >= n
    if total > 0 and full.any():
        acc = np.zeros(total, np.uint64)
        for i in range(n):
            acc += units[i: i + total] * _POSITION[i]
        # start position of each valid n-gram: every unit index s of a text with s + n <= its end
        doc_of_unit = np.repeat(np.arange(len(counts)), counts)[:total]
        starts = np.arange(total)
        valid = starts + n <= offsets[doc_of_unit + 1]
        hashes[np.repeat(full, per_doc)] = mix64(acc[valid] ^ np.uint64(n))
    for d in np.flatnonzero((counts > 0) & ~full):  # short texts: rare, one shingle each
        seq = units[offsets[d]: offsets[d + 1]]
        value = (seq * _POSITION[: len(seq)]).sum(dtype=np.uint64)  # wraps mod 2^64, like the vectorised sum
        hashes[out_offsets[d]] = mix64(np.array([value ^ np.uint64(len(seq))], np.uint64))[0]
    return Shingles(hashes, out_offsets)


SALT_SEED = 42  # Spark's `xxhash64` seed, which the sub-buckets have always used


def salt(uid: bytes, salts: int) -> int:
    """The sub-bucket of a uid among `salts` (MinHash dedup spreads a band bucket over them so that no task holds a
    templated page's bucket alone): XXH64 of its bytes, seed 42, as a signed 64-bit number, modulo `salts`, never
    negative (Spark's `pmod(xxhash64(uid), salts)`, so that sub-buckets written before this function stay put)."""
    h = xxhash.xxh64_intdigest(uid, seed=SALT_SEED)
    return (h - (1 << 64) if h >= 1 << 63 else h) % salts


def salts_of(uids: pa.Array, salts: int) -> pa.Array:
    """:func:`salt` of every uid (int32)."""
    return pa.array([salt(uid, salts) for uid in uids.to_pylist()], pa.int32())
