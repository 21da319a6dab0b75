"""Paths in a pipeline file are relative to that file (issue #25, item 14): input, output, every file a stage names
(models, lists, tokenizers, benchmarks, `against:`) and the folders it writes (a cache). A file the run reads that is
not beside the pipeline file but is in the current folder is read there, with a note: the one fallback, used only
where it is unambiguous. `--input`/`--output` stay relative to the current folder. Before: every path was read from the
folder curate ran in, so the README's first command failed outside the repository's root."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from curate.pipeline import config
from curate.pipeline.commands.cli import main

ROOT = Path(__file__).resolve().parents[2]


def touch(path: Path, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_every_path_in_the_file_is_read_beside_it(tmp_path, monkeypatch):
    project = tmp_path / "project"
    for name in ("crawl/a.jsonl", "lists/hosts.txt", "tok/tokenizer.json", "bench/gsm8k.jsonl", "earlier/index.json"):
        touch(project / name)
    (project / "pipeline.yaml").write_text("""
input: crawl/
output: out/
stages:
  - {name: url_filter, domain_files: [lists/hosts.txt]}
  - {name: decontaminate, cache_dir: cache/, benchmarks: [{name: g, path: 'bench/*.jsonl', layout: gsm8k}]}
  - {name: exact_dedup, against: [earlier/, /abs/elsewhere, 's3://bucket/run']}
  - {name: tokenize, tokenizer: tok/tokenizer.json}
""")
    monkeypatch.chdir(touch(tmp_path / "elsewhere" / "x").parent)
    loaded = config.load(project / "pipeline.yaml")
    url_filter, decontaminate, dedup, tokenize = (spec.params for spec in loaded.stages)
    assert loaded.input.paths == [str(project / "crawl")] and loaded.input.dataset == "crawl"
    assert loaded.output == str(project / "out")
    assert url_filter.domain_files == [str(project / "lists/hosts.txt")]
    assert decontaminate.benchmarks[0].path == str(project / "bench/*.jsonl")
    assert decontaminate.cache_dir == str(project / "cache")
    assert dedup.against == [str(project / "earlier"), "/abs/elsewhere", "s3://bucket/run"]
    assert tokenize.tokenizer == str(project / "tok/tokenizer.json")
    # the command line's paths are the current folder's
    given = config.load(project / "pipeline.yaml", {"input.paths": ["mine/*.jsonl"], "output": "o/"})
    assert given.input.paths == ["mine/*.jsonl"] and given.output == "o/" and given.input.dataset == "mine"


def test_the_current_folder_is_the_fallback_only_where_it_is_unambiguous(tmp_path, monkeypatch):
    project, here = tmp_path / "project", tmp_path / "here"
    pipeline = touch(project / "pipeline.yaml", "input: crawl/\noutput: out/\n"
                                                "stages: [{name: tokenize, tokenizer: tokenizer.json}]\n")
    touch(here / "crawl" / "a.jsonl")
    touch(here / "tokenizer.json")
    touch(here / "out" / "x")
    monkeypatch.chdir(here)
    notes: list[str] = []
    loaded = config.load(pipeline, notice=notes.append)
    assert loaded.input.paths == [str(here / "crawl")]  # only here: read here, and said so
    assert loaded.stages[0].params.tokenizer == str(here / "tokenizer.json")
    assert loaded.output == str(project / "out")  # an output is made, not found: always beside the file
    assert notes == [f"input.paths[0]: 'crawl/' is not beside {pipeline}; read from the current folder: {here / 'crawl'}",
                     f"stages[0] (tokenize).tokenizer: 'tokenizer.json' is not beside {pipeline}; read from the "
                     f"current folder: {here / 'tokenizer.json'}"]
    touch(project / "tokenizer.json")  # in both folders: the rule decides, beside the file
    notes.clear()
    assert config.load(pipeline, notice=notes.append).stages[0].params.tokenizer == str(project / "tokenizer.json")
    assert len(notes) == 1
    shutil.rmtree(here / "crawl")  # in neither: beside the file, where the run will say it is missing
    assert config.load(pipeline).input.paths == [str(project / "crawl")]


def test_the_readme_first_pipeline_outside_the_repository(tmp_path, monkeypatch, capsys):
    """`curate explain <repo>/examples/demo.yaml` after `make demo` (which writes curate-demo/ at the repository's
    root), from another folder: the crawl and the tokenizer are found (before: two warnings, a run failed)."""
    repo = tmp_path / "repo"
    shutil.copy(ROOT / "examples" / "demo.yaml", touch(repo / "examples" / "demo.yaml"))
    from curate.pipeline.commands.demo import demo_texts, generate_crawl
    from curate.pipeline.commands.tokenizer_train import train_bpe

    generate_crawl(repo / "curate-demo" / "crawl")
    train_bpe(demo_texts(sentences=400), vocab_size=300).save(str(repo / "curate-demo" / "tokenizer.json"))
    monkeypatch.chdir(touch(tmp_path / "somewhere" / "x").parent)
    with pytest.raises(SystemExit) as done:
        main(["explain", str(repo / "examples" / "demo.yaml")])
    out = capsys.readouterr()
    assert done.value.code == 0, out.err
    assert "warning" not in out.out and out.err == ""
    assert f"output  {repo / 'curate-demo' / 'output'}" in out.out and "input   4 file(s)" in out.out


@pytest.mark.beam
def test_a_run_from_another_folder(tmp_path, monkeypatch, capsys):
    project = tmp_path / "project"
    touch(project / "crawl" / "a.jsonl", "".join(json.dumps({"text": f"page {i}", "url": f"https://{host}/{i}"}) + "\n"
                                                  for i, host in enumerate(["news.example", "shop.example"])))
    touch(project / "rules.txt", "news.example news\n")
    touch(project / "pipeline.yaml", "input: crawl/\noutput: out/\nengine: {name: beam}\n"
                                     "stages: [{name: domain, rules_file: rules.txt}]\n")
    monkeypatch.chdir(touch(tmp_path / "elsewhere" / "x").parent)
    with pytest.raises(SystemExit) as done:
        main(["run", str(project / "pipeline.yaml")])
    assert done.value.code == 0, capsys.readouterr().err
    manifest = json.loads((project / "out" / "manifest.json").read_text())
    assert manifest["stats"] and not (tmp_path / "elsewhere" / "out").exists()
    import pyarrow.parquet as pq

    rows = [row for path in manifest["documents"] for row in pq.read_table(project / "out" / path).to_pylist()]
    assert sorted((row["url"], row["domain"]) for row in rows) == [("https://news.example/0", "news"),
                                                                   ("https://shop.example/1", "other")]
