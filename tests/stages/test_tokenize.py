"""tokenize: one EOS per document counted in n_tokens, special strings in text stay text; tokenizer training."""
from __future__ import annotations

import json
import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from curate.pipeline.errors import CurateError
from curate.pipeline.schema import uid_of
from curate.cli.tokenizer_train import train_tokenizer
from curate.pipeline.tokenizer import EOS, train_bpe
from curate.pipeline.tokenizer import load_tokenizer, token_dtype
from curate.stages.tokenize import Tokenize, TokenizeParams

WORDS = "alpha beta gamma delta river stone cloud light shard token".split()


def corpus(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) for _ in range(n)]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_bpe(corpus(200), vocab_size=320).save(str(path))
    return path


def run_stage(path, texts, **params):
    stage = Tokenize(TokenizeParams(tokenizer=str(path), **params))
    stage.setup()
    return stage, stage.process(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string())}))


def test_exactly_one_eos_per_document_counted_in_n_tokens(tokenizer_file):
    texts = ["alpha beta", "a page quoting <|endoftext|> mid-text", "gamma " * 50, "", None]
    stage, out = run_stage(tokenizer_file, texts)
    raw = Tokenizer.from_file(str(tokenizer_file))
    assert stage.eos_id == raw.token_to_id(EOS) == 0
    tokens, n_tokens = out.column("tokens").to_pylist(), out.column("n_tokens").to_pylist()
    assert out.column("reject_reason").to_pylist() == [None, None, None, "empty", "empty"]
    for text, ids, n in zip(texts[:3], tokens, n_tokens):
        assert n == len(ids) and ids[-1] == 0 and ids.count(0) == 1
        assert raw.decode(ids[:-1]) == text  # the quoted "<|endoftext|>" came back as text, not as an EOS id
    raw.encode_special_tokens = True
    assert tokens[0][:-1] == raw.encode("alpha beta", add_special_tokens=False).ids
    assert out.schema.field("tokens").type == pa.list_(pa.int32()) and out.schema.field("n_tokens").type == pa.int32()


def test_eos_is_found_or_named_and_a_missing_one_is_an_error(tmp_path):
    vocab = {"<unk>": 0, "a": 1, "</s>": 2}
    word = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    word.pre_tokenizer = pre_tokenizers.Whitespace()
    word.add_special_tokens(["</s>"])
    path = tmp_path / "word.json"
    word.save(str(path))
    stage, out = run_stage(path, ["a a a"])
    assert stage.eos_id == 2 and out.column("tokens").to_pylist() == [[1, 1, 1, 2]]
    with pytest.raises(CurateError, match="no EOS token <eos>"):
        load_tokenizer(str(path), "<eos>")
    with pytest.raises(CurateError, match="not found"):
        load_tokenizer(str(tmp_path / "missing.json"), None)


def test_dtype_follows_the_vocabulary():
    assert token_dtype(50_257) == "uint16" and token_dtype(65_535) == "uint16" and token_dtype(65_536) == "int32"
    assert token_dtype(128_256) == "int32"


def test_train_tokenizer_on_a_sample_of_an_output(tmp_path, tokenizer_file):
    output = tmp_path / "out"
    (output / "documents").mkdir(parents=True)
    texts = corpus(400, seed=5)
    ids = [f"t/a.jsonl:{i}" for i in range(400)]
    pq.write_table(pa.table({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)), "text": texts}),
                   output / "documents" / "part-0.parquet")
    (output / "manifest.json").write_text(json.dumps({"format_version": 1, "documents": ["documents/part-0.parquet"]}))
    (output / "stats.json").write_text(json.dumps({"kept": 400}))
    path = train_tokenizer(str(output), vocab_size=300, sample=100, out_path=str(tmp_path / "tok.json"))
    trained = Tokenizer.from_file(str(path))
    assert trained.token_to_id(EOS) == 0 and 257 < trained.get_vocab_size() <= 300
    text = "river stone shard"
    assert trained.decode(trained.encode(text).ids) == text
    assert len(trained.encode(text).ids) < len(text.encode())  # merges learnt from the sample
    # the same sample again: the same tokenizer
    again = train_tokenizer(str(output), vocab_size=300, sample=100, out_path=str(tmp_path / "tok2.json"))
    assert again.read_text() == path.read_text()
    with pytest.raises(CurateError, match="at least 257"):
        train_tokenizer(str(output), vocab_size=100)


def test_explain_lists_tokens_with_the_shards_not_the_documents(tokenizer_file, tmp_path):
    from curate.pipeline import config
    from curate.pipeline.inputs import InputFile
    from curate.pipeline.check import check

    raw = {"input": {"paths": [str(tmp_path)], "dataset": "t"}, "output": str(tmp_path / "out"),
           "stages": [{"name": "tokenize", "tokenizer": str(tokenizer_file)}]}
    plan = check(config.parse(raw), [InputFile(uri=str(tmp_path / "a.jsonl"), rel="a.jsonl", size=1, format="jsonl")])
    assert "n_tokens" in plan.columns and "tokens" not in plan.columns
