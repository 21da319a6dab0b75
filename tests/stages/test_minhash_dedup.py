"""minhash_dedup's pure side: parameters, keys per batch, and what the keys decide for real text pairs."""
import json

import numpy as np
import pyarrow as pa
import pytest

from curate.filters.minhash import sketch_jaccard
from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError
from curate.pipeline.schema import uid_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams


def batch(texts, **extra) -> pa.RecordBatch:
    ids = [f"t/a.jsonl:{i}" for i in range(len(texts))]
    return pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                       "text": pa.array(texts, pa.string()), **extra})


def stage(**params) -> MinHashDedup:
    return MinHashDedup(MinHashDedupParams(**params))


def test_defaults_are_finewebs():
    hasher = stage().hasher
    assert (hasher.num_perm, hasher.bands, hasher.rows, hasher.ngram, hasher.shingle) == (112, 14, 8, 5, "word")


def test_keys_are_small_and_carry_no_text():
    texts = ["one two three four five six seven", "", None, "one two three four five six seven"]
    keys = stage().keys(batch(texts))
    assert keys.schema.names == ["uid", "id", "rank", "bands", "sketch", "salt"]
    # each document's sub-bucket, computed here once so that no engine computes it (`filters.minhash.salt`)
    from curate.filters.minhash import salt
    salts = stage().params.salts
    assert keys.column("salt").to_pylist() == [salt(uid, salts) for uid in keys.column("uid").to_pylist()]
    bands = keys.column("bands").to_pylist()
    assert [b is None for b in bands] == [False, True, True, False]
    assert len(bands[0]) == 14 and bands[0] == bands[3]
    assert len(keys.column("sketch")[0]) == 112
    assert "sketch" not in stage(verify=False).keys(batch(texts)).schema.names


def test_rank_follows_the_keep_policy():
    texts = ["short", "a longer text"]
    assert stage(keep="longest").keys(batch(texts)).column("rank").to_pylist() == [5.0, 13.0]
    assert stage().keys(batch(texts)).column("rank").null_count == 2
    scored = stage(keep="highest:quality")
    assert scored.requires() == ("text", "quality")
    assert scored.keys(batch(texts, quality=[0.5, None])).column("rank").to_pylist() == [0.5, None]


def test_bands_derived_from_threshold_when_null():
    hasher = stage(bands=None, rows=None, threshold=0.9, num_perm=128).hasher
    assert hasher.bands * hasher.rows <= 128 and hasher.rows > 8


def test_config_errors_name_the_stage():
    def parse(params):
        return pipeline_config.parse({"input": {"paths": ["in"], "dataset": "t"}, "output": "out",
                                      "stages": [{"name": "minhash_dedup", **params}]})

    parse({"keep": "highest:quality_score", "threshold": 0.7})
    for bad in ({"bands": 20}, {"bands": None}, {"keep": "newest"}, {"threshold": 1.5}, {"ngram": 0}):
        with pytest.raises(ConfigError, match="minhash_dedup"):
            parse(bad)


def decided_together(stage_: MinHashDedup, a: str, b: str, lang: str | None = None) -> bool:
    """What the plan decides for a pair alone: a shared band key, then (verify) the sketch estimate."""
    keys = stage_.keys(batch([a, b], lang=[lang, lang]))
    bands = keys.column("bands").to_pylist()
    if bands[0] is None or bands[1] is None or not set(bands[0]) & set(bands[1]):
        return False
    sketches = np.array(keys.column("sketch").to_pylist())
    return sketch_jaccard((sketches[0] == sketches[1]).sum(), 112) >= stage_.params.threshold


def test_clough_stevenson_grades(shared_data):
    """Answers written by copying (cut), light or heavy revision, or independently (non) of a source text."""
    pairs = [json.loads(line) for line in (shared_data / "neardup" / "clough-stevenson-pairs.jsonl").open()]
    dedup = stage()
    found = {grade: [decided_together(dedup, p["text"], p["source_text"]) for p in pairs if p["category"] == grade]
             for grade in ("cut", "light", "heavy", "non")}
    assert [len(v) for v in found.values()] == [19, 19, 19, 38]
    assert not any(found["non"]) and not any(found["heavy"])
    # the answers are excerpts and rewrites, mostly far below Jaccard 0.8; only near-verbatim copies are found
    assert 1 <= sum(found["cut"]) <= 4 and sum(found["light"]) <= 3


def lingua_sentences(shared_data, lang: str, n: int) -> list[str]:
    rows = (line.rstrip("\n").split("\t", 2) for line in (shared_data / "langid" / "lingua-dev.tsv").open())
    return [text for kind, code, text in rows if kind == "sentences" and code == lang][:n]


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_language_aware_words_find_what_whitespace_words_miss(shared_data, lang):
    """A page of 16 real sentences and a copy with three words changed: whitespace words (spaCy's xx rules: one word
    per clause of unspaced text) miss the pair, the language's word tokenizer finds it."""
    from curate.filters.words import word_tokenizer

    text = "".join(lingua_sentences(shared_data, lang, 16))
    spans, position = [], 0  # where each word is, in order
    for word in word_tokenizer(lang).words(text):
        start = text.index(word, position)
        position = start + len(word)
        if word.isalpha():
            spans.append((start, position))
    changed = text
    for (start, end), new in zip(reversed([spans[len(spans) * k // 4] for k in (1, 2, 3)]), "猫海山"):
        changed = changed[:start] + new + changed[end:]  # three words, a quarter of the page apart
    assert changed != text
    found = {language: decided_together(stage(language=language), text, changed, lang) for language in ("xx", "auto")}
    assert found == {"xx": False, "auto": True}


def test_language_picks_the_words_per_document():
    """`auto` reads each document's lang; a fixed code tokenizes all alike; none keeps the default units."""
    text = "我们今天在北京大学图书馆里读了很多关于中国历史的书"
    default = stage().keys(batch([text], lang=["zh"])).column("bands").to_pylist()
    by_lang = stage(language="auto").keys(batch([text, text], lang=["zh", "xx"])).column("bands").to_pylist()
    fixed = stage(language="zh").keys(batch([text], lang=["xx"])).column("bands").to_pylist()
    assert by_lang[0] == fixed[0] and by_lang[0] != by_lang[1] and by_lang[0] != default[0]
    assert stage(language="auto").requires() == ("text", "lang")
    assert stage(language="zh").requires() == ("text",)
    assert stage(language="auto").index_description()["language"] == "auto"
    assert stage().index_description()["language"] is None


def test_language_needs_word_shingles_and_installed_tokenizers(monkeypatch):
    import importlib.util

    from curate.filters import words
    from curate.pipeline.errors import CurateError
    from curate.stages.dedup import language

    with pytest.raises(ValueError, match="needs shingle: word"):
        MinHashDedupParams(language="auto", shingle="char")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "jieba" else real(name, *a))
    with pytest.raises(ValueError, match="language 'zh' needs jieba, which is not installed"):
        MinHashDedupParams(language="zh")
    # `auto`: the languages are known as documents arrive; a fresh tokenizer (not the process's loaded one) looks
    monkeypatch.setattr(language, "word_tokenizer", lambda lang: words.WordTokenizer(words.assignment(lang).family,
                                                                                     words.assignment(lang).argument))
    keys = stage(language="auto").keys(batch(["hello world again and again"], lang=["en"]))
    assert keys.column("bands")[0].is_valid
    with pytest.raises(CurateError, match="documents in language 'zh': the jieba word tokenizer needs jieba"):
        stage(language="auto").keys(batch(["我们今天在北京"], lang=["zh"]))
