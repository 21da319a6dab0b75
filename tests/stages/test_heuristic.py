"""The four rule-set stages (gopher_quality, gopher_repetition, c4_quality, fineweb_quality): the parameters written
out in each stage's file are its filter's `Thresholds` field for field, and reach the filter unchanged; the three
FineWeb-2 tuned per language take the language parameters first."""
from __future__ import annotations

import dataclasses
import typing

import pyarrow as pa
import pytest

from curate.filters import c4, fineweb, gopher_quality, gopher_repetition
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
