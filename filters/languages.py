"""Language codes: short labels (lid.176's, ISO 639-1) as FineWeb-2's codes, the script read from the text.

FineWeb-2 names a language by its ISO 639-3 code and its script (``deu_Latn``, ``cmn_Hani``, ``srp_Cyrl``), as GlotLID
labels it; fastText's lid.176 labels mostly by ISO 639-1 (``de``, ``zh``, ``sr``). :func:`fineweb2_code` maps one to
the other with the table ``fineweb2_codes.tsv`` beside this file (lid.176's 176 labels and every ISO 639-1 code): a
macrolanguage goes to the individual language FineWeb-2 has data for (``zh`` -> ``cmn_Hani``, ``ar`` -> ``arb_Arab``,
``fa`` -> ``fas_Arab``, ``ms`` -> ``zsm_Latn``, ``et`` -> ``ekk_Latn``, ``no`` -> ``nob_Latn``, ``tl`` -> ``fil_Latn``),
and where a language is written in several scripts (``sr``: ``srp_Cyrl`` / ``srp_Latn``; ``hi``: ``hin_Deva`` /
``hin_Latn``; 32 labels in all) the script most of the text's first 2,000 characters are written in picks the code
(:func:`main_script`), the table's first code when none of them is. A label that is already a FineWeb-2 code
(GlotLID's) stays as it is, and so does an unknown label (:func:`is_fineweb2_code` tells the two apart).
"""
from __future__ import annotations

import re
from functools import cache
from importlib import resources

import regex

__all__ = ["LABELS", "fineweb2_code", "is_fineweb2_code", "main_script"]

_CODE = re.compile(r"[a-z]{2,3}_[A-Z][a-z]{3}")
# Scripts a code may name that Unicode splits in several: Japanese is Han + Hiragana + Katakana, Korean Hangul + Han.
_COMPOSITE = {"Jpan": ("Hani", "Hira", "Kana"), "Kore": ("Hang", "Hani"), "Hans": ("Hani",), "Hant": ("Hani",)}
SCRIPT_SAMPLE = 2000  # characters read to tell the script: enough letters to decide, bounded on long documents


def _read_table() -> dict[str, tuple[str, ...]]:
    text = resources.files(__package__).joinpath("fineweb2_codes.tsv").read_text("utf-8")
    rows = (line.split("\t") for line in text.splitlines() if line and not line.startswith("#"))
    return {label: tuple(codes.split()) for label, codes in rows}


#: lid.176 label -> the FineWeb-2 codes it may stand for, the default first.
LABELS: dict[str, tuple[str, ...]] = _read_table()


def is_fineweb2_code(label: str) -> bool:
    """Whether `label` has FineWeb-2's (and GlotLID's) form: ISO 639-3 code, underscore, ISO 15924 script."""
    return bool(_CODE.fullmatch(label))


@cache
def _script_pattern(script: str) -> regex.Pattern:
    parts = _COMPOSITE.get(script, (script,))
    return regex.compile("|".join(rf"\p{{sc={part}}}" for part in parts))


def main_script(text: str, scripts: tuple[str, ...]) -> str | None:
    """Of `scripts` (ISO 15924), the one most of the text's first characters are written in; None when none is."""
    sample = text[:SCRIPT_SAMPLE]
    counts = [len(_script_pattern(script).findall(sample)) for script in scripts]
    best = max(range(len(scripts)), key=counts.__getitem__)
    return scripts[best] if counts[best] else None


def fineweb2_code(label: str, text: str | None = None) -> str:
    """`label` as a FineWeb-2 code: lid.176's labels mapped (the script read from `text` where the label has several),
    FineWeb-2/GlotLID codes and unknown labels unchanged."""
    codes = LABELS.get(label)
    if codes is None:
        return label
    if len(codes) == 1 or not text:
        return codes[0]
    script = main_script(text, tuple(code.split("_")[1] for code in codes))
    return next((code for code in codes if code.endswith("_" + script)), codes[0]) if script else codes[0]

