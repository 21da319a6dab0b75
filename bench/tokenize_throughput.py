"""Tokenize + write throughput against raw `Tokenizer.encode_batch` on the same texts, measured in one run.

Texts: documents of about 2 KB built from the sentences of `../shared/data/langid/lingua-dev.tsv` (75 languages of
real news/web prose; synthetic words where the file is absent). Tokenizer: a byte-level BPE trained here on part of
them (`--vocab-size`), or `--tokenizer tokenizer.json`. Three timings per repeat, in the same process, batches of the
pipeline's size (4,096 rows):
- `encode_batch`: the raw library call, ids only (what a hand-written script does, and what the stage calls);
- `encode_batch_fast`: the library's call without offsets (slower than `encode_batch` here: the stage does not use it);
- `stage + shards`: `Tokenize.process` (ids -> Arrow list<int32> with the EOS appended, n_tokens) and
  `ShardSink.write` + `close` (split hash, Parquet zstd shards per domain, sha256) into a temporary output.
The target is `stage + shards` >= 0.8x `encode_batch` throughput. Best of `--repeat` per timing, in wall seconds and
in CPU seconds of this process (all its threads: the robust figure on a shared machine; the target is judged on both).

    python bench/tokenize_throughput.py [--docs 4000] [--vocab-size 16000] [--tokenizer FILE] [--repeat 3] [--out FILE.json]
"""
from __future__ import annotations

import sys


import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import pyarrow as pa
from tokenizers import Tokenizer

from curate.pipeline import config as pipeline_config
from curate.pipeline.output import Folder, Output
from curate.pipeline.schema import MAX_BATCH_ROWS, uid_of
from curate.pipeline.tokenizer import train_bpe
from curate.stages.tokenize import Tokenize, TokenizeParams

LINGUA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "langid" / "lingua-dev.tsv"


def documents(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    if LINGUA.is_file():
        by_lang: dict[str, list[str]] = {}
        for line in LINGUA.read_text(encoding="utf-8").splitlines()[1:]:
            fields = line.split("\t", 2)
            if len(fields) == 3 and fields[0] == "sentences":
                kind, lang, text = fields
                by_lang.setdefault(lang, []).append(text)
        langs = sorted(by_lang)
        out = []
        for _ in range(n):
            sentences = by_lang[rng.choice(langs)]
            doc = []
            while sum(map(len, doc)) < 2000:
                doc.append(rng.choice(sentences))
            out.append(" ".join(doc))
        return out
    words = [f"w{i}" for i in range(5000)]
    return [" ".join(rng.choices(words, k=330)) for _ in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=4_000)
    parser.add_argument("--vocab-size", type=int, default=16_000)
    parser.add_argument("--tokenizer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out")
    args = parser.parse_args()

    texts = documents(args.docs)
    work = Path(tempfile.mkdtemp(prefix="bench-tokenize-"))
    tokenizer_path = Path(args.tokenizer) if args.tokenizer else work / "tokenizer.json"
    if not args.tokenizer:
        train_bpe(texts[: args.docs // 4], args.vocab_size).save(str(tokenizer_path))
    raw = Tokenizer.from_file(str(tokenizer_path))
    ids = [f"bench/docs.jsonl:{i}" for i in range(len(texts))]
    batches = [pa.RecordBatch.from_pydict({
        "id": ids[i:i + MAX_BATCH_ROWS], "uid": pa.array([uid_of(d) for d in ids[i:i + MAX_BATCH_ROWS]], pa.binary(16)),
        "source": ["bench"] * len(texts[i:i + MAX_BATCH_ROWS]),
        "domain": [("web", "wiki", "code")[j % 3] for j in range(i, i + len(texts[i:i + MAX_BATCH_ROWS]))],
        "text": texts[i:i + MAX_BATCH_ROWS]}) for i in range(0, len(texts), MAX_BATCH_ROWS)]
    stage = Tokenize(TokenizeParams(tokenizer=str(tokenizer_path)))
    stage.setup()

    def encode_batch():
        for batch in batches:
            [e.ids for e in raw.encode_batch(batch.column("text").to_pylist(), add_special_tokens=False)]

    def encode_batch_fast():
        for batch in batches:
            [e.ids for e in raw.encode_batch_fast(batch.column("text").to_pylist(), add_special_tokens=False)]

    def stage_and_shards(run: int):
        out = work / f"out-{run}"
        config = pipeline_config.parse({"input": {"paths": ["x"], "dataset": "bench"}, "output": str(out),
                                        "stages": [{"name": "tokenize", "tokenizer": str(tokenizer_path),
                                                    "shard_tokens": 1_000_000}]})
        sink = config.stages[0].build().collector(Folder(Output(str(out)), "shards"), f"run{run}")
        for batch in batches:
            sink.kept(stage.process(batch).drop_columns(["reject_reason"]))
        return sink.close().value

    names = ("encode_batch", "encode_batch_fast", "stage + shards")
    wall, cpu = dict.fromkeys(names, float("inf")), dict.fromkeys(names, float("inf"))
    tokens = 0
    for run in range(args.repeat):
        for name, call in zip(names, (encode_batch, encode_batch_fast, lambda: stage_and_shards(run))):
            started, started_cpu = time.perf_counter(), time.process_time()
            result = call()
            wall[name] = min(wall[name], time.perf_counter() - started)
            cpu[name] = min(cpu[name], time.process_time() - started_cpu)
            if name == "stage + shards":
                tokens = sum(e["tokens"] for e in result)
    chars = sum(map(len, texts))
    print(f"{len(texts):,} documents, {chars / 1e6:.1f} M characters, {tokens:,} tokens (EOS included), "
          f"vocabulary {raw.get_vocab_size():,}, best of {args.repeat}")
    print(f"{'':20} {'wall s':>7} {'Mtok/s':>7} {'ratio':>6} {'CPU s':>7} {'Mtok/CPU s':>10} {'ratio':>6}")
    for name in names:
        print(f"{name:20} {wall[name]:7.2f} {tokens / wall[name] / 1e6:7.3f} {wall['encode_batch'] / wall[name]:5.2f}x"
              f" {cpu[name]:7.2f} {tokens / cpu[name] / 1e6:10.3f} {cpu['encode_batch'] / cpu[name]:5.2f}x")
    ratios = {"wall": wall["encode_batch"] / wall["stage + shards"], "cpu": cpu["encode_batch"] / cpu["stage + shards"]}
    met = min(ratios.values()) >= 0.8
    print(f"target: stage + shards >= 0.8x encode_batch: wall {ratios['wall']:.2f}x, CPU {ratios['cpu']:.2f}x: "
          f"{'met' if met else 'NOT met'}")
    if args.out:
        Path(args.out).write_text(json.dumps({"documents": len(texts), "characters": chars, "tokens": tokens,
                                              "wall_seconds": wall, "cpu_seconds": cpu, "ratios": ratios}, indent=1))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
