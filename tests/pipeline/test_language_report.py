"""The per-language funnel of a real run on both engines: langid's collector, a global stage's rejects, the tokens
kept, in the manifest, the HTML report and the console — the same on Spark and Beam, and equal to what the documents
and the ledger say."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from rich.console import Console

from curate.pipeline import config as pipeline_config
from curate.pipeline.commands.report import report_text, write_report
from curate.pipeline.commands.tokenizer_train import train_bpe
from curate.pipeline.output import MANIFEST, Output
from curate.pipeline.run import run

LANGUAGES = ("de", "fr", "ja", "zh", "th")
COPIES = {"de": 2, "ja": 1}  # exact copies of a language's first document


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
    stages = [{"name": "langid", "threshold": 0.5}, {"name": "exact_dedup", "partition_by": "lang"},
              {"name": "tokenize", "tokenizer": str(tmp_path / "tokenizer.json"), "validation_fraction": 0}]
    sections = []
    for engine in ("spark", "beam"):
        out = tmp_path / engine
        run(pipeline_config.parse({"input": {"paths": [str(tmp_path / "crawl")], "dataset": "t"},
                                   "output": str(out), "engine": {"name": engine}, "stages": stages}))
        sections.append(json.loads((out / MANIFEST).read_text())["language_funnel"])
    assert sections[0] == sections[1]
    funnel = sections[0]

    out = tmp_path / "spark"
    manifest = json.loads((out / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(out / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(out / p) for p in manifest["rejects"]]).to_pylist()
    assert {r["lang"] for r in kept} == set(LANGUAGES) and all(language[r["text"]] == r["lang"] for r in kept)
    assert funnel["stages"] == ["langid", "exact_dedup"]
    assert list(funnel["languages"])[-1] == ""  # the line without text: no language
    assert funnel["languages"][""] == {"in": [1, 0], "rejected": {"langid": [1, 0]}, "kept": [0, 0, None]}
    for lang in LANGUAGES:
        mine = [r for r in kept if r["lang"] == lang]
        size = sum(len(r["text"].encode()) for r in mine)
        copy = len(next(t for t in texts if language[t] == lang).encode())
        copies = COPIES.get(lang, 0)
        assert funnel["languages"][lang] == {
            "in": [6 + copies, size + copies * copy],
            "rejected": {"exact_dedup": [copies, copies * copy]} if copies else {},
            "kept": [6, size, sum(r["n_tokens"] for r in mine)]}
    assert sum(1 for r in rejects if r["reject_reason"] == "exact_dedup:duplicate") == sum(COPIES.values())

    page = Path(write_report(str(out))).read_text()
    assert "Per-language funnel" in page and (out / "report" / "language-funnel.png").is_file()
    de = funnel["languages"]["de"]
    assert (f'<td class="">de</td><td class="num">8</td><td class="num">{round(de["in"][1] / 1e6, 3)}</td>'
            f'<td class="num">0</td><td class="num">2</td><td class="num">6</td><td class="num">75.0%</td>') in page
    console = Console(width=250, record=True, file=open(os.devnull, "w"))
    for line in report_text(Output(str(out))):
        console.print(line)
    shown = console.export_text()
    assert "per-language funnel" in shown and "exact_dedup rejected" in shown and "(none)" in shown
