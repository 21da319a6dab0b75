"""minhash_dedup's pure side: parameters, keys per batch, and what the keys decide for real text pairs."""
import json

import numpy as np
import pyarrow as pa
import pytest

from curate.filters.minhash import sketch_jaccard
from curate.pipeline import config as pipeline_config
from curate.pipeline.errors import ConfigError
from curate.pipeline.schema import uid_of
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams


def batch(texts, **extra) -> pa.RecordBatch:
    ids = [f"t/a.jsonl:{i}" for i in range(len(texts))]
    return pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                       "text": pa.array(texts, pa.string()), **extra})


def stage(**params) -> MinHashDedup:
    return MinHashDedup(MinHashDedupParams(**params))


def test_defaults_are_finewebs():
    hasher = stage().hasher
    assert (hasher.num_perm, hasher.bands, hasher.rows, hasher.ngram, hasher.shingle) == (112, 14, 8, 5, "word")


def test_keys_are_small_and_carry_no_text():
    texts = ["one two three four five six seven", "", None, "one two three four five six seven"]
    keys = stage().keys(batch(texts))
    assert keys.schema.names == ["uid", "id", "rank", "bands", "sketch"]
    bands = keys.column("bands").to_pylist()
    assert [b is None for b in bands] == [False, True, True, False]
    assert len(bands[0]) == 14 and bands[0] == bands[3]
    assert len(keys.column("sketch")[0]) == 112
    assert "sketch" not in stage(verify=False).keys(batch(texts)).schema.names


def test_rank_follows_the_keep_policy():
    texts = ["short", "a longer text"]
    assert stage(keep="longest").keys(batch(texts)).column("rank").to_pylist() == [5.0, 13.0]
    assert stage().keys(batch(texts)).column("rank").null_count == 2
    scored = stage(keep="highest:quality")
    assert scored.requires() == ("text", "quality")
    assert scored.keys(batch(texts, quality=[0.5, None])).column("rank").to_pylist() == [0.5, None]


def test_bands_derived_from_threshold_when_null():
    hasher = stage(bands=None, rows=None, threshold=0.9, num_perm=128).hasher
    assert hasher.bands * hasher.rows <= 128 and hasher.rows > 8


def test_config_errors_name_the_stage():
    def parse(params):
        return pipeline_config.parse({"input": {"paths": ["in"], "dataset": "t"}, "output": "out",
                                      "stages": [{"name": "minhash_dedup", **params}]})

    parse({"keep": "highest:quality_score", "threshold": 0.7})
    for bad in ({"bands": 20}, {"bands": None}, {"keep": "newest"}, {"threshold": 1.5}, {"ngram": 0}):
        with pytest.raises(ConfigError, match="minhash_dedup"):
            parse(bad)


def decided_together(stage_: MinHashDedup, a: str, b: str) -> bool:
    """What the plan decides for a pair alone: a shared band key, then (verify) the sketch estimate."""
    keys = stage_.keys(batch([a, b]))
    bands = keys.column("bands").to_pylist()
    if bands[0] is None or bands[1] is None or not set(bands[0]) & set(bands[1]):
        return False
    sketches = np.array(keys.column("sketch").to_pylist())
    return sketch_jaccard((sketches[0] == sketches[1]).sum(), 112) >= stage_.params.threshold


def test_clough_stevenson_grades(shared_data):
    """Answers written by copying (cut), light or heavy revision, or independently (non) of a source text."""
    pairs = [json.loads(line) for line in (shared_data / "neardup" / "clough-stevenson-pairs.jsonl").open()]
    dedup = stage()
    found = {grade: [decided_together(dedup, p["text"], p["source_text"]) for p in pairs if p["category"] == grade]
             for grade in ("cut", "light", "heavy", "non")}
    assert [len(v) for v in found.values()] == [19, 19, 19, 38]
    assert not any(found["non"]) and not any(found["heavy"])
    # the answers are excerpts and rewrites, mostly far below Jaccard 0.8; only near-verbatim copies are found
    assert 1 <= sum(found["cut"]) <= 4 and sum(found["light"]) <= 3
