"""Word tokenizers per language: the segmenter FineWeb-2's thresholds were measured with, chosen from a table.

FineWeb-2 measured every per-language threshold (word counts, word lengths, n-gram fractions, stop words) on the words
of one segmenter per language, the assignment datatrove ships. ``word_tokenizers.tsv`` beside this file holds that
assignment as data — code, family, argument — and :func:`word_tokenizer` gives the tokenizer for a language:

================  ====================================================  =====================================
family            what splits the text                                  packages
================  ====================================================  =====================================
``spacy``         a blank spaCy pipeline's tokenizer for the language   spacy (+ pyvi for Vietnamese)
                  in the argument (1,847 of FineWeb-2's codes, most of
                  them by a proxy language); ``xx``: spaCy's
                  multi-language whitespace/punctuation rules, the
                  fallback for every code not in the table
``jieba``         jieba, precise mode (Chinese: cmn_Hani, yue_Hani...)  jieba
``sudachi``       SudachiPy, split mode A, core dictionary (Japanese)   sudachipy, sudachidict-core
``pythainlp``     PyThaiNLP's ``newmm-safe`` (Thai script), its words   pythainlp
                  computed by :mod:`curate.filters.thai_words` from
                  the library's dictionary and patterns
``kiwi``          Kiwi with its ``sbg`` model (Korean), the text read   kiwipiepy<0.22 (later ones lack sbg)
                  without runs of 20+ digits and commas, as datatrove
                  reads it (offsets included)
``indic``         Indic NLP's trivial tokenizer for the argument's      indic-nlp-library
                  language (Devanagari, Bengali, Arabic-script Indic)
``clusters``      curate's own character clusters                       —
                  (:func:`curate.filters.text.words`): Khmer, Lao,
                  Tibetan, Burmese, where datatrove uses khmer-nltk,
                  laonlp, botok and pyidaungsu, which curate does not
                  ship
================  ====================================================  =====================================

Words are the segmenter's tokens, each stripped of surrounding whitespace, empty ones dropped; punctuation is a word of
its own where the segmenter cuts it off ("end." -> "end", "."), which is what FineWeb-2's ratios count. Where curate
calls a library differently from datatrove, the words are the same: jieba directly rather than through spaCy's Chinese
pipeline (the same tokens once stripped; half the time), spaCy's tokenizer without the pipeline's sentencizer, pyvi's
words as spaCy's Vietnamese tokenizer makes them without the Doc it builds of them, Sudachi directly rather than
through spaCy's Japanese pipeline. Where they may differ, on purpose:

- Japanese text over 40,000 UTF-8 bytes (Sudachi's input limit is about 49,000) is cut into pieces at the last newline
  before the limit, or at the limit when a piece has none; datatrove cuts at byte-size steps of ten characters, so a
  word at a cut may split differently.
- Stanza's 98 languages (Welsh, Galician, Belarusian, ...) use ``spacy xx``: Stanza downloads its models at run time.

A tokenizer is made once per process and family (:func:`word_tokenizer` is cached) and loads its library on its first
:meth:`WordTokenizer.words` call, so a worker loads only the segmenters of the languages its documents are in. A missing
package raises :class:`MissingPackage`, which names it; nothing falls back silently. :meth:`WordTokenizer.words_of`
segments many texts in one call (one spaCy memory zone), and the words of the texts segmented last are remembered, so
the rule sets of one pass segment a document once.
"""
from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from curate.filters.languages import fineweb2_code

__all__ = ["FALLBACK", "REMEMBERED", "MissingPackage", "Assignment", "WordTokenizer", "assignment", "word_tokenizer"]

INSTALL_HINT = "pip install 'curate[multilingual]'"


class MissingPackage(ImportError):
    """A word tokenizer's library is not installed; the message names the package and how to install it."""


@dataclass(frozen=True)
class Assignment:
    """One row of the table: which family segments a language, with which argument."""

    family: str
    argument: str = ""


FALLBACK = Assignment("spacy", "xx")


def _read_table() -> tuple[dict[str, Assignment], dict[str, Assignment]]:
    """(code -> assignment, bare ISO 639-3 code -> the assignment of its default script)."""
    text = resources.files(__package__).joinpath("word_tokenizers.tsv").read_text("utf-8")
    by_code, by_iso = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, family, argument, default, _reference = line.split("\t")
        by_code[code] = Assignment(family, argument)
        if default == "1":
            by_iso.setdefault(code.split("_")[0], by_code[code])
    return by_code, by_iso


_BY_CODE, _BY_ISO = _read_table()


def assignment(lang: str | None) -> Assignment:
    """The tokenizer assignment for `lang`: a FineWeb-2 code (``deu_Latn``), a bare ISO 639-3 code (``deu``: its
    default script), a label :func:`curate.filters.languages.fineweb2_code` maps (``de``, ``de-AT``, ``sr-Latn``);
    anything else, and None, gets :data:`FALLBACK`."""
    if not lang:
        return FALLBACK
    code = fineweb2_code(lang)
    return _BY_CODE.get(code) or _BY_ISO.get(code) or FALLBACK


# ---- the families: each loads its library and returns texts -> each text's raw tokens ------------------------------

Split = Callable[[list[str]], list[list[str]]]


def _each(split: Callable[[str], list[str]]) -> Split:
    return lambda texts: [split(text) for text in texts]


def _spacy(argument: str) -> Split:
    import spacy

    nlp = spacy.blank(argument)
    # Each new word becomes a lexeme, and computing its lexical attributes (shape, like_num, ...: Python per word) was
    # 30-90% of tokenizing; nothing here reads them, and the tokens are the same without (58 languages checked).
    nlp.vocab.lex_attr_getters = {}
    tokenizer = nlp.tokenizer
    if argument == "vi":
        # spaCy's Vietnamese tokenizer takes pyvi's words, then builds a Doc of them and the whitespace between them;
        # once stripped, the Doc's tokens are pyvi's words, so they are taken as pyvi gives them: building and reading
        # the Doc was a sixth of the time (305 documents: 2.18 -> 1.80 CPU s inside the library,
        # bench/multilingual_library_share.py).
        return _each(tokenizer.pyvi_tokenize)

    def split(texts: list[str]) -> list[list[str]]:
        # spaCy adds every new word to the pipeline's vocabulary; the memory zone frees them after the call, so a
        # worker's memory does not grow with the corpus, and a word seen twice in the call is looked up once.
        with nlp.memory_zone():
            return [[token.text for token in tokenizer(text)] for text in texts]

    return split


def _jieba(argument: str) -> Split:
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary load logs three lines at INFO on every worker
    segmenter = jieba.Tokenizer()
    return _each(lambda text: segmenter.lcut(text, cut_all=False))


SUDACHI_MAX_BYTES = 40_000  # Sudachi refuses input over ~49,000 bytes


def _pieces(text: str, max_bytes: int) -> list[str]:
    """`text` cut into pieces of at most `max_bytes` UTF-8 bytes, each ending at a newline where one is in reach."""
    pieces = []
    while len(text.encode("utf-8")) > max_bytes:
        end = len(text.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore"))  # whole characters only
        cut = text.rfind("\n", 0, end) + 1 or end
        pieces.append(text[:cut])
        text = text[cut:]
    return [*pieces, text]


def _sudachi(argument: str) -> Split:
    from sudachipy import Dictionary, SplitMode

    # every field: with fewer (fields=set()), Sudachi's plugins no longer join digits ("2020" -> "2", "0", ...)
    tokenizer = Dictionary().tokenizer(mode=SplitMode.A)
    return _each(lambda text: [m.surface() for piece in _pieces(text, SUDACHI_MAX_BYTES)
                               for m in tokenizer.tokenize(piece)])


def _pythainlp(argument: str) -> Split:
    # PyThaiNLP's newmm-safe words, computed by curate.filters.thai_words from the library's dictionary and patterns
    # in about two thirds of the library's time (the words identical: tests/filters/test_thai_words.py).
    from curate.filters import thai_words

    thai_words.load()
    return _each(thai_words.words)


_LONG_NUMBER = re.compile("[0-9,]{20,}")


def _kiwi(argument: str) -> Split:
    from kiwipiepy import Kiwi

    kiwi = Kiwi(model_type="sbg")

    def split(text: str) -> list[str]:
        # Kiwi reads the text without runs of 20+ digits and commas (it mishandles them), and the words are cut from
        # the text as it was with the offsets Kiwi gives in the cleaned one: shifted after such a run. That is how
        # FineWeb-2's Korean thresholds were measured (datatrove's KiwiTokenizer), so it is kept.
        return [text[token.start:token.end] for token in kiwi.tokenize(_LONG_NUMBER.sub("", text))]

    return _each(split)


def _indic(argument: str) -> Split:
    from indicnlp.tokenize.indic_tokenize import trivial_tokenize

    return _each(lambda text: trivial_tokenize(text, argument))


def _clusters(argument: str) -> Split:
    from curate.filters.text import words

    return _each(words)


@dataclass(frozen=True)
class Family:
    load: Callable[[str], Split]
    packages: tuple[tuple[str, str], ...]  # (module to import, package to install)


FAMILIES: dict[str, Family] = {
    "spacy": Family(_spacy, (("spacy", "spacy"),)),
    "jieba": Family(_jieba, (("jieba", "jieba"),)),
    "sudachi": Family(_sudachi, (("sudachipy", "sudachipy"), ("sudachidict_core", "sudachidict-core"))),
    "pythainlp": Family(_pythainlp, (("pythainlp", "pythainlp"),)),
    "kiwi": Family(_kiwi, (("kiwipiepy", "kiwipiepy"), ("kiwipiepy_model", "kiwipiepy_model"))),
    "indic": Family(_indic, (("indicnlp", "indic-nlp-library"),)),
    "clusters": Family(_clusters, ()),
}
# spaCy's blank pipelines that need one more package to tokenize
_SPACY_EXTRA = {"vi": (("pyvi", "pyvi"),)}


class Remembered:
    """The words of the texts segmented last, by tokenizer and text, so that the rule sets of one pass
    (gopher_repetition, fineweb_quality, gopher_quality, MinHash's shingles) segment each document once. One per
    process, for every tokenizer: up to a reader's batch of text (64 Mi characters), each text's words joined by a
    separator no word holds (about the text's size again); past the bound it starts again, empty."""

    LIMIT = 64 << 20
    SEPARATOR = "\x1f"

    def __init__(self) -> None:
        self.words: dict[tuple[str, str, str], str] = {}
        self.chars = 0

    def get(self, key: tuple[str, str, str]) -> list[str] | None:
        joined = self.words.get(key)
        return None if joined is None else joined.split(self.SEPARATOR) if joined else []

    def put(self, key: tuple[str, str, str], words: list[str]) -> None:
        joined = self.SEPARATOR.join(words)
        if words and joined.count(self.SEPARATOR) != len(words) - 1:  # a word holds the separator: not kept
            return
        if self.chars + len(key[2]) > self.LIMIT:
            self.clear()
        self.words[key] = joined
        self.chars += len(key[2])

    def clear(self) -> None:
        self.words.clear()
        self.chars = 0


REMEMBERED = Remembered()


@dataclass
class WordTokenizer:
    """One family's segmenter with its argument; the library loads on the first call to :meth:`words`."""

    family: str
    argument: str = ""
    _split: Split | None = field(default=None, repr=False)

    @property
    def packages(self) -> tuple[tuple[str, str], ...]:
        """(module, package) pairs this tokenizer imports."""
        extra = _SPACY_EXTRA.get(self.argument, ()) if self.family == "spacy" else ()
        return FAMILIES[self.family].packages + extra

    def missing(self) -> list[str]:
        """The packages this tokenizer needs that are not installed (looked up, not imported)."""
        return [package for module, package in self.packages if importlib.util.find_spec(module) is None]

    def load(self) -> None:
        """Load the library now (the first :meth:`words` call does it otherwise)."""
        if self._split is not None:
            return
        missing = self.missing()
        if missing:
            raise MissingPackage(f"the {self.family} word tokenizer needs {', '.join(missing)}, which "
                                 f"{'is' if len(missing) == 1 else 'are'} not installed: {INSTALL_HINT}")
        self._split = FAMILIES[self.family].load(self.argument)

    def words(self, text: str) -> list[str]:
        """The words of `text`: the segmenter's tokens, stripped, empty ones dropped."""
        return self.words_of([text])[0]

    def words_of(self, texts: list[str]) -> list[list[str]]:
        """The words of each text (:meth:`words`), the texts segmented together where the library gains by it."""
        keys = [(self.family, self.argument, text) for text in texts]
        out = [REMEMBERED.get(key) for key in keys]
        todo = [i for i, words in enumerate(out) if words is None]
        if todo:
            self.load()
            for i, tokens in zip(todo, self._split([texts[i] for i in todo])):
                out[i] = words = [word for word in map(str.strip, tokens) if word]
                REMEMBERED.put(keys[i], words)
        return out


@cache
def _tokenizer(found: Assignment) -> WordTokenizer:
    return WordTokenizer(found.family, found.argument)


def word_tokenizer(lang: str | None) -> WordTokenizer:
    """The word tokenizer for `lang` (see :func:`assignment`), one per family and argument in a process."""
    return _tokenizer(assignment(lang))
