"""langid: the bundled lid.176 model, normalisation, language lists and per-language thresholds."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.pipeline.errors import CurateError
from curate.stages.langid import Langid, LangidParams, bundled_model_path, normalise

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
    assert out.column("reject_reason").to_pylist()[:3] == [None, None, None]
    assert out.column("reject_reason")[3].as_py() in ("below_threshold", None) or \
        out.column("reject_reason")[3].as_py().startswith("language:")


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
