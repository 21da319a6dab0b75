"""What the corpus-level dedup stages (`exact_dedup`, `minhash_dedup`) share: a keep policy, an index, partitions.

The engines' plans get the first two as the stage's :class:`~curate.stages.dedup.keep.KeepPolicy` (`policy()`): the keep
policy's declared ordering and its pure decisions (:mod:`curate.stages.dedup.keep`), and the index files of the earlier
runs it dedups against (:mod:`curate.stages.dedup.index`); they write this run's index into the stage's folder.

Partitions (`partition_by: <column>`, FineWeb-2's dedup per language): documents of different values of the column are
never duplicates of each other. The partition enters the keys, not the plans: each document's value is hashed to a
64-bit seed (:func:`partition_seeds`) that the stage folds into its hash (exact) or band keys (MinHash), so two
documents of different partitions share no key, no group and no cluster, and `dup_cluster_size` counts one partition's
members. The plans group by the same keys as without partitions: no engine has its own partitioning code to agree
with the other's, and a partition of most of the corpus (one large language) spreads over every task of the shuffle
as the whole corpus would, instead of landing on one task as a `groupBy(lang)` would put it. An index holds the
partitioned keys and records `partition_by` (its description), so `against:` matches only within a partition, and
refuses an index built with another `partition_by` (or none).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from curate.pipeline.errors import CurateError
from curate.pipeline.stage import GlobalStage
from curate.stages.dedup import index, keep

PARTITION_BY = Field(None, min_length=1, description="a column (e.g. lang): documents of different values are never "
                     "duplicates of each other, and cluster sizes count within one value (dedup per language)")

_MISSING = xxhash.xxh3_64_intdigest(b"\x00")  # the seed of a null value: a partition of its own


def partition_seeds(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One 64-bit seed (uint64) per row from its partition value: equal values, equal seeds; a null value has a seed
    of its own. Each distinct value is hashed once (a batch holds few languages)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    try:
        text = pc.cast(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise CurateError(f"partition_by: a column of type {values.type} cannot name a partition (a string or a "
                          f"number can): {e}") from None
    encoded = pc.dictionary_encode(text)
    table = np.array([xxhash.xxh3_64_intdigest(b"\x01" + v.encode()) for v in encoded.dictionary.to_pylist()] +
                     [_MISSING], np.uint64)
    codes = pc.fill_null(encoded.indices, len(encoded.dictionary)).to_numpy(zero_copy_only=False)
    return table[codes]


class DedupStage(GlobalStage):
    """A global stage that keeps one document of each group of duplicates, and writes the keys of those it keeps."""

    files = ("against",)  # earlier runs' outputs or index folders

    @property
    def rank_column(self) -> str | None:
        """The key column the keep policy ranks by, largest first (None: by id alone)."""
        raise NotImplementedError

    def policy(self) -> keep.KeepPolicy:
        return keep.KeepPolicy(keep.order(self.rank_column), tuple(self.earlier_index_files()), self.index_schema(),
                               self.index_description())

    def index_schema(self) -> pa.Schema:
        """The columns of this run's index: the keys of the documents kept."""
        return self.key_schema()

    def requires(self) -> tuple[str, ...]:
        partition = self.params.partition_by
        return () if partition is None else (partition,)

    def partition_seeds(self, batch: pa.RecordBatch) -> np.ndarray | None:
        """The seed of each row's partition (:func:`partition_seeds`); None without `partition_by`."""
        partition = self.params.partition_by
        return None if partition is None else partition_seeds(batch.column(partition))

    def earlier_index_files(self) -> list[tuple[str, str]]:
        """The index files of the runs in `against`, as (root URI, path under it), as their `index.json` lists
        them; their bytes were checked against its hashes when the run was planned (`check_files`)."""
        if not self.params.against:
            return []
        return index.earlier_files(self.params.against, self.name, self.index_description(), hashes=False)

    def check_files(self) -> None:
        """Every index in `against` is whole (each file its `index.json` lists is there, of its size and hash) and
        built with this stage's parameters: refused in one line before the run, never read in part."""
        index.earlier_files(self.params.against, self.name, self.index_description())

    def index_description(self) -> dict:
        """What the index's keys depend on: an index built otherwise cannot be matched against."""
        raise NotImplementedError
