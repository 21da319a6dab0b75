"""bias's lexicons: the built-in and the user's term lists (`lang axis group term`, tab-separated), compiled per
language into sorted n-gram hashes, and the vectorised count of mentions per document and `bias_<axis>_<group>`
column."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate.filters.ngrams import Words, ngrams, words
from curate.pipeline.errors import CurateError

PREFIX = "bias_"
PRONOUN = "pronoun"
DEFAULT_LANG = "en"
BUILTIN_LANGS = ("en", "de", "fr", "es")
_AXIS = re.compile(r"^[a-z]+$")
_GROUP = re.compile(r"^[a-z0-9_]+$")


def column_name(axis: str, group: str) -> str:
    return f"{PREFIX}{axis}_{group}"


def split_column(name: str) -> tuple[str, str]:
    """`bias_<axis>_<group>` -> (axis, group); axis names have no underscore."""
    axis, _, group = name.removeprefix(PREFIX).partition("_")
    return axis, group


def _builtin_files() -> list[Path]:
    folder = resources.files("curate.stages").joinpath("bias_lexicons")
    return [Path(str(folder.joinpath(f"{lang}.tsv"))) for lang in BUILTIN_LANGS]


def read_entries(paths: list[Path]) -> dict[tuple[str, str], tuple[str, str]]:
    """(lang, term) -> (axis, group), later files winning. Terms are stored as written; matching normalises them."""
    entries: dict[tuple[str, str], tuple[str, str]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise CurateError(f"bias.lexicon_paths: cannot read {str(path)!r}: {error.strerror or error}") from None
        for number, row in enumerate(csv.reader(lines, delimiter="\t"), 1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 4:
                raise CurateError(f"{path}:{number}: expected 4 tab-separated columns (lang, axis, group, term), "
                                  f"got {len(row)}")
            lang, axis, group, term = (cell.strip() for cell in row)
            if not _AXIS.match(axis) or not _GROUP.match(group):
                raise CurateError(f"{path}:{number}: axis must be lowercase letters and group lowercase letters, "
                                  f"digits or '_', got {axis!r}, {group!r}")
            entries[(lang, term.lower())] = (axis, group)
    return entries


class _Table:
    """One language's terms: sorted n-gram hashes and the column each counts for."""

    def __init__(self, hashes: np.ndarray, columns: np.ndarray):
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.columns = hashes[order], columns[order]

    def lookup(self, values: np.ndarray) -> np.ndarray:
        if len(self.hashes) == 0 or len(values) == 0:
            return np.full(len(values), -1, np.int64)
        at = np.minimum(np.searchsorted(self.hashes, values), len(self.hashes) - 1)
        return np.where(self.hashes[at] == values, self.columns[at], -1)


@dataclass
class Lexicon:
    """Every language's terms, compiled for vectorised matching."""

    columns: list[str]
    tables: dict[str, _Table]
    lengths: list[int]  # the word counts of the terms

    @classmethod
    def load(cls, user_paths: list[str]) -> Lexicon:
        entries = read_entries(_builtin_files() + [Path(p) for p in user_paths])
        columns = sorted({column_name(*target) for target in entries.values()})
        where = {name: i for i, name in enumerate(columns)}
        langs = sorted({lang for lang, _ in entries if lang != "*"} | {DEFAULT_LANG})
        per_lang: dict[str, dict[str, int]] = {lang: {} for lang in langs}
        for (lang, term), target in sorted(entries.items(), key=lambda item: item[0][0] != "*"):
            for into in (langs if lang == "*" else [lang]):
                per_lang[into][term] = where[column_name(*target)]
        tables, lengths = {}, set()
        for lang, terms in per_lang.items():
            parsed = words(pa.array(list(terms), pa.string()))
            columns_of = np.array(list(terms.values()), np.int64)
            if (parsed.counts == 0).any():
                term = list(terms)[int(np.flatnonzero(parsed.counts == 0)[0])]
                raise CurateError(f"bias lexicon ({lang}): term {term!r} has no letters or digits")
            hashes, cols = [], []
            for k in np.unique(parsed.counts).tolist():  # terms of k words: each is exactly one k-gram
                chosen = np.flatnonzero(parsed.counts == k)
                word_index = (parsed.offsets[chosen][:, None] + np.arange(k)).ravel()
                same = Words(parsed.hashes[word_index], np.arange(len(chosen) + 1, dtype=np.int64) * k)
                hashes.append(ngrams(same, k).hashes)
                cols.append(columns_of[chosen])
                lengths.add(k)
            tables[lang] = _Table(np.concatenate(hashes), np.concatenate(cols))
        return cls(columns, tables, sorted(lengths))

    def count(self, texts: pa.Array, langs: list[str | None] | None) -> np.ndarray:
        """Mentions per document and column: int64 [len(texts), len(columns)]."""
        rows, width = len(texts), len(self.columns)
        names = list(self.tables)
        table_of = {lang: i for i, lang in enumerate(names)}
        default = table_of[DEFAULT_LANG]
        doc_table = np.array([table_of.get(lang, default) for lang in langs] if langs else [default] * rows,
                             np.int64)
        batch_words = words(texts)
        flat = np.zeros(rows * width, np.int64)
        for k in self.lengths:
            grams = ngrams(batch_words, k)
            of_gram = doc_table[grams.doc]
            for t in np.unique(of_gram).tolist():
                mine = of_gram == t
                col = self.tables[names[t]].lookup(grams.hashes[mine])
                found = col >= 0
                flat += np.bincount(grams.doc[mine][found] * width + col[found], minlength=rows * width)
        return flat.reshape(rows, width)
