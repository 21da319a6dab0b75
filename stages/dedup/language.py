"""Words per language for the dedup stages: `language: auto` (each document's `lang`) or a fixed code picks the word
tokenizer FineWeb-2 uses for the language (:func:`curate.filters.words.word_tokenizer`: jieba for Chinese, SudachiPy
for Japanese, PyThaiNLP for Thai, spaCy's rules for most others).

Without `language` the dedup stages keep their own words: whitespace tokens, Han and Kana split per character, Thai
and its neighbours per character cluster (:func:`curate.filters.text.words`), vectorised over the batch. A word
tokenizer runs per document (Python), each loaded once per worker for the languages its documents are in.
"""
from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from curate.filters.words import MissingPackage, word_tokenizer
from curate.pipeline.errors import CurateError

AUTO = "auto"
LANGUAGE = Field(None, min_length=1, description="words from the language's word tokenizer (FineWeb-2's): auto "
                 "(each document's lang) or a code (zh, cmn_Hani); none = whitespace words, Han/Kana per character")


def check_installed(language: str | None) -> str | None:
    """A fixed language whose tokenizer's packages are missing is a config error (the packages are looked up, not
    imported); `auto` is checked per language as documents arrive."""
    if language not in (None, AUTO):
        missing = word_tokenizer(language).missing()
        if missing:
            raise ValueError(f"language {language!r} needs {', '.join(missing)}, which is not installed")
    return language


def language_columns(language: str | None) -> tuple[str, ...]:
    """The columns `language` reads: `lang` with `auto`."""
    return ("lang",) if language == AUTO else ()


def languages_of(batch: pa.RecordBatch, language: str) -> list[str | None]:
    """Each document's language: its `lang` with `auto`, else `language` for all."""
    return batch.column("lang").to_pylist() if language == AUTO else [language] * batch.num_rows


def words_of(texts: list[str | None], langs: list[str | None]) -> list[list[str]]:
    """The words of each text by its language's tokenizer (no words for a null or empty text); a missing tokenizer
    package is a CurateError naming it and the language."""
    out: list[list[str]] = [[] for _ in texts]
    rows: dict[str | None, list[int]] = {}
    for i, (text, lang) in enumerate(zip(texts, langs)):
        if text:
            rows.setdefault(lang, []).append(i)
    for lang, chosen in rows.items():  # one tokenizer per language present
        try:
            for i, found in zip(chosen, word_tokenizer(lang).words_of([texts[i] for i in chosen])):
                out[i] = found
        except MissingPackage as error:
            raise CurateError(f"documents in language {lang!r}: {error}") from None
    return out
