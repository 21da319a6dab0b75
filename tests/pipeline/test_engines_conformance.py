"""Same input, same output on both engines: kept ids, the reason for every rejected id, and stats counts."""
from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline import config as pipeline_config
from curate.pipeline.beam.minhash_dedup import salt
from curate.pipeline.commands.demo import _BANK, _page, _record, _sentence, demo_texts, generate_crawl
from curate.pipeline.commands.tokenizer_train import train_bpe
from curate.pipeline.output import MANIFEST
from curate.pipeline.commands.quality_train import train_quality
from curate.pipeline.run import run

STAGES = [{"name": "extract"}, {"name": "langid", "threshold": 0.5}, {"name": "exact_dedup"},
          {"name": "gopher_quality"}, {"name": "quality_classifier", "keep_fraction": 0.7},
          {"name": "minhash_dedup", "salts": 2},
          {"name": "exact_dedup", "id": "url_dedup", "on": "url"},
          {"name": "domain", "column": "lang"}, {"name": "tokenize", "validation_fraction": 0.1},
          {"name": "balance", "temperature": 2.0, "max_epochs": 2}]


def outcome(output: Path) -> tuple[dict, dict, dict]:
    manifest = json.loads((output / MANIFEST).read_text())
    kept = pa.concat_tables([pq.read_table(output / p) for p in manifest["documents"]])
    rejects = pa.concat_tables([pq.read_table(output / p) for p in manifest["rejects"]])
    stats = json.loads((output / "stats.json").read_text())
    kept_rows = {row["id"]: (row["text"], row["dup_cluster_size"]) for row in kept.to_pylist()}
    reasons = dict(zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist()))
    counts = {k: stats[k] for k in ("input", "kept", "rejected")}
    counts["stages"] = [(s["name"], s["in"], s["out"]) for s in stats["stages"]]
    shards = pa.concat_tables([pq.read_table(output / s["path"]) for s in manifest["shards"]])
    tokens = {row["id"]: (row["domain"], row["split"], row["tokens"]) for row in shards.to_pylist()}
    counts["domains"] = manifest["domains"]
    counts["quality"] = manifest["quality_classifier"]  # the report's section: scores, cutoff, hosts
    return kept_rows, reasons, counts, tokens


def near_duplicates(directory: Path) -> None:
    """One more WARC file of English near-duplicates: a chain of drifting copies (each close to the next only, so
    the component takes more than one round) and groups whose members are near the 0.8 threshold of each other
    (verification keeps some star edges and drops others, so which uids are the centres matters)."""
    rng, bank = random.Random(17), _BANK["en"]
    pages = []
    drifting = [_sentence(rng, bank) for _ in range(48)]
    for step in range(16):
        drifting[step * 3] = _sentence(rng, bank)
        pages.append(("Drifting copies", [" ".join(drifting[i:i + 6]) for i in range(0, 48, 6)]))
    for group in range(8):
        base = [_sentence(rng, bank) for _ in range(30)]
        for _ in range(5):
            sentences = list(base)
            for _ in range(2):
                sentences[rng.randrange(30)] = _sentence(rng, bank)
            pages.append((f"Group {group}", [" ".join(sentences[i:i + 5]) for i in range(0, 30, 5)]))
    start = datetime(2026, 10, 2, tzinfo=timezone.utc)
    with open(directory / "near-duplicates.warc.gz", "wb") as f:
        for i, (title, paragraphs) in enumerate(pages):
            f.write(_record(f"https://near.example.com/{i}", start, "200 OK", "text/html",
                            _page("en", title, paragraphs).encode()))


def quality_model(tmp_path: Path) -> Path:
    """A small fastText quality model: demo prose against shuffled words of it (bucket-limited, one thread)."""
    rng, texts = random.Random(5), demo_texts()
    for name, make in (("prose", lambda: " ".join(rng.sample(texts, 4))),
                       ("shuffled", lambda: " ".join(rng.sample(" ".join(rng.sample(texts, 4)).split(), 30)))):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps({"text": make()}) + "\n" for _ in range(150)))
    model = tmp_path / "quality.bin"
    train_quality(str(tmp_path / "prose.jsonl"), str(tmp_path / "shuffled.jsonl"), str(model),
                  overrides={"bucket": 10_000}, log=lambda line: None)
    return model


def both_engines(inputs: Path, tmp_path: Path) -> tuple:
    tokenizer = tmp_path / "tokenizer.json"
    train_bpe(demo_texts(), vocab_size=1024).save(str(tokenizer))
    files = {"tokenize": {"tokenizer": str(tokenizer)}, "quality_classifier": {"model": str(quality_model(tmp_path))}}
    stages = [{**s, **files.get(s["name"], {})} for s in STAGES]
    results = []
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(inputs)], "dataset": "cc"}, "output": str(tmp_path / engine),
               "engine": {"name": engine}, "stages": stages}
        run(pipeline_config.parse(raw), keep_work=True)  # the test reads the keys and components in work/
        results.append(outcome(tmp_path / engine))
    return tuple(results)


def assert_same(spark, beam):
    assert spark[2] == beam[2]  # stats counts, per-domain tokens and mixture weights
    assert spark[0] == beam[0]  # kept documents
    assert spark[1] == beam[1]  # the reason of every rejected id
    assert spark[3] == beam[3]  # shard contents: domain, split and tokens of every document
    assert len(spark[3]) == spark[2]["kept"]


def test_demo_crawl_same_on_spark_and_beam(spark, tmp_path, monkeypatch):
    # Beam with its worker processes, as a large input runs it (the real crawls below run in-process, as small inputs
    # do): the stages, their models, the decisions and side inputs cross to the workers pickled
    monkeypatch.setattr("curate.pipeline.beam.WORKERS_INPUT_BYTES", 0)
    generate_crawl(tmp_path / "crawl")
    near_duplicates(tmp_path / "crawl")
    on_spark, on_beam = both_engines(tmp_path / "crawl", tmp_path)
    assert_same(on_spark, on_beam)
    assert on_spark[2]["rejected"]["exact_dedup:duplicate"] >= 20
    assert on_spark[2]["rejected"]["minhash_dedup:duplicate"] >= 30
    assert on_spark[2]["rejected"].get("balance:downsample", 0) > 0
    # keep_fraction keeps exactly round(0.7 n) of the n documents that reach it
    (_, seen, kept), = [s for s in on_spark[2]["stages"] if s[0] == "quality_classifier"]
    assert kept == int(0.7 * seen + 0.5) and seen > 50
    quality = on_spark[2]["quality"]["quality_classifier"]
    assert (quality["documents"], quality["kept"], quality["selection"]["kept"]) == (seen, kept, kept)
    assert sum(quality["histogram"]["kept"]) == kept and quality["cutoff"] >= quality["histogram"]["edges"][0]
    # the input exercises what could tell the plans apart: several rounds, buckets spread over both sub-buckets
    work = tmp_path / "beam" / "work"
    assert json.loads((work / "components/minhash_dedup/components.json").read_text())["rounds"] > 1
    keys = pa.concat_tables([pq.read_table(p) for p in work.glob("pass-*/keys/*.parquet")
                             if "bands" in pq.read_schema(p).names])
    buckets: dict[int, set[int]] = {}
    for uid, bands in zip(keys.column("uid").to_pylist(), keys.column("bands").to_pylist()):
        for band in bands or []:
            buckets.setdefault(band, set()).add(salt(uid, 2))
    assert sum(len(salts) == 2 for salts in buckets.values()) >= 20


def test_real_crawls_same_on_spark_and_beam(spark, shared_data, tmp_path):
    on_spark, on_beam = both_engines(shared_data / "warc", tmp_path)  # small: Beam runs in-process
    assert_same(on_spark, on_beam)
    assert on_spark[2]["input"] == 83


def language_crawl(directory: Path) -> dict[str, str | None]:
    """Two JSONL files with a `lang` field: near-copies of one article in three languages (and without a language),
    one text copied exactly in two, and unrelated texts. Returns each document's language by id."""
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(3000)]
    article = [rng.choice(vocab) for _ in range(200)]

    def near():
        words = list(article)
        words[rng.randrange(len(words))] = rng.choice(vocab)
        return " ".join(words)

    rows = [(near(), lang) for lang, copies in (("de", 4), ("fr", 3), (None, 2)) for _ in range(copies)]
    rows += [("Seite nicht gefunden.", "de")] * 3 + [("Seite nicht gefunden.", "fr")] * 2
    rows += [(" ".join(rng.choice(vocab) for _ in range(150)), lang) for lang in ("de", "fr", "de", None)]
    rng.shuffle(rows)
    directory.mkdir()
    languages = {}
    for name, part in (("a.jsonl", rows[::2]), ("b.jsonl", rows[1::2])):
        (directory / name).write_text("".join(json.dumps({"text": t, "lang": lang}) + "\n" for t, lang in part))
        languages |= {f"t/{name}:{n}": lang for n, (_, lang) in enumerate(part)}
    return languages


def test_dedup_per_language_same_on_spark_and_beam(spark, tmp_path):
    languages = language_crawl(tmp_path / "crawl")
    stages = [{"name": "exact_dedup", "partition_by": "lang"},
              {"name": "minhash_dedup", "partition_by": "lang", "salts": 2}]
    results = []
    for engine in ("spark", "beam"):
        raw = {"input": {"paths": [str(tmp_path / "crawl")], "dataset": "t", "fields": ["lang"]},
               "output": str(tmp_path / engine), "engine": {"name": engine}, "stages": stages}
        run(pipeline_config.parse(raw))
        manifest = json.loads((tmp_path / engine / MANIFEST).read_text())
        kept = pa.concat_tables([pq.read_table(tmp_path / engine / p) for p in manifest["documents"]])
        rejects = pa.concat_tables([pq.read_table(tmp_path / engine / p) for p in manifest["rejects"]])
        results.append(({r["id"]: (r["lang"], r["text"].startswith("Seite"), r["dup_cluster_size"])
                         for r in kept.to_pylist()},
                        {r["id"]: (r["reject_reason"], r["kept_id"]) for r in rejects.to_pylist()}))
    (kept, rejected), beam = results
    assert (kept, rejected) == beam
    # one document per language and content; a near-copy cluster's size counts its own language's members
    assert sorted((lang or "-", size) for lang, page, size in kept.values() if not page) == \
        [("-", 1), ("-", 2), ("de", 1), ("de", 1), ("de", 4), ("fr", 1), ("fr", 3)]
    assert sorted(lang for lang, page, _ in kept.values() if page) == ["de", "fr"]
    reasons = sorted((reason, languages[i] or "-") for i, (reason, _) in rejected.items())
    assert reasons == [("exact_dedup:duplicate", "de")] * 2 + [("exact_dedup:duplicate", "fr")] + \
        [("minhash_dedup:duplicate", "-")] + [("minhash_dedup:duplicate", "de")] * 3 + \
        [("minhash_dedup:duplicate", "fr")] * 2
    # every rejected document names a kept one of its own language
    assert all(languages[i] == languages[kept_id] for i, (_, kept_id) in rejected.items())
