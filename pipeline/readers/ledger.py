"""The reader ledger: what one input file gave — records seen, records yielded, and a file-level error."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class ReaderLedger:
    file: str
    records_seen: int = 0
    records_yielded: int = 0
    error: str | None = None

    def to_json(self) -> dict:
        return asdict(self)
