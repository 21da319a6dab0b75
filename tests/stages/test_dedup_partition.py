"""Dedup per partition (`partition_by`), the pure side: the partition is in the keys, so no two partitions share one."""
import numpy as np
import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.check import check
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.schema import uid_of
from curate.stages.dedup.base import partition_seeds
from curate.stages.dedup.exact import ExactDedup, ExactDedupParams
from curate.stages.dedup.minhash import MinHashDedup, MinHashDedupParams

TEXT = "the same long text in every row of this batch, written once and copied"


def batch(texts, langs) -> pa.RecordBatch:
    ids = [f"t/a.jsonl:{i}" for i in range(len(texts))]
    return pa.RecordBatch.from_pydict({"id": ids, "uid": pa.array([uid_of(i) for i in ids], pa.binary(16)),
                                       "text": pa.array(texts, pa.string()), "lang": pa.array(langs, pa.string())})


def test_seeds_equal_within_a_value_distinct_across_values_null_its_own():
    seeds = partition_seeds(pa.array(["de", "fr", "de", None, "", None]))
    assert seeds.dtype == np.uint64
    assert seeds[0] == seeds[2] and seeds[3] == seeds[5]
    assert len({int(seeds[i]) for i in (0, 1, 3, 4)}) == 4  # de, fr, null and the empty string: four partitions
    # the seed of a value does not depend on the batch it is in (a dictionary per batch, hashed by value)
    assert partition_seeds(pa.array(["x", "de"]))[1] == seeds[0]
    assert partition_seeds(pa.chunked_array([["de"], ["fr", None]])).tolist() == seeds[[0, 1, 3]].tolist()
    assert partition_seeds(pa.array([7, 7, 8])).tolist()[:2] == partition_seeds(pa.array(["7", "7"])).tolist()
    with pytest.raises(CurateError, match="partition_by: a column of type list<item: int64> cannot name"):
        partition_seeds(pa.array([[1], [2]]))


@pytest.mark.parametrize("make", [lambda **p: MinHashDedup(MinHashDedupParams(**p)),
                                  lambda **p: ExactDedup(ExactDedupParams(**p))], ids=["minhash", "exact"])
def test_equal_texts_share_keys_only_within_a_partition(make):
    texts = [TEXT] * 4
    langs = ["de", "fr", "de", None]
    key = "bands" if isinstance(make(), MinHashDedup) else "hash"

    def keys(stage):
        values = stage.keys(batch(texts, langs)).column(key).to_pylist()
        return [tuple(v) if isinstance(v, list) else v for v in values]

    plain, parted = keys(make()), keys(make(partition_by="lang"))
    assert len(set(plain)) == 1  # without partitions: one group
    assert parted[0] == parted[2] and len({parted[0], parted[1], parted[3]}) == 3
    if key == "bands":  # not one band in common across partitions: no bucket, no edge, no cluster joins them
        assert not set(parted[0]) & set(parted[1]) and not set(parted[0]) & set(parted[3])
    # without partition_by the keys are those the stage always made (indexes of earlier runs still match)
    assert keys(make(partition_by=None)) == plain


def checked(config):
    return check(config, [], assumed="jsonl")


@pytest.mark.parametrize("name", ["minhash_dedup", "exact_dedup"])
def test_partition_column_is_required_and_recorded_in_the_index(name):
    def parse(stages, fields=()):
        return pipeline_config.parse({"input": {"paths": ["in"], "dataset": "t", "fields": list(fields)},
                                      "output": "out", "stages": stages})

    stage = parse([{"name": name, "partition_by": "lang"}]).stages[0].build()
    assert "lang" in stage.requires()
    assert stage.index_description()["partition_by"] == "lang"
    assert parse([{"name": name}]).stages[0].build().index_description()["partition_by"] is None
    with pytest.raises(ConfigError, match="lang"):
        checked(parse([{"name": name, "partition_by": "lang"}]))
    checked(parse([{"name": name, "partition_by": "lang"}], fields=["lang"]))
    checked(parse([{"name": "langid"}, {"name": name, "partition_by": "lang"}]))
    with pytest.raises(ConfigError, match="partition_by"):
        parse([{"name": name, "partition_by": ""}])


def test_a_column_named_twice_is_required_once():
    config = pipeline_config.parse({"input": {"paths": ["in"], "dataset": "t", "fields": ["lang"]}, "output": "out",
                                    "stages": [{"name": "minhash_dedup", "partition_by": "lang", "language": "auto"}]})
    required = config.stages[0].build().requires()
    assert required.count("lang") == 1 and len(required) == len(set(required))
