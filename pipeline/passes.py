"""Per-file passes, engine-neutral: what one task does to one input file, written and committed by that task.

A pipeline is cut at its global stages into passes. Pass 0 reads the input file; between pass k-1 and pass k the
engine runs global stage k's plan over every file's keys; pass k > 0 reads the rows pass k-1 kept for that file,
applies the decisions of global stage k (a join on `uid`), and runs the map stages up to the next global stage. A
pass followed by a global stage writes its kept rows to `work/` and that stage's keys beside them; the last pass
writes `documents/`. Every pass writes its rejects to `ledger/rejects/`, hands the rows leaving the run to the stages'
collectors (`Stage.collector`), and commits last, with a record listing the attempt-unique files it wrote and the
collectors' partial results. Spark and Beam both call `run_pass`.
"""
from __future__ import annotations

import json
import posixpath
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline import inflight
from curate.pipeline.chain import BoundStage, StageCounts, split
from curate.pipeline.config import PipelineConfig, parse
from curate.pipeline.inputs import InputFile, has_pages, read
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.output import DOCUMENTS, REJECTS, Folder, Output, attempt_id, collector_folder, pass_record
from curate.pipeline.schema import LINEAGE, REJECT, REJECTS as REJECTS_SCHEMA
from curate.pipeline.stage import GlobalStage

WORKER_PIPELINES = 4  # pipelines a worker process keeps built (a long-lived worker serves several runs: tests do)


@dataclass(frozen=True)
class Pass:
    """One pass: the global stage whose decisions it applies first (none for pass 0), its map stages, and the
    global stage whose keys it writes (none for the last pass)."""

    index: int
    applies: BoundStage | None
    maps: tuple[BoundStage, ...]
    feeds: BoundStage | None
    keeps_html: bool = False  # a later stage still needs the page (e.g. extraction after URL dedup)
    html_last: int = -1  # the last of `maps` that reads the page: after it this pass drops `html` (-1: none does)

    @property
    def last(self) -> bool:
        return self.feeds is None


class Pipeline:
    """A run's pipeline, built once per process (the driver's, and each worker's): its config, each stage built once
    with its error policy (a stage loads its models once per worker, at its first batch), and the passes it is cut
    into at its global stages."""

    def __init__(self, config: PipelineConfig):
        self.config = config
        self.stages = [BoundStage.of(spec) for spec in config.stages]
        self.passes = _cut(self.stages)


def _cut(stages: list[BoundStage]) -> list[Pass]:
    """The stages cut at their global stages; each pass knows whether a stage after it still reads `html`."""
    cut, applies, maps = [], None, []
    for bound in stages:
        if isinstance(bound.stage, GlobalStage):
            cut.append((applies, tuple(maps), bound))
            applies, maps = bound, []
        else:
            maps.append(bound)
    cut.append((applies, tuple(maps), None))
    needs = [bound.stage.requires() for bound in stages]
    needs_html = [any("html" in n for n in needs[i:]) for i in range(len(needs) + 1)]
    out, position = [], 0
    for index, (applies, maps, feeds) in enumerate(cut):
        position += len(maps) + (1 if feeds is not None else 0)
        readers = [i for i, bound in enumerate(maps) if "html" in bound.stage.requires()]
        out.append(Pass(index, applies, maps, feeds, keeps_html=needs_html[position],
                        html_last=len(maps) if needs_html[position] else max(readers, default=-1)))
    return out


_WORKER: OrderedDict[str, Pipeline] = OrderedDict()


def worker_pipeline(raw: dict) -> Pipeline:
    """The pipeline of a task's config (as `PipelineConfig.to_json` gives it), parsed and built once per worker
    process, not once per task; a worker keeps the last few runs' (`WORKER_PIPELINES`)."""
    key = json.dumps(raw, sort_keys=True)
    if key not in _WORKER:
        _WORKER[key] = Pipeline(parse(raw))
        while len(_WORKER) > WORKER_PIPELINES:
            _WORKER.popitem(last=False)
    _WORKER.move_to_end(key)
    return _WORKER[key]


@dataclass
class _Sink:
    """A Parquet file opened on its first batch; later batches are cast to the first one's schema."""

    output: Output
    name: str
    writer: pq.ParquetWriter | None = None
    stream: object = None
    rows: int = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        if self.writer is None:
            self.stream = self.output.open_write(self.name)
            self.writer = pq.ParquetWriter(self.stream, batch.schema, compression="zstd")
        elif batch.schema != self.writer.schema:
            batch = batch.cast(self.writer.schema)
        self.writer.write_batch(batch)
        self.rows += batch.num_rows

    def close(self) -> list[str]:
        if self.writer is None:
            return []
        self.writer.close()
        self.stream.close()
        return [self.name]


def _slim(rejected: pa.RecordBatch, keep_text: bool) -> pa.RecordBatch:
    columns = [rejected.column(name) if name in rejected.schema.names else pa.nulls(rejected.num_rows, kind)
               for name, kind in zip(REJECTS_SCHEMA.names, REJECTS_SCHEMA.types)]
    schema = REJECTS_SCHEMA
    if keep_text:
        text = rejected.column("text") if "text" in rejected.schema.names else pa.nulls(rejected.num_rows, pa.string())
        columns.append(text.cast(pa.string()))
        schema = schema.append(pa.field("text", pa.string()))
    return pa.RecordBatch.from_arrays(columns, schema=schema)


@dataclass
class Decisions:
    """The decision table of one global stage for one file: `uid` → reason and added columns."""

    stage: GlobalStage
    table: pa.Table

    @classmethod
    def load(cls, stage: GlobalStage, output: Output, paths: list[str]) -> Decisions:
        tables = []
        for path in paths:
            with output.fs.open(output.path(path), "rb") as f:
                tables.append(pq.read_table(f))
        columns = ["uid", REJECT, *stage.adds()]
        if tables and all(name in tables[0].column_names for name in LINEAGE.names):
            columns += LINEAGE.names  # the plan names the document kept in a rejected one's place
        table = pa.concat_tables([t.select(columns) for t in tables]) if tables else None
        if table is None:
            schema = pa.schema([pa.field("uid", pa.binary(16)), pa.field(REJECT, pa.string()),
                                *(pa.field(k, v) for k, v in stage.adds().items())])
            table = schema.empty_table()
        return cls(stage, table)

    def apply(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`batch` with the stage's added columns (defaults where undecided), its prefixed reasons and, when the
        table has them, the lineage columns (`run_pass` drops them from kept rows)."""
        index = pc.index_in(batch.column("uid"), value_set=self.table.column("uid").combine_chunks())
        found = pc.is_valid(index)
        out = batch
        defaults = self.stage.defaults()
        lineage = [(f.name, f.type) for f in LINEAGE if f.name in self.table.column_names]
        for name, dtype in [*self.stage.adds().items(), *lineage, (REJECT, pa.string())]:
            decided = self.table.column(name).combine_chunks().cast(dtype).take(pc.fill_null(index, 0)) \
                if len(self.table) else pa.nulls(batch.num_rows, dtype)
            default = None if name == REJECT else defaults.get(name)
            values = pc.if_else(found, decided, pa.scalar(default, dtype))
            if name == REJECT:
                out, values = self.stage.revise(out, values)  # a stage that rewrites what it decided on
                values = pc.binary_join_element_wise(pa.scalar(self.stage.id), values, ":")
            position = out.schema.get_field_index(name)  # a second stage of the same kind replaces the first's
            out = out.set_column(position, name, values) if position >= 0 else out.append_column(name, values)
        return out


@dataclass
class _Source:
    """Where a pass's rows come from: the input file (pass 0) or the rows the previous pass kept."""

    file: InputFile
    previous_rows: list[str] = field(default_factory=list)
    rows_read: int = 0  # after pass 0 (the reader ledger counts pass 0's)

    def batches(self, config: PipelineConfig, output: Output, ledger: ReaderLedger | None):
        if ledger is not None:
            yield from read(self.file, config.input, ledger)
            return
        for path in self.previous_rows:
            with output.fs.open(output.path(path), "rb") as f:
                for batch in pq.ParquetFile(f).iter_batches():
                    self.rows_read += batch.num_rows
                    yield batch.append_column(REJECT, pa.nulls(batch.num_rows, pa.string()))


def run_pass(pipeline: Pipeline, step: Pass, file: InputFile, output: Output,
             previous: dict | None = None, decisions: list[str] | None = None,
             progress_every: float | None = None) -> dict:
    """Run one pass over one input file (or one range of it: `file.part`) and commit it; returns the commit record.

    `previous` is the file's record of the pass before (pass k > 0); `decisions` the files of the decision table for
    this input file of the global stage this pass applies; `progress_every`: seconds between two writes of the task's
    in-flight figures for the driver's progress line (`inflight.py`), none when no progress is shown.
    """
    started = time.time()
    config = pipeline.config
    attempt = attempt_id()
    ledger = ReaderLedger(file.rel) if step.index == 0 else None
    source = _Source(file, previous["rows"] if previous else [])
    maps, feeds = step.maps, step.feeds
    counts = [StageCounts(bound.id) for bound in maps]
    applied = None
    if step.applies is not None:
        applied = Decisions.load(step.applies.stage, output, decisions or [])
        counts.insert(0, StageCounts(step.applies.id))
    keyed = StageCounts(feeds.id) if feeds is not None else None
    tag = f"{file.key}-p{step.index}-{attempt}"
    rows = _Sink(output, f"work/pass-{step.index}/rows/part-{tag}.parquet" if feeds else
                 f"{DOCUMENTS}/part-{tag}.parquet")
    keys = _Sink(output, f"work/pass-{step.index}/keys/part-{tag}.parquet")
    rejects = _Sink(output, f"{REJECTS}/part-{tag}.parquet")
    collectors = {bound.id: c for bound in pipeline.stages
                  if (c := bound.stage.collector(Folder(output, collector_folder(bound.id, bound.stage.publishes)),
                                                 tag)) is not None}

    def reject(rejected: pa.RecordBatch) -> None:
        if rejected.num_rows:
            for collector in collectors.values():
                collector.rejected(rejected)
        rejects.write(_slim(rejected, config.write_rejects))

    def figures() -> inflight.Figures:
        done = rows.rows + rejects.rows
        if ledger is not None:
            return inflight.Figures(ledger.records_seen, None, ledger.bytes_read, ledger.size, done)
        return inflight.Figures(source.rows_read, previous["kept"] if previous else 0, 0, None, done)

    try:
        with inflight.Reporter(output, step.index, file.key, progress_every, figures):
            for batch in source.batches(config, output, ledger):
                kept, rejected = split(batch)
                reject(rejected)
                if applied is not None and kept.num_rows:
                    counts[0].rows_in += kept.num_rows
                    kept, rejected = split(applied.apply(kept))
                    kept = kept.drop_columns([name for name in LINEAGE.names if name in kept.schema.names])
                    counts[0].rows_out += kept.num_rows
                    reject(rejected)
                if step.html_last < 0:
                    kept = _without_html(kept)
                for index, (bound, count) in enumerate(zip(maps, counts[1:] if applied is not None else counts)):
                    if kept.num_rows == 0:
                        break
                    if not has_pages(file.format) and bound.stage.needs_page():
                        continue  # a text record goes past extraction with its text as read
                    out = bound.run(kept, count)
                    # no later stage reads the page: drop it before `split` copies it into the kept and the rejected
                    kept, rejected = split(_without_html(out) if index == step.html_last else out)
                    reject(rejected)
                if not step.keeps_html:
                    kept = _without_html(kept)
                if step.last and kept.num_rows:
                    for collector in collectors.values():
                        kept = collector.kept(kept)  # a collector may take columns out (tokens go to the shards)
                if feeds is not None and kept.num_rows:
                    kept, unkeyed, key_rows = feeds.keys(kept, keyed)
                    reject(unkeyed)
                    if key_rows is not None:
                        keys.write(_with_file(key_rows, file.key))
                rows.write(kept)
    finally:
        written_rows, written_keys, written_rejects = rows.close(), keys.close(), rejects.close()
        partials = {stage_id: collector.close() for stage_id, collector in collectors.items()}
    record = {
        "key": file.key,
        "file": file.rel,
        "range": asdict(file.part) if file.part else None,
        "pass": step.index,
        "attempt": attempt,
        "reader": ledger.to_json() if ledger else None,
        "rows": written_rows,
        "keys": written_keys,
        "rejects": written_rejects,
        "kept": rows.rows,
        "rejected": rejects.rows,
        # the global stage this pass feeds counts the rows it could not key (stats.py adds its pass's counts)
        "stages": [c.to_json() for c in counts + ([keyed] if keyed else [])],
        "partials": {stage_id: {"value": p.value, "files": p.files} for stage_id, p in partials.items()},
        "seconds": round(time.time() - started, 3),
    }
    output.write_json(pass_record(step.index, file.key), record)
    return record


def _without_html(batch: pa.RecordBatch) -> pa.RecordBatch:
    return batch.drop_columns(["html"]) if "html" in batch.schema.names else batch


def _with_file(keys: pa.RecordBatch, file_key: str) -> pa.RecordBatch:
    return keys.append_column("file_key", pa.array([file_key] * keys.num_rows, pa.string()))


def decision_listing(output: Output, target: str) -> dict[str, list[str]]:
    """The files of a decision table written under `target` as `file_key=<key>/…parquet`, by file key."""
    listing: dict[str, list[str]] = {}
    if not output.fs.exists(output.path(target)):
        return listing
    for path in sorted(output.fs.find(output.path(target))):
        relative = posixpath.relpath(path, output.root)
        parent = posixpath.basename(posixpath.dirname(relative))
        if relative.endswith(".parquet") and parent.startswith("file_key="):
            listing.setdefault(parent.removeprefix("file_key="), []).append(relative)
    return listing
