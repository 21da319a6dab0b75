"""Global stages on Spark: passes around a decision table keyed by uid, applied per input file."""
from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.testing import generate_crawl
from curate.pipeline.output import MANIFEST
from curate.pipeline.passes import Pipeline
from curate.pipeline.run import run
from curate.stages.dedup.exact import normalise_text, normalise_url


def documents(output: Path) -> pa.Table:
    manifest = json.loads((output / MANIFEST).read_text())
    return pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]])


def jsonl_input(directory: Path, files: dict[str, list[str]]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, texts in files.items():
        (directory / name).write_text("".join(json.dumps({"text": t, "url": f"https://x/{name}/{i}"}) + "\n"
                                              for i, t in enumerate(texts)))


def config_for(inputs: Path, output: Path, stages: list[dict]):
    return pipeline_config.parse({"input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(output),
                                  "stages": stages})


def test_pipeline_is_cut_at_global_stages():
    config = config_for(Path("in"), Path("out"), [{"name": "extract"}, {"name": "exact_dedup", "on": "url"},
                                                  {"name": "langid"}, {"name": "exact_dedup", "id": "text_dedup"},
                                                  {"name": "gopher_quality"}])
    steps = Pipeline(config).passes
    assert [(s.applies and s.applies.id, [m.id for m in s.maps], s.feeds and s.feeds.id) for s in steps] == [
        (None, ["extract"], "exact_dedup"), ("exact_dedup", ["langid"], "text_dedup"),
        ("text_dedup", ["gopher_quality"], None)]
    url_first = Pipeline(config_for(Path("in"), Path("out"), [{"name": "exact_dedup", "on": "url"},
                                                             {"name": "extract"}])).passes
    assert url_first[0].keeps_html and not url_first[1].keeps_html


def test_a_pass_drops_the_page_after_the_last_stage_that_reads_it(tmp_path):
    """The stages after extraction never read `html`: carried on, every split after them would copy every page."""
    from curate.pipeline.inputs import InputFile
    from curate.pipeline.output import Output
    from curate.pipeline.passes import run_pass

    crawl = generate_crawl(tmp_path / "in", files=1)[0]
    pipeline = Pipeline(config_for(tmp_path / "in", tmp_path / "out", [
        {"name": "extract", "backend": "resiliparse"}, {"name": "langid"}, {"name": "gopher_quality"}]))
    step = pipeline.passes[0]
    seen = []
    for bound in pipeline.stages:
        def spy(batch, process=bound.stage.process, stage=bound.id):
            seen.append((stage, "html" in batch.schema.names))
            return process(batch)
        bound.stage.process = spy
    record = run_pass(pipeline, step, InputFile(str(crawl), crawl.name, crawl.stat().st_size, "warc"),
                      Output(str(tmp_path / "out")))
    assert record["kept"] > 0 and dict(seen) == {"extract": True, "langid": False, "gopher_quality": False}
    assert step.html_last == 0 and not step.keeps_html
    url_first = Pipeline(config_for(Path("in"), Path("out"), [{"name": "exact_dedup", "on": "url"},
                                                             {"name": "extract"}, {"name": "langid"}])).passes
    assert url_first[0].keeps_html and url_first[0].html_last == len(url_first[0].maps)  # for pass 1's extract
    assert url_first[1].html_last == 0


def test_normalisation():
    assert normalise_text("  Hello\n\nWORLD  ") == normalise_text("hello world") == "hello world"
    assert normalise_url("HTTPS://www.Example.com:443/a/?utm_source=x&b=2#top") == "//example.com/a?b=2"
    assert normalise_url("http://example.com") == normalise_url("https://example.com/")


def test_exact_dedup_across_files_keeps_min_id(spark, tmp_path):
    jsonl_input(tmp_path / "in", {
        "a.jsonl": ["same text here", "unique one", "Same   TEXT here"],
        "b.jsonl": ["same text here", "unique two", "pair text", "pair text"],
    })
    result = run(config_for(tmp_path / "in", tmp_path / "out", [{"name": "exact_dedup"}]))
    stats = result.stats
    assert stats["input"] == 7 and stats["kept"] == 4
    assert stats["rejected"] == {"exact_dedup:duplicate": 3}
    table = documents(tmp_path / "out")
    kept = dict(zip(table.column("id").to_pylist(), table.column("dup_cluster_size").to_pylist()))
    assert kept == {"t/a.jsonl:0": 3, "t/a.jsonl:1": 1, "t/b.jsonl:1": 1, "t/b.jsonl:2": 2}
    clusters = dict(zip(table.column("id").to_pylist(), table.column("dup_cluster").to_pylist()))
    assert clusters["t/a.jsonl:1"] is None and len(clusters["t/a.jsonl:0"]) == 16


def test_exact_dedup_longest_and_url(spark, tmp_path):
    jsonl_input(tmp_path / "in", {"a.jsonl": ["short", "a much longer text"]})
    lines = (tmp_path / "in" / "a.jsonl").read_text().splitlines()
    same_url = [json.dumps({**json.loads(line), "url": "https://x/page"}) for line in lines]
    (tmp_path / "in" / "a.jsonl").write_text("\n".join(same_url) + "\n")
    run(config_for(tmp_path / "in", tmp_path / "out", [{"name": "exact_dedup", "on": "url", "keep": "longest"}]))
    assert documents(tmp_path / "out").column("text").to_pylist() == ["a much longer text"]


def test_demo_copies_removed_and_counts_balance(spark, tmp_path):
    generate_crawl(tmp_path / "crawl")
    result = run(config_for(tmp_path / "crawl", tmp_path / "out",
                            [{"name": "extract"}, {"name": "exact_dedup"}, {"name": "gopher_quality"}]))
    stats = result.stats
    assert stats["input"] == stats["kept"] + sum(stats["rejected"].values()) == 218
    assert stats["rejected"]["exact_dedup:duplicate"] >= 20  # the crawl mirrors 20 articles verbatim
    names = [s["name"] for s in stats["stages"]]
    assert names == ["read", "extract", "exact_dedup", "gopher_quality"]
    texts = documents(tmp_path / "out").column("text").to_pylist()
    assert len(texts) == len({normalise_text(t) for t in texts})


def test_safety_stages_and_the_bias_report_on_spark(spark, tmp_path, shared_data):
    questions = [json.loads(line)["question"] for line in
                 (shared_data / "benchmarks" / "gsm8k-test.jsonl").read_text().splitlines()[:3]]
    clean = ["The women of the village met the men from the harbour to talk about the new school and the library.",
             "Our gardeners plant tomatoes in spring and harvest them in late summer when the sun is strong."] * 5
    planted = [f"Homework help. {q} Try it yourself before you look at the answer." for q in questions]
    jsonl_input(tmp_path / "in", {"a.jsonl": clean + planted})
    stages = [{"name": "langid", "threshold": 0.3}, {"name": "bias"}, {"name": "toxicity"},
              {"name": "decontaminate", "benchmarks": [{"name": "gsm8k", "path": str(
                  shared_data / "benchmarks" / "gsm8k-test.jsonl"), "layout": "gsm8k"}]},
              {"name": "exact_dedup"}]
    result = run(config_for(tmp_path / "in", tmp_path / "out", stages))
    assert result.stats["rejected"] == {"decontaminate:gsm8k": 3, "exact_dedup:duplicate": 8}
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    report = json.loads((tmp_path / "out" / manifest["bias"]).read_text())
    assert report["documents"]["before"] == 13 and report["documents"]["after"] == 2
    assert report["axes"]["gender"]  # the clean texts mention women and men


def test_each_engine_lists_its_plans_and_names_a_missing_one():
    """Plans are registered for their stage class (`@plan("spark", MinHashDedup)`), found by engine and class."""
    import pytest

    from curate.engines.beam import exact_dedup as beam_exact
    from curate.engines.spark import minhash_dedup as spark_minhash
    from curate.pipeline import registry
    from curate.pipeline.engine import plan_of
    from curate.pipeline.errors import CurateError
    from curate.pipeline.stage import GlobalStage
    from curate.stages.dedup.exact import ExactDedup
    from curate.stages.dedup.minhash import MinHashDedup

    assert plan_of("spark", MinHashDedup) is spark_minhash.minhash_dedup
    assert plan_of("beam", ExactDedup) is beam_exact.exact_dedup
    # the built-in ones: a plugin another test of this process registered brings the plans it brings
    for stage in registry.stages().values():
        if issubclass(stage, GlobalStage) and stage.__module__.startswith("curate.stages."):
            assert plan_of("spark", stage) and plan_of("beam", stage)

    class Unplanned(GlobalStage):
        name = "unplanned"

    with pytest.raises(CurateError, match=r"stage 'unplanned' has no beam plan yet .*; run it with another engine"):
        plan_of("beam", Unplanned)
