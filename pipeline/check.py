"""The checked pipeline: which columns each stage needs and gets, validated before anything runs.

Inputs of two kinds may meet in one run: pages (WARC: `html`, no text yet) and text (WET, JSONL, Parquet: `text` as
read, `html` null). A text record goes past the stages that need a page (`Stage.needs_page`: extraction, a guess
from the page) and through all others; the chain is checked once for each kind the input holds."""
from __future__ import annotations

import glob
import json
import os
import re
from dataclasses import dataclass, field

import pyarrow as pa

from curate.pipeline import registry
from curate.pipeline.config import PipelineConfig
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.inputs import InputFile, has_pages, not_regular
from curate.pipeline.engine import plan_of
from curate.pipeline.output import OWN_FOLDERS
from curate.pipeline.passes import Pipeline
from curate.pipeline.stage import GlobalStage, paths_of

# What each input format fills in besides identity and provenance.
_IDENTITY = ("id", "uid", "source", "file", "offset", "url", "date", "content_type", "x_robots_tag")
_FOLDER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_FILLED = {"warc": ("html",), "wet": ("text",), "jsonl": ("text",), "parquet": ("text",)}


@dataclass
class StageColumns:
    id: str
    name: str
    requires: tuple[str, ...]
    adds: dict[str, pa.DataType]
    modifies: tuple[str, ...]
    settings: dict = field(default_factory=dict)  # the parameters set to other than their defaults


@dataclass
class Checked:
    pipeline: Pipeline  # built once here, for the whole run
    inputs: list[InputFile]
    stages: list[StageColumns]
    columns: list[str]
    warnings: list[str] = field(default_factory=list)
    assumed: str | None = None  # the format checked against when the input was not listed (a static check)
    skipped: dict[str, list[str]] = field(default_factory=dict)  # input format -> the stage ids its records skip

    @property
    def config(self) -> PipelineConfig:
        return self.pipeline.config

    @property
    def formats(self) -> list[str]:
        return sorted({f.format for f in self.inputs}) or [self.assumed]

    def routes(self) -> list[str]:
        """Per input format, when one skips stages: the stages its records go through, in order."""
        lines = []
        for fmt in self.formats if any(self.skipped.values()) else []:
            route = " -> ".join(["read", *(s.id for s in self.stages if s.id not in self.skipped[fmt])])
            skips = f" (skips {', '.join(self.skipped[fmt])}: its text is read)" if self.skipped[fmt] else ""
            lines.append(f"route   {fmt}: {route}{skips}")
        return lines

    def explain(self) -> str:
        total = sum(f.size for f in self.inputs)
        listed = f"{len(self.inputs)} file(s), {total / 1e6:.1f} MB" if self.assumed is None else \
            f"{', '.join(self.config.input.paths)} (not listed: checked as {self.assumed} input)"
        lines = [
            f"input   {listed}, format {', '.join(self.formats)}, dataset {self.config.input.dataset!r}",
            f"output  {self.config.output}",
            f"engine  {self.config.engine.name} ({self.config.engine.master or 'embedded'})",
            *self.routes(),
        ]
        by_id = {stage.id: stage for stage in self.stages}
        for step in self.pipeline.passes:
            if step.applies is not None:
                lines += ["", f"plan of {step.applies.id} (the engine, over every document's keys -> a decision table "
                              "by uid)",
                          f"pass {step.index} (per input file: apply {step.applies.id}'s decisions -> map stages"
                          f" -> {'work/ + keys' if step.feeds else 'documents/'})"]
                lines.append(self._stage_line(by_id[step.applies.id]))
            else:
                lines += ["", f"pass 0 (per input file, fused in one task: read -> map stages -> "
                              f"{'work/ + keys of ' + step.feeds.id if step.feeds else 'documents/ + ledgers'})",
                          f"  read            adds {', '.join(_IDENTITY)}, " + "; ".join(
                              f"{', '.join(filled)}{f' ({fmt})' if len(self.formats) > 1 else ''}"
                              for fmt, filled in _filled(self.formats).items())]
            lines += [self._stage_line(by_id[spec.id]) for spec in step.maps]
        lines += ["", f"documents/ columns: {', '.join(self.columns)}"]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    @staticmethod
    def _stage_line(stage: StageColumns) -> str:
        parts = [f"requires {', '.join(stage.requires) or '-'}"]
        if stage.adds:
            parts.append("adds " + ", ".join(f"{k}:{v}" for k, v in stage.adds.items()))
        if stage.modifies:
            parts.append("modifies " + ", ".join(stage.modifies))
        if stage.settings:
            parts.append("with " + ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in stage.settings.items()))
        label = stage.id if stage.id == stage.name else f"{stage.id} ({stage.name})"
        return f"  {label:<15} {'; '.join(parts)}"


def check(config: PipelineConfig, inputs: list[InputFile], assumed: str | None = None, static: bool = False) -> Checked:
    """Check the stage chain against what the input provides, for each kind of input it holds (pages, text); the
    gaps are one ConfigError, a line per gap naming the stage (a column missing is named once, at the first stage that
    needs it). Without `inputs`, against the `assumed` input format. `static` (`curate explain`): a missing local file
    a stage names is a warning, not an error (a model or tokenizer made later, e.g. by `curate demo`)."""
    formats = sorted({f.format for f in inputs} or {assumed})
    pipeline = Pipeline(config)
    built = [bound.stage for bound in pipeline.stages]
    problems: list[tuple[int, str]] = []  # (stage index, line)
    warnings = _check_stages(config, built, static, problems)
    _check_published(built, problems)
    skipped = {fmt: [] if has_pages(fmt) else [s.id for s in built if s.needs_page()] for fmt in formats}
    if not any(has_pages(fmt) for fmt in formats):
        for index, stage in enumerate(built):
            if stage.needs_page():
                problems.append((index, f"stages[{index}] ({stage.id}): requires column 'html', which only WARC "
                                 f"input provides (the input is {', '.join(formats)}: text, which goes past it)"))
    columns: list[str] = []
    for kind in sorted({has_pages(fmt) for fmt in formats}, reverse=True):  # pages first: their chain is the whole
        named = [fmt for fmt in formats if has_pages(fmt) == kind]
        found, kind_warnings = _chain(config, built, named, problems,
                                      mixed=len(formats) > 1 and len(named) < len(formats))
        columns += [c for c in found if c not in columns]
        warnings += [w for w in kind_warnings if w not in warnings]
    if problems:  # by stage, in pipeline order; a gap both input kinds have is named once
        raise ConfigError("\n".join(dict.fromkeys(line for _, line in sorted(problems, key=lambda p: p[0]))))
    stages = [StageColumns(s.id, s.name, s.requires(), s.adds(), s.modifies(),
                           s.params.model_dump(mode="json", exclude_defaults=True)) for s in built]
    return Checked(pipeline, inputs, stages, columns, warnings, None if inputs else assumed, skipped)


def _check_stages(config: PipelineConfig, built: list, static: bool, problems: list[tuple[int, str]]) -> list[str]:
    """What each stage names outside the chain: its files (there, and holding what it loads) and its plan; the
    problems are appended to `problems`, the warnings returned."""
    warnings = []
    for index, (spec, stage) in enumerate(zip(config.stages, built)):
        try:
            _check_files(index, spec.id, stage)
        except ConfigError as error:
            if static:
                warnings.append(f"{error}; a run needs it")
            else:
                problems.append((index, str(error)))
        else:  # the files are there: what they hold is checked, in a static check too (a file made later is absent)
            try:
                stage.check_files()
            except CurateError as error:
                problems.append((index, f"stages[{index}] ({spec.id}): {error}"))
        if isinstance(stage, GlobalStage):
            try:
                plan_of(config.engine.name, spec.stage_class)
            except CurateError as error:
                problems.append((index, f"stages[{index}] ({spec.id}): {error}"))
    return warnings


def _check_published(built: list, problems: list[tuple[int, str]]) -> None:
    """Each name a stage consumes (`Stage.consumes`) is published by a stage before it, as each column it requires is
    added before it; a gap is a problem appended to `problems`, naming the registered stages that publish it."""
    published: set[str] = set()
    for index, stage in enumerate(built):
        for name in stage.publishes:  # a name is also a folder of the output (`collector_folder`)
            if not _FOLDER_NAME.fullmatch(name) or name in OWN_FOLDERS:
                problems.append((index, f"stages[{index}] ({stage.id}): publishes {name!r}, which cannot be a folder "
                                 f"of the output (a plain name, not {', '.join(OWN_FOLDERS)})"))
        for name in stage.consumes:
            if name not in published:
                makers = sorted(n for n, cls in registry.stages().items() if name in cls.publishes)
                hint = f" (add {' or '.join(makers)} before it)" if makers else ""
                problems.append((index, f"stages[{index}] ({stage.id}): consumes {name!r}, which no stage before it "
                                 f"publishes{hint}"))
        published.update(stage.publishes)


def _chain(config: PipelineConfig, built: list, formats: list[str], problems: list[tuple[int, str]],
           mixed: bool) -> tuple[list[str], list[str]]:
    """The columns the chain gives records of `formats` (one kind: pages or text), and its warnings; a stage that
    needs a column nothing before it provides is a problem appended to `problems`. Text records go past the stages
    that need a page."""
    pages = has_pages(formats[0])
    filled = _filled(formats)[formats[0]] if pages else ("text", "html")  # text inputs: html null, no page
    provided: dict[str, str] = {name: "the reader" for name in _IDENTITY + filled}
    for name in config.input.fields:
        provided[name] = "input.fields"
    computed_on: dict[str, list[str]] = {}  # column -> signal columns computed from it so far
    stale: dict[str, tuple[str, str]] = {}  # signal column -> (the stage that modified its source, the source)
    warnings = []
    for index, stage in enumerate(built):
        if not pages and stage.needs_page():
            continue
        requires, modifies = stage.requires(), stage.modifies()
        for column in requires:
            if column not in provided:
                hint = " (for WARC input, add an `extract` stage before it)" if column == "text" else ""
                if column == "html":
                    hint = " (html comes only from WARC input)"
                kind = f" for {', '.join(formats)} input" if mixed else ""
                problems.append((index, f"stages[{index}] ({stage.id}): requires column {column!r}, which nothing "
                                 f"before it provides{kind}{hint}"))
                provided[column] = "missing"  # named once: the stages after it that need it have the same fix
        if not pages and "html" in requires:
            warnings.append(f"{stage.id} reads html, which {', '.join(formats)} input does not have: its records "
                            "reach it without a page")
        # A signal computed on a column that a later stage changed is stale; that matters only where a stage after
        # the change decides on it (FineWeb's own order scores the language before C4's line removal, on purpose).
        for column in requires:
            if column in stale:
                warnings.append(f"{stage.id} reads {column!r}, computed on {stale[column][1]!r} before "
                                f"{stale[column][0]} modified it")
        for column in modifies:
            for signal in computed_on.pop(column, []):
                stale[signal] = (stage.id, column)
        adds = stage.adds()
        for column in requires:
            computed_on.setdefault(column, []).extend(c for c in adds if c not in modifies)
        for column in adds:
            stale.pop(column, None)  # computed again
            if provided.get(column, "the reader") not in ("the reader", "input.fields", "missing") \
                    and column not in modifies:
                warnings.append(f"{stage.id} replaces column {column!r} added by {provided[column]}")
            provided[column] = stage.id
    # html never reaches documents/; tokens go to the shards instead when a stage adds them (docs/FORMAT.md)
    return [c for c in provided if c not in ("html", "tokens")], warnings


def _filled(formats: list[str]) -> dict[str, tuple[str, ...]]:
    """What the reader of each format fills in besides identity and provenance."""
    return {fmt: _FILLED[fmt] for fmt in formats}


def assumed_format(config: PipelineConfig) -> str:
    """The input format of a pipeline whose input cannot be listed: `input.format`, else the ending of its paths,
    else WARC when a stage reads `html` (only WARC provides it), else JSONL."""
    from curate.pipeline.inputs import format_of

    if config.input.format != "auto":
        return config.input.format
    for path in config.input.paths:
        if format_of(path):
            return format_of(path)
    return "warc" if any("html" in spec.build().requires() for spec in config.stages) else "jsonl"


def named_files(config: PipelineConfig) -> list[tuple[str, str]]:
    """Every file or folder the stages' parameters name (`Stage.files`), as (`stages[i] (id).param`, path)."""
    return [(f"stages[{index}] ({spec.id}).{where}", path) for index, spec in enumerate(config.stages)
            for where, path in paths_of(spec.params.model_dump(mode="json"), spec.stage_class.files)]


def _check_files(index: int, stage_id: str, stage) -> None:
    """Every local file a stage's parameters name exists (a glob: matches one) and is a file or a folder, checked
    before an engine starts (a worker would fail later, wrapped in the engine's error; a FIFO would block it), as input
    paths are."""
    for where, path in paths_of(stage.params.model_dump(mode="json"), stage.files):
        if "://" in path:
            continue
        globbed = any(c in path for c in "*?[")
        if not (glob.glob(path) if globbed else os.path.exists(path)):
            raise ConfigError(f"stages[{index}] ({stage_id}).{where}: no file or folder {path!r} (a relative path "
                              "in a pipeline file is read beside that file, or in the current folder)")
        if not globbed and (kind := not_regular(path)) not in (None, "directory"):
            raise ConfigError(f"stages[{index}] ({stage_id}).{where}: {path!r} is not a regular file but a "
                              f"{kind}: give a file or a folder")
