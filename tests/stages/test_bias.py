"""bias: identity-term counts per language, user lexicons, and the corpus report (shares, pronouns, toxicity, filtering)."""
from __future__ import annotations

import pyarrow as pa
import pytest

from curate.pipeline.errors import CurateError
from curate.stages.bias import Bias, BiasParams, bias_report, bias_sums, format_report, merge_sums, report_from_sums


def counts(texts, langs=None, **params) -> list[dict[str, int]]:
    s = Bias(BiasParams(**params))
    s.setup()
    columns = {"text": pa.array(texts, pa.string())}
    if langs is not None:
        columns["lang"] = pa.array(langs, pa.string())
    out = s.process(pa.RecordBatch.from_pydict(columns)).to_pydict()
    assert out["reject_reason"] == [None] * len(texts)
    return [{k.removeprefix("bias_"): v[i] for k, v in out.items() if k.startswith("bias_") and v[i]}
            for i in range(len(texts))]


def test_columns_cover_the_six_axes_and_pronouns():
    adds = Bias(BiasParams()).adds()
    axes = {name.removeprefix("bias_").split("_")[0] for name in adds}
    assert axes == {"gender", "orientation", "religion", "race", "disability", "nationality", "pronoun"}
    assert set(adds.values()) == {pa.int32()}


def test_english_counts_words_phrases_case_and_punctuation():
    got = counts(["She told her MOTHER: the Black women's choir met two Muslims.",
                  "He and his husband (both gay) are Asian-American; black coffee, white paint.",
                  "", None])
    assert got[0] == {"pronoun_female": 2, "gender_female": 2, "race_black": 1, "religion_muslim": 1}
    # "asian american" counts for race and nationality; "black"/"white" alone are colours
    assert got[1] == {"pronoun_male": 2, "gender_male": 1, "orientation_gay": 1, "race_asian": 1,
                      "nationality_american": 1}
    assert got[2] == got[3] == {}


def test_each_document_uses_its_language_lexicon_english_by_default():
    text = "Er sagt, die Frauen und Männer sind Christen; ella y él."
    german, spanish, unknown = counts([text] * 3, ["de", "es", "ja"])
    assert german == {"gender_female": 1, "gender_male": 1, "religion_christian": 1}
    assert spanish == {"pronoun_female": 1, "pronoun_male": 1}
    assert unknown == {}  # English terms only: none here
    assert counts([text])[0] == {}  # no lang column: English


def test_user_lexicon_adds_groups_and_overrides(tmp_path):
    extra = tmp_path / "mine.tsv"
    extra.write_text("# my additions\n*\treligion\tjain\tjain\n*\treligion\tjain\tjains\n"
                     "en\tgender\tmale\twomen\n")  # a deliberate override, to see that it wins
    got = counts(["Jains and women", "Jains"], ["en", "de"], lexicon_paths=[str(extra)])
    assert got == [{"religion_jain": 1, "gender_male": 1}, {"religion_jain": 1}]
    bad = tmp_path / "bad.tsv"
    bad.write_text("en\tgender\tfemale\n")
    with pytest.raises(CurateError, match="bad.tsv:1: expected 4 tab-separated columns"):
        counts(["x"], lexicon_paths=[str(bad)])


def _table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=pa.schema([
        ("bias_gender_female", pa.int32()), ("bias_gender_male", pa.int32()), ("bias_pronoun_female", pa.int32()),
        ("bias_pronoun_male", pa.int32()), ("bias_religion_muslim", pa.int32()), ("tox_toxicity", pa.float32())]))


BEFORE = [
    {"bias_gender_female": 2, "bias_gender_male": 0, "bias_pronoun_female": 3, "bias_pronoun_male": 1,
     "bias_religion_muslim": 1, "tox_toxicity": 0.5},
    {"bias_gender_female": 0, "bias_gender_male": 1, "bias_pronoun_female": 0, "bias_pronoun_male": 2,
     "bias_religion_muslim": 0, "tox_toxicity": 0.25},
    {"bias_gender_female": 1, "bias_gender_male": 1, "bias_pronoun_female": 1, "bias_pronoun_male": 1,
     "bias_religion_muslim": 2, "tox_toxicity": None},
    {"bias_gender_female": 0, "bias_gender_male": 0, "bias_pronoun_female": 0, "bias_pronoun_male": 0,
     "bias_religion_muslim": 0, "tox_toxicity": 0.0},
]


def test_report_by_hand():
    before = _table(BEFORE + [{}])  # the last row never reached the bias stage: its counts are null, so it is skipped
    after = _table([BEFORE[1], BEFORE[3]])  # filters removed both documents that mention Muslims
    report = bias_report(before, after)
    assert report["documents"] == {"before": 4, "after": 2, "kept_fraction": 0.5}
    female = report["axes"]["gender"]["female"]
    assert female["before"]["documents"] == 2 and female["before"]["mentions"] == 3
    assert female["before"]["mention_share"] == pytest.approx(3 / 5)
    assert female["before"]["document_share"] == pytest.approx(2 / 4)
    assert female["before"]["mean_toxicity"] == {"toxicity": 0.5}  # the other one has no score
    assert female["kept_fraction"] == 0.0 and female["removal_ratio"] == 2.0
    muslim = report["axes"]["religion"]["muslim"]
    assert muslim["kept_fraction"] == 0.0 and muslim["after"]["documents"] == 0
    assert report["axes"]["gender"]["male"]["kept_fraction"] == 0.5
    assert report["axes"]["gender"]["male"]["removal_ratio"] == 1.0
    assert report["toxicity"]["before"] == {"toxicity": pytest.approx(0.25)}
    assert report["toxicity"]["after"] == {"toxicity": pytest.approx(0.125)}
    assert report["pronouns"]["before"] == {"female": 4, "male": 4, "female_to_male": 1.0}
    assert report["pronouns"]["after"] == {"female": 0, "male": 2, "female_to_male": 0.0}
    assert "pronoun" not in report["axes"]
    text = format_report(report)
    assert "4 documents reached the bias stage, 2 kept (50.0%)" in text
    assert "female:male 1.000" in text and "muslim" in text


def test_sums_are_additive_so_files_can_be_summed_apart():
    whole = bias_sums(_table(BEFORE))
    parts = merge_sums(bias_sums(_table(BEFORE[:1])), bias_sums(_table(BEFORE[1:])))
    assert parts == whole
    assert report_from_sums(parts, whole)["documents"]["kept_fraction"] == 1.0


def test_report_without_toxicity_or_bias_columns():
    plain = pa.table({"bias_gender_female": pa.array([1, 0], pa.int32())})
    report = bias_report(plain, plain)
    assert report["toxicity"] == {"before": {}, "after": {}}
    assert report["axes"]["gender"]["female"]["removal_ratio"] is None  # nothing was removed
    assert bias_sums(pa.table({"id": ["a"]}))["documents"] == 0
