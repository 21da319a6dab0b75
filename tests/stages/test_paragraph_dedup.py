"""paragraph_dedup: the pure core (units, normalisation, the rule, the cut) and the stage on both engines."""
from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.stages.dedup.paragraph import RepeatedUnits, cut, normalise, split_units, unit_keys


def test_units_and_normalisation():
    text = "Home | About\n\nFirst paragraph\nstill first.\n \nLast one."
    assert split_units(text, "paragraph") == ["Home | About", "First paragraph\nstill first.", "Last one."]
    assert split_units(text, "line")[:2] == ["Home | About", ""]
    assert normalise("  Café, 2024!  Open ") == normalise("cafe 1999 open") == "cafe 0000 open"
    hashes, positions = unit_keys("A b.\n\n...\n\nA B\n\nc", "paragraph")
    assert positions == [[0, 2], [3]] and len(set(hashes)) == 2  # "..." has no key, "A B" repeats "A b."
    assert cut(text, [0, 2], "paragraph") == "First paragraph\nstill first."
    assert list(RepeatedUnits(2).repeated([1, 2, 3])) == [False, False, True]


def corpus(rng: random.Random) -> list[str]:
    words = [f"w{i}" for i in range(500)]

    def sentence(n=30):
        return " ".join(rng.choice(words) for _ in range(n))

    banner = "We use cookies to improve your experience. Accept all cookies?"
    nav = "Home | News | Sport | Contact"
    texts = [f"{nav}\n\n{sentence()}\n\n{sentence()}\n\n{banner}" for _ in range(6)]
    texts.append(f"{nav}\n\nToo short now.\n\n{banner}")
    texts.append(f"{sentence()}\n\n{sentence()}")
    texts.append(f"HOME | news | sport | contact!\n\n{sentence()}")  # the nav, normalised
    return texts


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_repeated_paragraphs_cut_on_both_engines(spark, tmp_path, engine):
    texts = corpus(random.Random(2))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    config = pipeline_config.parse({
        "input": {"paths": [str(tmp_path / "in")], "dataset": "t"}, "output": str(tmp_path / "out"),
        "engine": {"name": engine},
        "stages": [{"name": "paragraph_dedup", "unit": "paragraph", "max_count": 2, "min_words": 5}]})
    run(config)
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["documents"]])
    rows = {r["id"]: r for r in kept.to_pylist()}
    rejects = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["rejects"]]).to_pylist()
    assert {r["id"]: r["reject_reason"] for r in rejects} == {"t/a.jsonl:6": "paragraph_dedup:too_short"}
    for i in range(6):
        row = rows[f"t/a.jsonl:{i}"]
        assert row["paragraphs_removed"] == [0, 3]
        assert row["text"] == "\n\n".join(texts[i].split("\n\n")[1:3])
    assert rows["t/a.jsonl:7"]["paragraphs_removed"] is None and rows["t/a.jsonl:7"]["text"] == texts[7]
    assert rows["t/a.jsonl:8"]["paragraphs_removed"] == [0]


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_a_unit_repeated_inside_a_document_is_cut_in_every_copy(spark, tmp_path, engine):
    """The banner is in three documents, twice in the first (top and bottom): every copy goes, and the first
    document still counts once towards the banner's documents (max_count 2: three documents, so it is cut)."""
    banner = "We use cookies to improve your experience."
    body = ["alpha beta gamma delta", "epsilon zeta eta theta", "iota kappa lambda mu"]
    texts = [f"{banner}\n{body[0]}\n{banner}", f"{body[1]}\n{banner}", f"{banner}\n{body[2]}"]
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    config = pipeline_config.parse({
        "input": {"paths": [str(tmp_path / "in")], "dataset": "t"}, "output": str(tmp_path / "out"),
        "engine": {"name": engine},
        "stages": [{"name": "paragraph_dedup", "unit": "line", "max_count": 2, "min_words": 1}]})
    run(config)
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["documents"]])
    rows = {r["id"]: (r["text"], r["paragraphs_removed"]) for r in kept.to_pylist()}
    assert rows == {"t/a.jsonl:0": (body[0], [0, 2]), "t/a.jsonl:1": (body[1], [1]), "t/a.jsonl:2": (body[2], [0])}


CHINESE = ["我们今天在北京大学图书馆里读了很多关于中国历史和文化的书籍，然后去食堂吃了午饭。",
           "这个城市的公共交通系统非常发达，地铁和公交车可以带你去任何你想去的地方。",
           "春天来了，公园里的花都开了，很多家庭周末带着孩子出来散步和放风筝。", "谢谢。"]
THAI = ["วันนี้อากาศดีมากเราจึงไปเดินเล่นที่สวนสาธารณะใกล้บ้านกับครอบครัวและเพื่อนบ้าน",
        "ร้านอาหารแห่งนี้มีชื่อเสียงเรื่องก๋วยเตี๋ยวเรือที่อร่อยที่สุดในเมืองนี้มานานหลายปี"]


def unspaced_pages() -> list[tuple[str, str]]:
    """Chinese and Thai pages under a footer line each language's pages share: after the cut, one whitespace
    "word" is left of most of them, and 10 to 25 words of the language."""
    return [(f"版权所有 © 2024 本网站保留所有权利\n{t}", "zh") for t in CHINESE] + \
        [(f"สงวนลิขสิทธิ์ทั้งหมด\n{t}", "th") for t in THAI]


def test_min_words_counts_the_languages_words():
    from curate.stages.dedup.paragraph import ParagraphDedup, ParagraphDedupParams

    pages = unspaced_pages()
    batch = pa.RecordBatch.from_pydict({"text": [t for t, _ in pages], "lang": [lang for _, lang in pages],
                                        "paragraphs_removed": pa.array([[0]] * len(pages), pa.list_(pa.int32()))})
    reasons = pa.nulls(len(pages), pa.string())
    by_language = ParagraphDedup(ParagraphDedupParams(language="auto")).revise(batch, reasons)[1].to_pylist()
    by_spaces = ParagraphDedup(ParagraphDedupParams()).revise(batch, reasons)[1].to_pylist()
    assert by_language == [None, None, None, "too_short", None, None]
    assert by_spaces == ["too_short"] * 6
    assert ParagraphDedup(ParagraphDedupParams(language="auto")).requires() == ("text", "lang")


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_language_aware_min_words_on_both_engines(spark, tmp_path, engine):
    pages = unspaced_pages()
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text("".join(json.dumps({"text": t, "lang": lang}, ensure_ascii=False) + "\n"
                                                     for t, lang in pages))
    config = pipeline_config.parse({
        "input": {"paths": [str(tmp_path / "in")], "dataset": "t", "fields": ["lang"]},
        "output": str(tmp_path / "out"), "engine": {"name": engine},
        "stages": [{"name": "paragraph_dedup", "language": "auto"}]})
    run(config)
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["rejects"]]).to_pylist()
    assert {r["id"]: r["reject_reason"] for r in rejects} == {"t/a.jsonl:3": "paragraph_dedup:too_short"}
    assert sorted(r["text"] for r in kept) == sorted(CHINESE[:3] + THAI)
