"""Gopher repetition rules: hand-computed duplicate fractions and both sides of every Table A1 threshold."""

import pytest

from curate.filters import gopher_repetition as gr


def test_signals_has_every_name_as_float():
    sig = gr.signals("one two three")
    assert tuple(sig) == gr.SIGNALS
    assert all(isinstance(v, float) for v in sig.values())
    assert len(gr.SIGNALS) == 13


def test_duplicate_lines():
    sig = gr.signals("a line\nb line\na line\na line\n\nc")
    # lines: "a line", "b line", "a line", "a line", "c" -> the 2nd and 3rd "a line" repeat: 2 / 5
    assert sig["dup_line_fraction"] == pytest.approx(2 / 5)
    # characters: 6 + 6 + 6 + 6 + 1 = 25, repeats 6 + 6 = 12
    assert sig["dup_line_char_fraction"] == pytest.approx(12 / 25)
    # paragraphs: "a line\nb line\na line\na line" and "c" -> none repeated
    assert sig["dup_paragraph_fraction"] == 0.0


def test_duplicate_paragraphs():
    sig = gr.signals("p one\n\np two\n  \np one")
    # 3 paragraphs, the last repeats the first: 1 / 3; characters 5 of 5 + 5 + 5
    assert sig["dup_paragraph_fraction"] == pytest.approx(1 / 3)
    assert sig["dup_paragraph_char_fraction"] == pytest.approx(5 / 15)


def test_top_2gram():
    sig = gr.signals("the cat the cat sat")
    # "the cat" occurs at words 0 and 2 -> covers words 0..3 = 12 characters of 3 + 3 + 3 + 3 + 3 = 15
    assert sig["top_2gram_char_fraction"] == pytest.approx(12 / 15)
    # every 3-gram occurs once: no repetition, no penalty
    assert sig["top_3gram_char_fraction"] == 0.0


def test_top_ngram_overlaps_count_once():
    sig = gr.signals("a a a a")
    # "a a" at 0, 1, 2 covers the 4 characters once each (not 3 x 2 = 6)
    assert sig["top_2gram_char_fraction"] == 1.0
    assert sig["top_3gram_char_fraction"] == 1.0  # "a a a" at 0 and 1
    assert sig["top_4gram_char_fraction"] == 0.0  # one 4-gram


def test_top_ngram_tie_takes_the_larger_coverage():
    sig = gr.signals("x y x y long words long words")
    # "x y" and "long words" both occur twice; "long words" covers 4 + 5 + 4 + 5 = 18 of 22 characters
    assert sig["top_2gram_char_fraction"] == pytest.approx(18 / 22)


def test_repeated_passage():
    sig = gr.signals("one two three four five one two three four five")
    # total characters: 2 x (3 + 3 + 5 + 4 + 4) = 38
    # 2-grams: four tie at 2 occurrences; "three four" covers 2 x 9 = 18
    assert sig["top_2gram_char_fraction"] == pytest.approx(18 / 38)
    # 3-grams: "three four five" covers 2 x 13 = 26; 4-grams: "two three four five" 2 x 16 = 32
    assert sig["top_3gram_char_fraction"] == pytest.approx(26 / 38)
    assert sig["top_4gram_char_fraction"] == pytest.approx(32 / 38)
    # 5-gram at word 5 repeats word 0: the second half, 19 characters
    assert sig["dup_5gram_char_fraction"] == pytest.approx(19 / 38)
    # all 6-grams differ
    assert sig["dup_6gram_char_fraction"] == 0.0


def test_duplicate_ngrams_overlapping_counted_once():
    sig = gr.signals("a b c d e a b c d e a b c d e")
    # 5-grams at 5..10 repeat earlier ones; together they cover words 5..14: 10 of 15 characters
    assert sig["dup_5gram_char_fraction"] == pytest.approx(10 / 15)
    # 10-gram at 5 repeats the one at 0: words 5..14 again
    assert sig["dup_10gram_char_fraction"] == pytest.approx(10 / 15)


def test_unspaced_text_ngrams_use_characters():
    sig = gr.signals("我爱北京我爱北京")
    # units are characters: "我爱" at 0 and 4 (tie with "爱北", "北京"; all cover 4 of 8)
    assert sig["top_2gram_char_fraction"] == pytest.approx(4 / 8)


def test_empty_and_tiny_texts_score_zero():
    for text in ("", "word", "two words"):
        assert all(v == 0.0 for v in gr.signals(text).values())
        assert gr.reject(gr.signals(text)) is None


PASSING = {name: 0.0 for name in gr.SIGNALS}
TABLE_A1 = {
    "dup_line_fraction": 0.30,
    "dup_paragraph_fraction": 0.30,
    "dup_line_char_fraction": 0.20,
    "dup_paragraph_char_fraction": 0.20,
    "top_2gram_char_fraction": 0.20,
    "top_3gram_char_fraction": 0.18,
    "top_4gram_char_fraction": 0.16,
    "dup_5gram_char_fraction": 0.15,
    "dup_6gram_char_fraction": 0.14,
    "dup_7gram_char_fraction": 0.13,
    "dup_8gram_char_fraction": 0.12,
    "dup_9gram_char_fraction": 0.11,
    "dup_10gram_char_fraction": 0.10,
}


@pytest.mark.parametrize("name, limit", TABLE_A1.items())
def test_threshold_both_sides(name, limit):
    assert gr.reject({**PASSING, name: limit}) is None
    assert gr.reject({**PASSING, name: limit + 0.001}) == name


def test_rules_in_table_order():
    assert gr.reject({**PASSING, "dup_10gram_char_fraction": 1.0, "dup_paragraph_fraction": 1.0}) == (
        "dup_paragraph_fraction"
    )


def test_repeated_boilerplate_is_rejected_and_prose_kept():
    prose = (
        "Rivers carve valleys over thousands of years, moving sediment from mountains to the sea. "
        "Floods reshape their banks, and deltas grow where slow water drops its load."
    )
    assert gr.reject(gr.signals(prose)) is None
    spam = "\n".join(["Buy cheap watches online today"] * 3 + ["Contact us for details about shipping"])
    # 2 of 4 lines repeat the first
    assert gr.reject(gr.signals(spam)) == "dup_line_fraction"


def _reference(ws):
    """The definitions, literally: O(W * n) Python, for cross-checking the vectorised version."""
    total = sum(map(len, ws))
    out = {}
    for n in (2, 3, 4):
        grams = [tuple(ws[i : i + n]) for i in range(len(ws) - n + 1)]
        counts = {g: grams.count(g) for g in grams}
        top = max(counts.values(), default=0)
        best = 0
        for g in (g for g, c in counts.items() if c == top and c > 1):
            cover = set()
            for i, h in enumerate(grams):
                if h == g:
                    cover.update(range(i, i + n))
            best = max(best, sum(len(ws[j]) for j in cover))
        out[f"top_{n}gram_char_fraction"] = best / total if total else 0.0
    for n in range(5, 11):
        seen, cover = set(), set()
        for i in range(len(ws) - n + 1):
            g = tuple(ws[i : i + n])
            if g in seen:
                cover.update(range(i, i + n))
            seen.add(g)
        out[f"dup_{n}gram_char_fraction"] = sum(len(ws[j]) for j in cover) / total if total else 0.0
    return out


def test_ngram_signals_match_the_literal_definition():
    import random

    rng = random.Random(7)
    vocab = ["a", "bb", "ccc", "dddd", "the", "of", "x"]
    for _ in range(200):
        ws = [rng.choice(vocab[: rng.randint(1, len(vocab))]) for _ in range(rng.randint(0, 40))]
        sig = gr.signals(" ".join(ws))
        for name, expected in _reference(ws).items():
            assert sig[name] == pytest.approx(expected), (ws, name)
