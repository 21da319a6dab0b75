"""toxicity: chunking, the offline profanity backend, thresholds, and Detoxify's own loader on a tiny local model."""
from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError, CurateError
from curate.stages.toxicity import Toxicity, ToxicityParams, chunks

CLEAN = "The library opens at nine and the reading room is quiet in the morning."
PROFANE = "Shut the fuck up, you stupid piece of shit."


def stage(**params) -> Toxicity:
    out = Toxicity(ToxicityParams(**params))
    out.setup()
    return out


def run(s: Toxicity, texts: list[str | None]) -> dict[str, list]:
    return s.process(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string())})).to_pydict()


def test_chunks_cut_at_spaces_and_stop_at_the_limit():
    assert chunks("", 10, 3) == [""]
    assert chunks("  a\n\nb  c ", 10, 3) == ["a b c"]
    pieces = chunks("word " * 100, 22, 3)
    assert pieces == ["word word word word"] * 3
    assert all(len(p) <= 22 for p in chunks("x" * 50, 20, 5))  # no space: cut anyway


def test_profanity_scores_and_threshold_reason():
    s = stage(thresholds={"profanity": 0.5})
    assert s.adds() == {"tox_profanity": pa.float32()}
    out = run(s, [CLEAN, PROFANE, None])
    clean, profane, empty = out["tox_profanity"]
    assert clean < 0.2 < 0.9 < profane and empty < 0.5
    assert out["reject_reason"] == [None, "profanity", None]


def test_without_thresholds_the_stage_only_scores():
    out = run(stage(), [PROFANE])
    assert out["reject_reason"] == [None] and out["tox_profanity"][0] > 0.9


def test_a_profane_paragraph_at_the_end_of_a_long_page_counts():
    page = " ".join([CLEAN] * 60) + " " + PROFANE
    whole = run(stage(max_chunks=1, chunk_chars=100_000), [page])["tox_profanity"][0]
    chunked = run(stage(chunk_chars=500), [page])["tox_profanity"][0]
    assert chunked > 0.9 > 0.5 > whole


def test_unknown_label_is_a_config_error():
    raw = {"input": {"paths": ["x"], "dataset": "d"}, "output": "o",
           "stages": [{"name": "toxicity", "thresholds": {"toxicity": 0.8}}]}
    with pytest.raises(ConfigError, match=r"stages\[0\] \(toxicity\).*unknown label 'toxicity' for backend profanity"):
        pipeline_config.parse(raw)
    raw["stages"][0] = {"name": "toxicity", "backend": "detoxify", "labels": ["insult"], "thresholds": {"threat": 0.5}}
    with pytest.raises(ConfigError, match="thresholds name threat, which `labels` leaves out"):
        pipeline_config.parse(raw)


# ---- Detoxify on a tiny random BERT, loaded by Detoxify's own code from local files only -------------------------

CLASSES = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]  # Jigsaw 2018 names


def _tiny_checkpoint(folder: Path, model_type: str | None = None) -> Path:
    import torch
    import transformers

    base = folder / "tiny-bert"
    base.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"the a you are is good bad idiot people day , . !".split()]
    (base / "vocab.txt").write_text("\n".join(vocab) + "\n")
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                     intermediate_size=32, max_position_embeddings=64, num_labels=len(CLASSES))
    config.save_pretrained(base)
    transformers.BertTokenizer(str(base / "vocab.txt"), model_max_length=64).save_pretrained(base)
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(config)
    with torch.no_grad():  # make scores depend visibly on the text, and put 'toxicity' high and 'insult' low
        model.classifier.weight.mul_(50)
        model.classifier.bias.copy_(torch.tensor([4.0, 0, 0, 0, -4.0, 0]))
    checkpoint = {
        "config": {"arch": {"args": {"model_type": model_type or str(base), "num_classes": len(CLASSES),
                                     "model_name": "BertForSequenceClassification", "tokenizer_name": "BertTokenizer"}},
                   "dataset": {"args": {"classes": CLASSES}}},
        "state_dict": model.state_dict(),
    }
    path = folder / ("tiny.ckpt" if model_type is None else "hub.ckpt")
    torch.save(checkpoint, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return _tiny_checkpoint(tmp_path_factory.mktemp("detoxify"))


TEXTS = ["you are an idiot !", "a good day", "the people are bad", "", "good good good good good good day , the end"]


def test_detoxify_loads_offline_and_batched_scores_match_its_own_predict(tiny):
    from detoxify import Detoxify

    s = stage(backend="detoxify", checkpoint=str(tiny), batch_size=2, device="cpu")
    assert set(s.adds()) == {"tox_toxicity", "tox_severe_toxicity", "tox_obscene", "tox_threat", "tox_insult",
                             "tox_identity_attack"}
    out = run(s, TEXTS)
    reference = Detoxify(checkpoint=str(tiny), device="cpu")
    for i, text in enumerate(TEXTS):
        expected = reference.predict(text)  # one text: Detoxify returns plain floats
        for label in ("toxicity", "insult", "threat"):
            assert out[f"tox_{label}"][i] == pytest.approx(expected[label], abs=1e-5)
    assert len(set(np.round(out["tox_threat"], 4))) > 1  # the scores depend on the text
    assert min(out["tox_toxicity"]) > 0.8 > 0.2 > max(out["tox_insult"])


def test_detoxify_thresholds_per_label(tiny):
    out = run(stage(backend="detoxify", checkpoint=str(tiny), thresholds={"insult": 0.5, "toxicity": 0.8}), TEXTS)
    assert out["reject_reason"] == ["toxicity"] * len(TEXTS)
    out = run(stage(backend="detoxify", checkpoint=str(tiny), labels=["insult"], thresholds={"insult": 0.5}), TEXTS)
    assert out["reject_reason"] == [None] * len(TEXTS) and list(out)[-2:] == ["tox_insult", "reject_reason"]


def test_detoxify_offline_failures_are_one_clear_line(tiny, tmp_path, monkeypatch):
    with pytest.raises(CurateError, match="toxicity.checkpoint .* not found"):
        stage(backend="detoxify", checkpoint=str(tmp_path / "missing.ckpt"))
    # a real checkpoint names a hub model: refused before Detoxify reaches for the network
    hub = _tiny_checkpoint(tmp_path, model_type="bert-base-uncased")
    with pytest.raises(CurateError, match="model_type 'bert-base-uncased' is not a local folder"):
        stage(backend="detoxify", checkpoint=str(hub))
    # no checkpoint: Detoxify downloads; when that fails, the user is told which option to set
    import detoxify

    def offline(*args, **kwargs):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(detoxify, "Detoxify", offline)
    with pytest.raises(CurateError, match=r"cannot load Detoxify model 'original' \(URLError.*set toxicity.checkpoint"):
        stage(backend="detoxify")


def test_only_the_models_languages_are_scored():
    german = "Die neue Bahnlinie berichtete über den Spielplan der nächsten Saison, damit alle teilnehmen können."
    batch = pa.RecordBatch.from_pydict({"text": pa.array([german, PROFANE, german]),
                                        "lang": pa.array(["de", "en", None])})
    out = stage(thresholds={"profanity": 0.5}).process(batch).to_pydict()
    assert out["tox_profanity"][0] is None and out["tox_profanity"][2] is None and out["tox_profanity"][1] > 0.9
    assert out["reject_reason"] == [None, "profanity", None]
    every = stage(languages="all").process(batch).to_pydict()["tox_profanity"]
    assert None not in every
