"""Gopher quality rules: hand-computed signals and both sides of every threshold."""

import math

import pytest

from curate.filters import gopher_quality as gq

PROSE = (
    "The committee met on Tuesday to review the budget for the coming year. Members agreed that the library "
    "should have longer opening hours, and that the park needs new benches. The treasurer warned that costs "
    "of repairs to the old bridge would be higher than expected, so the vote was postponed until the next "
    "meeting, which will take place in March with the mayor present."
)

# A signal dict that passes every rule; tests move one value across its threshold.
PASSING = {
    "word_count": 200.0,
    "mean_word_length": 5.0,
    "hash_ratio": 0.0,
    "ellipsis_ratio": 0.0,
    "bullet_line_fraction": 0.0,
    "ellipsis_line_fraction": 0.0,
    "alpha_word_fraction": 1.0,
    "stop_word_count": 5.0,
}


def test_signals_has_every_name_as_float():
    sig = gq.signals(PROSE)
    assert tuple(sig) == gq.SIGNALS
    assert all(isinstance(v, float) for v in sig.values())


def test_prose_passes():
    assert gq.reject(gq.signals(PROSE)) is None


def test_hand_computed_signals():
    text = "Hello world...\n• one #two\n\n- three\nfour\u2026"
    sig = gq.signals(text)
    # words: Hello | world... | • | one | #two | - | three | four…  -> 8
    assert sig["word_count"] == 8.0
    # cores with letters: Hello 5, world 5, one 3, two 3, three 5, four 4 ("•" and "-" have empty cores) -> 25 / 6
    assert sig["mean_word_length"] == pytest.approx(25 / 6)
    # one "#" / 8 words; "..." and "…" / 8 words
    assert sig["hash_ratio"] == pytest.approx(1 / 8)
    assert sig["ellipsis_ratio"] == pytest.approx(2 / 8)
    # 4 non-blank lines: "• one #two" and "- three" are bullets; "Hello world..." and "four…" end with an ellipsis
    assert sig["bullet_line_fraction"] == pytest.approx(2 / 4)
    assert sig["ellipsis_line_fraction"] == pytest.approx(2 / 4)
    # alphabetic: all but "•" and "-" -> 6 / 8
    assert sig["alpha_word_fraction"] == pytest.approx(6 / 8)
    assert sig["stop_word_count"] == 0.0


def test_hyphen_needs_a_space_to_be_a_bullet():
    # "-5 degrees" is a number, "- item" a list entry: 1 of 2 lines
    assert gq.signals("-5 degrees\n- item")["bullet_line_fraction"] == 0.5


def test_stop_words_are_distinct_and_case_insensitive():
    # {the, of, to}: "The", "the," and "THE" are one word
    assert gq.signals("The cat, the, THE end of it to me")["stop_word_count"] == 3.0
    assert gq.signals("the the the")["stop_word_count"] == 1.0
    # "theory", "tothe" are not stop words
    assert gq.signals("theory tothe")["stop_word_count"] == 0.0


def test_stop_words_by_language():
    assert gq.signals("the and of", lang="en-US")["stop_word_count"] == 3.0
    assert gq.signals("the and of", lang=None)["stop_word_count"] == 3.0
    assert math.isnan(gq.signals("der die das und", lang="de")["stop_word_count"])


def test_unspaced_language_skips_word_length_but_not_counts():
    text = "今天天气很好，我们去公园散步吧。" * 5
    for lang in ("zh", None):
        sig = gq.signals(text, lang=lang)
        # 今天天气很好 (6) + 我们去公园散步吧 (8) = 14 characters per sentence (the two punctuation marks stick to
        # their neighbour), x 5 = 70
        assert sig["word_count"] == 70.0
        assert math.isnan(sig["mean_word_length"])
        assert sig["alpha_word_fraction"] == 1.0
    assert gq.reject(gq.signals(text, lang="zh")) is None


def test_empty_text():
    sig = gq.signals("")
    assert sig["word_count"] == 0.0
    assert gq.reject(sig) == "word_count"


@pytest.mark.parametrize(
    "name, ok, bad",
    [
        ("word_count", 50.0, 49.0),
        ("word_count", 100_000.0, 100_001.0),
        ("mean_word_length", 3.0, 2.99),
        ("mean_word_length", 10.0, 10.01),
        ("hash_ratio", 0.1, 0.101),
        ("ellipsis_ratio", 0.1, 0.101),
        ("bullet_line_fraction", 0.9, 0.91),
        ("ellipsis_line_fraction", 0.3, 0.31),
        ("alpha_word_fraction", 0.8, 0.79),
        ("stop_word_count", 2.0, 1.0),
    ],
)
def test_threshold_both_sides(name, ok, bad):
    assert gq.reject({**PASSING, name: ok}) is None
    assert gq.reject({**PASSING, name: bad}) == name


def test_nan_signal_passes():
    assert gq.reject({**PASSING, "mean_word_length": math.nan, "stop_word_count": math.nan}) is None


def test_first_failing_rule_is_reported():
    assert gq.reject({**PASSING, "hash_ratio": 0.5, "stop_word_count": 0.0}) == "hash_ratio"


def test_word_count_boundary_from_text():
    base = "the quick brown fox jumps over lazy dogs and".split()  # two stop words, mean length 36 / 9
    fifty = " ".join((base * 6)[:50])
    assert gq.signals(fifty)["word_count"] == 50.0
    assert gq.reject(gq.signals(fifty)) is None
    assert gq.reject(gq.signals(" ".join((base * 6)[:49]))) == "word_count"


def test_custom_thresholds():
    sig = gq.signals(PROSE)
    assert gq.reject(sig, gq.Thresholds(min_stop_words=20)) == "stop_word_count"


def test_punctuation_tokens_count_as_datatrove_counts_them():
    text = "Hello, well-known world... (yes) #tag end."
    # tokens (spaCy's, checked): Hello , well - known world ... ( yes ) # tag end .  -> 14, 7 of them with a letter
    sig = gq.signals(text, punctuation_tokens=True)
    assert sig["alpha_word_fraction"] == pytest.approx(7 / 14)
    assert sig["hash_ratio"] == pytest.approx(1 / 14) and sig["ellipsis_ratio"] == pytest.approx(1 / 14)
    assert gq.signals(text)["alpha_word_fraction"] == 1.0  # whitespace words: all six have a letter
    assert gq.signals("a--b, c,d ||| e", punctuation_tokens=True)["alpha_word_fraction"] == pytest.approx(5 / 9)  # spaCy: a -- b , c , d ||| e
    assert sig["word_count"] == 6.0 and sig["mean_word_length"] == gq.signals(text)["mean_word_length"]
