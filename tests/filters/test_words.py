"""Word tokenizers per language: the table, the families on real sentences, lazy loading, the missing-package error."""
import importlib.util

import pytest

from curate.filters import words as words_module
from curate.filters.words import FALLBACK, Assignment, MissingPackage, WordTokenizer, assignment, word_tokenizer


def lingua_sentences(shared_data, lang: str) -> list[str]:
    """lingua's sentences in `lang` (ISO 639-1), real text from the Leipzig corpora."""
    rows = (line.split("\t") for line in (shared_data / "langid" / "lingua-dev.tsv").read_text().split("\n")[1:])
    return [row[2] for row in rows if len(row) == 3 and row[0] == "sentences" and row[1] == lang]


def test_assignment_by_fineweb2_code_iso_code_and_tag():
    assert assignment("deu_Latn") == Assignment("spacy", "de")
    assert assignment("deu") == assignment("de") == assignment("de-AT") == Assignment("spacy", "de")
    assert assignment("cmn_Hani") == assignment("zh") == Assignment("jieba")
    assert assignment("jpn_Jpan") == Assignment("sudachi")
    assert assignment("kor_Hang") == Assignment("kiwi")
    assert assignment("tha_Thai") == Assignment("pythainlp")
    assert assignment("hin_Deva") == Assignment("indic", "hi")
    assert assignment("mai_Deva") == Assignment("indic", "hi")  # a proxy language, as FineWeb-2 measured it
    assert assignment("khm_Khmr") == Assignment("clusters")  # datatrove: khmer-nltk, not shipped


def test_unknown_languages_and_stanza_ones_get_the_fallback():
    assert assignment(None) == assignment("") == assignment("qqq_Zzzz") == assignment("xx") == FALLBACK
    assert assignment("cym_Latn") == FALLBACK  # datatrove: Stanza, which downloads its models at run time
    assert FALLBACK == Assignment("spacy", "xx")


def test_one_tokenizer_per_family_and_argument():
    assert word_tokenizer("deu_Latn") is word_tokenizer("de")
    assert word_tokenizer("cym_Latn") is word_tokenizer(None)
    assert word_tokenizer("deu_Latn") is not word_tokenizer("fra_Latn")


def test_the_library_loads_on_first_use():
    tokenizer = WordTokenizer("spacy", "nl")
    assert tokenizer._split is None
    assert tokenizer.words("Dit is een zin.") == ["Dit", "is", "een", "zin", "."]
    assert tokenizer._split is not None


@pytest.mark.parametrize("lang,text,expected", [
    ("deu_Latn", 'Das ist z.B. ein "Test", oder?', ["Das", "ist", "z.B.", "ein", '"', "Test", '"', ",", "oder", "?"]),
    ("cmn_Hani", "我爱北京天安门。", ["我", "爱", "北京", "天安门", "。"]),
    ("jpn_Jpan", "東京都に住んでいます。", ["東京", "都", "に", "住ん", "で", "い", "ます", "。"]),
    ("jpn_Jpan", "2020年に666人が来た", ["2020", "年", "に", "666", "人", "が", "来", "た"]),  # numbers joined
    ("tha_Thai", "ฉันรักภาษาไทยมาก", ["ฉัน", "รัก", "ภาษาไทย", "มาก"]),
    ("kor_Hang", "저는 학생입니다.", ["저", "는", "학생", "입", "입니다", "."]),
    ("hin_Deva", "यह एक परीक्षण है।", ["यह", "एक", "परीक्षण", "है", "।"]),
    ("vie_Latn", "Tôi yêu Việt Nam.", ["Tôi", "yêu", "Việt Nam", "."]),
    (None, "Hello, world!\n\n  Это тест.", ["Hello", ",", "world", "!", "Это", "тест", "."]),
    ("khm_Khmr", "ក្រុម", ["ក្រុ", "ម"]),
])
def test_each_family_on_a_sentence(lang, text, expected):
    # Korean: Kiwi's morphemes are spans of the text, and 입니다 overlaps its first syllable's morpheme (입)
    assert word_tokenizer(lang).words(text) == expected


def test_korean_words_after_a_long_number_are_cut_where_datatrove_cuts_them():
    # Kiwi reads "번호  서울에 산다." (the run of 23 digits removed), and the words are cut from the original text at
    # the offsets of that reading, as FineWeb-2 measured Korean
    assert word_tokenizer("ko").words("번호  서울에 산다.") == ["번호", "서울", "에", "산", "산다", "."]
    assert word_tokenizer("ko").words("번호 12345678901234567890123 서울에 산다.") == ["번호", "23", "4", "6", "67", "8"]


def test_vietnamese_words_are_the_tokens_of_spacys_vietnamese_pipeline(shared_data):
    # curate takes pyvi's words as spaCy's Vietnamese tokenizer makes them, without the Doc it builds of them: the
    # Doc's tokens, stripped and without the blank ones, must be the same words
    import spacy

    pipeline = spacy.blank("vi")
    texts = [*lingua_sentences(shared_data, "vi")[:150], "", " \n ", "  Hà Nội  \t là  thủ đô\u00a0của Việt Nam...\r\n",
             "Giá 1.000,5 đồng ==> a@b.com http://x.vn/a  TP. Hồ Chí Minh\u2028Mr. An"]
    for text in texts:
        expected = [word for word in (token.text.strip() for token in pipeline(text)) if word]
        assert word_tokenizer("vie_Latn").words(text) == expected, text


def test_japanese_numbers_stay_one_word():
    # Sudachi joins a number's digits (its numeric plugin), as in datatrove's spaCy pipeline; a tokenizer made with
    # no fields cuts them into single digits, which moves the alpha-word and n-gram ratios of number-rich pages
    assert word_tokenizer("jpn_Jpan").words("約１０年で1934.579円、297人。") == [
        "約", "１０", "年", "で", "1934.579", "円", "、", "297", "人", "。"]


def test_words_are_stripped_and_never_empty():
    for lang in ("deu_Latn", "cmn_Hani", "jpn_Jpan", "tha_Thai", "kor_Hang", "hin_Deva"):
        ws = word_tokenizer(lang).words(" \n a \t\n\n b  \u3000 ")
        assert ws and all(w and w == w.strip() for w in ws)
        assert word_tokenizer(lang).words("") == []


def test_words_are_remembered_per_tokenizer_within_a_bound(monkeypatch):
    calls = []
    tokenizer = WordTokenizer("clusters")
    tokenizer.load()
    split = tokenizer._split
    tokenizer._split = lambda texts: calls.append(len(texts)) or split(texts)
    monkeypatch.setattr(words_module, "REMEMBERED", words_module.Remembered())
    texts = ["one two", "three four five", "one two"]
    assert tokenizer.words_of(texts) == [["one", "two"], ["three", "four", "five"], ["one", "two"]]
    assert tokenizer.words_of(texts[:2]) == [["one", "two"], ["three", "four", "five"]]
    assert calls == [3]  # the second call segmented nothing
    assert WordTokenizer("spacy", "xx").words("one two") == ["one", "two"]  # another tokenizer: its own words
    monkeypatch.setattr(words_module.Remembered, "LIMIT", 20)
    tokenizer.words_of(["six seven eight nine", "ten eleven"])  # 20 + 10 characters: the first 22 forgotten
    assert words_module.REMEMBERED.chars == 10 and calls == [3, 2]
    odd = WordTokenizer("spacy", "odd", _split=lambda texts: [["a\x1fb"] for _ in texts])  # a word with the separator
    assert odd.words("a\x1fb") == ["a\x1fb"] and words_module.REMEMBERED.chars == 10  # not kept


def test_a_missing_package_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "kiwipiepy" else real(name, *a))
    monkeypatch.setattr(words_module, "REMEMBERED", words_module.Remembered())  # nothing segmented before
    tokenizer = WordTokenizer("kiwi")
    assert tokenizer.missing() == ["kiwipiepy"]
    with pytest.raises(MissingPackage, match=r"kiwi word tokenizer needs kiwipiepy.*pip install 'curate\[multilingual\]'"):
        tokenizer.words("저는 학생입니다.")
    assert WordTokenizer("spacy", "vi").missing() == []
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pyvi" else real(name, *a))
    assert WordTokenizer("spacy", "vi").missing() == ["pyvi"]  # spaCy's Vietnamese needs pyvi
    assert WordTokenizer("spacy", "de").missing() == []


def test_long_japanese_text_is_cut_at_newlines_under_sudachis_limit():
    line = "東京都に住んでいます。" * 30 + "\n"  # 991 bytes
    text = line * 100
    pieces = words_module._pieces(text, 40_000)
    assert "".join(pieces) == text and len(pieces) == 3
    assert all(len(p.encode()) <= 40_000 and p.endswith("\n") for p in pieces[:-1])
    one_line = line.strip() * 100  # no newline: cut at the limit, on a character
    pieces = words_module._pieces(one_line, 40_000)
    assert "".join(pieces) == one_line and all(len(p.encode()) <= 40_000 for p in pieces)
    ws = word_tokenizer("jpn_Jpan").words(text)  # over Sudachi's own limit as one piece
    assert ws[:4] == ["東京", "都", "に", "住ん"] and len(ws) == 100 * 30 * 8


def test_jieba_gives_spacys_chinese_tokens(shared_data):
    import spacy

    sentences = lingua_sentences(shared_data, "zh")[:200]
    assert len(sentences) == 200
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ours = word_tokenizer("cmn_Hani")
    for text in sentences:
        assert ours.words(text) == [t.text.strip() for t in nlp.tokenizer(text) if t.text.strip()]


@pytest.mark.parametrize("lang", ["de", "yo", "ru", "fr", "tr"])
def test_spacy_words_are_a_default_pipelines_tokens(shared_data, lang):
    import spacy

    sentences = lingua_sentences(shared_data, lang)[:300]
    text = "\n".join(sentences)
    nlp = spacy.blank(lang)  # with its lexical attributes, which curate does not compute
    assert word_tokenizer(lang).words(text) == [t.text.strip() for t in nlp.tokenizer(text) if t.text.strip()]
