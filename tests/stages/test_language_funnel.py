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
