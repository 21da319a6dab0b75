"""The document model: one Arrow schema for documents, document identity (and seeded hashes of it), byte-capped
batches."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import xxhash

from curate.filters.ngrams import mix64

# Core columns every reader produces, in this order. Extra fields of JSONL/Parquet inputs follow them.
CORE = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("uid", pa.binary(16), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("date", pa.string()),
        pa.field("content_type", pa.string()),
        pa.field("x_robots_tag", pa.string()),  # the HTTP response's X-Robots-Tag (repeated headers one a line)
        pa.field("text", pa.string()),
        pa.field("html", pa.binary()),
    ]
)
CORE_NAMES = frozenset(CORE.names)

# The column a map stage returns beside its added columns: null = kept, else `<rule>[:detail]`.
REJECT = "reject_reason"

# The slim reject ledger written for every rejected record.
REJECTS = pa.schema(
    [
        pa.field("uid", pa.binary(16), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field(REJECT, pa.string(), nullable=False),
        # Lineage of a record rejected as a duplicate: the document kept in its place (null for other rejects).
        pa.field("kept_uid", pa.binary(16)),
        pa.field("kept_id", pa.string()),
    ]
)
# The lineage columns a global stage's decision table may carry; they go to the reject ledger, never to documents.
LINEAGE = pa.schema([REJECTS.field("kept_uid"), REJECTS.field("kept_id")])

# Media types that are HTML pages: what the reader hands to extraction.
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "application/xml+xhtml"})

# Batches are capped by bytes as well as rows: 10k HTML pages can overflow a 2 GiB Arrow string array.
MAX_BATCH_BYTES = 64 << 20
MAX_BATCH_ROWS = 4096


def uid_of(doc_id: str) -> bytes:
    """The 128-bit identity of a document: XXH3-128 of its id, big-endian. Joins and shuffles carry this."""
    return xxhash.xxh3_128_digest(doc_id.encode("utf-8"))


def core_type(name: str) -> pa.DataType:
    return CORE.field(name).type


def _mix(x: np.ndarray) -> np.ndarray:
    """One splitmix64 step on uint64 arrays: the golden-ratio increment, then the finaliser."""
    return mix64(x + np.uint64(0x9E3779B97F4A7C15))


def uid_hash(uids: pa.Array, seed: int, salt: int = 0) -> np.ndarray:
    """A seeded 64-bit hash (uint64) of each 16-byte uid, vectorised: the same on every machine and engine."""
    uids = uids.combine_chunks() if isinstance(uids, pa.ChunkedArray) else uids
    if uids.null_count:
        raise ValueError("uid_hash: null uids")
    words = np.frombuffer(uids.buffers()[1], dtype="<u8")[2 * uids.offset: 2 * (uids.offset + len(uids))]
    lo, hi = words[0::2], words[1::2]
    with np.errstate(over="ignore"):
        key = _mix(np.array([(seed * 0x100000001B3 + salt) & ((1 << 64) - 1)], dtype=np.uint64))[0]
        return _mix(lo ^ _mix(hi ^ key))


def unit_interval(hashes: np.ndarray) -> np.ndarray:
    """uint64 hashes as floats in [0, 1)."""
    return (hashes >> np.uint64(11)).astype(np.float64) / float(1 << 53)
