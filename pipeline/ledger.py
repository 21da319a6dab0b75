"""The reader ledger: what one input file gave — records, bytes read and skipped, and the file-level error.

Two byte counts make "nothing silently lost" checkable without trusting the parser (pipeline/stats.py checks both):
- the file as stored: `bytes_read` (consumed by the reader, counted where the bytes come off the stream) plus
  `bytes_skipped` (reported with the file error) must equal `size`, the file's size in the input listing;
- the decoded stream (after decompression): `decoded_in_records` (bytes of records the reader framed, document or
  not) plus `decoded_skipped` (bytes the reader stepped over, each run listed in `skips` and named in the error) must
  equal `decoded`, every byte the decompressor produced.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

# The skipped runs and error messages written to the ledger (the totals count them all).
MAX_SKIPS_LISTED = 20
MAX_ERRORS_LISTED = 3


@dataclass
class ReaderLedger:
    file: str
    records_seen: int = 0
    records_yielded: int = 0
    error: str | None = None
    errors: int = 0
    size: int = 0
    bytes_read: int = 0
    bytes_skipped: int = 0
    decoded: int = 0
    decoded_in_records: int = 0
    decoded_skipped: int = 0
    skips: list[dict] = field(default_factory=list)
    urls_unparsed: int = 0
    seconds: float = 0.0
    _resumed: float | None = field(default=None, repr=False)

    def fail(self, message: str) -> None:
        """A file-level error: `error` holds the first MAX_ERRORS_LISTED messages and counts the rest."""
        self.errors += 1
        if self.errors <= MAX_ERRORS_LISTED:
            self.error = message if self.error is None else f"{self.error}; {message}"
        else:
            self.error = self.error.split(" (and ")[0] + f" (and {self.errors - MAX_ERRORS_LISTED} more)"

    def skip(self, offset: int, size: int, why: str) -> None:
        """`size` decoded bytes from `offset` stepped over: counted, listed, and a file error."""
        if size <= 0:
            return
        self.decoded_skipped += size
        if len(self.skips) < MAX_SKIPS_LISTED:
            self.skips.append({"offset": offset, "bytes": size, "why": why})
        self.fail(f"{why}: {size} bytes skipped at offset {offset}")

    def stop(self, read: int, message: str) -> None:
        """The file cannot be read past `read` bytes as stored: the rest is skipped, and that is the file's error."""
        self.bytes_read = read
        self.bytes_skipped = max(self.size - read, 0)
        self.fail(message)

    # The read time limit counts the reader's own time, not the stages' work between two batches.
    def resume(self) -> None:
        self._resumed = time.monotonic()

    def pause(self) -> None:
        if self._resumed is not None:
            self.seconds += time.monotonic() - self._resumed
            self._resumed = None

    def elapsed(self) -> float:
        return self.seconds + (time.monotonic() - self._resumed if self._resumed is not None else 0.0)

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("_resumed")
        out["seconds"] = round(self.seconds, 3)
        return out
