"""The per-language funnel's pure side: rows counted by language and rejecting stage, partials added up in order."""
import pyarrow as pa

from curate.stages.language_funnel import NONE, LanguageCounts, funnel


def rows(**columns) -> pa.RecordBatch:
    return pa.RecordBatch.from_pydict(columns)


def test_counts_by_language_and_stage_then_added_up():
    one, two = LanguageCounts(), LanguageCounts()
    # rows rejected before langid: no lang column; rows rejected by langid itself and after it carry one
    one.rejected(rows(text=[None, "ab"], reject_reason=["read:no_text", "extract:no_text"]))
    one.rejected(rows(text=["héllo", "x", ""], lang=["de", None, "de"],
                      reject_reason=["langid:below_threshold", "langid:no_text", "gopher_quality:too_short"]))
    one.kept(rows(text=["über", "日本"], lang=["de", "ja"], n_tokens=pa.array([3, 4], pa.int32())))
    two.rejected(rows(text=["日本語"], lang=["ja"], reject_reason=["minhash_dedup:duplicate"]))
    two.kept(rows(text=["und"], lang=["de"]))  # a run without tokens in this file: no n_tokens column
    partials = [one.close().value, two.close().value]
    result = funnel(partials, ["extract", "langid", "gopher_quality", "minhash_dedup"])
    assert result["stages"] == ["read", "extract", "langid", "gopher_quality", "minhash_dedup"]
    assert list(result["languages"]) == ["de", "ja", NONE]
    de, ja, none = (result["languages"][k] for k in ("de", "ja", NONE))
    assert de == {"in": [4, 6 + 0 + 5 + 3], "rejected": {"langid": [1, 6], "gopher_quality": [1, 0]},
                  "kept": [2, 5 + 3, 3]}
    assert ja == {"in": [2, 9 + 6], "rejected": {"minhash_dedup": [1, 9]}, "kept": [1, 6, 4]}
    assert none == {"in": [3, 3], "rejected": {"read": [1, 0], "extract": [1, 2], "langid": [1, 1]},
                    "kept": [0, 0, None]}
    assert sum(v["in"][0] for v in result["languages"].values()) == 9  # every row counted once


def test_configs_used_per_language_from_the_runs_config():
    """Which FineWeb-2 config judged each language of the funnel: its own, a stage's fallback, or none."""
    import os

    from rich.console import Console

    from curate.filters.fineweb2.configs import config
    from curate.pipeline.sections import RunView
    from curate.stages.language_funnel import config_parts, config_rows, configs_table

    stages = [{"name": "langid", "id": "langid", "labels": "fineweb2", "threshold": "fineweb2"},
              {"name": "gopher_quality", "id": "gopher_quality", "thresholds": "fineweb2",
               "language_fallback": "deu_Latn", "overrides": {"all": {"min_stop_words": 3}}},
              {"name": "fineweb_quality", "id": "fineweb_quality", "thresholds": "fineweb2"},
              {"name": "gopher_repetition", "id": "gopher_repetition", "thresholds": "fixed"}]
    counts = {"in": [1, 1], "rejected": {}, "kept": [1, 1, None]}
    funnel = {"stages": [], "languages": {"cmn_Hani": counts, "en": counts, "sr": counts, NONE: counts}}
    run = RunView(output=None, manifest={"config": {"stages": stages}, "language_funnel": funnel}, stats={},
                  files=[], stride=1)
    how, header, rows = config_rows(run)
    assert [row[:3] for row in how] == [["langid", "threshold: fineweb2", "each document's lang"],
                                        ["gopher_quality", "fineweb2", "each document's lang"],
                                        ["fineweb_quality", "fineweb2", "each document's lang"]]
    assert how[1][3:] == ["deu_Latn", "all: {'min_stop_words': 3}"]
    zh, en, sr = rows  # (none) has no config to name
    german = config("deu_Latn")
    assert zh[:5] == ["cmn_Hani", "cmn_Hani", "cmn_Hani", "jieba", config("cmn_Hani").language_score]
    # English has no FineWeb-2 config: gopher_quality fell back to German's, the other two rejected it
    assert en[:5] == ["en", "eng_Latn", "none: no_language_config; deu_Latn (fallback)", "spacy en",
                      german.language_score]
    assert sr[:4] == ["sr", "srp_Cyrl", "srp_Cyrl", "spacy sr"] and len(header) == len(sr)
    assert "FineWeb-2 configs used" in "".join(config_parts(run))
    console = Console(width=250, record=True, file=open(os.devnull, "w"))
    console.print(configs_table(run))
    assert "deu_Latn (fallback)" in console.export_text()
    # a run without FineWeb-2's configs says nothing about them
    plain = RunView(output=None, manifest={"config": {"stages": stages[3:]}, "language_funnel": funnel}, stats={},
                    files=[], stride=1)
    assert config_rows(plain) is None and config_parts(plain) == []


def test_languages_past_the_top_are_added_up_as_other():
    from curate.stages.language_funnel import TOP, _shown

    partials = [{"rejected": [[f"l{i:02d}", "langid", 1, 10]], "kept": [[f"l{i:02d}", 2, 20, 5]]}
                for i in range(TOP + 3)]
    shown = _shown(funnel(partials, ["langid"])["languages"])
    assert len(shown) == TOP + 1
    assert shown[-1] == ("other (3)", {"in": [9, 90], "rejected": {"langid": [3, 30]}, "kept": [6, 60, 15]})
