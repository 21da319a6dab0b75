"""curate's Thai words against PyThaiNLP's own ``newmm-safe`` on real Thai, generated text and the edge cases."""
import importlib.util
import random
import sys
from pathlib import Path

import pytest

pytest.importorskip("pythainlp")

from pythainlp.corpus.common import thai_words as dictionary  # noqa: E402
from pythainlp.tokenize import word_tokenize  # noqa: E402

from curate.filters import thai_words  # noqa: E402
from curate.filters.words import word_tokenizer  # noqa: E402

BENCH = Path(__file__).resolve().parents[2] / "bench"


def library(text: str) -> list[str]:
    return word_tokenize(text, engine="newmm-safe", keep_whitespace=False)


def first_difference(texts: list[str]) -> tuple[int, list[str], list[str]] | None:
    """The first text whose words differ, with both lists of words around the first different one."""
    for i, text in enumerate(texts):
        ours, theirs = thai_words.words(text), library(text)
        if ours != theirs:
            at = next((k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            return i, ours[max(0, at - 3):at + 3], theirs[max(0, at - 3):at + 3]
    return None


def test_the_bench_corpus_thai_documents(shared_data):
    """Every Thai document of the multilingual bench's corpus (prose, lists, duplicates, numbers, the two of about
    100,000 words...), built as the bench builds it."""
    spec = importlib.util.spec_from_file_location("multilingual_corpus", BENCH / "multilingual_corpus.py")
    corpus = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("multilingual_corpus", corpus)
    spec.loader.exec_module(corpus)
    docs = corpus.build(["tha_Thai"], 300, 0, data=shared_data)
    assert len(docs) > 300 and sum(len(d["text"]) for d in docs) > 1_000_000
    assert first_difference([d["text"] for d in docs]) is None


def test_lingua_thai_lines_alone_and_run_together(shared_data):
    rows = (line.split("\t") for line in (shared_data / "langid" / "lingua-dev.tsv").read_text().split("\n")[1:])
    lines = [row[2] for row in rows if len(row) == 3 and row[1] == "th"]
    assert len(lines) == 1500
    rng = random.Random(7)
    together = ["".join(rng.sample(lines, rng.randint(2, 30))) for _ in range(100)]  # no space: windows cut by words
    assert first_difference(lines + together + ["\n".join(lines), " ".join(lines)]) is None


THAI = [chr(c) for c in range(0x0E01, 0x0E2F)]  # consonants
MARKS = [chr(c) for c in [*range(0x0E30, 0x0E3B), *range(0x0E40, 0x0E4F)]]  # vowels, tone marks, signs
DIGITS = [chr(c) for c in range(0x0E50, 0x0E5A)]


def piece(rng: random.Random, words: list[str]) -> str:
    """A random piece of Thai-script text: a dictionary word most often, else letters, numbers, Latin, spaces..."""
    kind = rng.random()
    if kind < 0.03:  # ambiguous without end: the number of words considered before a cut is forced matters
        return rng.choice(["นา", "มา", "กา", "ตา"]) * rng.randint(10, 80)
    if kind < 0.45:
        return rng.choice(words)
    if kind < 0.6:
        return "".join(rng.choice(THAI + MARKS) for _ in range(rng.randint(1, 4)))
    if kind < 0.68:
        sep = rng.choice([",", ".", ":", ""])
        return sep.join(str(rng.randint(0, 9999)) for _ in range(rng.randint(1, 4)))
    if kind < 0.72:
        return "".join(rng.choice(DIGITS + [",", "."]) for _ in range(rng.randint(1, 6)))
    if kind < 0.78:
        return "".join(rng.choice("abcXYZ-") for _ in range(rng.randint(1, 8)))
    if kind < 0.88:
        return rng.choice([" ", "  ", "\n", "\r\n", "\t", " \n "])
    return rng.choice(["ๆ", ".", ",", "!", "?", "(", ")", "\"", "…", "—", "ฯ", "%", "/", "#", "\r", "é", "中"])


@pytest.fixture(scope="module")
def words_sample() -> list[str]:
    return sorted(dictionary())


@pytest.mark.parametrize("seed", range(4))
def test_generated_text(seed, words_sample):
    """A thousand random texts per seed, most short, some several times over the 140-character chunk threshold,
    some without any space (the chunks are then cut before the longest word of a window)."""
    rng = random.Random(seed)
    texts = []
    for _ in range(1000):
        pieces = [piece(rng, words_sample) for _ in range(rng.choice([1, 3, 10, 40, 150]))]
        text = "".join(pieces)
        texts.append(text.replace(" ", "") if rng.random() < 0.2 else text)
    assert sum(len(t) >= 3 * thai_words.CHUNK_MIN for t in texts) > 100
    assert first_difference(texts) is None


def test_edge_cases(words_sample):
    rng = random.Random(3)
    long_thai = "".join(rng.choice(words_sample) for _ in range(200)).replace(" ", "")
    at_threshold = [long_thai[:n] for n in (thai_words.CHUNK_MIN - 1, thai_words.CHUNK_MIN, thai_words.CHUNK_MIN + 1)]
    texts = ["", " ", "   ", "\n", "\r\n \t", "hello world 12,345.6 :-)", "12:00", "๑๒,๓๔๕", "ก", "กข", "ๆ", *at_threshold,
             " " * 300, "a" * 300, "ก" * 300, long_thai, "นา" * 69, "นา" * 300, "นานา " * 100,
             "ทดสอบ\ud800ครับ", "ก\udfff" * 100]  # lone surrogates (a str may hold them): a character as any other
    assert first_difference(texts) is None
    assert thai_words.words("") == [] and thai_words.words("   ") == []
    assert thai_words.words("ฉันรักภาษาไทยมาก 12:00 น.") == ["ฉัน", "รัก", "ภาษาไทย", "มาก", "12:00", "น."]


def test_the_thai_word_tokenizer_gives_these_words_stripped():
    text = "วันนี้ เวลา 19.00น\nอากาศดีมาก"
    assert word_tokenizer("tha_Thai").words(text) == [w.strip() for w in library(text) if w.strip()]
