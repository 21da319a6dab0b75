"""Input files: paths, directories, globs and URIs resolved to files with stable relative names, large ones cut into
ranges by the splitter registered for their format (the run's tasks), and each read by the reader registered for its
format (`curate.readers`).

A file's format comes from its ending, in any letter case, with every compression its reader takes: WARC and WET
plain, `.gz` or `.zst`; JSONL plain, `.gz` or `.zst`; Parquet. A local path that is not a regular file (a FIFO, a
device, a socket, a symlink to one) would block or never end: in a directory or glob it is left out with a notice on
stderr, named alone it is an error.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import posixpath
import re
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from curate.pipeline import registry
from curate.pipeline.config import InputConfig
from curate.pipeline.errors import CurateError
from curate.pipeline.filesystems import filesystem, scheme_of, uri
from curate.pipeline.ledger import ReaderLedger

_COMPRESSED = ("", ".gz", ".zst")
_SUFFIXES = {
    "wet": tuple(stem + c for stem in (".wet", ".warc.wet") for c in _COMPRESSED),
    "warc": tuple(".warc" + c for c in _COMPRESSED),
    "jsonl": tuple(stem + c for stem in (".jsonl", ".ndjson") for c in _COMPRESSED) + (".json.gz", ".json.zst"),
    "parquet": (".parquet",),
}
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Range:
    """A piece of an input file that one task reads (`input.split_size`): its stored bytes [start, end), and, for a
    Parquet file, the row groups [groups[0], groups[1]). `first` is the number its first record has in the whole file
    (a JSONL line, a Parquet row), so that ids are those of the file read whole."""

    index: int
    start: int
    end: int
    first: int = 0
    groups: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return self.end - self.start

    @classmethod
    def from_json(cls, body: dict | None) -> Range | None:
        if body is None:
            return None
        groups = body.get("groups")
        return cls(**{**body, "groups": tuple(groups) if groups is not None else None})


def ranges(cuts: list[tuple[int, int]], end: int, groups: list[int] | None = None) -> list[Range]:
    """Ranges from their starts, `(stored offset, number of the first record)`, the first at 0; the last ends at
    `end`. `groups`: for Parquet, the first row group of each, then the number of row groups."""
    starts = [cut for cut in cuts if cut[0] < end]
    return [Range(i, start, starts[i + 1][0] if i + 1 < len(starts) else end, first,
                  (groups[i], groups[i + 1]) if groups is not None else None)
            for i, (start, first) in enumerate(starts)]


@dataclass(frozen=True)
class InputFile:
    """One input file, or one range of it (`part`): where to open it, its name relative to the input root (used in
    ids), and its format. A task reads one of these."""

    uri: str
    rel: str
    size: int
    format: str
    part: Range | None = None

    @property
    def key(self) -> str:
        """A file-name-safe key, unique per relative path and range: what output files and the commit record of this
        task are named after. A file read whole keeps the key it had before files were split."""
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", posixpath.basename(self.rel))[:60]
        key = f"{stem}-{hashlib.sha1(self.rel.encode()).hexdigest()[:10]}"
        return key if self.part is None else f"{key}-r{self.part.index:05d}"

    @property
    def stored(self) -> tuple[int, int]:
        """The stored bytes this task reads and accounts for: [start, end)."""
        return (0, self.size) if self.part is None else (self.part.start, self.part.end)

    @property
    def stored_size(self) -> int:
        """How many stored bytes this task reads (what an engine sizes itself by)."""
        start, end = self.stored
        return end - start

    def listing(self) -> dict:
        return {"path": self.rel, "size": self.size, "format": self.format}

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, body: dict) -> InputFile:
        return cls(**{**body, "part": Range.from_json(body.get("part"))})


def has_pages(fmt: str) -> bool:
    """Whether a format's records are pages (WARC: `html`, text extracted later) rather than text (WET, JSONL,
    Parquet: `text` as read, no `html`)."""
    return fmt == "warc"


def format_of(path: str) -> str | None:
    lower = path.lower()
    for fmt, suffixes in _SUFFIXES.items():
        if lower.endswith(suffixes):
            return fmt
    return None


def resolve(cfg: InputConfig) -> list[InputFile]:
    """Every input file, sorted by relative path. Errors name the path that matched nothing."""
    files: dict[str, InputFile] = {}
    for spec in cfg.paths:
        try:
            _resolve_one(spec, cfg, files)
        except OSError as error:  # unreachable host, refused credentials, a folder we may not list
            reason = error.strerror or str(error) or type(error).__name__
            raise CurateError(f"input path {spec!r} cannot be read: {reason}") from error
    return [files[rel] for rel in sorted(files)]


def _resolve_one(spec: str, cfg: InputConfig, files: dict[str, InputFile]) -> None:
    fs, path = filesystem(spec)
    scheme = scheme_of(spec)
    local = scheme in ("", "file")
    if _GLOB.search(path):
        prefix = _GLOB.split(path, 1)[0]
        root = (prefix if prefix.endswith("/") else posixpath.dirname(prefix)).rstrip("/") or "/"
        matches = [p for p in fs.glob(path) if (local and not os.path.isdir(p)) or fs.isfile(p)]
    elif fs.isdir(path):
        root = path.rstrip("/")
        matches = fs.find(path)
    elif fs.exists(path):
        root = posixpath.dirname(path.rstrip("/"))
        matches = [path]
        if local and (kind := not_regular(path)):
            raise CurateError(f"input path {spec!r} is not a regular file but a {kind}: leave it out of input.paths")
    else:
        raise CurateError(f"input path {spec!r} does not exist")
    kept = 0
    for match in sorted(matches):
        fmt = format_of(match) if cfg.format == "auto" else cfg.format
        if fmt is None:
            continue
        if local and (kind := not_regular(match)):
            print(f"curate: input {match!r} left out: not a regular file but a {kind}", file=sys.stderr)
            continue
        if local and not os.access(match, os.R_OK):
            raise CurateError(f"input file {match!r} is not readable (permission denied): "
                              "fix its permissions or leave it out of input.paths")
        rel = posixpath.relpath(match, root) if root not in ("", "/") else match.lstrip("/")
        if rel in files and files[rel].uri != uri(scheme, match):
            raise CurateError(f"two input files have the same relative name {rel!r}: give them distinct names")
        files[rel] = InputFile(uri(scheme, match), rel, int(fs.size(match) or 0), fmt)
        kept += 1
    if kept == 0:
        known = ", ".join(s for group in _SUFFIXES.values() for s in group)
        raise CurateError(f"input path {spec!r} holds no input files (recognised endings: {known})")


def not_regular(path: str) -> str | None:
    """What a local path is when it is not a regular file (symlinks followed); None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "broken link"
    if stat.S_ISREG(mode):
        return None
    return ("FIFO" if stat.S_ISFIFO(mode) else "character device" if stat.S_ISCHR(mode) else
            "block device" if stat.S_ISBLK(mode) else "socket" if stat.S_ISSOCK(mode) else "directory"
            if stat.S_ISDIR(mode) else "special file")


class Unsplittable(Exception):
    """A splitter's answer that a file cannot be cut into ranges; the message says why (one gzip member, one row
    group). The file is read whole, as one task."""


def tasks(files: list[InputFile], cfg: InputConfig, slots: int = 1) -> list[InputFile]:
    """The tasks of a run, in input order: a file larger than `input.split_size` is cut into ranges of about that
    size where its format allows (each reader's splitter says where and why not), every other file is one task. A cut
    file gets a multiple of `slots` ranges (the tasks an engine runs at once), so that its last round of ranges
    keeps every slot busy. The files larger than the split size that are read whole anyway are named once, on
    stderr, with the reason."""
    out, whole = [], []
    for file in files:
        parts = []
        if file.size > cfg.split_size:
            try:
                parts = split(file, _range_size(file.size, cfg.split_size, slots))
            except Unsplittable as why:
                whole.append(f"{file.rel} ({why})")
        out += [dataclasses.replace(file, part=part) for part in parts] if parts else [file]
    if whole:
        print(f"curate: {len(whole)} file{'s' if len(whole) > 1 else ''} over input.split_size "
              f"({cfg.split_size:,} bytes) read whole, one task each: {'; '.join(whole)}", file=sys.stderr)
    return out


def _range_size(file_size: int, split_size: int, slots: int) -> int:
    """The size of `file_size`'s ranges: at most `split_size`, their number rounded up to a multiple of `slots` (15
    ranges on 2 slots take 8 rounds, the last with one slot idle; 16 smaller ones take 8 full rounds)."""
    count = -(-file_size // split_size)
    count = -(-count // max(1, slots)) * max(1, slots)
    return -(-file_size // count)


def split(file: InputFile, size: int) -> list[Range]:
    """The ranges of `file`, each about `size` stored bytes, from the splitter of its format. Raises Unsplittable
    when it cannot be cut (read it whole)."""
    splitter = registry.splitter(file.format)
    if splitter is None:
        raise Unsplittable(f"no splitter for {file.format}")
    try:
        parts = splitter(file, size)
    except (OSError, ValueError, EOFError) as error:  # unreadable here: the reader, reading it whole, says why
        raise Unsplittable(f"unreadable while looking for cuts: {type(error).__name__}") from error
    if len(parts) < 2:
        raise Unsplittable("no place to cut that the format allows")
    return parts


def read(file: InputFile, cfg: InputConfig, ledger: ReaderLedger) -> Iterator[pa.RecordBatch]:
    """Batches of `file`'s records (of its range, when it has one), from the reader of its format. Rows the reader
    rejects carry a `read:*` reason; file-level errors and the byte counts go to `ledger`, whose clock runs only while
    the reader works (the read time limit's measure)."""
    ledger.size = file.stored_size
    batches = registry.reader(file.format)(file, cfg, ledger)
    while True:
        ledger.resume()
        try:
            batch = next(batches)
        except StopIteration:
            return
        finally:
            ledger.pause()
        yield batch
