"""quality_classifier and `curate quality train`: ranks, the exact top-fraction selection, thresholds, a tiny fastText
model trained here (DCLM's recipe, small buckets), the model card, errors, and the Hugging Face backend offline."""
from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.testing import demo_texts
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.inputs import InputFile
from curate.pipeline.check import check
from curate.cli.quality_train import read_source, train_quality
from curate.filters.quality_model import prepare
from curate.stages.quality_classifier import (
    LEVELS, QualityClassifier, QualityClassifierParams, RadixSelection, digits, ranks)

JUNK = ("home login cart checkout menu share tweet subscribe cookie privacy terms contact sitemap click here buy now "
        "free shipping sale deals account wishlist").split()


def sources(root: Path, n: int = 120, seed: int = 0) -> tuple[Path, Path]:
    """Prose (demo sentences) as positives in .txt files, navigation-menu junk as negatives in a JSONL file."""
    rng, sentences = random.Random(seed), demo_texts()
    positive, negative = root / "positive", root / "negative"
    positive.mkdir(parents=True)
    negative.mkdir(parents=True)
    for i in range(n):
        (positive / f"{i}.txt").write_text("\n".join(rng.sample(sentences, 4)))
    with open(negative / "pages.jsonl", "w") as f:
        for _ in range(n):
            f.write(json.dumps({"body": " | ".join(rng.choice(JUNK).title() for _ in range(30))}) + "\n")
    return positive, negative


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("quality")
    positive, negative = sources(root)
    path = root / "quality.bin"
    train_quality(str(positive), str(negative), str(path), text_field="body", heldout=0.2, seed=3,
                  overrides={"bucket": 10_000}, log=lambda line: None)
    return path


def uids(n: int, seed: int = 0) -> pa.Array:
    return pa.array([random.Random(seed + i).randbytes(16) for i in range(n)], pa.binary(16))


def keep_top(scores: np.ndarray, fraction: float):
    """The engines' rounds in NumPy: per round, counts per digit among the matching documents -> `select`."""
    rank = ranks(scores, uids(len(scores)))
    selection, levels, state = RadixSelection(None, fraction), digits(rank), None
    for level in range(LEVELS):
        matching = np.ones(len(rank), bool)
        for i, digit in enumerate(state.prefix if state else []):
            matching &= levels[i] == digit
        values, counts = np.unique(levels[level][matching], return_counts=True)
        state = selection.select(dict(zip(values.tolist(), counts.tolist())), state)
        if state.done:
            break
    lowest, _ = selection.cutoff(state)
    return rank >= lowest, state


def test_ranks_order_documents_as_their_scores():
    scores = np.array([0.5, -1.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 0.75], np.float32)
    rank = ranks(scores, uids(len(scores)))
    order = np.argsort(rank)
    assert order[0] in (5, 6) and order[1] in (5, 6)  # NaN counts as -inf: lowest
    assert [scores[i] for i in order[2:]] == sorted(scores[[0, 1, 2, 3, 4, 7, 8, 9]])
    # equal scores tie-break by the uid hash, the same every time
    assert np.array_equal(ranks(np.zeros(5, np.float32), uids(5)), ranks(np.zeros(5, np.float32), uids(5)))


@pytest.mark.parametrize("fraction", [0.3, 0.001, 0.5, 0.999, 1.0])
def test_keep_fraction_keeps_exactly_the_top_k_even_with_tied_scores(fraction):
    rng = np.random.default_rng(1)
    # 20,000 documents, half of them sharing a handful of scores: the ties fall inside one 16-bit bucket
    scores = np.concatenate([rng.random(10_000), rng.choice([0.1, 0.5, 0.9], 10_000)]).astype(np.float32)
    kept, state = keep_top(scores, fraction)
    k = int(np.floor(fraction * len(scores) + 0.5))
    assert kept.sum() == k == RadixSelection(None, fraction).summary(state)["kept"]
    # the kept documents are the best: none kept scores below one rejected
    if 0 < k < len(scores):
        assert scores[kept].min() >= scores[~kept].max()


def test_keep_fraction_that_rounds_to_no_document_keeps_none():
    kept, state = keep_top(np.linspace(0, 1, 7, dtype=np.float32), 0.05)
    assert kept.sum() == 0 and state.keep == 0 and state.done


def test_threshold_keeps_scores_at_or_above_it():
    lowest, reason = RadixSelection(0.5, None).cutoff(None)
    scores = np.array([0.4999, 0.5, 0.5001, 0.9, 0.0], np.float32)
    assert (ranks(scores, uids(5)) >= lowest).tolist() == [False, True, True, True, False]
    assert reason == "below_threshold"


def test_prepare_gives_fasttext_the_words_of_lower_cased_whitespace_normalised_text(model):
    import fasttext

    line = prepare("  The Cat\n\nSAT\ton  the mat \r\n", True)
    assert "\n" not in line and line == line.lower()
    words = fasttext.load_model(str(model)).get_line(line)[0]
    assert words == ["the", "cat", "sat", "on", "the", "mat", "</s>"]  # one end of line, added by fastText
    assert prepare("A\nB", False) == "A B" and prepare(None, True) == ""


def test_training_writes_the_model_and_its_card(model):
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["counts"] == {"positive_available": 120, "negative_available": 120, "per_class": 120, "train": 192,
                              "heldout": 48}
    assert card["seed"] == 3 and card["preprocess"]["lowercase"] is True
    assert card["hyperparameters"]["wordNgrams"] == 2 and card["hyperparameters"]["lr"] == 0.1
    assert card["heldout"]["auc"] > 0.95 and card["heldout"]["recall"] > 0.9
    assert card["labels"] == {"positive": "__label__hq", "negative": "__label__cc"}


def test_the_stage_scores_prose_above_junk(model):
    stage = QualityClassifier(QualityClassifierParams(model=str(model), keep_fraction=0.5))
    texts = ["The museum opened a new wing for the river collection last spring.",
             "Home | Login | Cart | Buy Now | Free Shipping | Sale", None]
    keys = stage.keys(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string()), "uid": uids(3)}))
    scores = keys.column("quality_score").to_numpy()
    assert scores[0] > 0.5 > scores[1]
    assert keys.schema.names == ["uid", "quality_score", "rank", "d0", "d1", "d2", "d3"]
    assert keys.column("rank").to_pylist() == ranks(scores, uids(3)).tolist()


def test_reading_sources_of_every_kind(tmp_path):
    (tmp_path / "run" / "documents").mkdir(parents=True)
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a doc", None, " "], "id": ["1", "2", "3"]}),
                   tmp_path / "run" / "documents" / "part-0.parquet")
    assert read_source(str(tmp_path / "run")) == ["a doc"]
    (tmp_path / "x.jsonl").write_text('{"t": "one"}\n{"t": "two"}\n')
    assert read_source(str(tmp_path / "x.jsonl"), "t") == ["one", "two"]
    (tmp_path / "y.jsonl").write_text('{"t": "three"}\n')
    assert read_source(str(tmp_path / "*.jsonl"), "t") == ["one", "two", "three"]
    with pytest.raises(CurateError, match="no field 'text'"):
        read_source(str(tmp_path / "x.jsonl"))
    with pytest.raises(CurateError, match="has no documents/ folder"):
        read_source(str(tmp_path / "nothing"))


def test_tiny_or_empty_sources_are_one_line_errors(tmp_path):
    positive, negative = sources(tmp_path, n=5)
    with pytest.raises(CurateError, match="has 5 document.s. with text; at least 10"):
        train_quality(str(positive), str(negative), str(tmp_path / "m.bin"), text_field="body", log=lambda _: None)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.txt").write_text("  \n")
    run = subprocess.run([sys.executable, "-m", "curate.cli.main", "quality", "train", "--positive",
                          str(tmp_path / "empty"), "--negative", str(negative), "--model", str(tmp_path / "m.bin")],
                         capture_output=True, text=True)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines()[-1].startswith("curate: error: quality train: the positive source")
    assert "Traceback" not in run.stderr


def test_bad_parameters_and_missing_models_are_config_errors(model, tmp_path):
    def parse(**params):
        return pipeline_config.parse({"input": {"paths": ["x"], "dataset": "d"}, "output": "o",
                                      "stages": [{"name": "quality_classifier", **params}]})

    with pytest.raises(ConfigError, match="give one of threshold, keep_fraction and keep_buckets, not threshold and keep_fraction"):
        parse(model=str(model), threshold=0.5, keep_fraction=0.3)
    with pytest.raises(ConfigError, match=r"stages\[0\] \(quality_classifier\).model: no file .*absent.bin"):
        check(parse(model=str(tmp_path / "absent.bin")), [InputFile(str(tmp_path / "x.jsonl"), "x.jsonl", 1, "jsonl")])
    with pytest.raises(ConfigError, match="keep_fraction"):
        parse(model=str(model), keep_fraction=1.5)
    with pytest.raises(ConfigError, match="not a local Hugging Face checkpoint"):
        parse(model=str(tmp_path), backend="huggingface")
    stage = QualityClassifier(QualityClassifierParams(model=str(model), label="__label__good"))
    with pytest.raises(CurateError, match="has no label '__label__good'"):
        stage.score(["text"])
    (tmp_path / "broken.bin").write_bytes(b"not a model")
    with pytest.raises(CurateError, match="is not a whole fastText classifier: it does not start as a fastText model"):
        QualityClassifier(QualityClassifierParams(model=str(tmp_path / "broken.bin"))).score(["text"])


def tiny_checkpoint(root: Path, num_labels: int) -> Path:
    """A randomly initialised 2-layer BERT with a sequence-classification head, saved as a local checkpoint."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = sorted(set(" ".join(demo_texts()[:200]).lower().replace(".", " ").split()))
    (root / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]))
    tokenizer = BertTokenizerFast(vocab_file=str(root / "vocab.txt"))
    labels = {0: "low", 1: "high"} if num_labels == 2 else {0: "score"}
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=num_labels, id2label=labels,
                        label2id={v: k for k, v in labels.items()},
                        problem_type="regression" if num_labels == 1 else "single_label_classification")
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("num_labels", [1, 2])
def test_hugging_face_backend_scores_as_the_model_does(tmp_path, num_labels):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    root = tiny_checkpoint(tmp_path, num_labels)
    label = "high" if num_labels == 2 else None
    stage = QualityClassifier(QualityClassifierParams(model=str(root), backend="huggingface", label=label,
                                                      batch_size=3, max_length=32))
    texts = demo_texts()[:7] + ["", " ".join(demo_texts()[:40])]  # uneven lengths, one cut at max_length
    scores = stage.score(texts)
    model = AutoModelForSequenceClassification.from_pretrained(root).eval()
    tokenizer = AutoTokenizer.from_pretrained(root)
    with torch.inference_mode():
        expected = [model(**tokenizer(t, truncation=True, max_length=32, return_tensors="pt")).logits[0]
                    for t in texts]
    expected = [float(e[0]) if num_labels == 1 else float(e.softmax(-1)[1]) for e in expected]
    assert scores == pytest.approx(expected, abs=1e-4)  # padding in a batch does not change a score
    if num_labels == 2:
        with pytest.raises(CurateError, match="set quality_classifier.label"):
            QualityClassifier(QualityClassifierParams(model=str(root), backend="huggingface",
                                                      label="great")).score(["x"])


def test_the_stage_gives_the_plans_its_decision_on_ten_documents(tmp_path):
    """What both plans call, the stage's `policy()`: `levels` rounds of `select`, then `cutoff` and `summary`."""
    scores = np.array([0.9, 0.1, 0.5, 0.7, 0.5, 0.3, 0.8, 0.2, 0.6, 0.4], np.float32)
    rank = ranks(scores, uids(10))
    (tmp_path / "m.bin").touch()
    stage = QualityClassifier(QualityClassifierParams(model=str(tmp_path / "m.bin"), keep_fraction=0.3), "qc")
    selection, levels, state = stage.policy(), digits(rank), None
    for level in range(selection.levels):
        matching = np.ones(10, bool)
        for i, digit in enumerate(state.prefix if state else []):
            matching &= levels[i] == digit
        assert matching.tolist() == [selection.matches([d[j] for d in levels], state) for j in range(10)]
        values, counts = np.unique(levels[level][matching], return_counts=True)
        state = selection.select(dict(zip(values.tolist(), counts.tolist())), state)
        if state.done:
            break
    lowest, reason = selection.cutoff(state)
    assert np.flatnonzero(rank >= lowest).tolist() == [0, 3, 6] and reason == "below_keep_fraction"
    assert selection.summary(state) == {"documents": 10, "keep": 3, "kept": 3}
