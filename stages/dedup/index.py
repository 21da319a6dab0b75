"""The dedup index: what a dedup stage keeps of a run's documents so that a later run can dedup against it.

A run's `minhash_dedup` (or `exact_dedup`) writes, under `stages/<stage id>/` of its output and listed in its
manifest under `stage_outputs`, the keys of every document the stage kept — MinHash: uid, id, rank, band keys and
sketch; exact: uid, id, length, hash — as Parquet, and `index.json`, the parameters those keys depend on. A later run
names earlier outputs (or their index folders) in the stage's `against:`; their index rows join its plan as
*earlier* documents, which always win their cluster: a new document clustered with one is rejected
`<stage>:seen_before`. Earlier documents are never re-read: only these files.
"""
from __future__ import annotations

import posixpath

from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output, stage_outputs

INDEX = "index.json"


def folder(stage_id: str) -> str:
    """Where a run writes a stage's index, relative to its output."""
    return stage_outputs(stage_id)


def write_description(output: Output, stage_id: str, description: dict) -> None:
    output.write_json(f"{folder(stage_id)}/{INDEX}", description)


def earlier_files(against: list[str], stage_name: str, description: dict) -> list[tuple[str, str]]:
    """The index files of every entry of `against`, as (root URI, path under it); CurateError (one line) when an
    entry holds no index of this stage, or one built with other parameters (its keys would never match)."""
    files = []
    for entry in against:
        root = Output(entry)
        folders = _folders(root, stage_name, entry)
        for name in folders:
            if not root.exists(name, INDEX):
                raise CurateError(f"against: {entry!r} has no {stage_name} index ({posixpath.join(name, INDEX)} "
                                  "is missing)")
            found = root.read_json(name, INDEX)
            differing = sorted(k for k in description if found.get(k) != description[k])
            if differing:
                key = differing[0]
                raise CurateError(f"against: the {stage_name} index in {entry!r} was built with {key}="
                                  f"{found.get(key)!r}, this stage has {key}={description[key]!r}: its keys "
                                  "cannot match")
            files += [(entry, path) for path in root.files(name)]
    return files


def _folders(root: Output, stage_name: str, entry: str) -> list[str]:
    """An earlier run's index folders of this stage (from its manifest), or the entry itself when it is one."""
    if root.exists(MANIFEST):
        outputs = root.read_json(MANIFEST).get("stage_outputs", {})
        folders = sorted({posixpath.dirname(f) for section in outputs.values() if section["stage"] == stage_name
                          for f in section["files"] if f.endswith(INDEX)})
        if not folders:
            raise CurateError(f"against: the run in {entry!r} wrote no {stage_name} index")
        return folders
    if root.exists(INDEX):
        return ["."]
    raise CurateError(f"against: {entry!r} is neither a finished curate run ({MANIFEST}) nor an index folder "
                      f"({INDEX})")
