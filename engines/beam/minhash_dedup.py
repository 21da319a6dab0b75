"""Beam plan of `minhash_dedup`: band buckets → star edges → verified edges → connected components → keep policy.

The same decisions as the Spark plan (`curate.engines.spark.minhash_dedup`), in chained Beam pipelines:

- `prepare` (before the engine's decision pipeline): one pipeline from the keys to the verified star edges, written
  as Parquet under `OUTPUT/work/components/<stage id>/round-0/`; then one pipeline per connected-components round
  (`curate.engines.beam.components`) until no vertex is unsettled. The launcher reads one count per round.
- `plan`: the last round's edges (vertex → component) joined with the keys on `uid`; per component, every member
  but the one the keep policy ranks first is a duplicate.

With `against:`, earlier runs' index rows are vertices too (one per uid, `nodes`) and win their components
(`seen_before`), as in the Spark plan; `plan` also writes this run's index (`dedup_index`).

Star edges are the Spark plan's exactly: a bucket is spread over `salts` sub-buckets by the keys' `salt` column (the
stage computes it; an earlier run's index rows get theirs from the policy), members link to their sub-bucket's
smallest uid, sub-bucket centres to the bucket's. Verification then drops some edges, so choosing other centres
could split a component differently: both engines take the salt from the keys. The functions on one group are plain
Python.
"""
from __future__ import annotations

from collections.abc import Iterable

import apache_beam as beam
import numpy as np

from curate.engines.beam import BeamJob
from curate.engines.beam.components import connected_components, read_edges, write_edges
from curate.engines.beam.dedup_index import read_earlier, write_index
from curate.filters.minhash import sketches_agree
from curate.pipeline.engine import Planned, plan
from curate.stages.dedup.minhash import ClusterPolicy, MinHashDedup


def sub_bucket_edges(uids: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """A sub-bucket's members linked to its smallest uid (centre → member)."""
    uids = list(uids)
    centre = min(uids)
    return [(centre, u) for u in uids if u != centre]


def bucket_edges(centres: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """A bucket's sub-bucket centres linked to the smallest of them (top → centre)."""
    centres = set(centres)
    top = min(centres)
    return [(top, c) for c in centres if c != top]


def _work(policy: ClusterPolicy) -> str:
    return f"work/components/{policy.stage_id}"


def _source_sketch(item):
    """(src, {edges: [dst], sketch: [a]}) → (dst, (src, a))."""
    src, grouped = item
    for sketch in grouped["sketch"]:
        for dst in grouped["edges"]:
            yield dst, (src, sketch)


def _verified(item, needed: float):
    """(dst, {edges: [(src, a)], sketch: [b]}) → (src, dst) where a and b agree enough."""
    dst, grouped = item
    for sketch in grouped["sketch"]:
        for src, other in grouped["edges"]:
            if sketches_agree(np.frombuffer(other, np.uint8), np.frombuffer(sketch, np.uint8), needed):
                yield src, dst


def _first_seen(item):
    """(uid, {new: [row], earlier: [row]}) → the uid's vertex: its earlier run's row when there is one."""
    _, grouped = item
    rows = list(grouped["earlier"]) or list(grouped["new"])
    yield rows[0]


def nodes(p, keys, policy: ClusterPolicy):
    """The plan's vertices: this run's keys with bands and, with `against:`, the earlier runs' index rows with their
    salts (one vertex per uid: a document seen again under the same id is the earlier run's)."""
    new = keys | "Has bands" >> beam.Filter(lambda row: row["bands"] is not None)
    if not policy.earlier:
        return new
    old = read_earlier(p, policy) | "Earlier salts" >> beam.Map(lambda row: {**row, "salt": policy.salt(row["uid"])})
    return ({"new": new | "New by uid" >> beam.Map(lambda r: (r["uid"], r)),
             "earlier": old | "Earlier by uid" >> beam.Map(lambda r: (r["uid"], r))}
            | "Join on uid" >> beam.CoGroupByKey()
            | "One vertex per uid" >> beam.FlatMap(_first_seen))


def _star_edges(p, policy: ClusterPolicy, job: BeamJob) -> None:
    keys = nodes(p, job.read_keys(p), policy)
    subs = (keys
            | "Band rows" >> beam.FlatMap(lambda row: [((b, row["salt"]), row["uid"]) for b in row["bands"]])
            | "Sub-buckets" >> beam.GroupByKey())
    to_centre = subs | "To sub-bucket centre" >> beam.FlatMapTuple(lambda _, uids: sub_bucket_edges(uids))
    to_top = (subs
              | "Centres" >> beam.MapTuple(lambda key, uids: (key[0], min(uids)))
              | "Buckets" >> beam.GroupByKey()
              | "To bucket top" >> beam.FlatMapTuple(lambda _, centres: bucket_edges(centres)))
    edges = (to_centre, to_top) | "Star edges" >> beam.Flatten() | "Distinct" >> beam.Distinct()
    if policy.matches_needed is not None:
        needed = policy.matches_needed
        sketches = keys | "Sketches" >> beam.Map(lambda row: (row["uid"], bytes(x & 0xFF for x in row["sketch"])))
        half = ({"edges": edges | "By source" >> beam.Map(lambda e: (e[0], e[1])), "sketch": sketches}
                | "Join source sketch" >> beam.CoGroupByKey()
                | "Source sketch" >> beam.FlatMap(_source_sketch))
        edges = ({"edges": half, "sketch": sketches}
                 | "Join destination sketch" >> beam.CoGroupByKey()
                 | "Verified" >> beam.FlatMap(_verified, needed))
    oriented = edges | "Smaller first" >> beam.FlatMapTuple(lambda a, b: [(min(a, b), max(a, b))] if a != b else [])
    write_edges(oriented, job.output, f"{_work(policy)}/round-0", _shards(job.key_files))


def _shards(key_files: list[str]) -> int:
    return max(1, len(key_files))  # one edge file per input file: the corpus's own grain


def prepare(policy: ClusterPolicy, job: BeamJob) -> list[str]:
    """Star edges, then connected-components rounds, each a pipeline of its own (`job.run`); the final labels'
    files, also recorded in `<work>/components.json` with the rounds."""
    work, output = _work(policy), job.output
    if output.exists(work):
        output.fs.rm(output.path(work), recursive=True)
    job.run(lambda p: _star_edges(p, policy, job))
    files, rounds = connected_components(output, work, _shards(job.key_files), policy.max_rounds, job.run,
                                         f"{policy.stage_id}: connected components")
    output.write_json(f"{work}/components.json", {"rounds": rounds, "labels": files})
    return files


def _members(item, columns: list[str]):
    """(uid, {component: [root], key: [row]}) → (component, the row's keep-policy columns)."""
    _, grouped = item
    for component in set(grouped["component"]):  # one when converged; none for a document without an edge
        for row in grouped["key"]:
            yield component, {name: row.get(name) for name in columns}


def _again(item):
    """(uid, {new: [row], earlier: [row]}) → a `seen_before` decision for a document an earlier run kept."""
    uid, grouped = item
    earlier = list(grouped["earlier"])
    if earlier:
        for row in grouped["new"]:
            yield {"uid": uid, "file_key": row["file_key"], "reject_reason": "seen_before", "dup_cluster": uid,
                   "dup_cluster_size": 2, "kept_uid": uid, "kept_id": earlier[0]["id"]}


@plan("beam", MinHashDedup)
def minhash_dedup(policy: ClusterPolicy, keys, job: BeamJob) -> Planned:
    labels = prepare(policy, job)  # pipelines run now, before this plan's own
    p = keys.pipeline
    components = (p
                  | "Label files" >> beam.Create([(path, job.output_uri) for path in labels])
                  | "Read labels" >> beam.FlatMap(read_edges)
                  | "Vertex and root" >> beam.FlatMapTuple(lambda vertex, root: [(vertex, root), (root, root)]))
    ranked = nodes(p, keys, policy) | "By uid" >> beam.Map(lambda row: (row["uid"], row))
    decisions = ({"component": components, "key": ranked}
                 | "Join labels" >> beam.CoGroupByKey()
                 | "Members" >> beam.FlatMap(_members, policy.member_columns())
                 | "By component" >> beam.GroupByKey()
                 | "Winners" >> beam.FlatMapTuple(lambda _, rows: policy.winners(list(rows)))
                 | "Batches" >> beam.BatchElements(max_batch_size=4096)
                 | "Keep policy" >> beam.FlatMap(policy.label))
    if policy.earlier:
        again = ({"new": keys | "Again: new by uid" >> beam.Map(lambda r: (r["uid"], r)),
                  "earlier": (read_earlier(p, policy, "Again")
                              | "Again: by uid" >> beam.Map(lambda r: (r["uid"], r)))}
                 | "Again: join" >> beam.CoGroupByKey()
                 | "Seen again" >> beam.FlatMap(_again))
        decisions = (decisions, again) | "All decisions" >> beam.Flatten()
    new = keys | "Index: has bands" >> beam.Filter(lambda row: row["bands"] is not None)
    write_index(policy, new, decisions, job, max(1, len(labels)))
    return Planned(decisions)
