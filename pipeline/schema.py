"""The document model: one Arrow schema for documents, document identity, and byte-capped batches."""
from __future__ import annotations

import pyarrow as pa
import xxhash

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
