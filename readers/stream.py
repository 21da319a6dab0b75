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
    """A binary stream whose reads add to `ledger.bytes_read` and raise ReadTimeout past the time limit; with `span`
    (start, end), the stored bytes of one range of the file, ending at `end` as a file would."""

    def __init__(self, uri: str, ledger: ReaderLedger, span: tuple[int, int] | None = None):
        super().__init__()
        self._raw = open_binary(uri)
        self._ledger = ledger
        self._left = None
        if span is not None:
            self._raw.seek(span[0])
            self._left = span[1] - span[0]

    def read(self, size: int = -1) -> bytes:
        if self._ledger.elapsed() > READ_SECONDS:
            raise ReadTimeout(f"read time limit of {READ_SECONDS:.0f} s passed")
        if self._left is not None:
            size = self._left if size is None or size < 0 else min(size, self._left)
        data = self._raw.read(size)
        if self._left is not None:
            self._left -= len(data)
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
