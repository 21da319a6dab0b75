"""The checked pipeline: which columns each stage needs and gets, validated before anything runs."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import pyarrow as pa

from curate.pipeline.config import PipelineConfig
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.inputs import InputFile
from curate.pipeline.passes import global_plan
from curate.pipeline.stage import GlobalStage

# What each input format fills in besides identity and provenance.
_IDENTITY = ("id", "uid", "source", "file", "offset", "url", "date", "content_type", "x_robots_tag")
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
    config: PipelineConfig
    inputs: list[InputFile]
    stages: list[StageColumns]
    columns: list[str]
    warnings: list[str] = field(default_factory=list)
    assumed: str | None = None  # the format checked against when the input was not listed (a static check)

    @property
    def formats(self) -> list[str]:
        return sorted({f.format for f in self.inputs}) or [self.assumed]

    def explain(self) -> str:
        total = sum(f.size for f in self.inputs)
        listed = f"{len(self.inputs)} file(s), {total / 1e6:.1f} MB" if self.assumed is None else \
            f"{', '.join(self.config.input.paths)} (not listed: checked as {self.assumed} input)"
        lines = [
            f"input   {listed}, format {', '.join(self.formats)}, dataset {self.config.input.dataset!r}",
            f"output  {self.config.output}",
            f"engine  {self.config.engine.name} ({self.config.engine.master or 'embedded local[*]'})",
        ]
        by_id = {stage.id: stage for stage in self.stages}
        from curate.pipeline.passes import passes

        for step in passes(self.config):
            if step.applies is not None:
                lines += ["", f"plan of {step.applies.id} (the engine, over every document's keys -> a decision table "
                              "by uid)",
                          f"pass {step.index} (per input file: apply {step.applies.id}'s decisions -> map stages"
                          f" -> {'work/ + keys' if step.feeds else 'documents/'})"]
                lines.append(self._stage_line(by_id[step.applies.id]))
            else:
                lines += ["", f"pass 0 (per input file, fused in one task: read -> map stages -> "
                              f"{'work/ + keys of ' + step.feeds.id if step.feeds else 'documents/ + ledgers'})",
                          f"  read            adds {', '.join(_IDENTITY + _FILLED[self.formats[0]])}"]
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
    """Check the stage chain against what the input provides; a gap is a ConfigError naming the stage. Without
    `inputs`, against the `assumed` input format. `static` (`curate explain`): a missing local file a stage names is
    a warning, not an error (a model or tokenizer made later, e.g. by `curate demo`)."""
    formats = {f.format for f in inputs} or {assumed}
    if "warc" in formats and len(formats) > 1:
        raise ConfigError(f"input mixes formats {sorted(formats)}: WARC needs extraction, the others do not; "
                          "run them as separate pipelines")
    provided: dict[str, str] = {name: "the reader" for name in _IDENTITY + _FILLED[min(formats)]}
    for name in config.input.fields:
        provided[name] = "input.fields"
    computed_on: dict[str, list[str]] = {}  # column -> signal columns computed from it so far
    stale: dict[str, tuple[str, str]] = {}  # signal column -> (the stage that modified its source, the source)
    stages, warnings = [], []
    for index, spec in enumerate(config.stages):
        stage = spec.build()
        try:
            _check_files(index, spec.id, stage)
        except ConfigError as error:
            if not static:
                raise
            warnings.append(f"{error}; a run needs it")
        if isinstance(stage, GlobalStage):
            try:
                global_plan(config.engine.name, spec.stage_class)
            except CurateError as error:
                raise ConfigError(f"stages[{index}] ({spec.id}): {error}") from None
        requires, modifies = stage.requires(), stage.modifies()
        for column in requires:
            if column not in provided:
                hint = " (for WARC input, add an `extract` stage before it)" if column == "text" else ""
                if column == "html":
                    hint = " (html comes only from WARC input)"
                raise ConfigError(f"stages[{index}] ({spec.id}): requires column {column!r}, which nothing before it "
                                  f"provides{hint}")
        # A signal computed on a column that a later stage changed is stale; that matters only where a stage after
        # the change decides on it (FineWeb's own order scores the language before C4's line removal, on purpose).
        for column in requires:
            if column in stale:
                warnings.append(f"{spec.id} reads {column!r}, computed on {stale[column][1]!r} before "
                                f"{stale[column][0]} modified it")
        for column in modifies:
            for signal in computed_on.pop(column, []):
                stale[signal] = (spec.id, column)
        adds = stage.adds()
        for column in requires:
            computed_on.setdefault(column, []).extend(c for c in adds if c not in modifies)
        for column in adds:
            stale.pop(column, None)  # computed again
            if provided.get(column, "the reader") not in ("the reader", "input.fields") and column not in modifies:
                warnings.append(f"{spec.id} replaces column {column!r} added by {provided[column]}")
            provided[column] = spec.id
        settings = stage.params.model_dump(mode="json", exclude_defaults=True)
        stages.append(StageColumns(spec.id, spec.name, requires, adds, modifies, settings))
    # html never reaches documents/; tokens go to the shards instead when a stage adds them (docs/FORMAT.md)
    columns = [c for c in provided if c not in ("html", "tokens")]
    return Checked(config, inputs, stages, columns, warnings, None if inputs else assumed)


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


def _check_files(index: int, stage_id: str, stage) -> None:
    """Every local file a stage's parameters name exists, checked before an engine starts (a worker would fail
    later, wrapped in the engine's error)."""
    for param in stage.files:
        value = getattr(stage.params, param)
        for path in value if isinstance(value, list) else [value]:
            if path and "://" not in path and not os.path.exists(path):
                raise ConfigError(f"stages[{index}] ({stage_id}).{param}: no file or folder {path!r} "
                                  "(relative paths are read from the folder curate runs in)")
