"""FineWeb-2's rule sets as it measured them: the configs, the thresholds its pipeline set, each signal's definition
on small texts whose values are worked out by hand, and the vectorised decision."""
import math
import random

import numpy as np
import pytest

from curate.filters.fineweb2 import fineweb_quality, gopher_quality, gopher_repetition
from curate.filters.fineweb2.configs import config, configs
from curate.filters.fineweb2.decide import bounds, first_failing
from curate.filters.fineweb2.punctuation import SYMBOLS, TERMINAL


def test_every_published_config_is_there():
    assert len(configs()) == 1929
    deu = config("deu_Latn")
    assert (deu.language_score, deu.dup_line_frac, deu.new_line_ratio, deu.line_punct_thr) == (0.821, 0.263, 0.152, 0.0)
    assert deu.top_n_grams == ((2, 0.169), (3, 0.153), (4, 0.137))
    assert deu.dup_n_grams[0] == (5, 0.141) and deu.dup_n_grams[-1] == (10, 0.098)
    assert (deu.min_avg_word_length, deu.max_avg_word_length, deu.max_non_alpha_words_ratio) == (0, 15, 0.774)
    assert {"der", "und", "die", "für"} <= deu.stopwords and len(deu.stopwords) == 15
    assert config("eng_Latn") is None and config("de") is None


def test_the_table_holds_the_yaml_files_values(shared_data):
    import yaml

    folder = shared_data / "fineweb-2" / "configs"
    for path in sorted(folder.glob("*.yml"))[::40]:  # 49 of the 1,929, spread over the alphabet
        published = yaml.safe_load(path.read_text())
        ours = config(path.stem)
        assert ours.stopwords == frozenset(published["stopwords"])
        assert list(ours.top_n_grams) == [tuple(x) for x in published["top_n_grams"]]
        assert list(ours.dup_n_grams) == [tuple(x) for x in published["dup_n_grams"]]
        for key in ("language_score", "dup_line_frac", "new_line_ratio", "line_punct_thr", "min_avg_word_length",
                    "max_avg_word_length", "max_non_alpha_words_ratio"):
            assert getattr(ours, key) == published[key], (path.stem, key)


def test_thresholds_as_fineweb2s_pipeline_set_them():
    deu = config("deu_Latn")
    rep = gopher_repetition.thresholds(deu)
    assert rep.max_dup_line_fraction == 0.263 and rep.max_top_3gram_char_fraction == 0.153
    assert rep.max_dup_10gram_char_fraction == 0.098
    assert rep.max_dup_paragraph_fraction == rep.max_dup_line_char_fraction == rep.max_dup_paragraph_char_fraction \
        == math.inf
    qual = gopher_quality.thresholds(deu)
    assert (qual.min_words, qual.max_words, qual.min_stop_words, qual.max_hash_ratio) == (50, 100_000, 2, 0.1)
    assert qual.min_mean_word_length == -math.inf and qual.max_mean_word_length == 15  # 0 turns the rule off
    assert qual.min_alpha_word_fraction == 0.774
    web = fineweb_quality.thresholds(deu)
    assert (web.min_line_punct_ratio, web.max_dup_line_char_fraction, web.max_list_ratio) == (0.0, 0.1, 0.152)
    assert web.max_short_line_ratio == math.inf
    assert gopher_repetition.thresholds(config("chj_Latn")).max_dup_line_fraction == math.inf  # dup_line_frac: 0


def test_punctuation_sets():
    assert len(TERMINAL) == 159 and len(SYMBOLS) == 281 and TERMINAL <= SYMBOLS
    assert {".", "!", "?", "。", "।", "؟", "።", "៖"} <= TERMINAL
    assert not {",", ":", "\u2024", "\ufe12", "a"} & TERMINAL
    assert {",", "«", "…", "、", "１", "\x00", "\x85"} <= SYMBOLS and not {"\t", "\n", "1", " "} & SYMBOLS


# ---- gopher_repetition ----------------------------------------------------------------------------------------

def test_lines_are_not_stripped_and_an_edge_newline_makes_an_empty_line():
    sig = gopher_repetition.signals("\na\na\n", ["a", "a"])
    # lines: "", "a", "a", "" -> two repeats of four; repeated characters: "a" (1) of 5
    assert sig["dup_line_fraction"] == 0.5 and sig["dup_line_char_fraction"] == 0.2
    sig = gopher_repetition.signals("p\n\np\n\n\nq", ["p", "p", "q"])
    assert sig["dup_paragraph_fraction"] == pytest.approx(1 / 3) and sig["dup_paragraph_char_fraction"] == 1 / 8


def test_top_ngram_counts_every_occurrence_and_breaks_ties_by_first_occurrence():
    text = "a b a b a c"
    sig = gopher_repetition.signals(text, text.split())
    assert sig["top_2gram_char_fraction"] == 2 * 3 / 11  # "a b" twice, overlapping "b a" twice too: "a b" first
    sig = gopher_repetition.signals("xy zw uv", ["xy", "zw", "uv"])
    assert sig["top_2gram_char_fraction"] == 5 / 8  # no repeat: the first 2-gram, "xy zw", once
    assert sig["top_4gram_char_fraction"] == 0.0  # fewer than 4 words


def test_duplicate_ngrams_read_on_after_a_repeat():
    words = "a b c d e a b c d e".split()
    sig = gopher_repetition.signals(" ".join(words), words)
    assert sig["dup_5gram_char_fraction"] == 5 / 19
    # "x" then eight "a": the 5-grams at 0 and 1 are new, the one at 2 repeats the one at 1 (5 characters); reading
    # resumes at 7, past the last 5-gram (at 4), so the one at 3 is never read
    words = ["x"] + ["a"] * 8
    assert gopher_repetition.signals(" ".join(words), words)["dup_5gram_char_fraction"] == 5 / 17


def test_duplicate_ngrams_are_equal_by_their_characters_not_their_words():
    words = ["ab", "c", "d", "e", "f", "a", "bc", "d", "e", "f"]
    sig = gopher_repetition.signals(" ".join(words), words)
    assert sig["dup_5gram_char_fraction"] == 6 / 21  # "abcdef" twice, segmented differently
    assert sig["top_2gram_char_fraction"] == 2 * 3 / 21  # "d e" and "e f" twice each; "d e" comes first


def _reference_repeated_chars(words: list[str], n: int) -> int:
    """The definition, read literally: left to right, a set of the n-grams read, skip past each repeat."""
    seen, chars, i = set(), 0, 0
    while i < len(words) - n + 1:
        gram = "".join(words[i:i + n])
        if gram in seen:
            chars += len(gram)
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


def _reference_top(words: list[str], n: int) -> int:
    counts: dict[str, int] = {}
    for i in range(len(words) - n + 1):
        gram = " ".join(words[i:i + n])
        counts[gram] = counts.get(gram, 0) + 1
    best = max(counts.values())
    return next(len(gram) * c for gram, c in counts.items() if c == best)


def test_ngram_signals_equal_the_definitions_on_random_repetitive_texts():
    rng = random.Random(7)
    for _ in range(300):
        vocabulary = ["a", "b", "ab", "ba", "c", "abc", "ca"][: rng.randint(2, 7)]
        words = [rng.choice(vocabulary) for _ in range(rng.randint(2, 60))]
        text = " ".join(words)
        sig = gopher_repetition.signals(text, words)
        for n in (5, 6, 7, 8, 9, 10):
            assert sig[f"dup_{n}gram_char_fraction"] == _reference_repeated_chars(words, n) / len(text)
        for n in (2, 3, 4):
            expected = _reference_top(words, n) / len(text) if len(words) >= n else 0.0
            assert sig[f"top_{n}gram_char_fraction"] == expected


def test_many_texts_at_once_score_as_each_text_alone():
    # signals_of hashes the n-grams of many texts together: an n-gram of one text must never count as a repeat of
    # another's (equal texts side by side), a text of 0 or 1 word scores 0, and texts past one run's size still agree
    rng = random.Random(11)
    texts, words = [], []
    for _ in range(120):
        vocabulary = ["a", "b", "ab", "ba", "c", "abc", "ca", "दो", "तीन"][: rng.randint(2, 9)]
        ws = [rng.choice(vocabulary) for _ in range(rng.choice((0, 1, 2, 5, 12, 40, 400)))]
        texts.append(" ".join(ws))
        words.append(ws)
    distinct = [f"w{i}" for i in range(7000)]  # about 50,000 characters: more than one run alone
    texts += ["x y z v w", "x y z v w", " ".join(distinct), "x y z v w"]
    words += [t.split() for t in texts[-4:]]
    together = gopher_repetition.signals_of(texts, words)
    alone = [gopher_repetition.signals(t, w) for t, w in zip(texts, words)]
    assert together == alone
    assert together[-1]["dup_5gram_char_fraction"] == 0.0  # the same five words as the texts before it, not a repeat
    assert together[-1]["top_2gram_char_fraction"] == 3 / 9


def test_an_empty_text_fails_the_first_rule_that_is_on():
    # datatrove's GopherRepetitionFilter rejects an empty text ("empty") before any rule
    sig = gopher_repetition.signals("", [])
    row = np.array([[sig[s] for s in gopher_repetition.SIGNALS]])
    for code, rule in (("deu_Latn", "dup_line_fraction"), ("chj_Latn", "top_2gram_char_fraction")):  # chj: dup 0
        lower, upper = bounds(gopher_repetition.thresholds(config(code)), gopher_repetition.SIGNALS)
        assert first_failing(row, lower, upper, gopher_repetition.SIGNALS) == [rule]


# ---- gopher_quality ---------------------------------------------------------------------------------------------

def test_symbols_are_not_words_but_count_in_the_ratios():
    words = ["Das", "ist", "#", "gut", "...", "und", "die", "«", "1"]
    text = "Das ist # gut ... und die « 1"
    sig = gopher_quality.signals(text, words, frozenset({"und", "die", "Der"}))
    assert sig["word_count"] == 6  # "#", "...", "«" are symbols; "1" is a word
    assert sig["mean_word_length"] == (3 + 3 + 3 + 3 + 3 + 1) / 6
    assert sig["hash_ratio"] == 1 / 9 and sig["ellipsis_ratio"] == 1 / 9
    assert sig["alpha_word_fraction"] == 5 / 9  # symbols and "1" have no letter
    assert sig["stop_word_count"] == 2  # "Der" is not "der": matched exactly


def test_word_counts_and_letters_equal_the_definitions_on_mixed_words():
    # words with vowel signs (not alphabetic, start with a letter), numbers in two scripts, symbols, a symbol glued to
    # a letter, a mark first, the empty word: the fast paths give the literal definitions
    pool = ["हिंदी", "के", "और", "१२३", "123", "1st", "-a", "…", "...", "#", "«", "॥", "\u093e\u0915", "abc", "١٢",
            "", "a-b", "١st", "２"]
    rng = random.Random(5)
    for _ in range(300):
        words = [rng.choice(pool) for _ in range(rng.randint(0, 30))]
        sig = gopher_quality.signals(" ".join(words), words, frozenset({"के", "abc"}))
        kept = [w for w in words if not all(c in SYMBOLS for c in w)]  # an empty word is a symbol: no character
        assert sig["word_count"] == len(kept)
        if kept:
            assert sig["mean_word_length"] == sum(map(len, kept)) / len(kept)
        else:
            assert math.isnan(sig["mean_word_length"])
        with_letter = sum(any(c.isalpha() for c in w) for w in words)
        assert sig["alpha_word_fraction"] == (with_letter / len(words) if words else 0.0)


def test_lines_by_splitlines_bullets_and_ellipses():
    text = "- one\n  • two\nthree…  \nfour...\n\n*five"
    sig = gopher_quality.signals(text, text.split(), frozenset())
    assert sig["bullet_line_fraction"] == 2 / 6  # "*" is not a bullet here; the blank line counts
    assert sig["ellipsis_line_fraction"] == 2 / 6


def test_no_words_scores_zero_on_the_ratios_and_nan_on_length():
    sig = gopher_quality.signals("", [], frozenset({"a"}))
    assert sig["word_count"] == 0 and math.isnan(sig["mean_word_length"]) and sig["hash_ratio"] == 0


# ---- fineweb_quality ----------------------------------------------------------------------------------------------

def test_lines_keep_their_trailing_spaces():
    text = "Ends well.\nEnds with a space. \nNo end\n   \nAlso well!\r\nDone。"
    sig = fineweb_quality.signals(text, text.split())
    # non-blank lines: 5; ending in terminal punctuation: "Ends well.", "Done。" ("\r" and " " are not punctuation)
    assert sig["line_punct_ratio"] == 2 / 5
    assert sig["short_line_ratio"] == 5 / 5


def test_duplicate_line_characters_over_the_text_without_newlines():
    text = "same line\nother\nsame line\n\n"
    sig = fineweb_quality.signals(text, ["same", "line", "other", "same", "line"])
    assert sig["dup_line_char_fraction"] == 9 / 23
    assert sig["list_ratio"] == 4 / 5


def test_a_text_without_a_line_fails_the_first_rule_whatever_its_threshold():
    sig = fineweb_quality.signals("  \n \n", [])
    assert sig["line_punct_ratio"] == -math.inf and sig["list_ratio"] == 2.0
    lower, upper = bounds(fineweb_quality.thresholds(config("deu_Latn")), fineweb_quality.SIGNALS)  # minimum 0
    row = np.array([[sig[s] for s in fineweb_quality.SIGNALS]])
    assert first_failing(row, lower, upper, fineweb_quality.SIGNALS) == ["line_punct_ratio"]


# ---- the decision ---------------------------------------------------------------------------------------------------

def test_first_failing_in_rule_order_bounds_inclusive_nan_passes():
    th = gopher_quality.thresholds(config("deu_Latn"))
    lower, upper = bounds(th, gopher_quality.SIGNALS)
    names = gopher_quality.SIGNALS
    assert dict(zip(names, lower))["word_count"] == 50 and dict(zip(names, upper))["word_count"] == 100_000
    assert dict(zip(names, lower))["stop_word_count"] == 2 and dict(zip(names, upper))["hash_ratio"] == 0.1
    good = dict(word_count=50, mean_word_length=15, hash_ratio=0.1, ellipsis_ratio=0, bullet_line_fraction=0,
                ellipsis_line_fraction=0, alpha_word_fraction=0.774, stop_word_count=2)
    rows = [good, {**good, "mean_word_length": math.nan}, {**good, "word_count": 49, "stop_word_count": 0},
            {**good, "hash_ratio": 0.11, "stop_word_count": 1}, {**good, "word_count": 100_001}]
    values = np.array([[row[s] for s in names] for row in rows], np.float64)
    assert first_failing(values, lower, upper, names) == [None, None, "word_count", "hash_ratio", "word_count"]
