"""FineWeb-2's per-language configs: read from ``configs.tsv`` beside this file, looked up by FineWeb-2 code.

The table holds the 1,929 configs FineWeb-2 published (huggingface/fineweb-2 @d0defb2 ``configs/<code>.yml``,
Apache-2.0, its LICENSE beside this file), one line per language in the column order of the table's header, so the
whole set reads in a few milliseconds (the YAML files took seconds). Which rule takes which value, and the choices
FineWeb-2 fixed for every language, are in each rule set's module (``thresholds(config)``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = ["LanguageConfig", "configs", "config"]


@dataclass(frozen=True)
class LanguageConfig:
    """One language's config, with the published key names."""

    code: str
    language_score: float  # GlotLID's minimum score for a document of this language
    dup_line_frac: float
    top_n_grams: tuple[tuple[int, float], ...]  # (n, maximum), n = 2, 3, 4
    dup_n_grams: tuple[tuple[int, float], ...]  # (n, maximum), n = 5 .. 10
    new_line_ratio: float
    line_punct_thr: float
    min_avg_word_length: float
    max_avg_word_length: float
    max_non_alpha_words_ratio: float  # the minimum fraction of words with a letter, despite its name
    stopwords: frozenset[str]


_TOP = ("top_2", "top_3", "top_4")
_DUP = ("dup_5", "dup_6", "dup_7", "dup_8", "dup_9", "dup_10")


@cache
def configs() -> dict[str, LanguageConfig]:
    """Every published config, by FineWeb-2 code (``deu_Latn``)."""
    text = resources.files(__package__).joinpath("configs.tsv").read_text("utf-8")
    lines = [line for line in text.split("\n") if line and not line.startswith("#")]
    header = lines[0].split("\t")
    stop = header.index("stopwords")
    out = {}
    for line in lines[1:]:
        cells = line.split("\t")
        value = dict(zip(header[1:stop], map(float, cells[1:stop])))
        out[cells[0]] = LanguageConfig(
            code=cells[0],
            language_score=value["language_score"],
            dup_line_frac=value["dup_line_frac"],
            top_n_grams=tuple((int(name.split("_")[1]), value[name]) for name in _TOP),
            dup_n_grams=tuple((int(name.split("_")[1]), value[name]) for name in _DUP),
            new_line_ratio=value["new_line_ratio"],
            line_punct_thr=value["line_punct_thr"],
            min_avg_word_length=value["min_avg_word_length"],
            max_avg_word_length=value["max_avg_word_length"],
            max_non_alpha_words_ratio=value["max_non_alpha_words_ratio"],
            stopwords=frozenset(cells[stop:]),
        )
    return out


def config(code: str) -> LanguageConfig | None:
    """The config of FineWeb-2 code `code`; None when FineWeb-2 has none (English, an unknown code)."""
    return configs().get(code)
