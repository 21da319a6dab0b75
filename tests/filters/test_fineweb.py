"""FineWeb custom rules: hand-computed ratios and both sides of each threshold."""

import pytest

from curate.filters import fineweb as fw

LONG = "This line is long enough to not count as a short line."  # 54 characters, ends with "."


def test_signals_has_every_name_as_float():
    sig = fw.signals(LONG)
    assert tuple(sig) == fw.SIGNALS
    assert all(isinstance(v, float) for v in sig.values())


def test_hand_computed():
    text = "\n".join(
        [
            LONG,  # punct, long
            "Menu",  # short
            "  Contact us today!  ",  # punct (after stripping), short (18 characters)
            "",
            LONG,  # punct, long, repeat of line 1
            "A long line that ends without any punctuation at all",  # 52 characters, long
        ]
    )
    sig = fw.signals(text)
    # 5 non-blank lines; ending with punctuation: LONG, "Contact us today!", LONG -> 3 / 5
    assert sig["line_punct_ratio"] == pytest.approx(3 / 5)
    # short (<= 30 characters): "Menu", "Contact us today!" -> 2 / 5
    assert sig["short_line_ratio"] == pytest.approx(2 / 5)
    # characters: 54 + 4 + 17 + 54 + 52 = 181; the repeat of LONG: 54
    assert sig["dup_line_char_fraction"] == pytest.approx(54 / 181)
    # 5 newlines; words: 12 + 1 + 3 + 12 + 10 = 38
    assert sig["list_ratio"] == pytest.approx(5 / 38)


def test_short_line_length_boundary():
    assert fw.signals("x" * 30)["short_line_ratio"] == 1.0  # 30 characters: short
    assert fw.signals("x" * 31)["short_line_ratio"] == 0.0
    assert fw.signals("x" * 31, th=fw.Thresholds(short_line_length=31))["short_line_ratio"] == 1.0


def test_line_end_marks():
    for end in (".", "!", "?", '"', "'", "\u201d", "\u3002"):
        assert fw.signals("word" + end)["line_punct_ratio"] == 1.0, end
    for end in (",", ":", ";", ")", "a", "-"):
        assert fw.signals("word" + end)["line_punct_ratio"] == 0.0, end


PASSING = {"line_punct_ratio": 1.0, "short_line_ratio": 0.0, "dup_line_char_fraction": 0.0, "list_ratio": 0.0}


@pytest.mark.parametrize(
    "name, ok, bad",
    [
        ("line_punct_ratio", 0.12, 0.119),
        ("short_line_ratio", 0.669, 0.67),
        ("dup_line_char_fraction", 0.0099, 0.01),
        ("list_ratio", 0.3, 0.301),
    ],
)
def test_threshold_both_sides(name, ok, bad):
    assert fw.reject({**PASSING, name: ok}) is None
    assert fw.reject({**PASSING, name: bad}) == name


def test_paper_variant_of_dup_threshold():
    assert fw.reject({**PASSING, "dup_line_char_fraction": 0.05}) == "dup_line_char_fraction"
    assert fw.reject({**PASSING, "dup_line_char_fraction": 0.05}, fw.Thresholds(max_dup_line_char_fraction=0.1)) is None


def test_empty_and_list_pages():
    assert fw.reject(fw.signals("")) == "line_punct_ratio"
    menu = "\n".join(["Home.", "News.", "Sport.", "Weather.", "Contact."])
    # every line ends with "." but all are short: 5 / 5
    assert fw.reject(fw.signals(menu)) == "short_line_ratio"


def test_list_ratio_rejects_one_item_per_line():
    items = "\n".join(f"Item number {i} is a fairly long entry in this list of things." for i in range(10))
    sig = fw.signals(items)
    # 9 newlines / (10 x 13 words) = 0.069: prose-like lines pass
    assert sig["list_ratio"] == pytest.approx(9 / 130)
    assert fw.reject(sig) is None
    two_words = "\n\n".join(f"Entry {i}, with a long padding text." for i in range(10))
    # 18 newlines / (10 x 7 words) = 0.257
    assert fw.signals(two_words)["list_ratio"] == pytest.approx(18 / 70)
    bullets = "\n\n\n".join(f"Item {i} here and there with more padding." for i in range(10))
    # 27 newlines / 80 words = 0.3375 > 0.3
    assert fw.reject(fw.signals(bullets)) == "list_ratio"
