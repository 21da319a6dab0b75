"""Shared segmentation: lines, paragraphs, words in spaced and unspaced scripts."""

from curate.filters.text import lines, paragraphs, unspaced, words


def test_lines_strip_and_drop_blank():
    assert lines("a \r\n\n   \n  b\n") == ["a", "b"]


def test_paragraphs_split_on_blank_lines():
    assert paragraphs("p1 l1\np1 l2\n \n\np2\n\n") == ["p1 l1\np1 l2", "p2"]
    assert paragraphs("\n\n") == []


def test_spaced_words_keep_punctuation():
    assert words("Hello,  world!\nBye.") == ["Hello,", "world!", "Bye."]


def test_han_kana_per_character_latin_runs_kept():
    assert words("你好，世界。iPhone15很好") == ["你", "好，", "世", "界。", "iPhone15", "很", "好"]
    assert words("こんにちは、カタカナー") == ["こ", "ん", "に", "ち", "は、", "カ", "タ", "カ", "ナ", "ー"]


def test_thai_clusters_keep_vowels_with_consonants():
    # ภา | ษา | ไท | ย  (leading vowel ไ and final vowel า stay with their consonant); ง + tone mark ่ + า
    assert words("ภาษาไทย ง่าย") == ["ภา", "ษา", "ไท", "ย", "ง่า", "ย"]


def test_khmer_subscript_consonant_joins_cluster():
    # ក + coeng ្ + រ + vowel sign ុ is one cluster
    assert words("ក្រុម") == ["ក្រុ", "ម"]


def test_a_paragraph_is_never_one_word():
    for text in ("今天天气很好我们去公园散步吧", "วันนี้อากาศดีมากเราไปเดินเล่นที่สวนกัน", "ថ្ងៃនេះអាកាសធាតុល្អណាស់"):
        assert len(words(text)) > 5


def test_unspaced_by_language_or_by_majority():
    assert unspaced("zh-Hans", [])
    assert unspaced("th", ["abc"])
    assert not unspaced("en", ["你"])
    assert unspaced(None, ["你", "好", "ok"])  # 2 of 3 units
    assert not unspaced(None, ["你", "ok", "fine"])  # 1 of 3
