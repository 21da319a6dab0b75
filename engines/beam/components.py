"""Connected components of an edge list on Beam: large-star / small-star, one chained pipeline per round.

The algorithm is the Spark plan's (`curate.engines.spark.components`; Kiveris et al. 2014): with vertices ordered
(binary uids; Python compares bytes as unsigned, like Spark), **large-star** links each vertex's larger neighbours to
the smallest of its neighbourhood, **small-star** links a vertex and its smaller neighbours to the smallest of them.
Alternating them reaches a star forest, every vertex pointing at its component's minimum: the fixed point of both
steps, so convergence is a count of *unsettled* vertices (two parents, or a parent that has one).

Each round is its own pipeline: the previous round's edges (Parquet under the run's `work/` area) | both directions
| GroupByKey | large-star | GroupByKey | small-star | shard by source vertex | GroupByKey | write this round's edges,
and the unsettled count as a one-line JSON. The launcher reads only that count, so a round's graph is one round long
however many rounds run. The functions on one group (`large_star`, `small_star`, `roles`, `unsettled`) are plain
Python, tested against union-find without an engine.
"""
from __future__ import annotations

import posixpath
from collections import Counter
from collections.abc import Callable, Iterable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline.errors import CurateError
from curate.pipeline.output import Output

Edge = tuple[bytes, bytes]
EDGES = pa.schema([pa.field("src", pa.binary()), pa.field("dst", pa.binary())])


def large_star(u: bytes, neighbours: Iterable[bytes]) -> list[Edge]:
    """u's larger neighbours, each linked to the smallest of u and its neighbours."""
    neighbours = set(neighbours)
    m = min(min(neighbours), u)
    return [(v, m) for v in neighbours if v > u]


def small_star(u: bytes, parents: Iterable[bytes]) -> list[Edge]:
    """u and its (smaller) parents, each linked to the smallest parent; edges stay oriented larger → smaller."""
    parents = set(parents)
    m = min(parents)
    return [(d, m) for d in parents if d != m] + [(u, m)]


def roles(edges: Iterable[Edge]) -> list[tuple[bytes, tuple[int, int]]]:
    """(vertex, (children, is a parent)) for the vertices of distinct edges, all edges of a source included."""
    edges = list(edges)
    children = Counter(src for src, _ in edges)
    return [(src, (n, 0)) for src, n in children.items()] + [(dst, (0, 1)) for dst in {dst for _, dst in edges}]


def unsettled(children: int, parent: int) -> bool:
    """A vertex keeps the edges from being a star forest: it has two parents, or a parent and a child."""
    return children > 1 or (children > 0 and parent > 0)


def shard_of(vertex: bytes, shards: int) -> int:
    """A vertex's edge file; uids are hashes already, so their first bytes spread evenly."""
    return int.from_bytes(vertex[:8], "big") % shards


def read_edges(path_and_root: tuple[str, str]):
    path, root = path_and_root
    output = Output(root)
    with output.fs.open(output.path(path), "rb") as f:
        table = pq.read_table(f)
    yield from zip(table.column("src").to_pylist(), table.column("dst").to_pylist())


class WriteEdges(beam.DoFn):
    """One shard's distinct edges as `<directory>/part-<shard>.parquet` (a retry rewrites the same file); yields
    the roles of their vertices. Every edge of a source vertex is in its shard, so its child count is whole."""

    def __init__(self, output_uri: str, directory: str):
        self.output_uri, self.directory = output_uri, directory

    def process(self, item):
        shard, edges = item
        edges = sorted(set(edges))
        table = pa.table({"src": [e[0] for e in edges], "dst": [e[1] for e in edges]}, schema=EDGES)
        with Output(self.output_uri).open_write(f"{self.directory}/part-{shard:05d}.parquet") as f:
            pq.write_table(table, f)
        yield from roles(edges)


class _SumPairs(beam.CombineFn):
    def create_accumulator(self):
        return (0, 0)

    def add_input(self, acc, pair):
        return (acc[0] + pair[0], acc[1] + pair[1])

    def merge_accumulators(self, accs):
        return (sum(a[0] for a in accs), sum(a[1] for a in accs))

    def extract_output(self, acc):
        return acc


def write_edges(edges, output: Output, directory: str, shards: int):
    """`edges` (src, dst) written as distinct Parquet shards under `directory`; returns the vertices' roles."""
    return (edges
            | "By source shard" >> beam.Map(lambda e: (shard_of(e[0], shards), e))
            | "Group shard" >> beam.GroupByKey()
            | "Write edges" >> beam.ParDo(WriteEdges(output.uri, directory)))


def edge_files(output: Output, directory: str) -> list[str]:
    """The Parquet files of a round, relative to the output root."""
    if not output.exists(directory):
        return []
    return sorted(posixpath.relpath(p, output.root) for p in output.fs.find(output.path(directory))
                  if p.endswith(".parquet"))


def _round(p, output: Output, previous: str, directory: str, shards: int) -> None:
    files = [(path, output.uri) for path in edge_files(output, previous)]
    edges = (p
             | "Edge files" >> beam.Create(files)
             | "Read edges" >> beam.FlatMap(read_edges)
             | "Both directions" >> beam.FlatMap(lambda e: [e, (e[1], e[0])])
             | "Neighbours" >> beam.GroupByKey()
             | "Large-star" >> beam.FlatMapTuple(large_star)
             | "Parents" >> beam.GroupByKey()
             | "Small-star" >> beam.FlatMapTuple(small_star))
    _ = (write_edges(edges, output, directory, shards)
         | "Roles per vertex" >> beam.CombinePerKey(_SumPairs())
         | "Unsettled" >> beam.Filter(lambda kv: unsettled(*kv[1]))
         | "Count" >> beam.combiners.Count.Globally()
         | "Write count" >> beam.Map(lambda n: Output(output.uri).write_json(f"{directory}/unsettled.json",
                                                                             {"unsettled": n})))


def connected_components(output: Output, work: str, shards: int, max_rounds: int,
                         run: Callable[[Callable[[beam.Pipeline], None]], None],
                         what: str = "connected components") -> tuple[list[str], int]:
    """The edges in `<work>/round-0/` (src, dst; any orientation, no self-loops) → the Parquet files of the final
    round, whose edges (vertex, component) link every vertex but a component's minimum to it, and the number of
    rounds run. `run(build)` runs one pipeline. Raises CurateError after `max_rounds`."""
    previous = f"{work}/round-0"
    if not edge_files(output, previous):
        return [], 0
    for round_ in range(1, max_rounds + 1):
        directory = f"{work}/round-{round_}"
        run(lambda p: _round(p, output, previous, directory, shards))
        moving = output.read_json(f"{directory}/unsettled.json")["unsettled"]
        if moving == 0:
            return edge_files(output, directory), round_
        previous = directory
    raise CurateError(f"{what} did not converge in {max_rounds} rounds ({moving} vertices still moving): "
                      "raise max_rounds")
