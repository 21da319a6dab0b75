"""An input file's bytes as the readers take them: counted as they come off the stream, within a time limit."""
from __future__ import annotations

import io

from curate.pipeline.filesystems import open_binary
from curate.pipeline.ledger import ReaderLedger

# The reader's own time on one file (stages between batches not counted): past it, the file ends with an error.
# Generous: the slowest real case measured, a 2 GB gzip bomb, takes 31 s (RELIABILITY.md).
READ_SECONDS = 1800.0


class ReadTimeout(OSError):
    """The reader spent longer than READ_SECONDS on one file."""


class CountedStream(io.RawIOBase):
    """A binary stream whose reads add to `ledger.bytes_read` and raise ReadTimeout past the time limit."""

    def __init__(self, uri: str, ledger: ReaderLedger):
        super().__init__()
        self._raw = open_binary(uri)
        self._ledger = ledger

    def read(self, size: int = -1) -> bytes:
        if self._ledger.elapsed() > READ_SECONDS:
            raise ReadTimeout(f"read time limit of {READ_SECONDS:.0f} s passed")
        data = self._raw.read(size)
        self._ledger.bytes_read += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()
