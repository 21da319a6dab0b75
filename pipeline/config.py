"""The pipeline YAML: validated models for `input`, `output`, `engine` and the ordered `stages:` list."""
from __future__ import annotations

import difflib
import hashlib
import importlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curate.pipeline import registry
from curate.pipeline.errors import ConfigError
from curate.pipeline.stage import Stage



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputConfig(_Strict):
    paths: list[str] = Field(min_length=1, description="files, directories, globs or URIs (s3://, gs://, https://)")
    dataset: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="dataset name: the `source` column and id prefix")
    format: Literal["auto", "warc", "wet", "jsonl", "parquet"] = "auto"
    text_field: str = "text"
    fields: list[str] = Field(default_factory=list, description="extra JSONL/Parquet fields that later stages read")

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class EngineConfig(_Strict):
    name: Literal["spark", "beam"] = "spark"
    master: str | None = Field(None, description="Spark master URL; none = embedded local[*]")
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="Spark configuration (spark.*), or Beam pipeline options (runner, project, region, …)",
    )

    @model_validator(mode="after")
    def _master_is_spark(self) -> EngineConfig:
        if self.name == "beam" and self.master:
            raise ValueError("master is a Spark setting; for Beam set conf.runner (e.g. DataflowRunner, FlinkRunner)")
        return self


class StageSpec(BaseModel):
    """One entry of `stages:` after validation: the registered stage, its id and typed parameters."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    name: str
    id: str
    on_error: Literal["reject", "fail"] = "reject"
    params: Any

    @property
    def stage_class(self) -> type[Stage]:
        return registry.get(self.name)

    def build(self) -> Stage:
        return self.stage_class(self.params, self.id)


class PipelineConfig(_Strict):
    input: InputConfig
    output: str
    engine: EngineConfig = EngineConfig()
    write_rejects: bool = Field(False, description="also keep the text of rejected records")
    plugins: list[str] = Field(default_factory=list,
                               description="modules to import first: they register their own stages")
    stages: list[StageSpec] = Field(default_factory=list)

    def content_hash(self) -> str:
        """What decides the output: everything but where it goes and which engine runs it."""
        body = self.to_json()
        del body["output"], body["engine"]
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The config as YAML would state it, every default filled in; `parse` reads it back."""
        body = self.model_dump(mode="json", exclude={"stages"})
        body["stages"] = [
            {"name": s.name, "id": s.id, "on_error": s.on_error, **s.params.model_dump(mode="json")} for s in self.stages
        ]
        return body


def _loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    path = prefix
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path and not path.endswith(".") else str(part))
    return path or "(top level)"


def _one_line(error: ValidationError, prefix: str = "") -> str:
    errors = error.errors()
    first = errors[0]
    union = _union_alternatives(errors)
    if union:
        loc, alternatives = union
        return f"{_loc(loc, prefix)}: expected {' or '.join(alternatives)}, got {first.get('input')!r}"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    got = first.get("input")
    shown = "" if first["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f", got {got!r}"
    return f"{_loc(first['loc'], prefix)}: {message}{shown}{extra}"


def _union_alternatives(errors: list[dict]) -> tuple[tuple, list[str]] | None:
    """A value that matched no member of a union reports one error per member, each loc ending in the member's type."""
    if len(errors) < 2:
        return None
    locs = [e["loc"] for e in errors]
    common = locs[0][:-1]
    if not common or any(loc[:-1] != common for loc in locs):
        return None
    return common, [str(loc[-1]) for loc in locs]


def _stage_spec(index: int, entry: Any) -> StageSpec:
    where = f"stages[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping like {{name: langid, ...}}, got {entry!r}")
    entry = dict(entry)
    name = entry.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"{where}.name: required, one of: {', '.join(registry.stages())}")
    cls = registry.get(name)
    if cls is None:
        known = list(registry.stages())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{where}.name: unknown stage {name!r}{hint}; registered stages: {', '.join(known)}")
    stage_id = entry.pop("id", name)
    on_error = entry.pop("on_error", "reject")
    if on_error not in ("reject", "fail"):
        raise ConfigError(f"{where}.on_error: must be 'reject' or 'fail', got {on_error!r}")
    if not isinstance(stage_id, str) or not stage_id.replace("_", "").isalnum():
        raise ConfigError(f"{where}.id: must be a word of letters, digits and '_', got {stage_id!r}")
    try:
        params = cls.Params.model_validate(entry)
    except ValidationError as error:
        raise ConfigError(_one_line(error, f"{where} ({name}).")) from None
    return StageSpec(name=name, id=stage_id, on_error=on_error, params=params)


def _import_plugins(modules: Any) -> None:
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"plugins: expected a list of module names, got {modules!r}")
    for index, module in enumerate(modules):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"plugins[{index}]: cannot import {module!r} ({error}); it must be importable "
                              "on the driver and on every worker") from None


def parse(raw: Any) -> PipelineConfig:
    """Validate a loaded YAML document into a PipelineConfig, raising ConfigError with the key path."""
    if not isinstance(raw, dict):
        raise ConfigError("the pipeline file must be a mapping with input, output and stages")
    raw = dict(raw)
    _import_plugins(raw.get("plugins", []))
    entries = raw.pop("stages", [])
    if not isinstance(entries, list):
        raise ConfigError(f"stages: expected a list of stages, got {type(entries).__name__}")
    specs = [_stage_spec(i, entry) for i, entry in enumerate(entries)]
    ids = [spec.id for spec in specs]
    for stage_id in ids:
        if ids.count(stage_id) > 1:
            raise ConfigError(f"stages: id {stage_id!r} appears twice; give repeated stages distinct `id:` values")
    try:
        config = PipelineConfig.model_validate({**raw, "stages": []})
    except ValidationError as error:
        raise ConfigError(_one_line(error)) from None
    return config.model_copy(update={"stages": specs})


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> PipelineConfig:
    """Read a pipeline YAML file (safely: no tags that build objects), apply command-line overrides, validate."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read pipeline file {str(path)!r}: {error.strerror or error}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    raw = raw if raw is not None else {}
    if isinstance(raw, dict):
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            section, _, field = key.partition(".")
            if field:
                raw[section] = {**(raw.get(section) or {}), field: value}
            else:
                raw[section] = value
    return parse(raw)
