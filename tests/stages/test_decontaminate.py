"""decontaminate: normalised n-gram hashing, benchmark layouts, the cached index, planted GSM8K items, span removal."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.filters.ngrams import ngram_hashes, word_spans, words
from curate.pipeline import config as pipeline_config
from curate.testing import generate_crawl
from curate.pipeline.errors import ConfigError, CurateError
from curate.stages import decontaminate as dc
from curate.stages.decontaminate import Decontaminate, DecontaminateParams

QUESTION = ("A baker sells 12 loaves of rye bread each morning and twice as many white loaves each afternoon; "
            "how many loaves does the baker sell in a week of seven days?")


def stage(tmp_path: Path, benchmarks: list[dict], **params) -> Decontaminate:
    out = Decontaminate(DecontaminateParams(benchmarks=benchmarks, cache_dir=str(tmp_path / "cache"), **params))
    out.setup()
    return out


def run(s: Decontaminate, texts: list[str | None]) -> dict[str, list]:
    return s.process(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string())})).to_pydict()


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_normalisation_ignores_case_punctuation_and_spacing():
    a = ngram_hashes(["It's 3.5 kg -- of FLOUR, she said!"], 3).hashes
    b = ngram_hashes(["it s 3 5 kg of flour she said"], 3).hashes
    assert len(a) == 7 and np.array_equal(a, b)
    assert not np.array_equal(ngram_hashes(["a b c"], 3).hashes, ngram_hashes(["c b a"], 3).hashes)


def test_ngrams_never_cross_documents_and_empty_texts_have_none():
    batch = words(pa.array(["one two three", "", None, "four five", "six seven eight nine"]))
    assert batch.counts.tolist() == [3, 0, 0, 2, 4]
    grams = ngram_hashes(["one two three", "", None, "four five", "six seven eight nine"], 3)
    assert grams.doc.tolist() == [0, 4, 4] and grams.start.tolist() == [0, 0, 1]
    # the same 3-gram hashes alike wherever it sits
    alone = ngram_hashes(["seven eight nine"], 3).hashes
    assert grams.hashes[2] == alone[0]


def test_word_spans_line_up_with_normalised_words():
    text = "Naïve café — it's 10:30, señor.  Ünïcödé"
    spans = word_spans(text)
    assert [text[a:b] for a, b in spans] == ["Naïve", "café", "it", "s", "10", "30", "señor", "Ünïcödé"]
    assert len(spans) == int(words(pa.array([text])).counts[0])


def test_planted_item_rejected_clean_kept_and_reason_names_the_benchmark(tmp_path):
    bench = jsonl(tmp_path / "b.jsonl", [{"question": QUESTION, "answer": "12 * 3 * 7 = 252. #### 252"}])
    s = stage(tmp_path, [{"name": "bakery", "path": str(bench), "layout": "gsm8k"}])
    page = f"Today's puzzle.\n\nQ: {QUESTION.upper()}\nPost your answer below."
    out = run(s, [page, "A baker sells bread in the morning.", None])
    assert out["reject_reason"] == ["bakery", None, None]
    assert out["decontaminate_ngrams"][0] == len(ngram_hashes([QUESTION], 13).hashes) and \
        out["decontaminate_ngrams"][1:] == [0, 0]


def test_remove_mode_cuts_only_the_overlapping_span(tmp_path):
    bench = jsonl(tmp_path / "b.jsonl", [{"question": QUESTION, "answer": "252"}])
    s = stage(tmp_path, [{"name": "bakery", "path": str(bench), "layout": "gsm8k"}], mode="remove")
    assert s.modifies() == ("text",)
    page = f"Before the puzzle. {QUESTION} After the puzzle."
    out = run(s, [page, QUESTION, "Nothing to see here."])
    assert out["text"][0] == "Before the puzzle. ? After the puzzle."
    assert out["reject_reason"] == [None, "bakery", None]  # the second page was nothing but the item
    assert out["text"][2] == "Nothing to see here."
    again = run(stage(tmp_path, [{"name": "bakery", "path": str(bench), "layout": "gsm8k"}]), [out["text"][0]])
    assert again["reject_reason"] == [None]


def test_mmlu_csv_and_jsonl_layouts_and_the_owning_benchmark(tmp_path):
    mmlu = tmp_path / "mmlu" / "test"
    mmlu.mkdir(parents=True)
    # the original release: no header; question, four choices, answer letter
    (mmlu / "astronomy_test.csv").write_text(
        '"Which planet of the solar system has the shortest orbital period around the Sun, measured in days?",'
        "Mercury,Venus,Earth,Mars,A\n")
    csv_file = tmp_path / "trivia.csv"
    csv_file.write_text("id,prompt,target\n1,\"Name the river that flows through the middle of the old city and "
                        "gives the region its name today\",Danube\n")
    generic = jsonl(tmp_path / "g.jsonl", [{"input": "Translate the following sentence into French and explain each "
                                                     "word you chose along the way please", "output": "x"}])
    s = stage(tmp_path, [
        {"name": "mmlu", "path": str(tmp_path / "mmlu"), "layout": "mmlu"},
        {"name": "trivia", "path": str(csv_file), "layout": "csv", "fields": ["prompt"]},
        {"name": "custom", "path": str(tmp_path / "g*.jsonl"), "layout": "jsonl", "fields": ["input"]},
    ])
    assert [b["items"] for b in s.meta["benchmarks"]] == [1, 1, 1]
    out = run(s, [
        "Quiz: which planet of the solar system has the shortest orbital period around the Sun, measured in days? "
        "Mercury Venus Earth Mars",
        "name the river that flows through the middle of the old city and gives the region its name today",
        "translate the following sentence into french and explain each word you chose along the way",
        "Mercury Venus Earth Mars A",  # the choices alone are shorter than 13 words
    ])
    assert out["reject_reason"] == ["mmlu", "trivia", "custom", None]


def test_index_is_cached_by_content_and_memory_mapped(tmp_path, monkeypatch):
    bench = jsonl(tmp_path / "b.jsonl", [{"question": QUESTION, "answer": "252"}])
    spec = [{"name": "bakery", "path": str(bench), "layout": "gsm8k"}]
    first = stage(tmp_path, spec)
    assert isinstance(first.index.hashes, np.memmap)
    assert np.all(np.diff(first.index.hashes.astype(np.float64)) >= 0) and first.index.hashes.dtype == np.uint64
    built = []
    monkeypatch.setattr(dc, "build_index", lambda *a: built.append(a) or (_ for _ in ()).throw(AssertionError))
    stage(tmp_path, spec)  # same files: loaded from the cache, not rebuilt
    assert built == []
    monkeypatch.undo()
    jsonl(bench, [{"question": QUESTION.replace("rye", "oat"), "answer": "252"}])
    changed = stage(tmp_path, spec)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
    # the old text now shares every 13-gram but the 7 that hold "rye" (word 6)
    total = len(ngram_hashes([QUESTION], 13).hashes)
    assert run(changed, [QUESTION])["decontaminate_ngrams"] == [total - 7]


def test_config_errors_name_the_key(tmp_path):
    raw = {"input": {"paths": ["x"], "dataset": "d"}, "output": "o",
           "stages": [{"name": "decontaminate", "benchmarks": [{"name": "b", "path": "p", "layout": "jsonl"}]}]}
    with pytest.raises(ConfigError, match=r"stages\[0\] \(decontaminate\)\.benchmarks\[0\].*needs `fields`"):
        pipeline_config.parse(raw)
    with pytest.raises(CurateError, match="no .jsonl/.json file at"):
        stage(tmp_path, [{"name": "b", "path": str(tmp_path / "absent.jsonl"), "layout": "gsm8k"}])


def _demo_texts(directory: Path) -> list[str]:
    """The main text of every HTML page of the demo crawl (clean: written for the project)."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType
    from resiliparse.extract.html2text import extract_plain_text

    texts = []
    for path in generate_crawl(directory):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream, record_types=WarcRecordType.response):
                body = record.reader.read().split(b"\r\n\r\n", 1)[-1]
                if b"<html" in body[:300].lower():
                    texts.append(extract_plain_text(body.decode("utf-8", "replace"), main_content=True))
    return texts


def test_every_planted_gsm8k_question_found_and_no_clean_page_flagged(tmp_path, shared_data):
    gsm8k = shared_data / "benchmarks" / "gsm8k-test.jsonl"
    if not gsm8k.is_file():
        pytest.skip("gsm8k-test.jsonl is absent")
    questions = [json.loads(line)["question"] for line in gsm8k.read_text().splitlines() if line.strip()]
    s = stage(tmp_path, [{"name": "gsm8k", "path": str(gsm8k), "layout": "gsm8k"}])
    clean = _demo_texts(tmp_path / "crawl")
    assert len(clean) > 180
    out = run(s, clean)
    assert out["reject_reason"] == [None] * len(clean)
    rng = random.Random(3)
    planted = []
    for question in questions:  # each question inside a clean page, at a random paragraph break
        paragraphs = rng.choice(clean).split("\n")
        paragraphs.insert(rng.randrange(len(paragraphs) + 1), question)
        planted.append("\n".join(paragraphs))
    out = run(s, planted)
    assert out["reject_reason"] == ["gsm8k"] * len(questions)
    assert min(out["decontaminate_ngrams"]) >= 1
