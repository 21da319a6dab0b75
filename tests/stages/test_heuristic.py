"""The four rule-set stages (gopher_quality, gopher_repetition, c4_quality, fineweb_quality): the parameters written
out in each stage's file are its filter's `Thresholds` field for field, and reach the filter unchanged; the three
FineWeb-2 tuned per language take the language parameters first."""
from __future__ import annotations

import dataclasses
import importlib.util
import typing

import pyarrow as pa
import pytest

from curate.filters import c4, fineweb, gopher_quality, gopher_repetition, words
from curate.pipeline.chain import BoundStage, StageCounts
from curate.pipeline.errors import CurateError
from curate.stages.c4_quality import C4Quality, C4QualityParams
from curate.stages.fineweb_quality import FineWebQuality
from curate.stages.gopher_quality import GopherQuality, GopherQualityParams
from curate.stages.gopher_repetition import GopherRepetition
from curate.stages.heuristic import LanguageParams

LANGUAGE = list(LanguageParams.model_fields)
STAGES = [(GopherQuality, gopher_quality, LANGUAGE, ()), (GopherRepetition, gopher_repetition, LANGUAGE, ()),
          (C4Quality, c4, [], ("bad_words_path",)), (FineWebQuality, fineweb, LANGUAGE, ())]


@pytest.mark.parametrize(("stage", "rules", "first", "extra"), STAGES, ids=[s.name for s, *_ in STAGES])
def test_params_are_the_filters_thresholds_field_for_field(stage, rules, first, extra):
    hints = typing.get_type_hints(rules.Thresholds)
    thresholds = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(rules.Thresholds)}
    fields = stage.Params.model_fields
    assert LANGUAGE == ["thresholds", "language", "language_fallback", "overrides"]
    assert list(fields) == [*first, *thresholds, "keep_signals", *extra]
    assert {name: (fields[name].annotation, fields[name].default) for name in thresholds} == thresholds
    assert fields["keep_signals"].default is False


def test_a_changed_parameter_reaches_the_filter():
    stage = GopherQuality(GopherQualityParams(min_words=3, punctuation_tokens=True))
    stage.setup()
    assert stage.thresholds == gopher_quality.Thresholds(min_words=3, punctuation_tokens=True)


def test_only_c4_quality_modifies_text_and_it_drops_the_lines_its_rules_remove():
    assert [s(s.Params()).modifies() for s, *_ in STAGES] == [(), (), ("text",), ()]
    stage = C4Quality(C4QualityParams())
    stage.setup()
    page = ("This is the first sentence of the page. Here is a second one for you.\n"
            "Please enable Javascript in your browser.\n"
            "The third sentence is here and it ends well.\n")
    out = stage.process(pa.RecordBatch.from_pydict({"text": [page, "short"]}))
    assert out.column("text").to_pylist() == [
        "This is the first sentence of the page. Here is a second one for you.\n"
        "The third sentence is here and it ends well.", ""]
    assert out.column("reject_reason").to_pylist() == [None, "kept_sentences"]


# ---- thresholds: fineweb2 ------------------------------------------------------------------------------------------

GERMAN = ("Die Stadt liegt am Ufer des Flusses und wurde im Mittelalter gegründet. "
          "Im Zentrum steht eine alte Kirche, die von vielen Besuchern aus dem ganzen Land besucht wird.\n"
          "Der Markt findet jeden Samstag statt, und die Bauern aus der Umgebung verkaufen dort Obst, Gemüse und Käse. "
          "Für Familien mit Kindern gibt es einen großen Park mit einem Spielplatz und einem kleinen See.\n"
          "Im Sommer werden auf dem Platz vor dem Rathaus Konzerte gegeben, die bis spät in den Abend dauern. "
          "Die Bewohner sind stolz auf ihre Geschichte und erzählen gern von den alten Zeiten.")
CHINESE = ("北京是中华人民共和国的首都，也是全国的政治和文化中心。这座城市有三千多年的历史，保存了许多古老的建筑。"
           "每年都有很多游客来这里参观故宫、长城和天坛。\n城市的交通非常方便，地铁可以到达大部分地方。"
           "人们喜欢在公园里散步、跳舞和打太极拳。北京的冬天比较冷，夏天比较热，春天和秋天是最好的旅游季节。")
KOREAN = "서울은 대한민국의 수도이며 가장 큰 도시이다. 한강이 도시의 중심을 흐른다."


def _judged(stage_class, texts, langs, **params):
    stage = stage_class(stage_class.Params(thresholds="fineweb2", **params))
    stage.setup()
    batch = pa.RecordBatch.from_pydict({"text": texts, "lang": langs})
    return stage.process(batch)


def test_each_document_is_judged_by_its_own_languages_config():
    out = _judged(GopherQuality, [GERMAN] * 4 + [CHINESE] * 2, ["deu_Latn", "de", "fra_Latn", "de-AT", "zh", "cmn_Hani"])
    # German text read as French: French stop words, none of them in it
    assert out.column("reject_reason").to_pylist() == [None, None, "stop_word_count", None, None, None]


def test_signals_are_fineweb2s_measures_with_the_languages_words():
    out = _judged(GopherQuality, [GERMAN, CHINESE], ["deu_Latn", "cmn_Hani"], keep_signals=True)
    # jieba's words: 73 that are not punctuation, 1.78 characters long on average; whitespace words would be 4
    assert out.column("gopher_quality_word_count").to_pylist() == [94.0, 73.0]
    assert out.column("gopher_quality_stop_word_count").to_pylist() == [11.0, 7.0]
    assert round(out.column("gopher_quality_mean_word_length")[1].as_py(), 3) == 1.781


def test_a_language_without_a_config_is_rejected_or_judged_by_the_fallback():
    langs = ["eng_Latn", "en", None, "deu_Latn"]
    out = _judged(FineWebQuality, [GERMAN] * 4, langs, keep_signals=True)
    assert out.column("reject_reason").to_pylist() == ["no_language_config"] * 3 + [None]
    assert out.column("fineweb_quality_line_punct_ratio").to_pylist()[0] != out.column(
        "fineweb_quality_line_punct_ratio").to_pylist()[0]  # NaN: not measured
    out = _judged(GopherQuality, [GERMAN] * 4, langs, language_fallback="deu_Latn")
    assert out.column("reject_reason").to_pylist() == [None, None, None, None]


def test_the_language_parameter_wins_over_the_column():
    out = _judged(GopherQuality, [GERMAN] * 2, ["fra_Latn", None], language="de")
    assert out.column("reject_reason").to_pylist() == [None, None]
    assert GopherQuality(GopherQualityParams(thresholds="fineweb2", language="de")).requires() == ("text",)
    assert GopherQuality(GopherQualityParams(thresholds="fineweb2")).requires() == ("text", "lang")
    assert GopherQuality(GopherQualityParams()).requires() == ("text",)


def test_overrides_for_all_languages_then_per_language():
    texts, langs = [GERMAN, CHINESE], ["deu_Latn", "cmn_Hani"]
    out = _judged(GopherQuality, texts, langs, overrides={"all": {"min_stop_words": 10}})
    assert out.column("reject_reason").to_pylist() == [None, "stop_word_count"]  # 11 and 7 stop words
    out = _judged(GopherQuality, texts, langs, overrides={"all": {"min_stop_words": 10},
                                                          "cmn_Hani": {"min_stop_words": 7}})
    assert out.column("reject_reason").to_pylist() == [None, None]
    out = _judged(GopherRepetition, texts, langs, overrides={"deu_Latn": {"max_top_4gram_char_fraction": 0.03}})
    assert out.column("reject_reason").to_pylist() == ["top_4gram_char_fraction", None]  # 0.0327 in the German text


@pytest.mark.parametrize("params, message", [
    ({"min_words": 10}, "thresholds: fineweb2 takes min_words from each language's config: set it in overrides"),
    ({"overrides": {"xx": {}}}, "'xx' is neither 'all' nor a FineWeb-2 config"),
    ({"overrides": {"all": {"max_foo": 1}}}, "max_foo is not a threshold here"),
    ({"language": "en"}, "language 'en' \\(eng_Latn\\) has no FineWeb-2 config"),
    ({"language_fallback": "english"}, "language_fallback 'english' is not a FineWeb-2 config"),
])
def test_fineweb2_parameters_are_checked(params, message):
    with pytest.raises(ValueError, match=message):
        GopherQualityParams(thresholds="fineweb2", **params)
    with pytest.raises(ValueError, match="apply with thresholds: fineweb2 only"):
        GopherQualityParams(overrides={"all": {"min_words": 3}})


def test_a_missing_tokenizer_package_stops_the_run_naming_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "kiwipiepy" else real(name, *a))
    words._tokenizer.cache_clear()  # a tokenizer not loaded before the package went missing
    bound = BoundStage(GopherQuality(GopherQualityParams(thresholds="fineweb2")), "reject")
    batch = pa.RecordBatch.from_pydict({"text": [GERMAN, KOREAN], "lang": ["deu_Latn", "kor_Hang"]})
    with pytest.raises(CurateError, match="gopher_quality: documents in kor_Hang: the kiwi word tokenizer needs "
                                          "kiwipiepy, which is not installed: pip install 'curate\\[multilingual\\]'"):
        bound.run(batch, StageCounts("gopher_quality"))
    with pytest.raises(ValueError, match="language kor_Hang needs kiwipiepy for its words"):
        GopherQualityParams(thresholds="fineweb2", language="ko")
