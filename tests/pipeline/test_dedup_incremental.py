"""Dedup across runs: each run's index in its output, `against:` earlier runs, lineage in the ledger, both engines."""
from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import CurateError
from curate.cli.inspect import inspect_record
from curate.pipeline.output import MANIFEST
from curate.pipeline.run import run
from curate.pipeline.schema import uid_of

VOCAB = [f"w{i}" for i in range(2000)]


def article(rng: random.Random, n: int = 300) -> list[str]:
    return [rng.choice(VOCAB) for _ in range(n)]


def variant(rng: random.Random, words: list[str], changes: int = 1) -> str:
    words = list(words)
    for _ in range(changes):
        words[rng.randrange(len(words))] = rng.choice(VOCAB)
    return " ".join(words)


def write_input(directory: Path, files: dict[str, list[str]]) -> Path:
    """JSONL files; a document's id is `t/<file>:<line>`."""
    directory.mkdir(parents=True)
    for name, texts in files.items():
        (directory / name).write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return directory


def curate(engine: str, inputs: Path, output: Path, stage: dict, **extra) -> dict:
    config = pipeline_config.parse({"input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(output),
                                    "engine": {"name": engine}, "stages": [stage], **extra})
    run(config)
    return json.loads((output / MANIFEST).read_text())


def ledger(output: Path, manifest: dict) -> dict:
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]])
    return {r["id"]: (r["reject_reason"], r["kept_id"], r["kept_uid"]) for r in rejects.to_pylist()}


def kept_ids(output: Path, manifest: dict) -> set:
    return {i for p in manifest["documents"] for i in pq.read_table(output / p).column("id").to_pylist()}


def test_minhash_against_earlier_runs(spark, tmp_path, engine="spark"):
    # Beam makes the same decisions: tests/pipeline/test_beam_minhash.py compares both plans against an index.
    rng = random.Random(5)
    a, b, c = article(rng), article(rng), article(rng)
    one_texts = [variant(rng, a), variant(rng, b), " ".join(article(rng))]
    first = write_input(tmp_path / "in1", {"one.jsonl": one_texts})
    # two.jsonl: a near-duplicate of run 1's a, a new cluster, a new text; one.jsonl: run 1's file read again
    second = write_input(tmp_path / "in2", {"two.jsonl": [variant(rng, a), variant(rng, c), variant(rng, c),
                                                          " ".join(article(rng))], "one.jsonl": one_texts[:2]})
    third = write_input(tmp_path / "in3", {"three.jsonl": [variant(rng, c), variant(rng, a), " ".join(article(rng))]})
    stage = {"name": "minhash_dedup", "salts": 2}

    one = curate(engine, first, tmp_path / "out1", stage)
    index = one["stage_outputs"]["minhash_dedup"]
    assert index["stage"] == "minhash_dedup" and any(f.endswith("index.json") for f in index["files"])
    rows = pa.concat_tables([pq.read_table(tmp_path / "out1" / f) for f in index["files"] if f.endswith(".parquet")])
    assert sorted(rows.column("id").to_pylist()) == ["t/one.jsonl:0", "t/one.jsonl:1", "t/one.jsonl:2"]
    assert "text" not in rows.column_names and set(rows.column_names) >= {"uid", "bands", "sketch"}

    # Earlier runs' documents are not read: only their manifest and index are left.
    for name in ("documents", "ledger", "work"):
        for path in (tmp_path / "out1" / name).rglob("*"):
            if path.is_file():
                path.unlink()
    two = curate(engine, second, tmp_path / "out2", {**stage, "against": [str(tmp_path / "out1")]})
    assert {k: v[:2] for k, v in ledger(tmp_path / "out2", two).items()} == {
        "t/two.jsonl:0": ("minhash_dedup:seen_before", "t/one.jsonl:0"),
        "t/two.jsonl:2": ("minhash_dedup:duplicate", "t/two.jsonl:1"),
        # the same ids again: the earlier run's documents
        "t/one.jsonl:0": ("minhash_dedup:seen_before", "t/one.jsonl:0"),
        "t/one.jsonl:1": ("minhash_dedup:seen_before", "t/one.jsonl:1")}
    assert kept_ids(tmp_path / "out2", two) == {"t/two.jsonl:1", "t/two.jsonl:3"}

    # The index folder alone works as well as the run.
    folder = tmp_path / "out2" / "stages" / "minhash_dedup"
    three = curate(engine, third, tmp_path / "out3", {**stage, "against": [str(tmp_path / "out1"), str(folder)]})
    assert {k: v[:2] for k, v in ledger(tmp_path / "out3", three).items()} == {
        "t/three.jsonl:0": ("minhash_dedup:seen_before", "t/two.jsonl:1"),
        "t/three.jsonl:1": ("minhash_dedup:seen_before", "t/one.jsonl:0")}
    assert kept_ids(tmp_path / "out3", three) == {"t/three.jsonl:2"}


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_exact_against_earlier_run_with_lineage(spark, tmp_path, engine):
    first = write_input(tmp_path / "in1", {"one.jsonl": ["Same text here", "other text"]})
    second = write_input(tmp_path / "in2", {"two.jsonl": ["same   TEXT here", "new text", "New text"]})
    one = curate(engine, first, tmp_path / "out1", {"name": "exact_dedup"})
    two = curate(engine, second, tmp_path / "out2", {"name": "exact_dedup", "against": [str(tmp_path / "out1")]},
                 write_rejects=True)
    reasons = ledger(tmp_path / "out2", two)
    x, q = "t/one.jsonl:0", "t/two.jsonl:1"
    assert reasons == {"t/two.jsonl:0": ("exact_dedup:seen_before", x, uid_of(x)),
                       "t/two.jsonl:2": ("exact_dedup:duplicate", q, uid_of(q))}
    assert kept_ids(tmp_path / "out2", two) == {q}
    assert one["stage_outputs"]["exact_dedup"]["stage"] == "exact_dedup"

    # What became of each record, with the kept document's id and text.
    shown = rendered(inspect_record(str(tmp_path / "out2"), "t/two.jsonl:2"))
    assert "exact_dedup" in shown and "duplicate" in shown and "New text" in shown
    assert re.search(r"kept document\W+t/two.jsonl:1", shown) and re.search(r"kept text\W+new text", shown)
    shown = rendered(inspect_record(str(tmp_path / "out2"), "t/two.jsonl:0"))
    assert "seen_before" in shown and "t/one.jsonl:0" in shown and "kept by an earlier run" in shown
    assert "kept" in rendered(inspect_record(str(tmp_path / "out2"), q))
    with pytest.raises(CurateError, match="no record with id 't/nope:1'"):
        inspect_record(str(tmp_path / "out2"), "t/nope:1")


def rendered(table) -> str:
    console = Console(width=200, record=True, file=open(os.devnull, "w"))
    console.print(table)
    return console.export_text()


def test_against_an_index_of_other_parameters_is_one_line(spark, tmp_path):
    first = write_input(tmp_path / "in1", {"one.jsonl": [" ".join(article(random.Random(1)))]})
    curate("spark", first, tmp_path / "out1", {"name": "minhash_dedup"})
    with pytest.raises(CurateError, match="built with ngram=5, this stage has ngram=3"):
        curate("spark", first, tmp_path / "out2", {"name": "minhash_dedup", "ngram": 3,
                                                   "against": [str(tmp_path / "out1")]})
    with pytest.raises(CurateError, match="neither a finished curate run"):
        curate("spark", first, tmp_path / "out3", {"name": "minhash_dedup", "against": [str(tmp_path / "in1")]})


def index_files(output: Path, stage: str = "exact_dedup") -> list[Path]:
    return sorted((output / "stages" / stage).glob("*.parquet"))


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_an_index_is_described_last_with_its_files(spark, tmp_path, engine):
    """index.json lists every Parquet file of the index with its size and hash, and is written after them: a run
    killed before its files are whole leaves no index.json (before: Beam wrote index.json first, when it built the
    pipeline, and a later run read a folder holding no keys as an empty index)."""
    first = write_input(tmp_path / "in1", {"one.jsonl": ["Same text here", "other text"], "b.jsonl": ["third"]})
    curate(engine, first, tmp_path / "out1", {"name": "exact_dedup"})
    folder = tmp_path / "out1" / "stages" / "exact_dedup"
    description = json.loads((folder / "index.json").read_text())
    files = index_files(tmp_path / "out1")
    assert files and [f["path"] for f in description["files"]] == [f.name for f in files]
    assert [f["bytes"] for f in description["files"]] == [f.stat().st_size for f in files]
    assert all(len(f["xxh3_128"]) == 32 for f in description["files"])
    assert (folder / "index.json").stat().st_mtime_ns >= max(f.stat().st_mtime_ns for f in files)
    assert sum(pq.read_table(f).num_rows for f in files) == 3


def test_an_index_that_is_not_whole_is_refused_before_the_run(spark, tmp_path, capsys):
    """Before: an earlier run whose index Parquet files were deleted gave 0 seen_before and exit 0."""
    from curate.cli.main import main

    first = write_input(tmp_path / "in1", {"one.jsonl": ["Same text here", "other text"]})
    second = write_input(tmp_path / "in2", {"two.jsonl": ["same   TEXT here", "new text"]})
    curate("spark", first, tmp_path / "out1", {"name": "exact_dedup"})
    (kept,) = index_files(tmp_path / "out1")
    body = kept.read_bytes()
    against = {"name": "exact_dedup", "against": [str(tmp_path / "out1")]}

    def refused(match: str) -> None:
        with pytest.raises(CurateError, match=match) as caught:
            curate("spark", second, tmp_path / "out2", against)
        assert "\n" not in str(caught.value) and not (tmp_path / "out2").exists()

    kept.unlink()
    refused(rf"against: the exact_dedup index in '.*out1' is not whole: {kept.name} is missing \(index.json lists 1 "
            r"file\); run that run again")
    kept.write_bytes(body[:-10])
    refused(f"{kept.name} has {len(body) - 10} bytes, index.json says {len(body)}")
    kept.write_bytes(body[:100] + bytes([body[100] ^ 1]) + body[101:])
    refused(f"{kept.name} differs from the file index.json describes")
    kept.write_bytes(body)
    index = kept.parent / "index.json"
    described = index.read_text()
    index.write_text(described[:40])
    refused(r"against: .*stages/exact_dedup/index.json is not an index description \(Expecting")
    index.write_text(json.dumps({k: v for k, v in json.loads(described).items() if k != "files"}))
    refused(r"index.json lists no files \(an index written before curate listed them, or not by curate\)")
    index.write_text(described)

    # Through the command line: one line, exit 2, no output made.
    kept.unlink()
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(json.dumps({"input": str(second), "output": str(tmp_path / "out2"), "stages": [against]}))
    with pytest.raises(SystemExit) as done:
        main(["run", str(pipeline)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and len(err.strip().splitlines()) == 1 and "is missing" in err
    assert not (tmp_path / "out2").exists()
    kept.write_bytes(body)
    two = curate("spark", second, tmp_path / "out2", against)  # whole again: the run goes ahead
    assert {k: v[0] for k, v in ledger(tmp_path / "out2", two).items()} == {"t/two.jsonl:0": "exact_dedup:seen_before"}


def test_overwrite_never_deletes_what_the_run_reads(spark, tmp_path):
    first = write_input(tmp_path / "in1", {"one.jsonl": ["Same text here", "other text"]})
    curate("spark", first, tmp_path / "out1", {"name": "exact_dedup"})
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "out1").rglob("*"))
    for against in (tmp_path / "out1", tmp_path / "out1" / "stages" / "exact_dedup"):
        config = pipeline_config.parse({"input": {"paths": [str(first)], "dataset": "t"},
                                        "output": str(tmp_path / "out1"),
                                        "stages": [{"name": "exact_dedup", "against": [str(against)]}]})
        with pytest.raises(CurateError, match=r"stages\[0\] \(exact_dedup\).against\[0\]: .* lies in the output this run "
                                              r"writes: --overwrite would delete it"):
            run(config, overwrite=True)
        assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "out1").rglob("*")) == before


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_against_earlier_runs_within_a_partition(spark, tmp_path, engine):
    """With `partition_by`, an earlier run's document rejects only its own language's copies; an index built with
    another partition_by is refused in one line."""
    rng = random.Random(8)
    a = article(rng)
    stages = [{"name": "exact_dedup", "partition_by": "lang"},
              {"name": "minhash_dedup", "partition_by": "lang", "salts": 2}]

    def write(directory: Path, rows: list[tuple[str, str]]) -> Path:
        directory.mkdir()
        (directory / "x.jsonl").write_text("".join(json.dumps({"text": t, "lang": lang}) + "\n" for t, lang in rows))
        return directory

    def curate_all(inputs: Path, output: Path, **extra) -> dict:
        config = pipeline_config.parse({"input": {"paths": [str(inputs)], "dataset": inputs.name, "fields": ["lang"]},
                                        "output": str(output), "engine": {"name": engine},
                                        "stages": [{**s, **extra} for s in stages]})
        run(config)
        return json.loads((output / MANIFEST).read_text())

    curate_all(write(tmp_path / "one", [("Same text here", "de"), (variant(rng, a), "de")]), tmp_path / "out1")
    second = write(tmp_path / "two", [("same TEXT here", "de"), ("Same text here", "fr"),
                                      (variant(rng, a), "de"), (variant(rng, a), "fr")])
    two = curate_all(second, tmp_path / "out2", against=[str(tmp_path / "out1")])
    assert {k: v[:2] for k, v in ledger(tmp_path / "out2", two).items()} == {
        "two/x.jsonl:0": ("exact_dedup:seen_before", "one/x.jsonl:0"),
        "two/x.jsonl:2": ("minhash_dedup:seen_before", "one/x.jsonl:1")}
    assert kept_ids(tmp_path / "out2", two) == {"two/x.jsonl:1", "two/x.jsonl:3"}
    with pytest.raises(CurateError, match="built with partition_by='lang', this stage has partition_by=None"):
        curate_all(second, tmp_path / "out3", against=[str(tmp_path / "out1")], partition_by=None)
