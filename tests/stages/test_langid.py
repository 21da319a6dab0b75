"""langid: the bundled lid.176 model, normalisation, language lists and per-language thresholds."""
from __future__ import annotations

import random

from pathlib import Path

import pyarrow as pa
import pytest

from curate.pipeline.errors import CurateError
from curate.stages.langid import Langid, LangidParams, _label_notes, bundled_model_path, load_model, normalise

LINGUA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "langid" / "lingua-dev.tsv"

TEXTS = [
    "The committee published its annual report on the state of the regional railways yesterday.",
    "Der Ausschuss hat gestern seinen jährlichen Bericht über den Zustand der Eisenbahnen veröffentlicht.",
    "Le comité a publié hier son rapport annuel sur l'état des chemins de fer régionaux.",
    "",
]


def run(texts, **params):
    stage = Langid(LangidParams(**params))
    stage.setup()
    return stage.process(pa.RecordBatch.from_pydict({"text": pa.array(texts, pa.string())}))


def test_languages_and_scores():
    out = run(TEXTS, threshold=0.5)
    assert out.column("lang").to_pylist()[:3] == ["en", "de", "fr"]
    scores = out.column("lang_score").to_pylist()
    assert all(0.5 < s <= 1.0 for s in scores[:3])
    assert out.column("reject_reason").to_pylist() == [None, None, None, "no_text"]


def test_empty_text_gets_no_label_whatever_the_threshold():
    out = run(["", " \n\t ", None], threshold=0.0)
    assert out.column("lang").to_pylist() == [None, None, None]
    assert out.column("lang_score").to_pylist() == [0.0, 0.0, 0.0]
    assert out.column("reject_reason").to_pylist() == ["no_text"] * 3


def test_language_list_and_per_language_threshold():
    out = run(TEXTS[:3], languages=["en", "de"], threshold={"en": 0.5, "default": 1.01})
    assert out.column("reject_reason").to_pylist() == [None, "below_threshold", "language:fr"]


def test_normalise_one_line_bounded():
    assert normalise("a\n\nb\t c  ", 100) == "a b c"
    assert normalise("word " * 1000, 20) == ("word " * 4).strip()


def test_bundled_model_is_checked_and_missing_model_is_clear(tmp_path):
    assert bundled_model_path().name == "lid.176.ftz"
    stage = Langid(LangidParams(model_path=str(tmp_path / "nope.bin")))
    with pytest.raises(CurateError, match="not found"):
        stage.setup()


def test_glotlid_style_labels_pass_through_and_drive_the_rules(tmp_path):
    # A tiny fastText model trained here with GlotLID's label form (ISO 639-3 + script), as a model_path would give.
    import fasttext

    rng = random.Random(0)
    vocab = {"eng_Latn": "the of and to in is was for on that with by".split(),
             "deu_Latn": "der die und das ist nicht mit von den auf für ein".split(),
             "rus_Cyrl": "и в не на что он с как это по к но".split()}
    lines = [f"__label__{label} " + " ".join(rng.choices(words, k=8)) for label, words in vocab.items() for _ in range(200)]
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = tmp_path / "glotlid-tiny.bin"
    # thread=1 and character n-grams (as LID models use): word-only training on a corpus this small gives NaN here
    fasttext.train_supervised(str(train), epoch=10, lr=0.1, dim=16, minn=2, maxn=4, minCount=1, thread=1, seed=1,
                              verbose=0).save_model(str(model))
    texts = ["the cat is on the mat and that was that", "der Hund ist nicht mit den Katzen auf dem Hof",
             "он не знает, что это было и как"]
    out = run(texts, model_path=str(model), languages=["eng_Latn", "rus_Cyrl"],
              threshold={"rus_Cyrl": 1.01, "default": 0.5})
    assert out.column("lang").to_pylist() == ["eng_Latn", "deu_Latn", "rus_Cyrl"]
    assert out.column("reject_reason").to_pylist() == [None, "language:deu_Latn", "below_threshold"]


def test_stage_is_at_least_as_accurate_as_the_raw_model_per_kind():
    if not LINGUA.is_file():
        pytest.skip(f"{LINGUA} absent (../shared/data)")
    with open(LINGUA, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t", 2) for line in f][1::7]  # every 7th line: ~16k, all kinds
    texts = [text for _, _, text in rows]
    stage_langs = run(texts, threshold=0.0).column("lang").to_pylist()
    raw_labels, _ = load_model(None).predict([t.replace("\n", " ") for t in texts], k=1)
    raw_langs = [label[0].removeprefix("__label__") for label in raw_labels]
    right = {}
    for (kind, lang, _), ours, raw in zip(rows, stage_langs, raw_langs):
        counts = right.setdefault(kind, [0, 0, 0])
        counts[0] += {"no": "nb"}.get(ours, ours) == lang
        counts[1] += {"no": "nb"}.get(raw, raw) == lang
        counts[2] += 1
    assert set(right) == {"sentences", "word-pairs", "single-words"}
    for kind, (ours, raw, total) in right.items():
        assert ours >= raw, kind
    # what lid.176 reaches on each kind (bench/langid.py has the full figures): sentences well above single words
    assert right["sentences"][0] / right["sentences"][2] > 0.75
    assert right["single-words"][0] / right["single-words"][2] < 0.55


# ---- FineWeb-2's codes and thresholds --------------------------------------------------------------------------------

SERBIAN = ["Ово је кратка реченица на српском језику о граду и људима.",
           "Ovo je kratka rečenica na srpskom jeziku o gradu i ljudima."]


def test_fineweb2_labels_map_lid176_and_read_the_script():
    assert run(TEXTS[:3] + SERBIAN, threshold=0.0).column("lang").to_pylist() == ["en", "de", "fr", "sr", "sr"]
    out = run(TEXTS[:3] + SERBIAN, labels="fineweb2", threshold=0.0)
    assert out.column("lang").to_pylist() == ["eng_Latn", "deu_Latn", "fra_Latn", "srp_Cyrl", "srp_Latn"]


def test_fineweb2_threshold_is_each_languages_language_score():
    german = TEXTS[1]
    score = run([german], threshold=0.0).column("lang_score")[0].as_py()
    assert 0.821 < score  # deu_Latn's language_score
    out = run(TEXTS[:3], labels="fineweb2", threshold="fineweb2")
    # English: FineWeb-2 has no config, so no minimum
    assert out.column("reject_reason").to_pylist() == ["no_language_config", None, None]
    out = run(TEXTS[:3], labels="fineweb2", threshold={"eng_Latn": 0.5, "fra_Latn": 1.01, "default": "fineweb2"})
    assert out.column("reject_reason").to_pylist() == [None, None, "below_threshold"]
    stage = Langid(LangidParams(labels="fineweb2", threshold="fineweb2"))
    assert stage.threshold_for("deu_Latn") == 0.821 and stage.threshold_for("srp_Latn") == 0.405
    assert stage.threshold_for("eng_Latn") is None


def test_fineweb2_threshold_on_lid176_labels_is_a_config_error():
    with pytest.raises(ValueError, match="threshold: fineweb2 looks languages up by FineWeb-2 code.*set labels: fineweb2"):
        LangidParams(threshold="fineweb2")
    LangidParams(threshold="fineweb2", model_path="glotlid.bin")  # a GlotLID model labels by code already


def test_glotlid_labels_stay_with_fineweb2_labels_and_unknown_ones_keep_their_code(tmp_path):
    import fasttext

    rng = random.Random(0)
    vocab = {"deu_Latn": "der die und das ist nicht mit von den auf für ein".split(),
             "srp_Cyrl": "и у да је се на за од не са што као".split(),
             "xyz": "zork blip quux frob nitz wozzle glarp".split()}
    lines = [f"__label__{label} " + " ".join(rng.choices(words, k=8)) for label, words in vocab.items() for _ in range(200)]
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    model = tmp_path / "glotlid-tiny.bin"
    fasttext.train_supervised(str(train), epoch=10, lr=0.1, dim=16, minn=2, maxn=4, minCount=1, thread=1, seed=1,
                              verbose=0).save_model(str(model))
    texts = ["der Hund ist nicht mit den Katzen auf dem Hof", "он је рекао да је то било као и увек", "zork blip frob"]
    out = run(texts, model_path=str(model), labels="fineweb2", threshold="fineweb2")
    assert out.column("lang").to_pylist() == ["deu_Latn", "srp_Cyrl", "xyz"]
    scores = out.column("lang_score").to_pylist()
    expected = [None if s >= minimum else "below_threshold" for s, minimum in zip(scores, (0.821, 0.872))]
    assert out.column("reject_reason").to_pylist() == [*expected, "no_language_config"]
    assert _label_notes(["deu_Latn", "xyz", "eng_Latn"]) == [
        '<p class="note">labels with no FineWeb-2 code, kept as the model wrote them: xyz</p>',
        '<p class="note">FineWeb-2 codes without a FineWeb-2 config (thresholds: fineweb2 rejects or falls back): '
        'eng_Latn</p>']
