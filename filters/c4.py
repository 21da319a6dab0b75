"""C4 cleaning rules: line removal and page drops of the Colossal Clean Crawled Corpus (Raffel et al. 2020, "Exploring
the Limits of Transfer Learning with a Unified Text-to-Text Transformer", JMLR 21, §2.2).

The paper's heuristics, and how each appears here:

=====================================================================  ========  ==============================
Heuristic (§2.2, abridged)                                             Level     Signal / rule name here
=====================================================================  ========  ==============================
retain only lines ending in a terminal punctuation mark (period,       line      ``no_terminal_punct_lines``
exclamation mark, question mark, end quotation mark)
discard any page with fewer than 3 sentences                           page      ``kept_sentences`` (min 3)
only retain lines that contain at least 5 words                        line      ``short_lines``
remove any page containing a word on the "List of Dirty, Naughty,      page      ``bad_words`` (max 0; only
Obscene or Otherwise Bad Words"                                                  with a user-supplied list)
remove any line with the word Javascript                               line      ``javascript_lines``
remove any page where the phrase "lorem ipsum" appears                 page      ``lorem_ipsum``
remove any page that contains a curly bracket "{"                      page      ``curly_bracket``
remove citation markers such as [1], [citation needed]                 text      (edited by :func:`clean`)
remove lines containing "terms of use", "privacy policy", "cookie      line      ``policy_lines``
policy", "uses cookies", "use of cookies" or "use cookies"
=====================================================================  ========  ==============================

(The paper's last heuristic, dropping repeated three-sentence spans across the corpus, is deduplication, not a
per-document filter.)

Line rules *edit* the text: :func:`clean` returns the kept lines and the signals in one pass; a stage that applies
C4 replaces ``text`` with the cleaned text (the pipeline knows it modifies text). :func:`signals` is the same pass,
text discarded. Page rules look at the original page ("any page that contained..."), except the sentence count,
which is of the kept lines — the page that would be published. Each ``*_lines`` signal counts the non-blank lines
that fail that rule (a line can fail several; ``short_lines`` uses ``th.min_words_per_line``), whether or not the rule
is enabled; ``removed_lines`` counts lines failing any *enabled* rule.

Definitions where the paper is silent:

- Lines: split on ``\\n``, stripped, blank lines dropped; kept lines are joined with ``\\n``.
- Terminal punctuation: ``.``, ``!``, ``?``, ``"``, ``”`` at the line's end (after citation removal), and the
  sentence-final marks of other scripts (:data:`curate.filters.text.SENTENCE_END_MARKS`: ``。`` ``।`` ``؟`` ...) —
  C4 is English-only; without them every line of a Chinese or Hindi page would go. A line ending
  in an ellipsis (``...``, ``…``) is not terminated — it marks truncated text such as "Read more..." — as in the
  reference implementation released with C4 (TensorFlow Datasets ``c4_utils``).
- Words per line: :func:`curate.filters.text.words` (unspaced scripts count characters/clusters).
- "The word Javascript": the case-insensitive substring ``javascript``. Policy phrases: case-insensitive substrings.
- Sentences: runs of sentence-final marks (``.``, ``!``, ``?``, ``。``, ...), optionally followed by closing quotes or brackets, then
  whitespace or the end of the text. No abbreviation list, so "Mr. Smith" counts two.
- Citation markers: ``[<digits>]``, ``[citation needed]``, ``[edit]`` (any case).
- Bad words: no list ships with curate; pass :class:`BadWords` built from the user's file (one entry per line, as in
  LDNOOBW). Single words match word cores (lower-cased, punctuation stripped); multi-word entries match as whole
  phrases; entries in unspaced scripts (zh, ja, th, ...) match as substrings. Without a list the signal is NaN and
  the rule is skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from curate.filters.text import PUNCTUATION, SENTENCE_END_MARKS, words

__all__ = ["SIGNALS", "POLICY_PHRASES", "BadWords", "Thresholds", "clean", "signals", "reject"]

SIGNALS: tuple[str, ...] = (
    "line_count",
    "no_terminal_punct_lines",
    "short_lines",
    "javascript_lines",
    "policy_lines",
    "removed_lines",
    "kept_sentences",
    "lorem_ipsum",
    "curly_bracket",
    "bad_words",
)

#: Raffel et al. 2020, §2.2.
POLICY_PHRASES = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


@dataclass(frozen=True)
class Thresholds:
    """Published defaults: Raffel et al. 2020, §2.2. Line rules can be switched off (FineWeb runs C4 without the
    terminal-punctuation line rule, Penedo et al. 2024, §3.5); page rules by their flags or limits."""

    remove_no_terminal_punct_lines: bool = True  # "only retained lines that ended in a terminal punctuation mark"
    min_words_per_line: int = 5  # "only retained lines that contained at least 5 words" (0: off)
    remove_javascript_lines: bool = True  # "removed any line with the word Javascript"
    remove_policy_lines: bool = True  # "removed any lines containing the strings ..."
    remove_citations: bool = True  # "removed any such [citation] markers"
    min_sentences: int = 3  # "discarded any page with fewer than 3 sentences"
    reject_lorem_ipsum: bool = True  # "removed any page where the phrase 'lorem ipsum' appeared"
    reject_curly_bracket: bool = True  # "removed any pages that contained a curly bracket"
    max_bad_words: int = 0  # "removed any page that contained any word on the [list]"


@dataclass(frozen=True)
class BadWords:
    """A user's bad-words list, split by how each entry is matched. Build it once per worker with :meth:`of`."""

    single: frozenset[str]
    phrases: tuple[str, ...]  # multi-word, lower-cased, single-spaced
    substrings: tuple[str, ...]  # entries in scripts without spaces

    @classmethod
    def of(cls, entries: Iterable[str]) -> BadWords:
        single, phrases, substrings = set(), set(), set()
        for entry in entries:
            e = " ".join(entry.lower().split())
            if not e or e.startswith("#"):
                continue
            ws = words(e)
            if len(ws) > 1 and len(e.split()) == 1:  # one token split by script segmentation
                substrings.add(e)
            elif len(ws) > 1:
                phrases.add(" ".join(w.strip(PUNCTUATION) for w in ws))
            else:
                single.add(e.strip(PUNCTUATION) or e)
        return cls(frozenset(single), tuple(sorted(phrases)), tuple(sorted(substrings)))

    def count(self, text: str) -> int:
        """Occurrences of listed words and phrases in ``text`` (single words counted per occurrence, phrases and
        substrings once each)."""
        lower = text.lower()
        cores = [w.strip(PUNCTUATION) for w in words(lower)]
        n = sum(1 for c in cores if c in self.single)
        if self.phrases:
            joined = f" {' '.join(cores)} "
            n += sum(1 for p in self.phrases if f" {p} " in joined)
        n += sum(1 for s in self.substrings if s in lower)
        return n


_CITATION = re.compile(r"\[(?:\d+|citation needed|edit)\]", re.IGNORECASE)
_POLICY = re.compile("|".join(map(re.escape, POLICY_PHRASES)))
_TERMINAL = (*SENTENCE_END_MARKS, '"', "\u201d")
_ELLIPSIS_END = ("...", "\u2026")
_SENTENCE_END = re.compile(f"[{re.escape(SENTENCE_END_MARKS)}]+[\"'\u201d\u2019)\\]]*(?=\\s|$)")


def clean(
    text: str, lang: str | None = None, *, th: Thresholds = Thresholds(), bad_words: BadWords | None = None
) -> tuple[str, dict[str, float]]:
    """The page with C4's line rules applied (per ``th``), and every signal in :data:`SIGNALS`."""
    n_lines = no_punct = short = js = policy = removed = 0
    kept: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        n_lines += 1
        if th.remove_citations and "[" in line:
            line = _CITATION.sub("", line).strip()
        lower = line.lower()
        fails = False
        if not line.endswith(_TERMINAL) or line.endswith(_ELLIPSIS_END):
            no_punct += 1
            fails |= th.remove_no_terminal_punct_lines
        if len(words(line)) < th.min_words_per_line:
            short += 1
            fails = True
        if "javascript" in lower:
            js += 1
            fails |= th.remove_javascript_lines
        if _POLICY.search(lower):
            policy += 1
            fails |= th.remove_policy_lines
        if fails or not line:
            removed += 1
        else:
            kept.append(line)
    cleaned = "\n".join(kept)
    lower_text = text.lower()
    sig = {
        "line_count": float(n_lines),
        "no_terminal_punct_lines": float(no_punct),
        "short_lines": float(short),
        "javascript_lines": float(js),
        "policy_lines": float(policy),
        "removed_lines": float(removed),
        "kept_sentences": float(len(_SENTENCE_END.findall(cleaned))),
        "lorem_ipsum": float("lorem ipsum" in lower_text),
        "curly_bracket": float("{" in text),
        "bad_words": float(bad_words.count(text)) if bad_words is not None else math.nan,
    }
    return cleaned, sig


def signals(
    text: str, lang: str | None = None, *, th: Thresholds = Thresholds(), bad_words: BadWords | None = None
) -> dict[str, float]:
    """Every signal in :data:`SIGNALS` for ``text``. Pass the same ``th`` as to :func:`reject`: which lines are
    removed decides ``removed_lines`` and ``kept_sentences``."""
    return clean(text, lang, th=th, bad_words=bad_words)[1]


def reject(sig: dict[str, float], th: Thresholds = Thresholds()) -> str | None:
    """The rule name of the first page rule that fails (e.g. 'curly_bracket'), or None when the page is kept."""
    if th.reject_curly_bracket and sig["curly_bracket"]:
        return "curly_bracket"
    if th.reject_lorem_ipsum and sig["lorem_ipsum"]:
        return "lorem_ipsum"
    if sig["bad_words"] > th.max_bad_words:  # NaN (no list) passes
        return "bad_words"
    if sig["kept_sentences"] < th.min_sentences:
        return "kept_sentences"
    return None
