"""FineWeb-2's per-language rules in a run, on Spark and on Beam: a mixed-language crawl whose `lang` comes with the
input, and one whose `lang` langid writes as FineWeb-2 codes, give the same documents, reasons and signals on both
engines; a tokenizer package missing for a language in the data ends the run with one line naming it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.pipeline.run import run

GERMAN = ("Die Stadt liegt am Ufer des Flusses und wurde im Mittelalter gegründet. "
          "Im Zentrum steht eine alte Kirche, die von vielen Besuchern aus dem ganzen Land besucht wird.\n"
          "Der Markt findet jeden Samstag statt, und die Bauern aus der Umgebung verkaufen dort Obst, Gemüse und Käse. "
          "Für Familien mit Kindern gibt es einen großen Park mit einem Spielplatz und einem kleinen See.\n"
          "Im Sommer werden auf dem Platz vor dem Rathaus Konzerte gegeben, die bis spät in den Abend dauern. "
          "Die Bewohner sind stolz auf ihre Geschichte und erzählen gern von den alten Zeiten.")
CHINESE = ("北京是中华人民共和国的首都，也是全国的政治和文化中心。这座城市有三千多年的历史，保存了许多古老的建筑。"
           "每年都有很多游客来这里参观故宫、长城和天坛。\n城市的交通非常方便，地铁可以到达大部分地方。"
           "人们喜欢在公园里散步、跳舞和打太极拳。北京的冬天比较冷，夏天比较热，春天和秋天是最好的旅游季节。")
JAPANESE = ("東京は日本の首都であり、世界でも有数の大都市です。毎年多くの観光客が訪れ、古い寺や新しい建物を見て回ります。"
            "電車や地下鉄がとても便利なので、どこへ行くにも困りません。\n春には桜が咲き、公園は花見をする人でいっぱいに"
            "なります。夏は暑くて湿気が多いですが、秋は涼しくて過ごしやすい季節です。冬には雪が降ることもあります。")
SERBIAN = ("Београд је главни град Србије и налази се на ушћу Саве у Дунав. Град има дугу историју и много "
           "знаменитости које посећују туристи из целог света. У центру града налази се Кнез Михаилова улица, где "
           "људи шетају, пију кафу и разговарају до касно у ноћ.\nЛети се на обали реке одржавају концерти и фестивали, "
           "а зими се многи окупљају у топлим кафанама. Становници су поносни на свој град и радо причају о њему.")
ENGLISH = ("The river crossing was rebuilt last spring after the old ferry stopped running, and the town council "
           "published the new timetable together with a long account of how the work was planned and paid for.")


def crawl() -> list[dict]:
    """Documents named by their `url`: prose in four languages and scripts, the same prose repeated line by line, as
    a list of its lines' first 8 characters, and
    English (FineWeb-2 has no English config)."""
    docs = []
    for code, label, text in (("deu_Latn", "de", GERMAN), ("cmn_Hani", "zh", CHINESE), ("jpn_Jpan", "ja", JAPANESE),
                              ("srp_Cyrl", "sr", SERBIAN)):
        lines = [line for line in text.replace("。", "。\n").replace(". ", ".\n").split("\n") if line]
        docs += [
            {"url": f"{code}-prose", "text": text, "lang": code},
            {"url": f"{code}-label", "text": text, "lang": label},
            {"url": f"{code}-repeated", "text": "\n".join(lines * 3), "lang": code},
            {"url": f"{code}-list", "text": "\n".join(line[:8] for line in lines), "lang": code},
        ]
    return docs + [{"url": "eng-prose", "text": ENGLISH, "lang": "en"}]


def outcome(output: Path) -> tuple[dict, dict]:
    manifest = json.loads((output / "manifest.json").read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]]).to_pylist()
    names = [doc["url"] for doc in crawl()]  # ids end with the line number: rejects keep no url
    name = {r["id"]: names[int(r["id"].rsplit(":", 1)[1])] for r in kept + rejects}
    signals = {name[r["id"]]: {k: v for k, v in r.items() if k.startswith(("gopher_", "fineweb_", "lang"))}
               for r in kept}
    return signals, {name[r["id"]]: r["reject_reason"] for r in rejects}


STAGES = [{"name": name, "thresholds": "fineweb2", "keep_signals": True}
          for name in ("gopher_repetition", "fineweb_quality", "gopher_quality")]


def both_engines(tmp_path: Path, fields: list[str], stages: list[dict]) -> tuple:
    (tmp_path / "in").mkdir(exist_ok=True)
    source = tmp_path / "in" / "crawl.jsonl"
    source.write_text("".join(json.dumps(doc, ensure_ascii=False) + "\n" for doc in crawl()))
    results = {}
    for engine in ("spark", "beam"):
        output = tmp_path / f"{engine}-{len(fields)}"
        run(pipeline_config.parse({"input": {"paths": [str(source)], "fields": fields}, "output": str(output),
                                   "engine": {"name": engine}, "stages": stages}))
        results[engine] = outcome(output)
    assert results["spark"] == results["beam"]
    return results["beam"]


def test_lang_from_the_input_on_spark_and_beam(tmp_path, spark):
    kept, reasons = both_engines(tmp_path, ["lang"], STAGES)
    assert sorted(kept) == ["cmn_Hani-label", "cmn_Hani-prose", "deu_Latn-label", "deu_Latn-prose",
                            "jpn_Jpan-label", "jpn_Jpan-prose", "srp_Cyrl-label", "srp_Cyrl-prose"]
    for code in ("deu_Latn", "cmn_Hani", "jpn_Jpan", "srp_Cyrl"):
        assert reasons[f"{code}-repeated"] == "gopher_repetition:dup_line_fraction"
        # a short label is read as its FineWeb-2 code, and stays in `lang` as the input had it
        assert {**kept[f"{code}-label"], "lang": code} == kept[f"{code}-prose"]
    assert reasons["eng-prose"] == "gopher_repetition:no_language_config"
    # a short text's one n-gram covers much of it (FineWeb-2 counts an n-gram that occurs once); Japanese's lines
    # end in no punctuation once cut
    assert {code: reasons[f"{code}-list"] for code in ("deu_Latn", "cmn_Hani", "jpn_Jpan", "srp_Cyrl")} == {
        "deu_Latn": "gopher_repetition:top_3gram_char_fraction", "cmn_Hani": "gopher_repetition:top_4gram_char_fraction",
        "jpn_Jpan": "fineweb_quality:line_punct_ratio", "srp_Cyrl": "gopher_repetition:top_2gram_char_fraction"}
    # word counts by each language's tokenizer: jieba and Sudachi words, not characters or whitespace runs
    assert kept["cmn_Hani-prose"]["gopher_quality_word_count"] == 73
    assert kept["deu_Latn-prose"]["gopher_quality_word_count"] == 94


def test_lang_from_langid_as_fineweb2_codes_on_spark_and_beam(tmp_path, spark):
    stages = [{"name": "langid", "labels": "fineweb2", "threshold": "fineweb2"}, STAGES[2]]
    kept, reasons = both_engines(tmp_path, [], stages)
    assert {doc: row["lang"] for doc, row in kept.items() if doc.endswith("-prose")} == {
        "deu_Latn-prose": "deu_Latn", "cmn_Hani-prose": "cmn_Hani", "jpn_Jpan-prose": "jpn_Jpan",
        "srp_Cyrl-prose": "srp_Cyrl"}
    assert reasons["eng-prose"] == "langid:no_language_config"


@pytest.mark.beam
def test_a_missing_tokenizer_package_ends_the_run_in_one_line(tmp_path):
    # jieba made unimportable in every process of the run (the CLI's and Beam's workers): a None in sys.modules
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['jieba'] = None\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "crawl.jsonl").write_text("".join(
        json.dumps(doc, ensure_ascii=False) + "\n" for doc in crawl() if doc["url"].endswith("-prose")))
    path = tmp_path / "pipeline.yaml"
    path.write_text(json.dumps({"input": {"paths": [str(tmp_path / "in")], "fields": ["lang"]},
                                "output": str(tmp_path / "out"), "engine": {"name": "beam"}, "stages": STAGES[:1]}))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", "from curate.cli.main import main; main()", "run",
                             str(path)], capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env)
    err = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(err) == 1, result.stderr[-2000:]
    assert err[0].startswith("curate: error: ")
    # Beam adds where it failed: "the Beam pipeline failed: <the error> [while running 'Pass 0'] (worker log: ...)"
    assert ("gopher_repetition: documents in cmn_Hani: the jieba word tokenizer needs jieba, which is not installed: "
            "pip install 'curate[multilingual]'") in err[0]
