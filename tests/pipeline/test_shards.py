"""Token shards + manifest on Spark: loadable by pyarrow, pandas and DuckDB, counts as the manifest says, deterministic."""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from tokenizers import Tokenizer

from curate.pipeline import config as pipeline_config
from curate.pipeline.inputs import InputFile
from curate.pipeline.output import Folder, Output
from curate.pipeline.passes import Pipeline
from curate.pipeline.check import check
from curate.pipeline.run import run
from curate.pipeline.stage import Facts
from curate.stages.shards import shard_schema, splits
from curate.pipeline.tokenizer import train_bpe
from curate.stages.tokenize import Tokenize, TokenizeParams

WORDS = ("the river data shard token curate pipeline model corpus crawl domain wiki code news page table spark "
         "arrow parquet manifest mixture balance weight epoch sample").split()
HOSTS = {"web": ["news.example.com", "blog.example.net"], "wiki": ["en.wikipedia.org", "de.wikipedia.org"],
         "code": ["github.com"]}
DOCS = {"web": 450, "wiki": 45, "code": 5}  # per input file: 90% / 9% / 1% of the documents (and about of tokens)
TARGET = {"web": 0.5, "wiki": 0.3, "code": 0.2}


def texts(rng: random.Random, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 60))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(texts(random.Random(1), 300), vocab_size=400).save(str(path))
    return path


def corpus(directory: Path) -> list[str]:
    """Two JSONL files, skewed 90/9/1 over web/wiki/code URLs, 10 exact copies across the files, one page quoting the
    EOS string; returns the texts."""
    rng = random.Random(7)
    directory.mkdir(parents=True, exist_ok=True)
    shared, everything = texts(rng, 10), []
    for f in range(2):
        rows = [{"text": t, "url": f"https://{rng.choice(HOSTS[d])}/{f}/{d}/{i}"}
                for d, n in DOCS.items() for i, t in enumerate(texts(rng, n))]
        rows += [{"text": t, "url": f"https://news.example.com/copy/{f}/{i}"} for i, t in enumerate(shared)]
        rows.append({"text": f"page {f} quotes <|endoftext|> in its text", "url": f"https://github.com/q/{f}"})
        (directory / f"part-{f}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        everything += [r["text"] for r in rows]
    return everything


def pipeline(inputs: Path, output: Path, tokenizer: Path, budget: int):
    return pipeline_config.parse({
        "input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(output),
        "stages": [
            {"name": "domain", "rules": [{"domain": "wikipedia.org", "label": "wiki"},
                                         {"domain": "github.com", "label": "code"}], "default": "web"},
            {"name": "exact_dedup"},
            {"name": "tokenize", "tokenizer": str(tokenizer), "shard_tokens": 400, "validation_fraction": 0.1},
            {"name": "balance", "weights": TARGET, "max_epochs": 4, "budget": budget},
        ]})


@pytest.fixture(scope="module")
def outputs(spark, tokenizer_file, tmp_path_factory) -> tuple[Path, Path]:
    """The same pipeline run twice (one input, one seed); a budget the caps allow (15% of the corpus tokens)."""
    root = tmp_path_factory.mktemp("shards")
    tokens = sum(len(e.ids) + 1 for e in Tokenizer.from_file(str(tokenizer_file)).encode_batch(corpus(root / "in")))
    for name in ("a", "b"):
        run(pipeline(root / "in", root / name, tokenizer_file, budget=int(0.15 * tokens)))
    return root / "a", root / "b"


def manifest_of(output: Path) -> dict:
    return json.loads((output / "manifest.json").read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shards_load_with_pyarrow_pandas_and_duckdb_and_match_the_manifest(outputs, tokenizer_file):
    duckdb = pytest.importorskip("duckdb")
    out = outputs[0]
    m = manifest_of(out)
    vocab = Tokenizer.from_file(str(tokenizer_file)).get_vocab_size()
    assert m["tokenizer"] == {"file": "tokenizer/tokenizer.json", "sha256": sha256(tokenizer_file),
                              "vocab_size": vocab, "eos_id": 0, "dtype": "uint16"}
    assert sha256(out / m["tokenizer"]["file"]) == sha256(tokenizer_file)
    assert set(m["domains"]) == {"web", "wiki", "code"}
    assert len(m["shards"]) > len(m["domains"]) * 2  # sized by shard_tokens, per input file
    for entry in m["shards"]:
        path = out / entry["path"]
        assert path.parent.name == entry["domain"] and sha256(path) == entry["sha256"]
        table = pq.read_table(path)
        assert table.schema == shard_schema("uint16")
        frame = pd.read_parquet(path)
        rows, tokens = duckdb.execute(f"select count(*), sum(n_tokens) from read_parquet('{path}')").fetchone()
        assert (table.num_rows, len(frame), rows) == (entry["rows"], entry["rows"], entry["rows"])
        assert tokens == entry["tokens"] == int(frame["n_tokens"].sum())
        assert set(frame["domain"]) == {entry["domain"]}
        for doc, n in zip(frame["tokens"], frame["n_tokens"]):
            assert len(doc) == n and doc[-1] == 0 and int((doc == 0).sum()) == 1  # exactly one EOS, at the end
        # no shard but a file's last one of its domain stops short of the target by more than its last document
        same_file = [e for e in m["shards"] if e["path"].rsplit("-", 1)[0] == entry["path"].rsplit("-", 1)[0]]
        assert entry["tokens"] >= 400 or entry == same_file[-1]
    everything = duckdb.execute(f"select domain, split, count(*) d, sum(n_tokens) t from read_parquet("
                            f"{[str(out / e['path']) for e in m['shards']]}) group by all").fetchall()
    for name, info in m["domains"].items():
        assert info["documents"] == sum(d for dom, _, d, _ in everything if dom == name)
        assert info["tokens"] == sum(t for dom, _, _, t in everything if dom == name)
        assert info["max_epochs"] == 4.0
    for split in ("train", "validation"):
        assert m["splits"][split] == {"documents": sum(d for _, s, d, _ in everything if s == split),
                                      "tokens": sum(t for _, s, _, t in everything if s == split)}
    assert 0 < m["splits"]["validation"]["documents"] < m["splits"]["train"]["documents"] / 4


def test_documents_keep_n_tokens_not_tokens_and_tokens_decode_to_the_text(outputs, tokenizer_file):
    out = outputs[0]
    m = manifest_of(out)
    documents = pa.concat_tables([pq.read_table(out / p) for p in m["documents"]])
    assert "tokens" not in documents.schema.names and "n_tokens" in documents.schema.names
    shards = pa.concat_tables([pq.read_table(out / e["path"]) for e in m["shards"]])
    assert sorted(shards.column("id").to_pylist()) == sorted(documents.column("id").to_pylist())
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["rejected"]) == {"exact_dedup:duplicate", "balance:downsample"}
    assert stats["rejected"]["exact_dedup:duplicate"] == 10 and shards.num_rows == stats["kept"]
    assert len(set(shards.column("id").to_pylist())) == shards.num_rows  # nothing repeated physically
    text = dict(zip(documents.column("id").to_pylist(), documents.column("text").to_pylist()))
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    for doc_id, tokens in zip(shards.column("id").to_pylist(), shards.column("tokens").to_pylist()):
        assert tokenizer.decode(tokens[:-1]) == text[doc_id]


def test_same_input_and_seed_give_identical_shards(outputs):
    a, b = (manifest_of(out) for out in outputs)
    assert [e["path"] for e in a["shards"]] != [e["path"] for e in b["shards"]]  # attempt-unique names
    assert sorted(e["sha256"] for e in a["shards"]) == sorted(e["sha256"] for e in b["shards"])
    assert {k: a[k] for k in ("tokenizer", "domains", "splits")} == {k: b[k] for k in ("tokenizer", "domains", "splits")}


def test_skewed_input_meets_the_target_as_the_trainer_samples_it(outputs, tmp_path):
    """90/9/1 by tokens in, 50/30/20 wanted: the manifest's weights and caps, drawn by the trainer's own blending,
    give the target within 1% by tokens, with no domain repeated beyond its max_epochs."""
    data = pytest.importorskip("curate.trainer.data")
    out = outputs[0]
    m = manifest_of(out)
    report = json.loads((out / m["balance"]).read_text())
    available = {d: r["available"] for d, r in report["domains"].items()}
    shares_in = {d: n / sum(available.values()) for d, n in available.items()}
    assert shares_in["web"] > 0.85 and 0.06 < shares_in["wiki"] < 0.12 and shares_in["code"] < 0.03
    assert report["feasible"] and report["notes"] == []
    assert {d: info["weight"] for d, info in m["domains"].items()} == pytest.approx(TARGET)
    assert {d: info["target"] for d, info in m["domains"].items()} == pytest.approx(TARGET)
    assert {d: r["achieved"] for d, r in report["domains"].items()} == pytest.approx(TARGET)
    assert report["domains"]["code"]["kept"] == available["code"]  # short domains are kept whole
    assert report["domains"]["web"]["kept"] < available["web"] / 3  # long ones down-sampled

    manifest = data.read_manifest(out / "manifest.json")
    seq_len = 8
    n_samples = int(0.95 * report["max_training_tokens"] / seq_len)
    blended = data.build_train(manifest, seq_len, n_samples, seed=0, cache_dir=tmp_path, max_epochs=None)
    names = [d for d, info in manifest.domains.items() if info["weight"] > 0]
    drawn = np.bincount(np.asarray(blended.domain), minlength=len(names)) * seq_len
    for name, tokens in zip(names, drawn):
        assert abs(tokens / drawn.sum() - TARGET[name]) < 0.01
        epochs = tokens / report["domains"][name]["train_tokens"]
        assert epochs <= m["domains"][name]["max_epochs"]
    code = drawn[names.index("code")] / report["domains"]["code"]["train_tokens"]
    assert code > 2  # the short domain is repeated by the trainer, not by the pipeline


def test_the_trainer_reads_the_output(outputs, tmp_path):
    data = pytest.importorskip("curate.trainer.data")
    manifest = data.read_manifest(outputs[0] / "manifest.json")
    train = data.build_train(manifest, seq_len=32, n_samples=64, seed=0, cache_dir=tmp_path, max_epochs=None)
    validation = data.build_validation(manifest, seq_len=32, seed=0, cache_dir=tmp_path, n_samples=64)
    assert len(train) == 64 and validation is not None and len(validation) > 0
    assert all(train[i].max() < manifest.vocab_size for i in range(64))


def test_split_follows_the_dedup_cluster():
    rng = np.random.default_rng(0)
    uids = [rng.bytes(16) for _ in range(4000)]
    clusters = [rng.bytes(16) for _ in range(200)]
    batch = pa.RecordBatch.from_pydict({
        "uid": pa.array(uids, pa.binary(16)),
        "dup_cluster": pa.array([clusters[i % 200] if i % 2 else None for i in range(4000)], pa.binary(16))})
    split = np.array(splits(batch, 0.25, seed=3).to_pylist())
    members = np.arange(1, 4000, 2)
    by_cluster = {}
    for i in members:  # every member of a cluster lands on one side
        by_cluster.setdefault(i % 200, set()).add(split[i])
    assert all(len(sides) == 1 for sides in by_cluster.values())
    singletons = split[0::2]
    assert 0.2 < (singletons == "validation").mean() < 0.3
    assert (np.array(splits(batch, 0.25, seed=4).to_pylist()) != split).any()  # the seed moves it


def test_shard_sink_cuts_by_token_target_per_domain(tokenizer_file, tmp_path):
    config = pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": str(tmp_path),
                                    "stages": [{"name": "tokenize", "tokenizer": str(tokenizer_file),
                                                "shard_tokens": 200, "validation_fraction": 0.0}]})
    stage = Tokenize(TokenizeParams(tokenizer=str(tokenizer_file)))
    stage.setup()
    docs = texts(random.Random(3), 120)
    ids = [f"t/x:{i}" for i in range(120)]
    batch = pa.RecordBatch.from_pydict({
        "id": ids, "uid": pa.array([hashlib.md5(i.encode()).digest() for i in ids], pa.binary(16)),
        "source": ["t"] * 120, "domain": [("a", "b")[i % 3 == 0] for i in range(120)], "text": docs})
    tokenized = stage.process(batch).drop_columns(["reject_reason"])
    configured = config.stages[0].build()
    sink = configured.collector(Folder(Output(str(tmp_path)), "shards"), "tag")
    for start in range(0, 120, 25):
        rest = sink.kept(tokenized.slice(start, 25))
        assert "tokens" not in rest.schema.names and rest.num_rows == min(25, 120 - start)
    partial = sink.close()
    entries = partial.value
    assert partial.files == [e["path"] for e in entries]
    for domain in ("a", "b"):
        mine = [e for e in entries if e["domain"] == domain]
        for e in mine[:-1]:
            table = pq.read_table(tmp_path / e["path"])
            last = table.column("n_tokens")[-1].as_py()
            assert e["tokens"] >= 200 > e["tokens"] - last  # closed by the document that reached the target
        assert sum(e["rows"] for e in mine) == sum(1 for i in range(120) if (i % 3 == 0) == (domain == "b"))
    assert sum(e["tokens"] for e in entries) == sum(tokenized.column("n_tokens").to_pylist())
    section = configured.result([entries], Output(str(tmp_path)), Facts((configured.id,), {}))
    assert section["splits"]["validation"] == {"documents": 0, "tokens": 0}
    assert [e["path"] for e in section["shards"]] == sorted((e["path"] for e in entries),
                                                             key=lambda p: p.split("/")[1])


def test_the_manifest_has_the_fields_docs_format_shows(outputs):
    text = (Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md").read_text()
    shown = json.loads(text.split("## `manifest.json`")[1].split("```json\n")[1].split("```")[0])
    written = manifest_of(outputs[0])  # the same stages as the example: exact_dedup, tokenize, balance

    def fields(value):
        """The keys and value types, not the values; a map by name (domains, splits) as the fields of one entry."""
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            return {"*": fields(next(iter(value.values())))}
        if isinstance(value, dict):
            return {k: fields(v) for k, v in value.items()}
        if isinstance(value, list) and value:
            return [fields(value[0])]
        return type(value).__name__

    written["config"] = shown["config"]  # the example elides the config
    assert fields(shown) == fields(written)


def test_the_example_pipeline_validates(tmp_path, monkeypatch):
    # the checked plan over a WARC input, with the tokenizer the example's comment says to train first
    monkeypatch.chdir(tmp_path)  # the tokenizer is read here: not beside the example, but in the current folder
    train_bpe(["a few words to learn from, again and again"] * 50, vocab_size=300).save(str(tmp_path / "tokenizer.json"))
    example = Path(__file__).resolve().parents[2] / "examples" / "shards.yaml"
    config = pipeline_config.load(example)
    plan = check(config, [InputFile(uri=str(tmp_path / "a.warc.gz"), rel="a.warc.gz", size=1, format="warc")])
    assert [s.id for s in plan.stages] == [s["name"] for s in yaml.safe_load(example.read_text())["stages"]]
    assert plan.warnings == []
    assert {"text", "lang", "dup_cluster", "domain", "n_tokens"} <= set(plan.columns)
    assert "tokens" not in plan.columns and "html" not in plan.columns  # tokens go to the shards
    assert [(step.applies and step.applies.id, step.feeds and step.feeds.id) for step in Pipeline(config).passes] == \
        [(None, "exact_dedup"), ("exact_dedup", "balance"), ("balance", None)]
