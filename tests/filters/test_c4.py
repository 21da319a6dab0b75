"""C4 rules: line removal, page drops, bad-words matching — hand-computed."""

import math

import pytest

from curate.filters import c4

PAGE = "\n".join(
    [
        "Home | About | Contact",  # no terminal punctuation, 3 words ("|" counts as a word: 5 tokens) -> removed
        "The river rose two metres overnight after the storm.",  # kept, 1 sentence
        "Residents were told to leave. Most of them did so quickly!",  # kept, 2 sentences
        "Please enable JavaScript to view the comments below.",  # javascript -> removed
        "By using this site you agree to our Privacy Policy.",  # policy -> removed
        "Too short.",  # 2 words -> removed
        "",
        "Officials said the water would recede by Friday.[3]",  # citation removed, then kept, 1 sentence
        "Read the full story on our website...",  # ends with an ellipsis -> removed
    ]
)


def test_signals_has_every_name_as_float():
    sig = c4.signals(PAGE)
    assert tuple(sig) == c4.SIGNALS
    assert all(isinstance(v, float) for v in sig.values())


def test_hand_computed_page():
    text, sig = c4.clean(PAGE)
    assert text == (
        "The river rose two metres overnight after the storm.\n"
        "Residents were told to leave. Most of them did so quickly!\n"
        "Officials said the water would recede by Friday."
    )
    assert sig["line_count"] == 8.0  # the blank line does not count
    assert sig["no_terminal_punct_lines"] == 2.0  # "Home | ..." and the ellipsis line
    assert sig["short_lines"] == 1.0  # "Too short." (2 words); "Home | About | Contact" has 5 tokens
    assert sig["javascript_lines"] == 1.0
    assert sig["policy_lines"] == 1.0
    assert sig["removed_lines"] == 5.0  # 8 lines - 3 kept
    assert sig["kept_sentences"] == 4.0  # 1 + 2 + 1
    assert sig["lorem_ipsum"] == 0.0 and sig["curly_bracket"] == 0.0
    assert math.isnan(sig["bad_words"])
    assert c4.reject(sig) is None


def test_terminal_punctuation_marks():
    ok = ["one two three four five.", "one two three four five!", "one two three four five?",
          'he said "one two three four five"', "he said \u201cone two three four five\u201d"]
    bad = ["one two three four five", "one two three four five:", "one two three four five...",
           "one two three four five\u2026", "one two three four five,"]
    for line in ok:
        assert c4.signals(line)["no_terminal_punct_lines"] == 0.0, line
    for line in bad:
        assert c4.signals(line)["no_terminal_punct_lines"] == 1.0, line


def test_min_words_per_line_boundary():
    assert c4.signals("one two three four five.")["short_lines"] == 0.0  # 5 words: kept
    assert c4.signals("one two three four.")["short_lines"] == 1.0  # 4 words: removed


def test_sentence_count_boundary():
    two = "The first sentence is here. And the second one is here."
    three = two + "\nA third sentence follows on a new line."
    assert c4.signals(two)["kept_sentences"] == 2.0
    assert c4.reject(c4.signals(two)) == "kept_sentences"
    assert c4.signals(three)["kept_sentences"] == 3.0
    assert c4.reject(c4.signals(three)) is None


def test_sentence_ends_need_a_following_space():
    # "3.5" and "e.g.x" are not sentence ends; '!"' followed by the end is one
    assert c4.signals('The value rose to 3.5 today, he said "wow!"')["kept_sentences"] == 1.0


THREE = "One sentence here is fine. Two sentences here are fine. Three sentences here are fine."


@pytest.mark.parametrize(
    "extra, rule",
    [
        ("function f() { return 1; }", "curly_bracket"),
        ("Lorem Ipsum dolor sit amet", "lorem_ipsum"),
    ],
)
def test_page_rules(extra, rule):
    assert c4.reject(c4.signals(THREE)) is None
    sig = c4.signals(THREE + "\n" + extra)
    assert c4.reject(sig) == rule
    # page rules look at the original page, even though the offending line itself is removed
    assert c4.reject(sig, c4.Thresholds(**{f"reject_{rule}": False})) is None


def test_line_rules_can_be_disabled():
    text = "A line without an end mark but with many words\n" + THREE
    on = c4.clean(text)
    off = c4.clean(text, th=c4.Thresholds(remove_no_terminal_punct_lines=False))
    assert on[1]["removed_lines"] == 1.0 and off[1]["removed_lines"] == 0.0
    assert off[0].startswith("A line without")
    assert on[1]["no_terminal_punct_lines"] == off[1]["no_terminal_punct_lines"] == 1.0


def test_citations_removed_before_the_punctuation_check():
    text, sig = c4.clean("The bridge opened in 1932 to great fanfare.[12][citation needed]")
    assert text == "The bridge opened in 1932 to great fanfare."
    assert sig["removed_lines"] == 0.0


def test_bad_words():
    bw = c4.BadWords.of(["darn", "Heck Off", "# a comment", "", "ばか"])
    assert bw.single == {"darn"} and bw.phrases == ("heck off",) and bw.substrings == ("ばか",)
    # "Darn," matches by its core; "heck, off!" matches the phrase; "darned" does not match "darn"
    assert bw.count("Darn, I said heck, off! It was darned good.") == 2
    assert bw.count("彼はばかだ") == 1
    sig = c4.signals(THREE + " Darn.", bad_words=bw)
    assert sig["bad_words"] == 1.0
    assert c4.reject(sig) == "bad_words"
    assert c4.reject(c4.signals(THREE, bad_words=bw)) is None


def test_other_scripts_sentence_marks():
    # each line: 5+ units, ends with its script's full stop -> kept, one sentence each
    text = "今天天气很好我们去散步。\nयह एक छोटा सा वाक्य है।\nهذه جملة قصيرة جدا هنا؟"
    sig = c4.signals(text)
    assert sig["removed_lines"] == 0.0
    assert sig["kept_sentences"] == 3.0
