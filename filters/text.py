"""Text segmentation shared by the heuristic filters: lines, paragraphs and words.

Every filter in this package splits text the same way, so a "line" or a "word" means one thing across Gopher, C4 and
FineWeb signals:

- **lines**: the text split on ``\\n`` (a trailing ``\\r`` goes with the whitespace), each line stripped of surrounding
  whitespace; blank lines are dropped. Filters that need the raw lines (C4 rewrites the text) split themselves.
- **paragraphs**: blocks separated by one or more blank lines (``\\n`` + optional whitespace + ``\\n``), stripped;
  empty ones dropped.
- **words**: whitespace-separated tokens, punctuation attached ("end." is one word, as in the Gopher definitions, which
  speak of words, not tokenizer tokens). Scripts written without spaces between words — Han (zh, ja), Hiragana and
  Katakana (ja), Thai, Lao, Khmer, Myanmar, Tibetan — would make a whole sentence one "word", so any token that contains
  such characters is split further, without a dictionary:

  * each Han/Kana character is one unit (Chinese words average ~1.5 characters, so a character is the nearest
    dictionary-free unit, and character counts are how CJK text length is usually measured);
  * Thai, Lao, Khmer, Myanmar and Tibetan split into *character clusters*: a base character with the combining marks
    (vowel signs, tone marks) that follow it, a subscript consonant joined by the virama/coeng (Khmer, Myanmar), and
    for Thai/Lao a leading vowel (เ แ โ ใ ไ) or a syllable-final vowel (ะ า ำ) kept with its consonant — the core of
    the Thai Character Cluster rules. A cluster never splits a rendered glyph; it is smaller than a word (a Thai word is ~2-4 clusters),
    so unit counts run higher than word counts, the same direction as Han characters. A dictionary segmenter would be
    closer to words but needs per-language data and is ~100x slower;
  * runs of other letters and digits inside such a token stay together ("iPhone15"), and punctuation sticks to the
    unit beside it ("你好，" -> "你", "好，"), as it does to Latin words.

  Segmentation follows the script of each token, not a language label, so mixed and mislabelled text is handled the
  same way; :func:`unspaced` tells whether word *lengths* mean anything for a document (they do not when most units
  are single characters or clusters).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["UNSPACED_LANGS", "PUNCTUATION", "SENTENCE_END_MARKS", "lines", "paragraphs", "words", "unspaced"]

#: Languages written without spaces between words (ISO 639-1 where there is one).
UNSPACED_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my", "bo", "yue", "wuu", "lzh"})

# Characters that are words' parts in scripts without spaces.
_HAN_KANA = (
    "\u3005\u3007\u3021-\u3029\u3038-\u303b"  # iteration marks, Hangzhou numerals
    "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff"  # Hiragana, Katakana (+ prolonged sound mark), phonetic ext.
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ext. A, unified, compatibility
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK ext. B-G
)
# Script blocks segmented into clusters (base + combining marks).
_CLUSTER_BLOCKS = (
    (0x0E00, 0x0E7F),  # Thai
    (0x0E80, 0x0EFF),  # Lao
    (0x0F00, 0x0FFF),  # Tibetan
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
)
# Thai/Lao vowels written before the consonant they follow in speech, and vowels that end a syllable: they belong to
# the cluster of the neighbouring consonant (Thai Character Cluster rules, reduced to the cases that matter most).
_LEAD = "\u0e40-\u0e44\u0ec0-\u0ec4"
_FOLLOW = "\u0e30\u0e32\u0e33\u0e45\u0eb0\u0eb2\u0eb3"
# Virama / coeng: joins the next consonant into the current cluster (Tibetan subjoins with its own letters, which are Mn).
_JOINERS = "\u1039\u17d2"


def _char_class(codepoints) -> str:
    return "".join(re.escape(chr(c)) for c in codepoints)


def _block_chars(marks: bool) -> list[int]:
    out = []
    for lo, hi in _CLUSTER_BLOCKS:
        for c in range(lo, hi + 1):
            cat = unicodedata.category(chr(c))
            if cat == "Cn" or chr(c) in _JOINERS:
                continue
            if cat.startswith("M") == marks:
                out.append(c)
    return out


_CL_BASE = _char_class(_block_chars(marks=False))
_CL_MARK = _char_class(_block_chars(marks=True))
_J = _char_class(map(ord, _JOINERS))

# Any character that triggers per-unit segmentation of its token.
UNSPACED_CHAR = re.compile(f"[{_HAN_KANA}{_CL_BASE}{_CL_MARK}{_J}]")
# One unit: optional leading punctuation, then a Han/Kana char, a cluster, or a run of other letters/digits,
# then trailing punctuation. "Punctuation" here is anything that is neither a word character nor space.
_P = r"(?:[^\w\s]|_)"
_OTHER = f"(?:(?![{_HAN_KANA}{_CL_BASE}{_J}])[\\w])"
_UNIT = re.compile(
    f"{_P}*(?:[{_HAN_KANA}]|[{_LEAD}]?[{_CL_BASE}](?:[{_CL_MARK}]|[{_J}][{_CL_BASE}]?)*(?:[{_FOLLOW}][{_CL_MARK}]*)?"
    f"|{_OTHER}+){_P}*"
    f"|{_P}+"  # a token of punctuation only (after a stray mark); never empty
)

_PARA_SPLIT = re.compile(r"\n[^\S\n]*\n\s*")

#: Characters stripped from a word's ends to get its "core" (ASCII punctuation plus common Unicode quotes, dashes,
#: CJK punctuation). Used for word lengths and stop-word matching.
PUNCTUATION = "".join(
    dict.fromkeys(
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
        "\u00a1\u00ab\u00b7\u00bb\u00bf"
        + "".join(chr(c) for c in range(0x2010, 0x2028))  # dashes, quotes, bullets, ellipsis
        + "".join(chr(c) for c in range(0x2030, 0x205F))  # per mille, primes, guillemets, ...
        + "".join(chr(c) for c in range(0x3000, 0x3004))  # ideographic space/comma/full stop
        + "".join(chr(c) for c in range(0x3008, 0x3012))  # CJK brackets
        + "\uff01\uff08\uff09\uff0c\uff0e\uff1a\uff1b\uff1f\uff3b\uff3d\uff5b\uff5d\u30fb"
    )
)


#: Marks that end a sentence: . ! ? and their counterparts in other scripts — CJK full-width 。！？, Devanagari danda ।,
#: Arabic/Urdu ؟ ۔, Armenian ։, Ethiopic ።. C4 and FineWeb were English-first; these keep their line-end rules from
#: rejecting all text in those scripts.
SENTENCE_END_MARKS = ".!?\u3002\uff01\uff1f\u0964\u061f\u06d4\u0589\u1362"


def lines(text: str) -> list[str]:
    """Non-blank lines of ``text``, stripped of surrounding whitespace."""
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def paragraphs(text: str) -> list[str]:
    """Non-empty blocks of ``text`` separated by blank lines, stripped."""
    return [s for s in (p.strip() for p in _PARA_SPLIT.split(text)) if s]


def words(text: str) -> list[str]:
    """Words of ``text``: whitespace tokens, with tokens in unspaced scripts split into characters/clusters."""
    tokens = text.split()
    if not UNSPACED_CHAR.search(text):
        return tokens
    out: list[str] = []
    for tok in tokens:
        if UNSPACED_CHAR.search(tok):
            out.extend(_UNIT.findall(tok))
        else:
            out.append(tok)
    return out


def unspaced(lang: str | None, ws: list[str]) -> bool:
    """Whether word lengths are meaningless for this document: its language is written without spaces, or (no
    language given) most of its words (judged on an even sample of ~1000) are characters/clusters of such scripts."""
    if lang:
        return lang.replace("_", "-").split("-")[0].lower() in UNSPACED_LANGS
    if not ws:
        return False
    sample = ws[:: max(1, len(ws) // 1000)]  # an even sample of at most ~1000 words decides a majority well enough
    return len(sample) - list(map(UNSPACED_CHAR.search, sample)).count(None) > len(sample) / 2

