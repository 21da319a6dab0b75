"""The Stage API: a map stage is a pure core on Arrow batches that declares the columns it reads and writes.

A stage's `process(batch)` returns the batch with the columns it adds and a nullable `reject_reason` column
(null = kept, else `<rule>[:detail]`). The framework prefixes reasons with the stage id, feeds a stage only rows still
kept, and turns a row that makes the stage raise into a `<stage>:error:<Exception>` reject.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from curate.pipeline.schema import REJECT

if TYPE_CHECKING:
    from curate.pipeline.estimate import Estimate, KeySample
    from curate.pipeline.output import Folder, Output
    from curate.pipeline.sections import Report


class Params(BaseModel):
    """Base of every stage's parameters: unknown keys are errors, values are validated by type."""

    # no inf/NaN: YAML leaves `1e309` a string, which pydantic would otherwise read as inf
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Stage:
    """Base of map stages. Subclasses set `name` and `Params`, declare `requires()`, `adds()` and `modifies()` (methods:
    what a stage reads and writes may depend on its parameters), and implement `process`."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    # Parameters naming local files the stage reads (a path or a list of paths; `list.field` for a field of each
    # item of a list, `block.field` for a field of a block), that must exist before anything runs. Relative in a
    # pipeline file: to that file's folder.
    files: ClassVar[tuple[str, ...]] = ()
    # Parameters naming folders the stage writes (a cache): relative to the pipeline file's folder, like every path.
    outputs: ClassVar[tuple[str, ...]] = ()
    # What the stage makes for the stages after it, by name (checked before the run, like columns): a global stage's
    # plan result (balance: `mixture`), a collector's files (the token shards: `shards`, the folder the framework
    # gives the collector, see `collector`) and what its `result` returns.
    publishes: ClassVar[tuple[str, ...]] = ()
    # What the stage needs that others publish: a config error when no stage before it publishes one. It is handed
    # to `result`, with the rest of the run's published values.
    consumes: ClassVar[tuple[str, ...]] = ()
    # The run report's part for this stage's family (pipeline/sections.py: an HTML section, console lines); stages of
    # one family name the same `Report` and get one part between them.
    report: ClassVar[Report | None] = None
    # CPU spent in helper processes (an extraction sandbox) so far; the framework adds its growth to the stage's time.
    subprocess_cpu_seconds: float = 0.0

    def __init__(self, params: Params, stage_id: str | None = None):
        self.params = params
        self.id = stage_id or self.name

    def requires(self) -> tuple[str, ...]:
        """The columns this stage reads, given its parameters: a config error when nothing before it provides one."""
        return ("text",)

    def adds(self) -> dict[str, pa.DataType]:
        """The typed columns this stage adds, given its parameters."""
        return {}

    def modifies(self) -> tuple[str, ...]:
        """The existing columns this stage rewrites in place, given its parameters."""
        return ()

    def needs_page(self) -> bool:
        """Whether the stage has nothing to do on a record without a page: a text input's (JSONL, Parquet, WET), which
        then goes past it with its text as read. By default, extraction: a stage that reads `html` to add `text`."""
        return "html" in self.requires() and "text" in self.adds()

    def setup(self) -> None:
        """Load heavy state (models, indexes) once per worker, before the first batch."""

    def check_files(self) -> None:
        """When the run is planned, on the driver, before an engine starts or any output exists, once the files in
        `files` exist: that they hold what `setup` will load (a model that loads and predicts, a whole dedup index).
        Read with bounds, so that no file can hang it; a CurateError in one line otherwise."""

    # ---- corpus-level results: optional hooks, each a no-op here ----------------------------------------------

    def collector(self, folder: Folder, tag: str) -> Collector | None:
        """The per-file side of this stage's corpus-level result (a report over every document, token shards), made
        for each input file in each pass; None (the default) when the stage has none. The framework owns `folder`:
        the output's folder named by what the stage publishes first (`shards`), else `stages/<id>`, and the run
        deletes from it what failed or killed attempts left. `tag` is unique to the task's attempt: files a collector
        writes carry it in their names."""
        return None

    def result(self, partials: list[Any], output: Output, run: Facts) -> dict[str, Any]:
        """Once every file is committed: the manifest sections of this stage's corpus-level result, from the partials
        its collectors returned (every file, every pass). It may write files into `output` (named in the sections).
        `run`: the run's stage ids and what its stages published (those in `consumes` are there)."""
        return {}

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        raise NotImplementedError


class Collector:
    """Collects one stage's partial result over one input file in one pass. It sees every row that leaves the run in
    that task after the stage ran on it: rows rejected by any later stage (`rejected`), and in the last pass the rows
    kept at the end (`kept`, which may take columns out of them: the token shards take `tokens`). Rows the stage never
    saw reach it too, without its columns; a collector skips them."""

    def rejected(self, rows: pa.RecordBatch) -> None:
        """Rows rejected in this task (their `reject_reason` set)."""

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        """Rows kept at the end of the run (last pass only); returns what goes on to `documents/`."""
        return rows

    def close(self) -> Partial:
        return Partial(None)


@dataclass(frozen=True)
class Published:
    """A value a stage published for the others (`Stage.publishes`): the stage's id and the value (its plan's result
    for a global stage, its `result` for another)."""

    stage: str
    value: Any


@dataclass(frozen=True)
class Facts:
    """What a stage's `result` is told of the run: the stage ids in pipeline order, and what the stages published,
    by name (every plan's result, and the results of the stages before it; where two publish a name, the later)."""

    stage_ids: tuple[str, ...]
    published: dict[str, Published]


@dataclass
class Partial:
    """What a collector hands to the file's commit record: a JSON value for `Stage.result`, and the files it wrote
    (committed with the pass, kept by the run's clean-up)."""

    value: Any
    files: list[str] = field(default_factory=list)


def map_paths(values: dict[str, Any], names: tuple[str, ...],
              change: Callable[[str, str], str]) -> dict[str, Any]:
    """`values` (a stage's entry, or its Params dumped) with every path the parameters `names` hold (`Stage.files`,
    `Stage.outputs`) replaced by `change(where, path)`, `where` naming it as `param`, `param[i]` or `param[i].field`.
    Values of another shape are left for validation to refuse."""
    values = dict(values)
    for name in names:
        head, _, field = name.partition(".")
        value = values.get(head)
        if field and isinstance(value, list):
            values[head] = [{**item, field: change(f"{head}[{i}].{field}", item[field])}
                            if isinstance(item, dict) and isinstance(item.get(field), str) else item
                            for i, item in enumerate(value)]
        elif field and isinstance(value, dict):  # a block of parameters (balance's repeats)
            if isinstance(value.get(field), str):
                values[head] = {**value, field: change(f"{head}.{field}", value[field])}
        elif isinstance(value, str):
            values[head] = change(head, value)
        elif isinstance(value, list):
            values[head] = [change(f"{head}[{i}]", v) if isinstance(v, str) else v for i, v in enumerate(value)]
    return values


def paths_of(values: dict[str, Any], names: tuple[str, ...]) -> list[tuple[str, str]]:
    """The paths the parameters `names` hold in `values`, as (where, path); empty ones left out."""
    found: list[tuple[str, str]] = []
    map_paths(values, names, lambda where, path: found.append((where, path)) or path)
    return [(where, path) for where, path in found if path]


def emit(batch: pa.RecordBatch, reasons: Sequence[str | None] | pa.Array, **columns: Any) -> pa.RecordBatch:
    """The stage output: `batch` with `columns` added or replaced, and the reject reasons (None = kept)."""
    out = batch
    for name, values in columns.items():
        array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        index = out.schema.get_field_index(name)
        out = out.set_column(index, name, array) if index >= 0 else out.append_column(name, array)
    reasons = reasons if isinstance(reasons, pa.Array) else pa.array(reasons, pa.string())
    return out.append_column(REJECT, reasons)


class GlobalStage(Stage):
    """A stage that decides over the whole corpus (dedup clustering, balancing), between two passes of a run.

    Its pure core is split in two. `keys(batch)` runs inside the per-file task of the pass before it and returns the
    small columns the decision needs (never text): `uid` plus stage-specific keys such as band hashes or a domain.
    The engine then runs the stage's plan (one per engine, in the engine's own operators) over all files' keys and
    produces a decision table keyed by `uid`: a `reject_reason` (null = kept) and the stage's added columns. Rows
    absent from the table are kept, with the `defaults()` of the added columns.

    The plan decides with `policy()`: the stage's pure decision as a small typed object (a keep order, a radix
    selection), never the stage's `params`. What the plan reports (its result: a JSON value, or None) goes into the
    manifest under `plans.<id>`, and the framework hands it back as `planned` on the driver before any stage's
    `result` runs. A result other stages build on is named in `publishes` (balance publishes the `mixture` the token
    shards weigh their domains by); the others get it by that name (`Published`), never by a stage's name.
    """

    planned: Any = None  # the result of this stage's plan in the run (set on the driver once the plan has run)

    def policy(self) -> Any:
        """The pure decision the stage's plans take (a frozen dataclass: Beam pickles it to its workers)."""
        raise NotImplementedError

    def key_schema(self) -> pa.Schema:
        """The schema `keys` returns (`uid` first)."""
        raise NotImplementedError

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        raise NotImplementedError

    def defaults(self) -> dict[str, Any]:
        """The value of each added column for a document the decision table does not name."""
        return {name: None for name in self.adds()}

    def revise(self, batch: pa.RecordBatch, reasons: pa.Array) -> tuple[pa.RecordBatch, pa.Array]:
        """In the pass after the plan, per file: `batch` with the decided columns and `reasons` (null = kept, not yet
        prefixed with the stage id). A stage whose decision changes documents (cuts repeated paragraphs) rewrites them
        here, and may reject more rows; the default changes nothing."""
        return batch, reasons

    def estimate(self, sample: KeySample) -> Estimate | None:
        """Before the run (`curate explain --estimate`): the plan's key bytes, shuffle bytes, largest group and what
        one task holds, predicted from the stage's keys over a sample of the input (`curate.pipeline.estimate`), with
        the parameters that bound them. None (the default): the stage declares no estimate, and the run is not
        checked against the workers' memory for it."""
        return None

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        raise TypeError(f"{self.name} is a global stage: the engine runs it between passes")
