"""quality_classifier with a threshold through the Beam plan (its own branch: no selection rounds): every document
gets its score, those below the threshold are rejected with the reason. Spark's plan applies a threshold with the
same expression as a keep_fraction cut, which test_engines_conformance.py runs on both engines."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.testing import demo_texts
from curate.pipeline.output import MANIFEST
from curate.cli.quality_train import train_quality
from curate.pipeline.run import run
from curate.stages.quality_classifier import QualityClassifier, QualityClassifierParams


def corpus(root: Path) -> Path:
    """Two JSONL files of prose and of the same sentences' words shuffled; and a model trained to tell them apart."""
    rng, texts = random.Random(2), demo_texts()

    def prose() -> str:
        return " ".join(rng.sample(texts, 3))

    def shuffled() -> str:
        return " ".join(rng.sample(prose().split(), 20))

    for name, make in (("prose", prose), ("shuffled", shuffled)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps({"text": make()}) + "\n" for _ in range(60)))
    train_quality(str(root / "prose.jsonl"), str(root / "shuffled.jsonl"), str(root / "quality.bin"),
                  overrides={"bucket": 10_000}, log=lambda line: None)
    (root / "input").mkdir()
    for part in range(2):
        rows = [{"text": prose() if i % 2 else shuffled()} for i in range(40)]
        (root / "input" / f"part-{part}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root / "quality.bin"


@pytest.mark.beam
def test_threshold_on_beam(tmp_path):
    model = corpus(tmp_path)
    stage = QualityClassifier(QualityClassifierParams(model=str(model)))
    inputs = [json.loads(line)["text"] for part in sorted((tmp_path / "input").glob("*.jsonl"))
              for line in part.read_text().splitlines()]
    threshold = float(np.median(stage.score(inputs)))  # the tiny model's scores sit close together: cut in the middle
    raw = {"input": {"paths": [str(tmp_path / "input")], "dataset": "q"}, "output": str(tmp_path / "out"),
           "engine": {"name": "beam"},
           "stages": [{"name": "quality_classifier", "model": str(model), "threshold": threshold}]}
    run(pipeline_config.parse(raw))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["documents"]])
    rejects = pa.concat_tables([pq.read_table(tmp_path / "out" / p) for p in manifest["rejects"]])
    assert kept.num_rows + rejects.num_rows == 80 and 30 <= rejects.num_rows <= 50
    assert set(rejects.column("reject_reason").to_pylist()) == {"quality_classifier:below_threshold"}
    scores = np.array(kept.column("quality_score").to_pylist())
    assert scores.min() >= np.float32(threshold)
    # the score in documents/ is the stage's score of that text
    assert np.allclose(scores, stage.score(kept.column("text").to_pylist()))


@pytest.mark.beam  # a Beam run
def test_the_report_shows_the_scores_the_cutoff_and_the_kept_share_per_domain(tmp_path):
    """Every scored document counted once, kept or rejected by the classifier; the threshold drawn; per host the
    documents scored and the share kept, as the run's own outputs have them."""
    import re

    from curate.cli.report import write_report

    model = corpus(tmp_path)
    hosts = ["a.example", "www.b.example", "c.example"]
    for part in sorted((tmp_path / "input").glob("*.jsonl")):  # give every document a URL on one of three hosts
        rows = [json.loads(line) for line in part.read_text().splitlines()]
        part.write_text("".join(json.dumps({**r, "url": f"https://{hosts[i % 3]}/{part.stem}/{i}"}) + "\n"
                                for i, r in enumerate(rows)))
    stage = QualityClassifier(QualityClassifierParams(model=str(model)))
    texts = [json.loads(line)["text"] for part in sorted((tmp_path / "input").glob("*.jsonl"))
             for line in part.read_text().splitlines()]
    threshold = float(np.median(stage.score(texts)))
    raw = {"input": {"paths": [str(tmp_path / "input")], "dataset": "q"}, "output": str(tmp_path / "out"),
           "engine": {"name": "beam"},
           "stages": [{"name": "quality_classifier", "model": str(model), "threshold": threshold}]}
    run(pipeline_config.parse(raw))
    out = tmp_path / "out"
    manifest = json.loads((out / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(out / p) for p in manifest["documents"]]).to_pylist()
    rejects = pa.concat_tables([pq.read_table(out / p) for p in manifest["rejects"]]).to_pylist()
    host_of = {f"q/{part.name}:{i}": hosts[i % 3].removeprefix("www.")
               for part in (tmp_path / "input").glob("*.jsonl") for i in range(40)}
    expected = {host: [sum(host_of[r["id"]] == host for r in kept), sum(host_of[r["id"]] == host for r in rejects)]
                for host in ("a.example", "b.example", "c.example")}

    section = manifest["quality_classifier"]["quality_classifier"]
    assert (section["documents"], section["kept"], section["rejected"]) == (80, len(kept), len(rejects))
    assert section["cutoff"] == float(np.float32(threshold))
    histogram = section["histogram"]
    assert sum(histogram["kept"]) == len(kept) and sum(histogram["rejected"]) == len(rejects)
    assert histogram["edges"][0] <= min(r["quality_score"] for r in kept) and \
        histogram["edges"][-1] >= max(r["quality_score"] for r in kept)
    assert {d["domain"]: [d["kept"], d["rejected"]] for d in section["domains"]} == expected

    page = Path(write_report(str(out))).read_text()
    assert '<section id="quality-classifier">' in page and 'src="quality_classifier-scores.png"' in page
    assert (out / "report" / "quality_classifier-scores.png").stat().st_size > 1000
    for host, (k, r) in expected.items():
        row = re.search(rf"<td[^>]*>{re.escape(host)}</td><td[^>]*>{k + r}</td><td[^>]*>{k}</td>"
                        rf"<td[^>]*>([\d.]+)%</td>", page)
        assert row and abs(float(row[1]) - 100 * k / (k + r)) < 0.051, host


@pytest.mark.spark
def test_the_selection_summary_is_in_the_manifest_after_a_normal_run(spark, tmp_path):
    """The plan returns what the keep_fraction selection did; the framework writes it into the manifest (under
    `plans.<id>`, and the stage's own section), so it outlives `work/`, which a normal run deletes."""
    model = corpus(tmp_path)
    raw = {"input": {"paths": [str(tmp_path / "input")], "dataset": "q"}, "output": str(tmp_path / "out"),
           "stages": [{"name": "quality_classifier", "id": "qc", "model": str(model), "keep_fraction": 0.3}]}
    run(pipeline_config.parse(raw))
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert not (tmp_path / "out" / "work").exists()
    kept = sum(pq.read_metadata(tmp_path / "out" / p).num_rows for p in manifest["documents"])
    assert manifest["plans"]["qc"] == {"selection": {"documents": 80, "keep": 24, "kept": kept}} and kept == 24
    assert manifest["quality_classifier"]["qc"]["selection"] == manifest["plans"]["qc"]["selection"]
