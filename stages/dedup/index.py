"""The dedup index: what a dedup stage keeps of a run's documents so that a later run can dedup against it.

A run's `minhash_dedup` (or `exact_dedup`) writes, under `stages/<stage id>/` of its output and listed in its
manifest under `stage_outputs`, the keys of every document the stage kept — MinHash: uid, id, rank, band keys and
sketch; exact: uid, id, length, hash — as Parquet, and `index.json`: the parameters those keys depend on and every
Parquet file with its size and XXH3-128 hash. `index.json` is written last, atomically, once the files are whole, so
an index is all or nothing: a folder without it (a run killed while writing) is no index, and a later run reads only
the files it lists, refusing the index when one is missing or differs. A later run names earlier outputs (or their
index folders) in the stage's `against:`; their index rows join its plan as *earlier* documents, which always win
their cluster: a new document clustered with one is rejected `<stage>:seen_before`. Earlier documents are never
re-read: only these files.
"""
from __future__ import annotations

import posixpath
from typing import Any

import xxhash

from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output

INDEX = "index.json"
_CHUNK = 1 << 22


def write_description(output: Output, where: str, description: dict) -> None:
    """`index.json` in `where` (the stage's folder), once the index's Parquet files there are whole: the description
    and each file (its path under the folder, bytes, XXH3-128), written atomically. Call it after the last file is
    written, never before."""
    files = [{"path": posixpath.relpath(path, where), "bytes": output.fs.size(output.path(path)),
              "xxh3_128": _digest(output, path)} for path in output.files(where)]
    output.write_json(f"{where}/{INDEX}", {**description, "files": files})


def earlier_files(against: list[str], stage_name: str, description: dict,
                  hashes: bool = True) -> list[tuple[str, str]]:
    """The index files of every entry of `against`, as (root URI, path under it); CurateError (one line) when an
    entry holds no index of this stage, one built with other parameters (its keys would never match), or one that is
    not whole: a listed file missing or of another size, or (`hashes`) of other bytes than `index.json` recorded."""
    files = []
    for entry in against:
        root = Output(entry)
        for name in _folders(root, stage_name, entry):
            if not root.exists(name, INDEX):
                raise CurateError(f"against: {entry!r} has no {stage_name} index ({posixpath.join(name, INDEX)} "
                                  "is missing)")
            found = _read_json(root, posixpath.join(name, INDEX), entry, "an index description")
            differing = sorted(k for k in description if found.get(k) != description[k])
            if differing:
                key = differing[0]
                raise CurateError(f"against: the {stage_name} index in {entry!r} was built with {key}="
                                  f"{found.get(key)!r}, this stage has {key}={description[key]!r}: its keys "
                                  "cannot match")
            files += [(entry, path) for path in _whole(root, name, found, f"the {stage_name} index in {entry!r}",
                                                       hashes)]
    return files


def _whole(root: Output, name: str, found: dict, what: str, hashes: bool) -> list[str]:
    """The paths (under the root) of the files `index.json` lists, each checked against its size and hash."""
    listed = found.get("files")
    if not isinstance(listed, list) or not all(isinstance(f, dict) and {"path", "bytes", "xxh3_128"} <= f.keys()
                                               for f in listed):
        raise CurateError(f"against: {what}: {posixpath.join(name, INDEX)} lists no files (an index written before "
                          "curate listed them, or not by curate): run that run again to rebuild it")
    paths = []
    for file in listed:
        path = posixpath.normpath(posixpath.join(name, str(file["path"])))
        problem = None
        if path.startswith(("../", "/")) or path == "..":
            problem = "lies outside the index folder"
        elif not root.exists(path):
            problem = "is missing"
        elif (size := root.fs.size(root.path(path))) != file["bytes"]:
            problem = f"has {size} bytes, index.json says {file['bytes']}"
        elif hashes and _digest(root, path) != file["xxh3_128"]:
            problem = "differs from the file index.json describes (its XXH3-128 hash)"
        if problem:
            count = f"{len(listed)} file{'s' if len(listed) != 1 else ''}"
            raise CurateError(f"against: {what} is not whole: {file['path']} {problem} (index.json lists {count}); "
                              "run that run again to rebuild it")
        paths.append(path)
    return paths


def _digest(output: Output, path: str) -> str:
    hasher = xxhash.xxh3_128()
    with output.fs.open(output.path(path), "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _read_json(root: Output, path: str, entry: str, what: str) -> Any:
    """A JSON file of an earlier run; one line naming the file and the cause when it cannot be read."""
    try:
        found = root.read_json(path)
    except (OSError, ValueError) as error:  # ValueError: not JSON, or not UTF-8
        cause = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise CurateError(f"against: {root.uri_of(path)} is not {what} ({cause})") from None
    if not isinstance(found, dict):
        raise CurateError(f"against: {root.uri_of(path)} is not {what} (a {type(found).__name__}, not a mapping)")
    return found


def _folders(root: Output, stage_name: str, entry: str) -> list[str]:
    """An earlier run's index folders of this stage (from its manifest), or the entry itself when it is one."""
    if root.exists(MANIFEST):
        outputs = _read_json(root, MANIFEST, entry, "a run's manifest").get("stage_outputs", {})
        try:
            folders = sorted({posixpath.dirname(f) for section in outputs.values() if section["stage"] == stage_name
                              for f in section["files"] if f.endswith(INDEX)})
        except (AttributeError, KeyError, TypeError) as error:
            raise CurateError(f"against: {root.uri_of(MANIFEST)} is not a run's manifest (its stage_outputs: "
                              f"{type(error).__name__})") from None
        if not folders:
            raise CurateError(f"against: the run in {entry!r} wrote no {stage_name} index")
        return folders
    if root.exists(INDEX):
        return ["."]
    raise CurateError(f"against: {entry!r} is neither a finished curate run ({MANIFEST}) nor an index folder "
                      f"({INDEX})")


