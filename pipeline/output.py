"""The output directory: layout, the guards before a run (non-empty, inside the input, resume), and commits.

Each input file commits by writing its record to `ledger/reader/<key>.json` last, after its documents and reject
files, whose names carry the attempt id. Readers trust only files that a record lists, so a retried or killed task
never leaves a duplicate; before `manifest.json` (written last of all, it marks a complete run) the run deletes every
file under `documents/`, `ledger/rejects/` and the collectors' folders (`Folder`) that no record lists, so
that reading `documents/*.parquet` directly sees the committed rows only. One process at a time writes a local output: it holds `.curate-lock`.
"""
from __future__ import annotations

import fcntl
import json
import os
import posixpath
import re
import socket
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from curate.pipeline.errors import CurateError
from curate.pipeline.filesystems import filesystem, scheme_of, uri

RUN = "run.json"
MANIFEST = "manifest.json"
STATS = "stats.json"
DOCUMENTS = "documents"
REJECTS = "ledger/rejects"
READER = "ledger/reader"
PASSES = "ledger/passes.json"
TASKS = "ledger/tasks.json"
WORK = "work"
STAGES = "stages"
LOCK = ".curate-lock"


def pass_dir(index: int) -> str:
    """Where the commit records of pass `index` live: the reader ledger for pass 0."""
    return READER if index == 0 else f"ledger/pass-{index}"


def pass_record(index: int, key: str) -> str:
    return f"{pass_dir(index)}/{key}.json"


def decisions_manifest(stage_id: str) -> str:
    return f"ledger/decisions-{stage_id}.json"


def stage_outputs(stage_id: str) -> str:
    """Where a global stage writes files that are part of the run's result (a dedup index); the run lists the
    Parquet and JSON files found there in the manifest under `stage_outputs`."""
    return f"{STAGES}/{stage_id}"


# The folders of an output the framework writes itself: no stage may publish one of these names.
OWN_FOLDERS = (DOCUMENTS, "ledger", WORK, STAGES)


def collector_folder(stage_id: str, publishes: tuple[str, ...]) -> str:
    """The folder of the output the framework gives a stage's collector: named by what the stage publishes first (the
    token shards: `shards`), else the stage's own folder."""
    return publishes[0] if publishes else stage_outputs(stage_id)


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def attempt_id() -> str:
    return uuid.uuid4().hex[:12]


class Output:
    """An output root, local or remote (any fsspec URI)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.fs, root = filesystem(uri)
        self.root = root.rstrip("/") or "/"
        self.local = scheme_of(uri) in ("", "file")

    def path(self, *parts: str) -> str:
        return posixpath.join(self.root, *parts)

    def uri_of(self, *parts: str) -> str:
        return uri(scheme_of(self.uri), self.path(*parts))

    def exists(self, *parts: str) -> bool:
        return self.fs.exists(self.path(*parts))

    def read_json(self, *parts: str) -> Any:
        with self.fs.open(self.path(*parts), "rb") as f:
            return json.load(f)

    def write_json(self, name: str, body: Any, durable: bool = True) -> None:
        """Write atomically: a reader sees the old file or the whole new one, never a part. `durable=False` skips
        the flush to disk, for a file that is only shown, never trusted after a crash (a task's in-flight figures)."""
        data = json.dumps(body, indent=1, sort_keys=False).encode()
        target = self.path(name)
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        if self.local:
            temp = f"{target}.tmp-{attempt_id()}"
            with open(temp, "wb") as f:
                f.write(data)
                if durable:
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(temp, target)
        else:  # object stores publish a whole object at once
            self.fs.pipe_file(target, data)

    def files(self, directory: str, suffixes: tuple[str, ...] = (".parquet",)) -> list[str]:
        """The files under `directory` ending in one of `suffixes`, relative to the root, sorted (none when it does
        not exist): an engine's marker files (`_SUCCESS`, `.crc`) are not data."""
        if not self.exists(directory):
            return []
        return sorted(posixpath.relpath(p, self.root) for p in self.fs.find(self.path(directory))
                      if p.endswith(suffixes))

    def open_write(self, name: str):
        target = self.path(name)
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        return self.fs.open(target, "wb")

    def committed(self, index: int = 0) -> dict[str, dict]:
        """The commit record of every input file that finished pass `index`, by file key."""
        directory = self.path(pass_dir(index))
        if not self.fs.exists(directory):
            return {}
        records = {}
        for path in self.fs.ls(directory, detail=False):
            if path.endswith(".json"):
                with self.fs.open(path, "rb") as f:
                    record = json.load(f)
                records[record["key"]] = record
        return records

    @contextmanager
    def lock(self):
        """Within: this process is the output's only writer. A local output holds `.curate-lock` (host, pid, start)
        under an exclusive `flock`, which the kernel releases when the holder dies; a lock file left by a process that
        is gone is taken over, one naming another host is refused (its process cannot be checked from here). Object
        stores (s3://, gs://) offer no lock through fsspec: there, one run per output is the user's to ensure."""
        if not self.local:
            yield
            return
        path = self.path(LOCK)
        while True:
            try:
                os.makedirs(self.root, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise CurateError(f"cannot write the output {self.uri!r}: {error.strerror or error}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(fd)
                os.close(fd)
                raise CurateError(f"output {self.uri!r} is being written by another curate run ({holder}): wait for "
                                  "it to end, or stop it") from None
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # its holder removed the file as we opened it: lock the file that is there now
        try:
            earlier = json.loads(os.pread(fd, 4096, 0) or b"{}")
        except ValueError:
            earlier = {}
        if earlier.get("host", socket.gethostname()) != socket.gethostname():
            os.close(fd)
            raise CurateError(f"output {self.uri!r} is locked by a run on host {earlier['host']!r} (pid "
                              f"{earlier.get('pid')}); if that run is gone, delete {path} and retry")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "started": now()}).encode(), 0)
        try:
            yield
        finally:
            os.unlink(path)  # before the unlock: a waiting run then locks a new file (see the inode check above)
            os.close(fd)

    def remove_unlisted(self, listed: set[str], folders: tuple[str, ...] = ()) -> list[str]:
        """Delete the files under `documents/`, `ledger/rejects/` and the collectors' `folders` that `listed` (paths
        relative to the root) does not name: what failed or killed attempts left. Returns them."""
        removed = []
        for folder in (DOCUMENTS, REJECTS, *folders):
            if not self.exists(folder):
                continue
            for path in self.fs.find(self.path(folder)):
                relative = posixpath.relpath(path, self.root)
                if relative not in listed:
                    self.fs.rm(path)
                    removed.append(relative)
        return removed

    def prepare(self, config_hash: str, listing: list[dict], resume: bool, overwrite: bool) -> bool:
        """Make the output ready for a run; True when resuming an earlier one. Refuses what would lose work."""
        started = {"config_hash": config_hash, "inputs": listing, "started": now()}
        entries = self.fs.ls(self.root, detail=False) if self.fs.exists(self.root) else []
        entries = [e for e in entries if posixpath.basename(e.rstrip("/")) != LOCK]
        names = [posixpath.basename(e.rstrip("/")) for e in entries]
        if all(name.startswith(f"{RUN}.tmp-") for name in names):  # empty, or killed writing its first run.json
            for entry in entries:
                self.fs.rm(entry)
            self.write_json(RUN, started)
            return False
        is_run = RUN in names
        if overwrite:
            if not is_run:
                raise CurateError(f"output {self.uri!r} is not empty and is not a curate output; "
                                  "refusing to delete it: choose another output or empty it yourself")
            # run.json goes last (by being rewritten): killed midway, this is still a curate output to overwrite.
            for entry, name in zip(entries, names):
                if name != RUN:
                    self.fs.rm(entry, recursive=True)
            self.write_json(RUN, started)
            return False
        if not resume:
            raise CurateError(f"output {self.uri!r} is not empty: pass --resume to continue the run there, "
                              "or --overwrite to replace it")
        if not is_run:
            raise CurateError(f"cannot resume in {self.uri!r}: it holds no curate run ({RUN} is missing)")
        earlier = self.read_json(RUN)
        if earlier["config_hash"] != config_hash:
            raise CurateError("cannot resume: the pipeline config changed since the run began "
                              "(its hash differs); use --overwrite to start again")
        if earlier["inputs"] != listing:
            raise CurateError("cannot resume: the input files changed since the run began; "
                              "use --overwrite to start again")
        return True


class Folder:
    """One folder of an output, owned by the framework and given to one stage's collector: the files written through
    it are the stage's, and the run deletes from it what failed or killed attempts left (`Output.remove_unlisted`)."""

    def __init__(self, output: Output, name: str):
        self.output, self.name = output, name

    def path(self, name: str) -> str:
        """`name` in this folder, relative to the output's root (as commit records and the manifest list files)."""
        return f"{self.name}/{name}"

    def open_write(self, name: str):
        return self.output.open_write(self.path(name))


def _holder(fd: int) -> str:
    """Who holds a lock, from its lock file."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0))
        return f"pid {holder['pid']} on {holder['host']}, since {holder['started']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its lock file is being written"


def refuse_inside_input(output: str, input_paths: list[str]) -> None:
    """An output inside an input would be read back as input by the next run: refuse it. Overlap means the output
    inside a scanned input folder or a glob's root, or an input inside the output; an output beside an input file is
    fine. Local paths are compared as real paths, so a symlink does not hide an overlap."""
    out_fs, out_path = filesystem(output)
    local = scheme_of(output) in ("", "file")
    out_path = _real(out_path.rstrip("/") or "/", local)
    for spec in input_paths:
        in_fs, in_path = filesystem(spec)
        if type(in_fs) is not type(out_fs):
            continue
        glob = re.split(r"[*?\[]", in_path, maxsplit=1)
        root = (posixpath.dirname(glob[0]) if len(glob) > 1 else in_path).rstrip("/") or "/"
        scanned = len(glob) > 1 or not in_fs.isfile(root)  # a folder or a glob: everything under it may be read
        root = _real(root, local)
        if _within(root, out_path) or (scanned and _within(out_path, root)):
            raise CurateError(f"output {output!r} overlaps input {spec!r}: write the output somewhere else")


def refuse_deleting(output: str, named: list[tuple[str, str]]) -> None:
    """`--overwrite` empties the output first: refuse, before anything is deleted, when a file the run reads lies in
    it (`named`: (where the config names it, path); an earlier run's index in `against:`, a model kept there)."""
    out_fs, out_path = filesystem(output)
    local = scheme_of(output) in ("", "file")
    out_path = _real(out_path.rstrip("/") or "/", local)
    for where, path in named:
        fs, inside = filesystem(path)
        if type(fs) is type(out_fs) and _within(_real(inside.rstrip("/") or "/", local), out_path):
            raise CurateError(f"{where}: {path!r} lies in the output this run writes: --overwrite would delete it; "
                              "write the run to another output")


def _real(path: str, local: bool) -> str:
    return os.path.realpath(path) if local else path


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")
