"""Thai words as PyThaiNLP's ``newmm-safe`` engine cuts them, without whitespace, in about two thirds of its time.

``word_tokenize(text, engine="newmm-safe", keep_whitespace=False)`` (PyThaiNLP 5.x) is the Thai segmenter FineWeb-2's
thresholds were measured with; its pure-Python search was four fifths of curate's time on Thai documents. This module
computes the same words (0.63–0.65× the library's CPU on the bench's Thai documents), from the library's own
dictionary and its own cluster and non-Thai patterns:

1. *Chunks* (the ``safe`` part): a text of 140 characters or more is cut into chunks. From the chunk's start, the cut
   is after the last space among characters 100-139; with no space there, those 40 characters are segmented and the cut
   falls before the longest word (the last one of that length).
2. *Clusters*: each chunk is split into Thai Character Clusters (the library's pattern, matched from left to right, a
   character no pattern starts being a cluster of its own); a word may only end where a cluster of its chunk ends.
3. *Maximal matching*: from the chunk's start, the dictionary words that begin at the smallest open position and end
   on a cluster boundary open their end positions (at most 50 such edges until the next resolution). When one open
   position is left, the words are the fewest-word path to it, breadth first, shorter words tried first. When none is
   left, the text up to the next position where a dictionary word of more than two consonants starts, or where a
   non-Thai run starts, is one word (a non-Thai run itself — Latin letters, a number with ``,``/``.``, spaces, a line
   end, other symbols — is one word).
4. *Post-processing*: numbers with ``.``, ``,`` or ``:`` between digits that the cutting split are joined again, each
   word loses its surrounding spaces, and the words left empty are dropped.

Where it differs from the library is only how. The library walks a trie of Python objects character by character at
every position; here the dictionary is a sorted array of trie transitions and every position of the text walks it at
once, one character a step, in NumPy (:func:`_dictionary_words`), so the Python loop of step 3 only reads each
position's words from a list. Positions index the text instead of slicing its rest, and a chunk's clusters are found in
one regular-expression scan.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from heapq import heappop, heappush

import numpy as np

__all__ = ["load", "words"]

CHUNK_MIN = 140  # a text this long or longer is cut into chunks
CUT_FROM, CUT_TO = 100, 140  # where, from a chunk's start, the cut is looked for
MAX_EDGES = 50  # the library's bound on the words considered before a cut is forced
SHALLOW = 20_000  # the dictionary's states (prefixes of up to about three characters) held in a table: 6.6 MB

# A run of digits with a separator the cutting may have split ("12", ":", "00").
_FORMATTED_NUMBER = re.compile(r"(?:\d+[.,:])+\d+")


@cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """The library's own patterns (read, not re-typed, so that an upgrade cannot make them drift): a Thai Character
    Cluster or else any one character, a non-Thai run, a word of at most two consonants."""
    from pythainlp.tokenize import newmm, tcc_p

    # The library tries a cluster at each position and takes one character where none matches: the same as one
    # scan for "a cluster, or else a character". Its groups made non-capturing, so that findall gives the clusters.
    cluster = re.compile("(?:{})|.".format(re.sub(r"\((?!\?)", "(?:", tcc_p._PAT_TCC.pattern)), re.DOTALL)
    return cluster, newmm._PAT_NONTHAI, newmm._PAT_THAI_TWOCHARS


@dataclass(frozen=True)
class Trie:
    """The library's default dictionary as arrays: state 0 is the empty prefix, state s's transition on character
    number c (1-based in `alphabet`) is ``key = s * (len(alphabet) + 1) + c``, found in the sorted `keys` with its
    target in `targets`; `is_word[s]` says whether state s's prefix is a word."""

    alphabet: np.ndarray  # the code points the words use, sorted
    keys: np.ndarray
    targets: np.ndarray
    is_word: np.ndarray
    shallow: np.ndarray  # the same transitions as a table for the first SHALLOW states (-1: none), most steps' states

    def step(self, states: np.ndarray, symbols: np.ndarray) -> np.ndarray:
        """The states after reading `symbols` from `states` (-1 where the prefix goes on to no word)."""
        key = states * (len(self.alphabet) + 1) + symbols
        near = states < SHALLOW
        if near.all():  # the first steps: one table read
            return self.shallow[key].astype(np.int64)
        if not near.any():  # the last steps: a search
            return self._searched(key)
        out = np.empty(len(key), dtype=np.int64)
        out[near] = self.shallow[key[near]]
        out[~near] = self._searched(key[~near])
        return out

    def _searched(self, key: np.ndarray) -> np.ndarray:
        """The targets of the transitions `key` in the sorted arrays (-1 where there is none)."""
        slot = np.minimum(np.searchsorted(self.keys, key), len(self.keys) - 1)
        return np.where(self.keys[slot] == key, self.targets[slot], -1)


@cache
def _trie() -> Trie:
    """The trie of the words of ``pythainlp.corpus.common.thai_words()``, stripped as the library's trie strips them."""
    from pythainlp.corpus.common import thai_words

    words = {word.strip() for word in thai_words()} - {""}
    prefixes = sorted({word[:end] for word in words for end in range(1, len(word) + 1)}, key=len)  # shallow ones first
    state = {"": 0} | {prefix: i for i, prefix in enumerate(prefixes, 1)}
    alphabet = sorted({ch for word in words for ch in word})
    symbol = {ch: i for i, ch in enumerate(alphabet, 1)}
    width = len(alphabet) + 1
    keys = np.array([state[p[:-1]] * width + symbol[p[-1]] for p in prefixes], dtype=np.int64)
    order = np.argsort(keys)
    targets = np.arange(1, len(state), dtype=np.int64)
    is_word = np.zeros(len(state), dtype=bool)
    is_word[[state[word] for word in words]] = True
    shallow = np.full(SHALLOW * width, -1, dtype=np.int32)
    near = keys < SHALLOW * width
    shallow[keys[near]] = targets[near]
    return Trie(np.array([ord(ch) for ch in alphabet], dtype=np.int64), keys[order], targets[order], is_word, shallow)


def _dictionary_words(text: str, chunk_end: np.ndarray, ends: np.ndarray) -> tuple[list[int], list[int]]:
    """Every dictionary word in `text` that begins at a position, ends where a cluster ends (`ends`, a boolean per
    position 0..len) and stays inside its chunk (`chunk_end`, per position), as lists: `offsets` (len + 2 of them) and
    `word_ends`, the ends of the words at position p being ``word_ends[offsets[p]:offsets[p + 1]]``, shortest first."""
    trie = _trie()
    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    symbols = np.searchsorted(trie.alphabet, points)
    known = symbols < len(trie.alphabet)
    known[known] = trie.alphabet[symbols[known]] == points[known]
    symbols = np.where(known, symbols + 1, 0)  # 0: a character no word has, which no transition reads
    # Words begin where a cluster ends (or at the text's start): the cut reads no other position.
    begins = np.flatnonzero(np.concatenate([[True], ends[1:-1]]))
    states = np.zeros(len(begins), dtype=np.int64)
    limits = chunk_end[begins]
    found_begins, found_ends = [], []
    length = 0
    while begins.size:  # all positions walk the trie together, one character a step, while their prefix is one
        at = begins + length
        inside = at < limits
        begins, states, limits, at = begins[inside], states[inside], limits[inside], at[inside]
        states = trie.step(states, symbols[at])
        goes_on = states >= 0
        begins, limits, states = begins[goes_on], limits[goes_on], states[goes_on]
        length += 1
        word = begins[trie.is_word[states] & ends[begins + length]]
        found_begins.append(word)
        found_ends.append(word + length)
    all_begins = np.concatenate(found_begins) if found_begins else np.zeros(0, dtype=np.int64)
    order = np.argsort(all_begins, kind="stable")  # by begin, then (the steps' order) by length
    word_ends = (np.concatenate(found_ends)[order] if found_ends else all_begins).tolist()
    offsets = np.concatenate([[0], np.cumsum(np.bincount(all_begins, minlength=len(text) + 1))]).tolist()
    return offsets, word_ends


class _Text:
    """One text being cut, chunk by chunk (steps 1 to 3 of the module's docstring), with its dictionary words."""

    def __init__(self, text: str, chunks: list[int]):
        """`chunks`: the positions where the chunks start, then the text's end."""
        self.text = text
        cluster, self.non_thai, self.two_consonants = _patterns()
        lengths: list[int] = []
        for start, end in zip(chunks, chunks[1:]):
            lengths += map(len, cluster.findall(text, start, end))  # a chunk's clusters end at its end
        ends = np.zeros(len(text) + 1, dtype=bool)
        ends[np.cumsum(np.array(lengths, dtype=np.int64))] = True
        self.ends = ends.tolist()
        chunk_end = np.repeat(np.array(chunks[1:], dtype=np.int64), np.diff(chunks))
        self.offsets, self.word_ends = _dictionary_words(text, chunk_end, ends)

    def words_at(self, pos: int) -> list[int]:
        return self.word_ends[self.offsets[pos]:self.offsets[pos + 1]]

    def cut(self, start: int, end: int) -> list[str]:
        """The words of the chunk ``text[start:end]`` by maximal matching."""
        text, offsets, word_ends = self.text, self.offsets, self.word_ends
        tokens: list[str] = []
        edges: dict[int, list[int]] = {}
        n_edges = 0
        open_positions = [start]  # a heap
        done = start
        while open_positions[0] < end:
            begin = heappop(open_positions)
            found = word_ends[offsets[begin]:offsets[begin + 1]]
            if not open_positions and len(found) == 1 and done == begin:  # one word, nothing pending: decided
                done = found[0]
                tokens.append(text[begin:done])
                open_positions.append(done)
                continue
            for pos in found:
                edges.setdefault(begin, []).append(pos)
                n_edges += 1
                if pos not in open_positions:
                    heappush(open_positions, pos)
                if n_edges > MAX_EDGES:
                    break
            if len(open_positions) == 1:  # every path meets here: the words up to it are decided
                for pos in _fewest_words(edges, done, open_positions[0]):
                    tokens.append(text[done:pos])
                    done = pos
                edges.clear()
                n_edges = 0
            elif not open_positions:  # no dictionary word starts here
                done = self.unknown_end(begin, end)
                tokens.append(text[begin:done])
                edges.clear()
                n_edges = 0
                open_positions.append(done)
        return tokens

    def unknown_end(self, begin: int, end: int) -> int:
        """Where the word that starts at `begin`, in the chunk ending at `end`, and is in no dictionary ends: a non-Thai
        run is one word; Thai text runs to the next cluster end where a dictionary word of more than two consonants,
        or a non-Thai run, starts."""
        run = self.non_thai.match(self.text, begin, end)
        if run:
            return run.end()
        for pos in range(begin + 1, end):
            if not self.ends[pos]:
                continue
            if any(not self.two_consonants.match(self.text, pos, word_end) for word_end in self.words_at(pos)):
                return pos
            if self.non_thai.match(self.text, pos, end):
                return pos
        return end


def _fewest_words(edges: dict[int, list[int]], start: int, goal: int) -> list[int]:
    """The positions of the first path from `start` to `goal` a breadth-first search meets (edges in the order they
    were added), `start` left out."""
    seen = {start}
    queue = [(start, [])]
    for vertex, path in queue:  # the queue grows while it is read: breadth first
        for pos in edges.get(vertex, ()):
            if pos == goal:
                return [*path, pos]
            if pos not in seen:
                seen.add(pos)
                queue.append((pos, [*path, pos]))
    raise AssertionError("the goal is always reachable")  # every open position was opened by an edge


def _chunk_starts(text: str) -> list[int]:
    """Where the chunks of `text` start, then its end (step 1 of the module's docstring)."""
    starts = [0]
    while len(text) - starts[-1] >= CHUNK_MIN:
        window = text[starts[-1] + CUT_FROM:starts[-1] + CUT_TO]
        space = window.rfind(" ")
        if space >= 0:
            starts.append(starts[-1] + CUT_FROM + space + 1)
            continue
        tokens = _Text(window, [0, len(window)]).cut(0, len(window))
        longest = max(range(len(tokens)), key=lambda i: (len(tokens[i]), i))
        starts.append(starts[-1] + CUT_FROM + sum(map(len, tokens[:longest])))
    return [*starts, len(text)]  # each cut is at least 140 characters before the end


def _rejoin_numbers(text: str, tokens: list[str]) -> list[str]:
    """`tokens` (which make up `text`) with each formatted number joined into one token: from the first token that
    starts inside the number to the one it ends in."""
    joined: list[str] = []
    i, pos = 0, 0  # the next token and where it starts
    for match in _FORMATTED_NUMBER.finditer(text):
        start, end = match.span()
        while i < len(tokens) and pos < start:
            joined.append(tokens[i])
            pos += len(tokens[i])
            i += 1
        if i == len(tokens):
            break
        if pos < end:
            first = pos
            while pos < end and i < len(tokens):
                pos += len(tokens[i])
                i += 1
            joined.append(text[first:pos])
    joined.extend(tokens[i:])
    return joined


def load() -> None:
    """Read the library's dictionary and patterns now (the first :func:`words` call does it otherwise)."""
    _trie()
    _patterns()


def words(text: str) -> list[str]:
    """The words of `text` as ``pythainlp.tokenize.word_tokenize(text, engine="newmm-safe", keep_whitespace=False)``
    gives them."""
    if not text:
        return []
    chunks = _chunk_starts(text)
    cutter = _Text(text, chunks)
    tokens = [token for start, end in zip(chunks, chunks[1:]) for token in cutter.cut(start, end)]
    return [word for word in (token.strip(" ") for token in _rejoin_numbers(text, tokens)) if word]
