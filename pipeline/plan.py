"""The checked plan: which columns each stage needs and gets, validated before anything runs."""
from __future__ import annotations

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
class StagePlan:
    id: str
    name: str
    requires: tuple[str, ...]
    adds: dict[str, pa.DataType]
    modifies: tuple[str, ...]


@dataclass
class Plan:
    config: PipelineConfig
    inputs: list[InputFile]
    stages: list[StagePlan]
    columns: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def formats(self) -> list[str]:
        return sorted({f.format for f in self.inputs})

    def explain(self) -> str:
        total = sum(f.size for f in self.inputs)
        lines = [
            f"input   {len(self.inputs)} file(s), {total / 1e6:.1f} MB, format {', '.join(self.formats)}, "
            f"dataset {self.config.input.dataset!r}",
            f"output  {self.config.output}",
            f"engine  {self.config.engine.name} ({self.config.engine.master or 'embedded local[*]'})",
        ]
        by_id = {stage.id: stage for stage in self.stages}
        from curate.pipeline.passes import passes

        for step in passes(self.config):
            if step.applies is not None:
                lines += ["", f"phase B  global stage {step.applies.id}: its plan over every document's keys -> "
                              "a decision table by uid",
                          f"pass {step.index} (phase C, per input file: apply {step.applies.id}'s decisions -> map stages"
                          f" -> {'work/ + keys' if step.feeds else 'documents/'})"]
                lines.append(self._stage_line(by_id[step.applies.id]))
            else:
                lines += ["", f"pass 0 (phase A, per input file, fused in one task: read -> map stages -> "
                              f"{'work/ + keys of ' + step.feeds.id if step.feeds else 'documents/ + ledgers'})",
                          f"  read            adds {', '.join(_IDENTITY + _FILLED[self.formats[0]])}"]
            lines += [self._stage_line(by_id[spec.id]) for spec in step.maps]
        lines += ["", f"documents/ columns: {', '.join(self.columns)}"]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    @staticmethod
    def _stage_line(stage: StagePlan) -> str:
        parts = [f"requires {', '.join(stage.requires) or '-'}"]
        if stage.adds:
            parts.append("adds " + ", ".join(f"{k}:{v}" for k, v in stage.adds.items()))
        if stage.modifies:
            parts.append("modifies " + ", ".join(stage.modifies))
        label = stage.id if stage.id == stage.name else f"{stage.id} ({stage.name})"
        return f"  {label:<15} {'; '.join(parts)}"


def build(config: PipelineConfig, inputs: list[InputFile]) -> Plan:
    """Check the stage chain against what the input provides; a gap is a ConfigError naming the stage."""
    formats = {f.format for f in inputs}
    if "warc" in formats and len(formats) > 1:
        raise ConfigError(f"input mixes formats {sorted(formats)}: WARC needs extraction, the others do not; "
                          "run them as separate pipelines")
    provided: dict[str, str] = {name: "the reader" for name in _IDENTITY + _FILLED[min(formats)]}
    for name in config.input.fields:
        provided[name] = "input.fields"
    computed_on: dict[str, list[str]] = {}  # column -> signal columns computed from it so far
    stages, warnings = [], []
    for index, spec in enumerate(config.stages):
        stage = spec.build()
        _check_files(index, spec.id, stage)
        if isinstance(stage, GlobalStage):
            try:
                global_plan(config.engine.name, spec.name)
            except CurateError as error:
                raise ConfigError(f"stages[{index}] ({spec.id}): {error}") from None
        for column in stage.requires:
            if column not in provided:
                hint = " (for WARC input, add an `extract` stage before it)" if column == "text" else ""
                if column == "html":
                    hint = " (html comes only from WARC input)"
                raise ConfigError(f"stages[{index}] ({spec.id}): requires column {column!r}, which nothing before it "
                                  f"provides{hint}")
        for column in stage.modifies:
            earlier = computed_on.get(column, [])
            if earlier:
                warnings.append(f"{spec.id} modifies {column!r} after {', '.join(earlier)} were computed on it")
        adds = stage.adds()
        for column in stage.requires:
            computed_on.setdefault(column, []).extend(c for c in adds if c not in stage.modifies)
        for column in adds:
            if provided.get(column, "the reader") not in ("the reader", "input.fields") and column not in stage.modifies:
                warnings.append(f"{spec.id} replaces column {column!r} added by {provided[column]}")
            provided[column] = spec.id
        stages.append(StagePlan(spec.id, spec.name, stage.requires, adds, stage.modifies))
    # html never reaches documents/; tokens go to the shards instead when a stage adds them (docs/FORMAT.md)
    columns = [c for c in provided if c not in ("html", "tokens")]
    return Plan(config, inputs, stages, columns, warnings)


def _check_files(index: int, stage_id: str, stage) -> None:
    """Every local file a stage's parameters name exists, checked before an engine starts (a worker would fail
    later, wrapped in the engine's error)."""
    for param in stage.files:
        value = getattr(stage.params, param)
        for path in value if isinstance(value, list) else [value]:
            if path and "://" not in path and not os.path.isfile(path):
                raise ConfigError(f"stages[{index}] ({stage_id}).{param}: no file {path!r} "
                                  "(relative paths are read from the folder curate runs in)")
