"""exact_dedup: documents whose normalised text (or URL) is the same as another's; one of each group is kept.

A global stage. Keys (computed per file, never text): `uid`, a 64-bit hash of the normalised text or URL, the `id`
(for the `min_id` keep policy) and the text length (for `longest`). The engine's plan groups by hash and rejects
every member but the one the keep policy picks (`exact_dedup:duplicate`); members of a group carry its
representative as `dup_cluster` and the group's size as `dup_cluster_size`; a rejected one's ledger row names the
kept document (`kept_uid`, `kept_id`). The keys of the documents it keeps are the run's index
(:mod:`curate.stages.dedup.index`); with `against:`, a document equal to one an earlier run kept is rejected
`exact_dedup:seen_before`. With `partition_by: <column>`, the hash is seeded by the row's value of the column
(:mod:`curate.stages.dedup.base`): equal texts of two languages are two groups.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit, parse_qsl, urlencode

import pyarrow as pa
import pyarrow.compute as pc
import xxhash
from pydantic import Field

from curate.pipeline.estimate import Estimate, KeySample
from curate.pipeline.registry import register
from curate.pipeline.stage import Params
from curate.stages.dedup.base import PARTITION_BY, DedupStage
from curate.stages.dedup.report import CLUSTER_SIZES

_SPACE = re.compile(r"\s+")
_TRACKING = re.compile(r"^(utm_|fbclid$|gclid$|mc_cid$|mc_eid$)")


def normalise_text(text: str) -> str:
    """NFKC, lower case, whitespace collapsed: copies that differ only in layout or case are the same text."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def normalise_url(url: str) -> str:
    """Lower-case scheme and host, no default port, `www.`, fragment or tracking parameters, no trailing slash. A port
    is taken as written (urllib's `.port` raises above 65535: the key is still the URL's); a URL urllib cannot split
    (`http://[::1`) raises, and the framework rejects its row."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    written = parts.netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
    written = str(int(written)) if written.isascii() and written.isdigit() else written
    default = {"http": "80", "https": "443"}.get(parts.scheme.lower())
    port = f":{written}" if written and written != default else ""
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                             if not _TRACKING.match(k)))
    return urlunsplit(("", host + port, parts.path.rstrip("/") or "/", query, ""))


class ExactDedupParams(Params):
    on: Literal["text", "url"] = Field("text", description="what makes two documents the same")
    keep: Literal["min_id", "longest"] = Field("min_id", description="which member of a group is kept")
    against: list[str] = Field([], description="earlier curate outputs (or their index folders): a document "
                               "equal to one they kept is rejected seen_before")
    partition_by: str | None = PARTITION_BY


@register
class ExactDedup(DedupStage):
    """Exact deduplication on normalised text or URL, decided over the whole corpus."""

    name = "exact_dedup"
    Params = ExactDedupParams
    report = CLUSTER_SIZES

    def requires(self) -> tuple[str, ...]:
        return (self.params.on, *super().requires())

    def adds(self) -> dict[str, pa.DataType]:
        return {"dup_cluster": pa.binary(16), "dup_cluster_size": pa.int64()}

    def defaults(self) -> dict[str, Any]:
        return {"dup_cluster": None, "dup_cluster_size": 1}

    @property
    def rank_column(self) -> str | None:
        """`longest`: the text length, largest first; `min_id`: the id alone (:mod:`curate.stages.dedup.keep`)."""
        return "length" if self.params.keep == "longest" else None

    def key_schema(self) -> pa.Schema:
        return pa.schema([("uid", pa.binary(16)), ("id", pa.string()), ("hash", pa.int64()), ("length", pa.int64())])

    def index_description(self) -> dict:
        """What the index's hashes depend on: an index built otherwise cannot be matched against."""
        return {"stage": self.name, "on": self.params.on, "partition_by": self.params.partition_by}

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        values = batch.column(self.params.on).to_pylist()
        normalise = normalise_text if self.params.on == "text" else normalise_url
        seeds = self.partition_seeds(batch)
        seeds = [0] * len(values) if seeds is None else seeds.tolist()
        hashes = [xxhash.xxh3_64_intdigest(normalise(v).encode(), seed) - (1 << 63) if v else None
                  for v, seed in zip(values, seeds)]
        texts = batch.column("text").to_pylist() if "text" in batch.schema.names else [None] * len(values)
        lengths = [len(t) if t else 0 for t in texts]
        return pa.RecordBatch.from_arrays(
            [batch.column("uid"), batch.column("id"), pa.array(hashes, pa.int64()), pa.array(lengths, pa.int64())],
            schema=self.key_schema(),
        )

    def estimate(self, sample: KeySample) -> Estimate:
        """The plan moves every key row once (grouped by hash for the winner; the join back to the groups reuses
        that exchange), then the grouped documents' decision rows (their uid, cluster, size, kept uid); the index is
        the keys joined against those few decisions, broadcast. Every copy of one text lands on one task: the
        largest group is the most repeated text's copies. A task holds two buffers at once (the aggregation, the
        sort of the join)."""
        keys = sample.keys
        counts = pc.value_counts(keys.column("hash").drop_null().combine_chunks()).field("counts")
        grouped = pc.sum(pc.if_else(pc.greater(counts, 1), counts, 0)).as_py() or 0
        row = keys.nbytes / max(1, keys.num_rows)
        shuffle = sample.key_bytes + sample.scaled(grouped) * DECIDED_BYTES
        largest = sample.largest(counts)
        return Estimate(sample.documents, sample.key_bytes, round(shuffle), largest,
                        sample.held(sample.key_bytes, largest * row), buffers=2, bounds={"on": self.params.on},
                        suggestion="the largest group is one text copied that often: drop it first (exact_dedup on "
                        "url, a url_filter), or give workers more memory (engine.memory_per_worker, spark.*.memory)")


# a decision row: uid, dup_cluster, dup_cluster_size, kept_uid
DECIDED_BYTES = 16 + 16 + 8 + 16
