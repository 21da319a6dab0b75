"""examples/fineweb2.yaml, FineWeb-2's recipe in one run, on real crawls (Common Crawl pages in several languages and
ClueWeb09's Japanese pages): every response ends kept or rejected by its own language's rules, the same on Spark and
on Beam, and the run's language funnel says where each language's documents went."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate.filters.fineweb2.configs import config as fineweb2_config
from curate.pipeline import config as pipeline_config
from curate.pipeline.run import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fineweb2.yaml"
CRAWLS = {"warcfile.warc.gz": 16, "clueweb-quirk.warc.gz": 29}  # response records (../shared/data/README.md)


def outcome(output: Path) -> tuple[dict, dict, dict]:
    """(kept id -> lang, rejected id -> reason, the manifest's language funnel)."""
    manifest = json.loads((output / "manifest.json").read_text())
    kept = pa.concat_tables([pq.read_table(output / p, columns=["id", "lang"]) for p in manifest["documents"]])
    rejects = pa.concat_tables([pq.read_table(output / p, columns=["id", "reject_reason"])
                                for p in manifest["rejects"]])
    return (dict(zip(kept.column("id").to_pylist(), kept.column("lang").to_pylist())),
            dict(zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist())),
            manifest["language_funnel"]["languages"])


@pytest.fixture(scope="module")
def crawl(shared_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("crawl")
    for name in CRAWLS:
        shutil.copy(shared_data / "warc" / name, folder / name)
    return folder


def test_the_fineweb2_example_runs_on_real_crawls_alike_on_both_engines(spark, crawl, tmp_path):
    raw = yaml.safe_load(EXAMPLE.read_text())
    results = {}
    for engine in ("spark", "beam"):
        output = tmp_path / engine
        run(pipeline_config.parse({**raw, "input": {**raw["input"], "paths": [str(crawl)]}, "output": str(output),
                                   "engine": {"name": engine}}))
        results[engine] = outcome(output)
    assert results["spark"] == results["beam"]
    kept, rejected, funnel = results["spark"]

    assert len(kept) + len(rejected) == sum(CRAWLS.values())  # nothing lost
    assert set(funnel) >= {"jpn_Jpan", "cmn_Hani", "rus_Cyrl", "deu_Latn", "eng_Latn"}
    assert kept and all(fineweb2_config(lang) is not None for lang in kept.values())
    # English has no FineWeb-2 config: langid rejects it; every other language is judged by its own rules
    assert funnel["eng_Latn"]["rejected"] == {"langid": [2, funnel["eng_Latn"]["in"][1]]}
    assert sum(reason == "langid:no_language_config" for reason in rejected.values()) == 2
    # ClueWeb's Japanese pages repeat one another: MinHash over Sudachi's words finds them within Japanese
    assert funnel["jpn_Jpan"]["rejected"]["minhash_dedup"][0] > 0
    assert all("minhash_dedup" not in row["rejected"] for lang, row in funnel.items() if lang != "jpn_Jpan")
    reasons = {reason.split(":")[0] for reason in rejected.values()}
    assert reasons >= {"langid", "minhash_dedup", "gopher_repetition", "fineweb_quality", "gopher_quality"}
