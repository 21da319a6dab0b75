"""`curate export megatron`: every exported document read back token for token by a reader written from the spec."""
from __future__ import annotations

import json
import random
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import CurateError
from curate.cli.export_megatron import export_megatron
from curate.pipeline.output import Folder, Output
from curate.pipeline.schema import uid_of
from curate.pipeline.tokenizer import train_bpe
from curate.pipeline.stage import Facts
from curate.stages.tokenize import Tokenize, TokenizeParams


def read_indexed_dataset(prefix: Path) -> tuple[int, list[list[int]]]:
    """MMIDIDX v1 from its description alone: 9-byte magic, uint64 version 1, uint8 dtype code, uint64 sequence
    count, uint64 document count, int32 lengths, int64 byte pointers, int64 document indices; all little-endian.
    Returns the dtype code and the documents (each the tokens of its sequences)."""
    idx = prefix.with_suffix(".idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack_from("<Q", idx, 9)
    (code,) = struct.unpack_from("<B", idx, 17)
    sequences, documents = struct.unpack_from("<QQ", idx, 18)
    assert version == 1 and code in (8, 4)  # 8 = uint16, 4 = int32
    at = 34
    lengths = struct.unpack_from(f"<{sequences}i", idx, at)
    at += 4 * sequences
    pointers = struct.unpack_from(f"<{sequences}q", idx, at)
    at += 8 * sequences
    doc_index = struct.unpack_from(f"<{documents}q", idx, at)
    assert at + 8 * documents == len(idx) and doc_index[0] == 0 and doc_index[-1] == sequences
    data = prefix.with_suffix(".bin").read_bytes()
    item, letter = {8: (2, "H"), 4: (4, "i")}[code]
    assert sum(lengths) * item == len(data)
    tokens = [list(struct.unpack_from(f"<{n}{letter}", data, p)) for n, p in zip(lengths, pointers)]
    return code, [sum(tokens[doc_index[i]:doc_index[i + 1]], []) for i in range(documents - 1)]


def write_output(root: Path, tokenizer: Path, docs: dict[str, list[str]]) -> dict:
    """A finished output's shards and manifest, written by the pipeline's own shard writer (no engine needed)."""
    config = pipeline_config.parse({"input": {"paths": ["x"], "dataset": "t"}, "output": str(root), "stages": [
        {"name": "tokenize", "tokenizer": str(tokenizer), "shard_tokens": 300, "validation_fraction": 0.25}]})
    stage = Tokenize(TokenizeParams(tokenizer=str(tokenizer)))
    stage.setup()
    ids = [f"t/x.jsonl:{d}:{i}" for d, texts in docs.items() for i in range(len(texts))]
    batch = pa.RecordBatch.from_pydict({
        "id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)), "source": ["t"] * len(ids),
        "domain": [d for d, texts in docs.items() for _ in texts], "text": [t for texts in docs.values() for t in texts]})
    configured = config.stages[0].build()
    sink = configured.collector(Folder(Output(str(root)), "shards"), "file-p0-attempt")
    sink.kept(stage.process(batch).drop_columns(["reject_reason"]))
    sections = configured.result([sink.close().value], Output(str(root)), Facts((configured.id,), {}))
    manifest = {"format_version": 1, **sections}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def shard_documents(root: Path, manifest: dict) -> dict[str, list[list[int]]]:
    """What the export must hold: train documents per domain and all validation documents, in manifest order."""
    out: dict[str, list[list[int]]] = {name: [] for name in [*manifest["domains"], "validation"]}
    for entry in manifest["shards"]:
        for row in pq.read_table(root / entry["path"]).to_pylist():
            out[entry["domain"] if row["split"] == "train" else "validation"].append(row["tokens"])
    return out


def word_tokenizer(path: Path, size: int) -> Path:
    vocab = {"<unk>": 0, "<|endoftext|>": 1, **{f"w{i}": i for i in range(2, size)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.save(str(path))
    return path


def test_every_document_reads_back_token_for_token(tmp_path):
    rng = random.Random(2)
    words = "river stone cloud light shard token page data".split()
    tokenizer = tmp_path / "tok.json"
    train_bpe([" ".join(rng.choices(words, k=30)) for _ in range(100)], vocab_size=300).save(str(tokenizer))
    docs = {d: [" ".join(rng.choices(words, k=rng.randint(1, 50))) for _ in range(n)]
            for d, n in (("web", 80), ("wiki", 30), ("code", 12))}
    manifest = write_output(tmp_path / "out", tokenizer, docs)
    files = export_megatron(str(tmp_path / "out"), str(tmp_path / "mega"))
    assert sorted(p.name for p in files[:-1]) == sorted(f"{n}.{x}" for n in ("web", "wiki", "code", "validation")
                                                        for x in ("bin", "idx"))
    expected = shard_documents(tmp_path / "out", manifest)
    assert len(expected["validation"]) > 0
    for name, documents in expected.items():
        code, got = read_indexed_dataset(tmp_path / "mega" / name)
        assert code == 8 and got == documents
        assert all(doc[-1] == manifest["tokenizer"]["eos_id"] for doc in got)
    line = files[-1].read_text().splitlines()[1]
    weights = {n: info["weight"] for n, info in manifest["domains"].items()}
    assert line == "--data-path " + " ".join(f"{weights[n]:.6g} {tmp_path / 'mega' / n}" for n in manifest["domains"]) \
        + " --split 100,0,0"


@pytest.mark.parametrize("vocab, shard_type, code", [(65_520, "uint16", 4), (70_000, "int32", 4)])
def test_dtype_code_follows_megatrons_rule(tmp_path, vocab, shard_type, code):
    # Megatron-LM writes uint16 only below 65,500 entries; the shards use uint16 up to 65,535 ids
    tokenizer = word_tokenizer(tmp_path / "word.json", vocab)
    top = vocab - 1  # above 65,535 for the int32 case
    manifest = write_output(tmp_path / "out", tokenizer, {"web": [f"w2 w{top} w3", "w65000"] * 6})
    assert manifest["tokenizer"]["dtype"] == shard_type and manifest["tokenizer"]["eos_id"] == 1
    export_megatron(str(tmp_path / "out"), str(tmp_path / "mega"))
    expected = shard_documents(tmp_path / "out", manifest)
    for name in ("web", "validation"):
        got_code, got = read_indexed_dataset(tmp_path / "mega" / name)
        assert got_code == code and got == expected[name]
    assert [2, top, 3, 1] in expected["web"] + expected["validation"]


def test_an_output_without_shards_is_refused(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1}))
    with pytest.raises(CurateError, match="no tokenize stage"):
        export_megatron(str(tmp_path), str(tmp_path / "mega"))
    with pytest.raises(CurateError, match="not a finished curate output"):
        export_megatron(str(tmp_path / "nothing"), str(tmp_path / "mega"))
