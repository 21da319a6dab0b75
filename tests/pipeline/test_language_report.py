"""The per-language funnel of a real run on both engines: langid's collector, a map stage's and a global stage's
rejects, the tokens kept, in the manifest, the HTML report and the console — the same on Spark and Beam, and equal to
what the documents and the reject ledger say; and the FineWeb-2 configs the run applied."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from curate.pipeline import config as pipeline_config
from curate.cli.report import report_text, write_report
from curate.pipeline.tokenizer import train_bpe
from curate.pipeline.output import MANIFEST, Output
from curate.pipeline.run import run

LANGUAGES = ("de", "fr", "ja", "zh", "th")
COPIES = {"de": 2, "ja": 1}  # exact copies of a language's first document
CODES = {"de": "deu_Latn", "fr": "fra_Latn", "ja": "jpn_Jpan", "zh": "cmn_Hani", "th": "tha_Thai"}


def sentences(shared_data: Path) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {lang: [] for lang in LANGUAGES}
    for line in (shared_data / "langid" / "lingua-dev.tsv").open(encoding="utf-8"):
        kind, lang, text = line.rstrip("\n").split("\t", 2)
        if kind == "sentences" and lang in found and len(found[lang]) < 24:
            found[lang].append(text)
    return found


def crawl(directory: Path, shared_data: Path) -> tuple[dict[str, str], list[str]]:
    """Six documents of four real sentences per language, copies of some, one line without text."""
    texts, language = [], {}
    for lang, lines in sentences(shared_data).items():
        documents = [" ".join(lines[i:i + 4]) for i in range(0, 24, 4)]
        for text in documents + [documents[0]] * COPIES.get(lang, 0):
            language[text] = lang
            texts.append(text)
    directory.mkdir()
    (directory / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[::2]) + '{"text": ""}\n')
    (directory / "b.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts[1::2]))
    return language, texts


def test_per_language_funnel_same_on_both_engines_and_as_the_documents_say(spark, shared_data, tmp_path):
    language, texts = crawl(tmp_path / "crawl", shared_data)
    train_bpe(texts, vocab_size=500).save(str(tmp_path / "tokenizer.json"))
    stages = [{"name": "langid", "threshold": 0.5, "labels": "fineweb2"},
              {"name": "gopher_quality", "thresholds": "fineweb2"},
              {"name": "exact_dedup", "partition_by": "lang"},
              {"name": "tokenize", "tokenizer": str(tmp_path / "tokenizer.json"), "validation_fraction": 0}]
    sections = []
    for engine in ("spark", "beam"):
        out = tmp_path / engine
        run(pipeline_config.parse({"input": {"paths": [str(tmp_path / "crawl")], "dataset": "t"},
                                   "output": str(out), "engine": {"name": engine}, "write_rejects": True,
                                   "stages": stages}))
        sections.append(json.loads((out / MANIFEST).read_text())["language_funnel"])
    assert sections[0] == sections[1]
    funnel = sections[0]

    # the same counts from the documents and the reject ledger (with texts), each text's language known
    out = tmp_path / "spark"
    manifest = json.loads((out / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(out / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(out / p) for p in manifest["rejects"]]).to_pylist()
    assert all(CODES[language[r["text"]]] == r["lang"] for r in kept)
    expected: dict[str, dict] = {}
    for row in rejects:
        lang = CODES[language[row["text"]]] if row["text"] else ""
        stage = row["reject_reason"].split(":")[0]
        counts = expected.setdefault(lang, {"in": [0, 0], "rejected": {}, "kept": [0, 0, None]})
        seen = counts["rejected"].setdefault(stage, [0, 0])
        seen[0] += 1
        seen[1] += len((row["text"] or "").encode())
    for row in kept:
        counts = expected.setdefault(row["lang"], {"in": [0, 0], "rejected": {}, "kept": [0, 0, None]})
        counts["kept"] = [counts["kept"][0] + 1, counts["kept"][1] + len(row["text"].encode()),
                          (counts["kept"][2] or 0) + row["n_tokens"]]
    for counts in expected.values():
        counts["in"] = [counts["kept"][i] + sum(r[i] for r in counts["rejected"].values()) for i in (0, 1)]
    assert funnel["languages"] == expected
    assert funnel["languages"][""] == {"in": [1, 0], "rejected": {"langid": [1, 0]}, "kept": [0, 0, None]}
    assert {lang: counts["in"][0] for lang, counts in expected.items()} == {
        "deu_Latn": 8, "fra_Latn": 6, "jpn_Jpan": 7, "cmn_Hani": 6, "tha_Thai": 6, "": 1}
    assert funnel["stages"][0] == "langid" and funnel["stages"][-1] == "exact_dedup"
    assert sum(r["reject_reason"] == "exact_dedup:duplicate" for r in rejects) >= 1

    page = Path(write_report(str(out))).read_text()
    assert "Per-language funnel" in page and (out / "report" / "language-funnel.png").is_file()
    de = funnel["languages"]["deu_Latn"]
    assert f'<td class="">deu_Latn</td><td class="num">8</td><td class="num">{round(de["in"][1] / 1e6, 3)}</td>' \
        in page
    assert "FineWeb-2 configs used" in page
    assert '<td class="">cmn_Hani</td><td class="">cmn_Hani</td><td class="">cmn_Hani</td><td class="">jieba</td>' \
        in page
    console = Console(width=250, record=True, file=open(os.devnull, "w"))
    for line in report_text(Output(str(out))):
        console.print(line)
    shown = console.export_text()
    assert "per-language funnel" in shown and "exact_dedup rejected" in shown and "(none)" in shown
    assert "FineWeb-2 configs used" in shown and "sudachi" in shown
