"""Memory and shuffle before the run: each global stage's keys, shuffle, largest group and memory per worker,
predicted from a sample of the input (`curate explain --estimate`), and the run refused when they will not fit.

The sample is a few ranges of the input (the first range of up to `SAMPLE_FILES` files, each about
`SAMPLE_BYTES / files` stored bytes, cut by the formats' own splitters as a run cuts `input.split_size`), read and run
through the map stages of every pass in this process; before each global stage its `keys` are taken, as the pass
before its plan takes them. The sample's documents stand for the input's in the ratio of their stored bytes
(`KeySample.scale`). A global stage's decisions are not applied to the sample (every row goes on to the next pass): a
later stage's figures are an upper bound.

Each global stage predicts its own figures from its keys (`GlobalStage.estimate` → `Estimate`): the framework names
no stage. It knows only the engine's resources (`Resources`: tasks per worker, shuffle partitions, memory per
worker), from `engine.memory_per_worker` or, when unset, from the engine's own settings (`Engine.resources`, where an
engine has it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.chain import StageCounts, split
from curate.pipeline.config import PipelineConfig
from curate.pipeline.engine import engine
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import InputFile, Unsplittable, has_pages, read
from curate.pipeline.inputs import split as ranges_of
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.passes import Decisions, Pipeline
from curate.pipeline.schema import REJECT

SAMPLE_BYTES = 8 << 20  # stored input bytes the sample reads: a few thousand documents of text, a few hundred pages
SAMPLE_FILES = 8  # files the sample reads a range of: a corpus sorted by file (one domain a file) is seen in several


class MemoryExceeded(CurateError):
    """A run whose estimate exceeds the memory a worker has: refused before anything is written (exit 2)."""

    status = 2


@dataclass(frozen=True)
class Resources:
    """What an engine gives a plan: tasks run at once by one worker, tasks of a shuffle, the memory of one worker that
    plans may use (bytes; None: not known), and the least an operator that holds rows takes (a sort, an aggregation's
    hash table: Spark's page), however few rows it holds."""

    tasks_per_worker: int
    partitions: int
    memory_per_worker: int | None
    memory_from: str  # the setting that gave the memory (shown with the figure)
    buffer_bytes: int = 0


@dataclass(frozen=True)
class KeySample:
    """What a global stage's estimate is made from: its keys over the sample, how many input documents each sampled
    one stands for, and the engine's resources."""

    keys: pa.Table
    scale: float
    resources: Resources

    @property
    def documents(self) -> int:
        """Keyed documents in the whole input."""
        return round(self.keys.num_rows * self.scale)

    @property
    def key_bytes(self) -> int:
        """The keys of the whole input, as Arrow holds them (the sample's keys' own size, scaled)."""
        return round(self.keys.nbytes * self.scale)

    def scaled(self, count: float) -> int:
        return round(count * self.scale)

    def largest(self, counts: pa.Array | list[int]) -> int:
        """The largest group in the whole input, from the sizes of the sample's groups: a group seen `c` >= 2 times
        stands for `c x scale` members (its share of the corpus); a group seen once, for itself (a group smaller than
        `scale` members is not seen twice in the sample)."""
        most = pc.max(pa.array(counts, pa.int64())).as_py() if len(counts) else 0
        return 0 if not most else 1 if most == 1 else round(most * self.scale)

    def held(self, shuffle_bytes: float, largest_bytes: float) -> int:
        """Bytes one task holds at once: its share of the shuffle, or the whole largest group when that is larger
        (every row of one key lands on one task)."""
        return round(max(shuffle_bytes / max(1, self.resources.partitions), largest_bytes))


@dataclass(frozen=True)
class Estimate:
    """One global stage's prediction for the whole input. `held_bytes`: what one task of its plan holds at once (its
    largest group, or its share of the largest shuffle); `bounds`: the parameters that bound the figures, with their
    values; `suggestion`: what to change when the memory does not fit."""

    documents: int
    key_bytes: int
    shuffle_bytes: int
    largest_group: int
    held_bytes: int
    rounds: int = 1
    buffers: int = 1  # operators of one task of the plan that hold rows at once (sorts, aggregations, windows)
    bounds: dict[str, Any] = field(default_factory=dict)
    suggestion: str = ""
    # set by the framework: (buffers x the engine's least buffer + held_bytes) x the engine's tasks per worker
    memory_per_worker: int = 0

    def to_json(self) -> dict:
        return {"documents": self.documents, "key_bytes": self.key_bytes, "shuffle_bytes": self.shuffle_bytes,
                "largest_group": self.largest_group, "held_bytes": self.held_bytes, "rounds": self.rounds, "buffers": self.buffers,
                "memory_per_worker": self.memory_per_worker, "bounds": self.bounds}


@dataclass
class Estimates:
    """Every global stage's estimate over one input (None: the stage declares none), and the sample behind them."""

    stages: dict[str, Estimate | None]
    names: dict[str, str]
    resources: Resources
    sampled_documents: int
    sampled_bytes: int
    input_bytes: int
    scale: float

    def to_json(self) -> dict:
        return {"sampled_documents": self.sampled_documents, "sampled_bytes": self.sampled_bytes,
                "input_bytes": self.input_bytes, "scale": self.scale,
                "memory_per_worker": self.resources.memory_per_worker,
                "tasks_per_worker": self.resources.tasks_per_worker, "partitions": self.resources.partitions,
                "stages": {k: (v.to_json() if v else None) for k, v in self.stages.items()}}

    def lines(self) -> list[str]:
        r = self.resources
        memory = f"{size(r.memory_per_worker)} per worker ({r.memory_from})" if r.memory_per_worker else \
            f"no memory per worker known ({r.memory_from})"
        out = [f"estimate from {self.sampled_documents:,} documents ({size(self.sampled_bytes)} of "
               f"{size(self.input_bytes)} stored, x{self.scale:,.1f}); {r.tasks_per_worker} task(s) per worker, "
               f"{r.partitions} shuffle partitions, {memory}"]
        for stage_id, e in self.stages.items():
            label = stage_id if stage_id == self.names[stage_id] else f"{stage_id} ({self.names[stage_id]})"
            if e is None:
                out.append(f"  {label:<15} no estimate (the stage declares none: GlobalStage.estimate)")
                continue
            bounds = ", ".join(f"{k} {v}" for k, v in e.bounds.items())
            out.append(f"  {label:<15} {e.documents:,} documents; keys {size(e.key_bytes)}; shuffle "
                       f"{size(e.shuffle_bytes)}; largest group {e.largest_group:,} rows; held per task "
                       f"{size(e.held_bytes)}; memory per worker {size(e.memory_per_worker)}; rounds {e.rounds}"
                       + (f"; bounded by {bounds}" if bounds else ""))
        return out

    def refusal(self) -> str | None:
        """One line when a stage's memory per worker exceeds the worker's memory, with what to change; else None."""
        r = self.resources
        if r.memory_per_worker is None:
            return None
        for stage_id, e in self.stages.items():
            if e is not None and e.memory_per_worker > r.memory_per_worker:
                floor = e.buffers * r.buffer_bytes
                change = e.suggestion or "give workers more memory"
                if floor >= e.held_bytes:  # the engine's least memory per operator, not the data, fills it
                    change = (f"its {e.buffers} buffer(s) a task take {size(floor)} however little they hold, and a "
                              f"worker runs {r.tasks_per_worker} tasks at once: run fewer tasks per worker")
                return (f"{stage_id} needs about {size(e.memory_per_worker)} per worker, more than the "
                        f"{size(r.memory_per_worker)} of {r.memory_from}: {change} (or give workers more memory; "
                        "`curate explain --estimate` shows every stage)")
        return None


def size(count: float | None) -> str:
    """Bytes as a short figure: 812 B, 3.4 MiB, 1.2 GiB."""
    if count is None:
        return "?"
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count:.0f} B"


def resources(config: PipelineConfig) -> Resources:
    """The engine's resources for a plan: its own (`Engine.resources(settings)`, where it has one), with
    `engine.memory_per_worker` taking the place of the memory it reports."""
    settings = config.engine
    own = getattr(engine(settings.name), "resources", None)
    cores = os.cpu_count() or 1
    found = own(settings) if own is not None else Resources(1, cores, None, f"{settings.name} states none")
    if settings.memory_per_worker is not None:
        found = replace(found, memory_per_worker=settings.memory_per_worker, memory_from="engine.memory_per_worker")
    return found


def sample_tasks(inputs: list[InputFile], budget: int = SAMPLE_BYTES) -> list[InputFile]:
    """The first range of up to `SAMPLE_FILES` files spread over the input, about `budget` stored bytes in all; a
    file its format cannot cut is read whole."""
    if not inputs:
        return []
    step = max(1, len(inputs) / SAMPLE_FILES)
    chosen = [inputs[int(i * step)] for i in range(min(SAMPLE_FILES, len(inputs)))]
    each = max(budget // len(chosen), 4096)
    out = []
    for file in chosen:
        try:
            parts = ranges_of(file, each) if file.size > each else []
        except Unsplittable:
            parts = []
        out.append(replace(file, part=parts[0]) if parts else file)
    return out


def key_samples(pipeline: Pipeline, tasks: list[InputFile], budget: int) -> tuple[dict[str, pa.Table], int, int]:
    """Each global stage's keys over the sampled tasks (by stage id), the documents read and their stored bytes. A
    file its format cannot cut is read up to its share of `budget` where its reader counts the bytes as it reads (a
    stream); every row a global stage keys goes on to the next pass (its decisions are the plan's, not the
    sample's)."""
    config = pipeline.config
    found: dict[str, list[pa.RecordBatch]] = {}
    documents = stored = 0
    for task in tasks:
        ledger, batches = ReaderLedger(task.rel), []
        for batch in read(task, config.input, ledger):
            batches.append(batch)
            if task.part is None and 0 < ledger.bytes_read < task.stored_size and \
                    ledger.bytes_read >= budget // len(tasks):
                break
        else:
            ledger.bytes_read = task.stored_size  # read whole
        documents += sum(b.num_rows for b in batches)
        stored += ledger.bytes_read
        for step in pipeline.passes:
            # undecided: every row kept, with the defaults of the columns the global stage adds
            applied = Decisions.load(step.applies.stage, None, []) if step.applies is not None else None
            kept_batches = []
            for batch in batches:
                kept, _ = split(batch)
                if applied is not None and kept.num_rows:
                    kept, _ = split(applied.apply(kept))
                for bound in step.maps:
                    if kept.num_rows == 0:
                        break
                    if not has_pages(task.format) and bound.stage.needs_page():
                        continue
                    kept, _ = split(bound.run(kept, StageCounts(bound.id)))
                if step.feeds is not None and kept.num_rows:
                    kept, _, keys = step.feeds.keys(kept, StageCounts(step.feeds.id))
                    if keys is not None:
                        found.setdefault(step.feeds.id, []).append(
                            keys.append_column("file_key", pa.array([task.key] * keys.num_rows, pa.string())))
                kept_batches.append(kept.append_column(REJECT, pa.nulls(kept.num_rows, pa.string())))
            batches = kept_batches
    tables = {stage_id: pa.Table.from_batches(parts) for stage_id, parts in found.items()}
    return tables, documents, stored


def estimate(pipeline: Pipeline, inputs: list[InputFile], budget: int = SAMPLE_BYTES) -> Estimates:
    """Every global stage's estimate over `inputs` (the run's files) from a sample of about `budget` stored bytes."""
    config = pipeline.config
    found = resources(config)
    tasks = sample_tasks(inputs, budget)
    keys, documents, stored = key_samples(pipeline, tasks, budget)
    total = sum(f.stored_size for f in inputs)
    scale = total / stored if stored else 1.0
    stages, names = {}, {}
    for step in pipeline.passes:
        if step.feeds is None:
            continue
        stage = step.feeds.stage
        names[stage.id] = stage.name
        table = keys.get(stage.id)
        if table is None:
            table = stage.key_schema().append(pa.field("file_key", pa.string())).empty_table()
        made = stage.estimate(KeySample(table, scale, found))
        if made is not None:
            task = made.buffers * found.buffer_bytes + made.held_bytes
            made = replace(made, memory_per_worker=task * found.tasks_per_worker)
        stages[stage.id] = made
    return Estimates(stages, names, found, documents, stored, total, scale)


def refuse_exceeding(pipeline: Pipeline, inputs: list[InputFile]) -> None:
    """Before a run writes anything: with `engine.memory_per_worker` set, a MemoryExceeded in one line when a global
    stage's estimate needs more per worker (unset: no sample is read, the run is not checked)."""
    if pipeline.config.engine.memory_per_worker is None or len(pipeline.passes) < 2:
        return
    refusal = estimate(pipeline, inputs).refusal()
    if refusal is not None:
        raise MemoryExceeded(refusal)
