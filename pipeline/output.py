"""The output directory: layout, the guards before a run (non-empty, inside the input, resume), and commits.

Each input file commits by writing its record to `ledger/reader/<key>.json` last, after its documents and reject
files, whose names carry the attempt id. Readers trust only files that a record lists, so a retried or killed task
never leaves a duplicate. `manifest.json` is written last of all and marks a complete run.
"""
from __future__ import annotations

import json
import os
import posixpath
import uuid
from datetime import datetime, timezone
from typing import Any

from curate.pipeline.errors import CurateError
from curate.pipeline.filesystems import filesystem, scheme_of, uri

RUN = "run.json"
MANIFEST = "manifest.json"
STATS = "stats.json"
BIAS = "bias.json"
DOCUMENTS = "documents"
REJECTS = "ledger/rejects"
READER = "ledger/reader"
PASSES = "ledger/passes.json"


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
    return f"stages/{stage_id}"


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

    def write_json(self, name: str, body: Any) -> None:
        """Write atomically: a reader sees the old file or the whole new one, never a part."""
        data = json.dumps(body, indent=1, sort_keys=False).encode()
        target = self.path(name)
        self.fs.makedirs(posixpath.dirname(target), exist_ok=True)
        if self.local:
            temp = f"{target}.tmp-{attempt_id()}"
            with open(temp, "wb") as f:
                f.write(data)
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

    def prepare(self, config_hash: str, listing: list[dict], resume: bool, overwrite: bool) -> bool:
        """Make the output ready for a run; True when resuming an earlier one. Refuses what would lose work."""
        started = {"config_hash": config_hash, "inputs": listing, "started": now()}
        entries = self.fs.ls(self.root, detail=False) if self.fs.exists(self.root) else []
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


def refuse_inside_input(output: str, input_paths: list[str]) -> None:
    """An output inside an input would be read back as input by the next run: refuse it."""
    out_fs, out_path = filesystem(output)
    out_path = out_path.rstrip("/")
    for spec in input_paths:
        in_fs, in_path = filesystem(spec)
        if type(in_fs) is not type(out_fs):
            continue
        root = in_path.split("*")[0].rstrip("/")
        if in_fs.isfile(root):
            root = posixpath.dirname(root)
        if out_path == root or out_path.startswith(root + "/") or root.startswith(out_path + "/"):
            raise CurateError(f"output {output!r} overlaps input {spec!r}: write the output somewhere else")
