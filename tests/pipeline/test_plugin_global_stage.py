"""A global stage in one plugin file (host_cap_stage.py: keys, a pure decision, a plan per engine, registered from
the plugin) runs on both engines through `plugins:`, with the same decisions, and its plan's result reaches the
manifest; no file of the framework, the engines or the built-in stages names it."""
from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow.parquet as pq
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.run import run
from curate.testing import generate_crawl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CAP = 3


def _run(tmp_path: Path, crawl: Path, engine: str) -> tuple[dict, dict]:
    out = tmp_path / f"out-{engine}"
    config = pipeline_config.parse({
        "input": {"paths": [str(crawl)], "dataset": "demo"}, "output": str(out), "engine": {"name": engine},
        "plugins": ["host_cap_stage"],
        "stages": [{"name": "extract"}, {"name": "host_cap", "max_per_host": CAP}]})
    result = run(config)
    kept = {row["id"]: urlsplit(row["url"]).hostname for path in sorted((out / "documents").glob("*.parquet"))
            for row in pq.read_table(path, columns=["id", "url"]).to_pylist()}
    return {"kept": kept, "stats": result.stats}, json.loads((out / "manifest.json").read_text())


@pytest.mark.spark
@pytest.mark.beam
def test_a_plugin_global_stage_runs_on_both_engines(spark, tmp_path, monkeypatch):
    # the workers import the plugin too: Spark's from the file shipped to them, Beam's from PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    spark.sparkContext.addPyFile(str(HERE / "host_cap_stage.py"))
    crawl = tmp_path / "crawl"
    generate_crawl(crawl, files=2)
    on_spark, manifest = _run(tmp_path, crawl, "spark")
    on_beam, beam_manifest = _run(tmp_path, crawl, "beam")

    assert on_spark["kept"] == on_beam["kept"]
    per_host = Counter(on_spark["kept"].values())
    assert max(per_host.values()) == CAP  # some host was capped, none kept more
    capped = manifest["plans"]["host_cap"]
    assert capped == beam_manifest["plans"]["host_cap"]
    assert capped and all(entry["kept"] == CAP < entry["documents"] for entry in capped.values())
    assert {host: per_host[host] for host in capped} == {host: CAP for host in capped}
    over = sum(entry["documents"] - CAP for entry in capped.values())
    assert on_spark["stats"]["rejected"]["host_cap:over_cap"] == over


def test_no_framework_file_names_the_plugin_global_stage():
    """The one plugin file is the whole change: no module outside the tests mentions the stage or its plans."""
    folders = ("pipeline", "engines", "readers", "cli", "workflows", "testing", "stages", "filters", "jobs", "trainer")
    mentions = [str(path.relative_to(ROOT)) for folder in folders for path in (ROOT / folder).rglob("*.py")
                if "host_cap" in path.read_text().lower()]
    assert mentions == []
    assert "host_cap" in (HERE / "host_cap_stage.py").read_text()  # the scan can see a mention
