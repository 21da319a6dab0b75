"""minhash_dedup: near-duplicate documents (MinHash LSH), clustered over the whole corpus; one per cluster is kept.

A global stage. Keys, computed per file by the pure core (:class:`curate.filters.minhash.MinHasher`; never text):
`uid`, one 64-bit key per LSH band (`bands`, a list; null for a text without shingles), what the keep policy needs
(`id`, and `rank`: the text length for `longest`, the column's value for `highest:<column>`), and with `verify` an
8-bit sketch of the signature (`sketch`, num_perm bytes) that checks each candidate edge's estimated Jaccard.

The engine's plan (`curate.engines.spark.minhash_dedup`, `curate.engines.beam.minhash_dedup`) groups band keys into
buckets, links each bucket's members to its smallest uid (a star: never all pairs of a bucket; each bucket spread
over `salts` sub-buckets by the `salt` column of the keys), drops edges whose estimated Jaccard is below `threshold`
(with `verify`), finds connected components with a distributed algorithm, and rejects every
member of a component but the one the keep policy picks (`minhash_dedup:duplicate`). Members carry the kept document's uid as
`dup_cluster`, and the component's size as `dup_cluster_size`; a rejected one's ledger row names the kept document
(`kept_uid`, `kept_id`).

The keys of the documents it keeps are the run's index (:mod:`curate.stages.dedup.index`, under `stages/<id>/`);
with `against:`, earlier runs' indexes join the plan as documents that win every cluster they are in, and a new
document in such a cluster is rejected `minhash_dedup:seen_before`. With `partition_by: <column>` (FineWeb-2 dedups
each language alone), each row's value of the column is folded into its band keys (:mod:`curate.stages.dedup.base`):
clusters never cross partitions, and `dup_cluster_size` counts one partition's members.

Words: by default whitespace tokens with Han/Kana per character and Thai per cluster (the pure core's own, vectorised);
with `language: auto` (each document's `lang`) or a fixed code, the language's word tokenizer
(:mod:`curate.stages.dedup.language`), as FineWeb-2's MinHash per language does.

Defaults are FineWeb's: 5-word shingles, 112 hashes as 14 bands x 8 rows (a pair at Jaccard 0.8 shares a band with
probability 0.92, at 0.7 with 0.56); verification at 0.8 keeps the 0.7-0.8 pairs the bands let through apart.
Setting `bands` and `rows` to null derives them from `threshold` (:func:`curate.filters.minhash.bands_for`).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.filters.minhash import MinHasher, bands_for, salt, salts_of, sketch_matches
from curate.pipeline.estimate import Estimate, KeySample
from curate.pipeline.registry import register
from curate.pipeline.stage import Params
from curate.stages.dedup import keep
from curate.stages.dedup.base import PARTITION_BY, DedupStage
from curate.stages.dedup.keep import KeepPolicy
from curate.stages.dedup.language import LANGUAGE, check_installed, language_columns, languages_of, words_of
from curate.stages.dedup.report import CLUSTER_SIZES


class MinHashDedupParams(Params):
    shingle: Literal["word", "char"] = Field("word", description="shingles of words (language-aware) or characters")
    ngram: int = Field(5, ge=1, le=64, description="words (or characters) per shingle")
    num_perm: int = Field(112, ge=2, le=1024, description="hash functions in a signature")
    bands: int | None = Field(14, ge=1, description="LSH bands (null with rows: derived from threshold)")
    rows: int | None = Field(8, ge=1, description="signature entries per band")
    threshold: float = Field(0.8, gt=0, lt=1, description="Jaccard similarity that makes a near-duplicate")
    verify: bool = Field(True, description="drop candidate edges whose estimated Jaccard is below threshold")
    keep: str = Field("min_id", pattern=r"^(min_id|longest|highest:.+)$",
                      description="which member of a cluster is kept: min_id, longest or highest:<column>")
    salts: int = Field(16, ge=1, le=4096, description="sub-buckets a band bucket is spread over (hot buckets)")
    max_rounds: int = Field(40, ge=1, description="connected-components rounds before the run fails")
    against: list[str] = Field([], description="earlier curate outputs (or their index folders): a document "
                               "near-duplicating one they kept is rejected seen_before")
    partition_by: str | None = PARTITION_BY
    language: str | None = LANGUAGE

    @model_validator(mode="after")
    def _bands(self):
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither (then they are derived from threshold)")
        if self.bands is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands} x {self.rows}) exceeds num_perm ({self.num_perm})")
        if self.language is not None and self.shingle == "char":
            raise ValueError("language picks a word tokenizer: it needs shingle: word")
        check_installed(self.language)
        return self


@register
class MinHashDedup(DedupStage):
    """Near-duplicate removal: MinHash LSH, connected components on the engine, one document kept per cluster."""

    name = "minhash_dedup"
    Params = MinHashDedupParams
    report = CLUSTER_SIZES

    def requires(self) -> tuple[str, ...]:
        column = self.keep_column
        # dict.fromkeys: `partition_by: lang` with `language: auto` names lang twice
        return tuple(dict.fromkeys(("text", *(() if column is None else (column,)),
                                    *language_columns(self.params.language), *super().requires())))

    @property
    def keep_column(self) -> str | None:
        """The column `highest:<column>` ranks by."""
        keep = self.params.keep
        return keep.split(":", 1)[1] if keep.startswith("highest:") else None

    @property
    def rank_column(self) -> str | None:
        """`longest` / `highest:<column>`: `rank`, largest first; `min_id`: the id alone
        (:mod:`curate.stages.dedup.keep`)."""
        return None if self.params.keep == "min_id" else "rank"

    @cached_property
    def hasher(self) -> MinHasher:
        p = self.params
        bands, rows = (p.bands, p.rows) if p.bands is not None else bands_for(p.threshold, p.num_perm)
        return MinHasher(num_perm=p.num_perm, bands=bands, rows=rows, ngram=p.ngram, shingle=p.shingle)

    def adds(self) -> dict[str, pa.DataType]:
        return {"dup_cluster": pa.binary(16), "dup_cluster_size": pa.int64()}

    def defaults(self) -> dict[str, Any]:
        return {"dup_cluster": None, "dup_cluster_size": 1}

    def key_schema(self) -> pa.Schema:
        return self.index_schema().append(pa.field("salt", pa.int32()))

    def index_schema(self) -> pa.Schema:
        """The keys without `salt`: an index describes documents, whatever sub-buckets a later run spreads them over."""
        fields = [("uid", pa.binary(16)), ("id", pa.string()), ("rank", pa.float64()), ("bands", pa.list_(pa.int64()))]
        if self.params.verify:
            fields.append(("sketch", pa.list_(pa.int8())))
        return pa.schema(fields)

    def policy(self) -> ClusterPolicy:
        p = self.params
        return ClusterPolicy(keep.order(self.rank_column), tuple(self.earlier_index_files()), self.index_schema(),
                             self.index_description(), self.id, p.salts,
                             sketch_matches(p.threshold, self.hasher.num_perm) if p.verify else None, p.max_rounds)

    def index_description(self) -> dict:
        """What the index's keys depend on: an index built otherwise cannot be matched against."""
        h = self.hasher
        return {"stage": self.name, "num_perm": h.num_perm, "bands": h.bands, "rows": h.rows, "ngram": h.ngram,
                "shingle": h.shingle, "verify": self.params.verify, "partition_by": self.params.partition_by,
                "language": self.params.language}

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        hasher = self.hasher
        language = self.params.language
        if language is None:
            shingles = hasher.shingles(batch.column("text"))
        else:
            found = words_of(batch.column("text").to_pylist(), languages_of(batch, language))
            shingles = hasher.shingles([" ".join(words) for words in found], segmented=True)
        signatures = hasher.signatures_of(shingles)
        has = shingles.counts > 0
        mask = pa.array(~has)
        columns = [batch.column("uid"), batch.column("id"), self._rank(batch),
                   _lists(hasher.band_hashes(signatures, self.partition_seeds(batch)), mask)]
        if self.params.verify:
            columns.append(_lists(hasher.sketches(signatures), mask))
        columns.append(salts_of(batch.column("uid"), self.params.salts))
        return pa.RecordBatch.from_arrays(columns, schema=self.key_schema())

    def estimate(self, sample: KeySample) -> Estimate:
        """What the plan moves: every band key as a (bucket, salt, uid) row twice (the sub-bucket aggregation, the
        join back to the members), each sketch twice (both ends of the candidate edges, with `verify`), the star
        edges once per connected-components step (about 3 exchanges a round), the keep columns of every node once,
        and the keys once more for this run's index; rows as an exchange writes them (`exchanged`). A bucket is
        spread over `salts` sub-buckets; a component is held whole by one task (the window over its smallest vertex,
        then over the component for the keep policy). The rounds are those the sample's salted star edges take under
        the plan's large-star/small-star steps (`star_rounds`). A task of the bucket phase holds five buffers at once
        (the sorts of a join of both sides, the aggregations around them)."""
        p = self.params
        keys = sample.keys.filter(pc.is_valid(sample.keys.column("bands")))
        keys = keys.take(pc.sort_indices(keys, [("uid", "ascending")]))  # vertices in the plan's order: by uid
        n, bands = keys.num_rows, self.hasher.bands
        edges, sizes = star_edges(pc.list_flatten(keys.column("bands")).to_numpy(),
                                  np.repeat(keys.column("salt").to_numpy(), bands), np.repeat(np.arange(n), bands))
        component = _components(n, edges)
        largest_bucket = sample.largest(sizes)
        largest = max(sample.largest(np.bincount(component)) if n else 0, 1 if n else 0)
        rounds = star_rounds(edges, p.max_rounds)
        band_row = exchanged(fixed=2, variable=[16])  # bucket, salt, uid
        exploded = sample.scaled(n * bands) * band_row
        sketches = sample.scaled(n) * exchanged(variable=[16, 8 + 8 * -(-self.hasher.num_perm // 64)
                                                          + self.hasher.num_perm]) if p.verify else 0
        edge_bytes = sample.scaled(len(edges)) * exchanged(variable=[16, 16])
        nodes = [name for name in ("uid", "id", "rank", "file_key") if name in keys.column_names]
        node_row = keys.select(nodes).nbytes / max(1, n) + exchanged(variable=[16]) + 8 * len(nodes)
        shuffle = 2 * exploded + 2 * sketches + edge_bytes * (1 + 3 * rounds) + sample.scaled(n) * node_row \
            + sample.key_bytes
        held = sample.held(exploded, max(largest * node_row, -(-largest_bucket // p.salts) * band_row))
        return Estimate(sample.documents, sample.key_bytes, round(shuffle), largest, held, rounds, buffers=5,
                        bounds={"bands": bands, "salts": p.salts, "largest bucket": f"{largest_bucket:,}",
                                "max_rounds": p.max_rounds},
                        suggestion="the largest component is held by one task: raise threshold (fewer, tighter "
                        "clusters) or give workers more memory; a hot bucket: raise salts")

    def _rank(self, batch: pa.RecordBatch) -> pa.Array:
        keep = self.params.keep
        if keep == "longest":
            return pc.utf8_length(batch.column("text")).cast(pa.float64())
        if keep == "min_id":
            return pa.nulls(batch.num_rows, pa.float64())
        return batch.column(self.keep_column).cast(pa.float64())


@dataclass(frozen=True)
class ClusterPolicy(KeepPolicy):
    """minhash_dedup's decision, as both engines' plans take it: the keep policy (:class:`KeepPolicy`), the
    sub-buckets a band bucket is spread over (`salts`; new documents' keys carry theirs, earlier runs' index rows get
    theirs from :meth:`with_salts`), the sketch bytes an edge's endpoints must share to be kept (`matches_needed`,
    None: no verification) and the connected-components rounds allowed."""

    stage_id: str
    salts: int
    matches_needed: float | None
    max_rounds: int

    def salt(self, uid: bytes) -> int:
        """The sub-bucket of one uid (an earlier run's index row, which carries none)."""
        return salt(uid, self.salts)

    def with_salts(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        """Index rows (an earlier run's) with the `salt` column this run's keys carry."""
        return rows.append_column("salt", salts_of(rows.column("uid"), self.salts))


def _lists(matrix: np.ndarray, mask: pa.Array) -> pa.Array:
    """A (n, k) matrix as a list array of n rows, null where `mask`."""
    n, k = matrix.shape
    offsets = pa.array(np.arange(0, n * k + 1, k, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)), mask=mask)


def _components(vertices: int, edges: np.ndarray) -> np.ndarray:
    """The connected component of each of `vertices` under `edges` ((k, 2) vertex numbers), numbered from 0."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(vertices, vertices))
    return connected_components(graph, directed=False)[1]


def star_rounds(edges: np.ndarray, max_rounds: int) -> int:
    """The rounds of alternating large-star and small-star steps (Kiveris et al. 2014, as the engines' plans run
    them: `curate.engines.spark.components`) that `edges` ((k, 2) vertex numbers in uid order) take to become a star
    forest; at most `max_rounds`."""
    current = np.unique(np.sort(edges[edges[:, 0] != edges[:, 1]], axis=1), axis=0) if len(edges) else edges
    for round_ in range(1, max_rounds + 1):
        if not len(current):
            return round_
        both = np.concatenate([current, current[:, ::-1]])  # large star: larger neighbours to min of N+(u)
        smallest = np.minimum(_min_by(both[:, 0], both[:, 1]), both[:, 0])
        larger = both[:, 1] > both[:, 0]
        current = np.unique(np.stack([both[larger, 1], smallest[larger]], 1), axis=0)
        parent = _min_by(current[:, 0], current[:, 1])  # small star: N(u) ∪ {u}'s smaller members to their min
        moved = current[current[:, 1] != parent]
        current = np.unique(np.concatenate([np.stack([moved[:, 1], parent[current[:, 1] != parent]], 1),
                                            np.stack([current[:, 0], parent], 1)]), axis=0)
        children = np.bincount(current[:, 0])
        if not ((children > 1).any() or np.isin(current[:, 1], current[:, 0]).any()):
            return round_
    return max_rounds


def _min_by(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the smallest of `values` over the rows with the same `groups` value."""
    smallest = np.full(groups.max() + 1, np.iinfo(np.int64).max)
    np.minimum.at(smallest, groups, values)
    return smallest[groups]


def exchanged(fixed: int = 0, variable: tuple[int, ...] | list[int] = ()) -> int:
    """Bytes of one row as an exchange writes it (Spark's UnsafeRow, which both engines' plans are measured on): a
    length and a null word, 8 bytes a fixed-width field, 8 more for a variable one's offset and its bytes padded to
    8."""
    return 4 + 8 + 8 * fixed + sum(8 + -(-size // 8) * 8 for size in variable)


def star_edges(buckets: np.ndarray, salts: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The plan's star edges over (bucket, salt, member) rows, members numbered in uid order: each member to its
    sub-bucket's smallest, each sub-bucket's smallest to its bucket's smallest; and every bucket's size."""
    if not len(members):
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    order = np.lexsort((members, salts, buckets))
    bucket, salt, member = buckets[order], salts[order], members[order]
    new_bucket = np.r_[True, bucket[1:] != bucket[:-1]]
    new_sub = new_bucket | np.r_[True, salt[1:] != salt[:-1]]
    starts = np.flatnonzero(new_bucket)
    centre = member[np.maximum.accumulate(np.where(new_sub, np.arange(len(member)), 0))]
    top = np.repeat(np.minimum.reduceat(member, starts), np.diff(np.r_[starts, len(member)]))
    pairs = np.concatenate([np.stack([centre, member], 1)[centre != member],
                            np.stack([top, centre], 1)[new_sub & (top != centre)]])
    return np.unique(pairs, axis=0), np.diff(np.r_[starts, len(member)])
