"""The pipeline YAML: validated models for `input`, `output`, `engine` and the ordered `stages:` list."""
from __future__ import annotations

import difflib
import glob
import hashlib
import importlib
import json
import math
import os
import posixpath
import re
import reprlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from curate.pipeline import registry
from curate.pipeline.errors import ConfigError, CurateError
from curate.pipeline.stage import Stage, map_paths

# Bounds on what a pipeline file may make the parser build (a config is a page of YAML, not a data set).
MAX_DEPTH = 64  # nested mappings/sequences
MAX_NODES = 100_000  # scalars, mappings and sequences, counting each alias as the copy it stands for
_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxdict, _SHOWN.maxlist, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlong = 2, 4, 4, 60, 60, 40


def quoted(value: Any) -> str:
    """A value as an error message shows it: its repr, bounded in size and in the time it takes to make."""
    return _SHOWN.repr(value)


# A file larger than this is cut into ranges, each a task with its own commit (`input.split_size`): big enough that a
# task's fixed cost (its commit, its output files) is small beside its reading, small enough that a 1 GB file keeps 8
# cores busy and a killed run loses little.
SPLIT_SIZE = 128 << 20
MIN_SPLIT_SIZE = 1 << 12
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def byte_size(text: str) -> int:
    """`128MiB`, `1.5 GB`, `4096` → bytes; anything else is a ValueError naming the units."""
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if unit not in _UNITS:
        raise ValueError(f"not a size: {quoted(text)} (a number of bytes, or with B, KB, MB, GB, KiB, MiB, GiB)")
    return int(float(match.group(1)) * _UNITS[unit])


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class InputConfig(_Strict):
    paths: list[str] = Field(min_length=1, description="files, directories, globs or URIs (s3://, gs://, https://)")
    dataset: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="dataset name: the `source` column and id prefix "
                         "(default: the name of the first input path, see `default_dataset`)")
    format: Literal["auto", "warc", "wet", "jsonl", "parquet"] = "auto"
    text_field: str = "text"
    fields: list[str] = Field(default_factory=list, description="extra JSONL/Parquet fields that later stages read")
    split_size: int = Field(SPLIT_SIZE, ge=MIN_SPLIT_SIZE, description="a file larger than this is read as ranges of "
                            "about this size, one task each (bytes, or `128MiB`, `1GB`; the README's table says "
                            "where each format is cut)")

    @field_validator("split_size", mode="before")
    @classmethod
    def _size(cls, value: Any) -> Any:
        return byte_size(value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _paths_alone(cls, value: Any) -> Any:
        """`input: crawl/` or `input: [a, b]` is the paths; the dataset is then named after the first of them."""
        if isinstance(value, (str, list)):
            value = {"paths": value}
        if isinstance(value, dict) and "dataset" not in value:
            paths = value.get("paths")
            first = paths if isinstance(paths, str) else paths[0] if isinstance(paths, list) and paths else None
            # without usable paths the paths' error is the one to fix: no second one saying the dataset is missing
            value = {**value, "dataset": default_dataset(first) if isinstance(first, str) else "input"}
        return value

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


def default_dataset(path: str) -> str:
    """The dataset name of an input path when `input.dataset` is not set: its last component before any glob, without
    the input endings (`.warc.gz`, `.jsonl`, …), in the characters a dataset name allows; `input` if nothing is left.
    `crawl/*.warc.gz` → `crawl`, `data/cc-2024-10.jsonl.gz` → `cc-2024-10`, `s3://bucket/cc/2024-10/` → `2024-10`."""
    bare = path.split("://", 1)[-1]
    prefix = re.split(r"[*?\[]", bare, maxsplit=1)[0]
    if prefix != bare:  # a glob: the folder it scans names the data
        prefix = posixpath.dirname(prefix)
    name = posixpath.basename(prefix.rstrip("/"))
    name = re.sub(r"(\.(gz|zst|bz2|xz|warc|wet|arc|jsonl|json|ndjson|parquet))+$", "", name, flags=re.IGNORECASE)
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", name).strip("._")
    return name or "input"


class EngineConfig(_Strict):
    # The engine of a pipeline that names none: a value, checked against the installed engines like any other name.
    name: str = Field("spark", description="the engine that runs the pipeline (`curate.pipeline.engine`: an entry "
                      "point of group curate.engines, or an engine a plugin registers)")
    master: str | None = Field(None, description="the cluster the engine connects to (a Spark master URL); none = "
                               "embedded, on this machine")
    conf: dict[str, str] = Field(
        default_factory=dict,
        description="the engine's own settings (Spark configuration spark.*, Beam pipeline options: runner, …)",
    )
    memory_per_worker: int | None = Field(
        None, gt=0, description="the memory one worker may use (bytes, or `4GiB`): a run whose estimate (`curate "
        "explain --estimate`) needs more for a global stage refuses to start; none = not checked before a run")

    @field_validator("memory_per_worker", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        return byte_size(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _known(self) -> EngineConfig:
        """The engine is installed (or a plugin registered it), and takes these settings: each engine checks its
        own (`Engine.check`)."""
        from curate.pipeline.engine import engine

        try:
            found = engine(self.name)
        except CurateError as error:
            raise ValueError(str(error)) from None
        found.check(self)
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
    engine: EngineConfig = Field(default_factory=EngineConfig)  # a factory: validating one imports the engine
    write_rejects: bool = Field(False, description="also keep the text of rejected records")
    plugins: list[str] = Field(default_factory=list,
                               description="modules to import first: they register their own stages")
    stages: list[StageSpec] = Field(default_factory=list)

    def content_hash(self) -> str:
        """What decides the output: everything but where it goes, which engine runs it and how its files are cut
        into tasks (`input.split_size`: ranges read what the file read whole gives)."""
        body = self.to_json()
        del body["output"], body["engine"], body["input"]["split_size"]
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


def _lines(error: ValidationError, prefix: str = "", model: type[BaseModel] | None = None,
           misspelled: frozenset[tuple] = frozenset()) -> list[str]:
    """Every error of a validation, one line each, with its key path: a value that matched no member of a union is
    one line listing the members; a misspelled key names the close known key, and the "missing" error of that key
    (caused by the misspelling, as for the keys in `misspelled`) is left out."""
    errors = error.errors()
    misspelled = misspelled | ({_close_key(e["loc"], model) for e in errors if e["type"] == "extra_forbidden"} - {None})
    lines, done = [], set()
    for index, e in enumerate(errors):
        if index in done:
            continue
        members = _union_members(errors, index, model)
        done.update(members)
        if len(members) > 1:
            alternatives = " or ".join(str(errors[i]["loc"][-1]) for i in members)
            lines.append(f"{_loc(e['loc'][:-1], prefix)}: expected {alternatives}, got {quoted(e.get('input'))}")
            continue
        if e["type"] == "missing" and e["loc"] in misspelled:
            continue
        message = e["msg"]
        if e["type"] == "extra_forbidden":
            close = _close_key(e["loc"], model)
            message = "unknown key" + (f" (did you mean {close[-1]!r}?)" if close else "")
        elif e["type"] == "missing":
            message = "required key is missing"
        got = e.get("input")
        shown = "" if e["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f", got {quoted(got)}"
        lines.append(f"{_loc(e['loc'], prefix)}: {message}{shown}")
    return lines


def _section(loc: tuple[Any, ...], model: type[BaseModel] | None) -> type[BaseModel] | None:
    """The model of the config section at `loc` (None past a list, a dict or a plain value)."""
    for part in loc:
        field = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        annotation = field.annotation if field is not None else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return model


def _close_key(loc: tuple[Any, ...], model: type[BaseModel] | None) -> tuple[Any, ...] | None:
    """For an unknown key: the location of the closest known key of the section it sits in."""
    section = _section(loc[:-1], model)
    if section is None or not isinstance(loc[-1], str):
        return None
    close = difflib.get_close_matches(loc[-1], list(section.model_fields), n=1)
    return (*loc[:-1], close[0]) if close else None


def _union_members(errors: list[dict], index: int, model: type[BaseModel] | None) -> list[int]:
    """The errors that one value which matched no member of a union reported, one per member (their locations end in
    the member's type, under the same key, for the same input); just `index` for any other error."""
    e = errors[index]
    loc = e["loc"]
    if e["type"] in ("missing", "extra_forbidden") or len(loc) < 2 or not isinstance(loc[-1], str):
        return [index]
    section = _section(loc[:-1], model)
    if section is not None and loc[-1] in section.model_fields:  # a field of a section, not a union member
        return [index]
    members = [i for i, other in enumerate(errors) if other["loc"][:-1] == loc[:-1]
               and isinstance(other["loc"][-1], str) and other["type"] not in ("missing", "extra_forbidden")
               and other.get("input") is e.get("input")]
    return members if len(members) > 1 else [index]


class RelativePaths:
    """The relative paths of a pipeline file, made absolute. Every path in the file is relative to the file's folder;
    for a file or folder the run reads (input, a model, a list, `against:`) that is not there but is in the current
    folder, the current folder's is read, with a note: the one fallback, taken only when just one of the two exists.
    What the run makes (its output, a cache) is always beside the file. Absolute paths, `~/…` and URIs stay."""

    def __init__(self, pipeline: Path, notice: Callable[[str], None] | None = None):
        self.pipeline, self.notice = pipeline, notice
        self.base, self.here = str(pipeline.absolute().parent), os.getcwd()

    def read(self, where: str, path: str) -> str:
        """A path the run reads: beside the file, else (only there) in the current folder."""
        beside = self.made(path)
        if not _relative(path) or _exists(beside) or os.path.realpath(self.base) == os.path.realpath(self.here):
            return beside
        here = os.path.normpath(os.path.join(self.here, path))
        if not _exists(here):
            return beside  # in neither: where the run will say it is missing
        if self.notice is not None:
            self.notice(f"{where}: {path!r} is not beside {self.pipeline}; read from the current folder: {here}")
        return here

    def made(self, path: str) -> str:
        """A path the run writes, or any path beside the file: joined to the file's folder."""
        return os.path.normpath(os.path.join(self.base, path)) if _relative(path) else os.path.expanduser(path)

    def stage(self, where: str, cls: type[Stage], entry: dict[str, Any]) -> dict[str, Any]:
        """A stage's entry with the paths its `files` and `outputs` parameters hold made absolute."""
        entry = map_paths(entry, cls.files, lambda param, path: self.read(f"{where}.{param}", path))
        return map_paths(entry, cls.outputs, lambda _, path: self.made(path))

    def top(self, raw: dict[str, Any], given: set[str]) -> dict[str, Any]:
        """The input paths and the output of a pipeline file made absolute, except those given on the command line
        (`given`: relative to the current folder). The dataset is still named after the first path as written."""
        raw = dict(raw)
        if "output" not in given and isinstance(raw.get("output"), str):
            raw["output"] = self.made(raw["output"])
        section = raw.get("input")
        if "input" in given or "input.paths" in given or section is None:
            return raw
        section = {"paths": section} if isinstance(section, (str, list)) else section
        paths = section.get("paths") if isinstance(section, dict) else None
        paths = [paths] if isinstance(paths, str) else paths
        if isinstance(paths, list) and paths and all(isinstance(p, str) for p in paths):
            named = {} if "dataset" in section else {"dataset": default_dataset(paths[0])}
            raw["input"] = {**section, **named,
                            "paths": [self.read(f"input.paths[{i}]", p) for i, p in enumerate(paths)]}
        return raw


def _relative(path: str) -> bool:
    """A local path that is neither absolute nor in a home folder (`~/…`), nor a URI."""
    return "://" not in path and not os.path.isabs(os.path.expanduser(path))


def _exists(path: str) -> bool:
    """A file or folder that is there, or a glob that names one."""
    return os.path.exists(path) or (any(c in path for c in "*?[") and bool(glob.glob(path)))


def _stage_spec(index: int, entry: Any, problems: list[str], paths: RelativePaths | None = None) -> StageSpec | None:
    """One entry of `stages:` validated, its relative paths made absolute by `paths`; every problem with it appended
    to `problems` (then None)."""
    where = f"stages[{index}]"
    if not isinstance(entry, dict):
        problems.append(f"{where}: expected a mapping like {{name: langid, ...}}, got {quoted(entry)}")
        return None
    entry = dict(entry)
    name = entry.pop("name", None)
    cls = registry.get(name) if isinstance(name, str) else None
    if not isinstance(name, str):
        problems.append(f"{where}.name: required, one of: {', '.join(registry.stages())}")
    elif cls is None:
        known = list(registry.stages())
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        problems.append(f"{where}.name: unknown stage {quoted(name)}{hint}; registered stages: {', '.join(known)}")
    stage_id = entry.pop("id", name if isinstance(name, str) else None)
    on_error = entry.pop("on_error", "reject")
    found = len(problems)
    if on_error not in ("reject", "fail"):
        problems.append(f"{where}.on_error: must be 'reject' or 'fail', got {quoted(on_error)}")
    if stage_id is not None and (not isinstance(stage_id, str) or not stage_id.replace("_", "").isalnum()):
        problems.append(f"{where}.id: must be a word of letters, digits and '_', got {quoted(stage_id)}")
    if cls is None:
        return None
    if paths is not None:
        entry = paths.stage(f"{where} ({stage_id})", cls, entry)
    try:
        params = cls.Params.model_validate(entry)
    except ValidationError as error:
        problems.extend(_lines(error, f"{where} ({name}).", cls.Params))
        return None
    return StageSpec(name=name, id=stage_id, on_error=on_error, params=params) if len(problems) == found else None


def _import_plugins(modules: Any, problems: list[str]) -> None:
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        problems.append(f"plugins: expected a list of module names, got {quoted(modules)}")
        return
    for index, module in enumerate(modules):
        if not _MODULE.match(module):
            problems.append(f"plugins[{index}]: {quoted(module)} is not a module name (like `mypkg.stages`)")
            continue
        try:
            importlib.import_module(module)
        except ImportError as error:
            problems.append(f"plugins[{index}]: cannot import {module!r} ({error}); it must be importable "
                            "on the driver and on every worker")
        except Exception as error:  # noqa: BLE001 (the plugin's own code failed while importing)
            problems.append(f"plugins[{index}]: importing {module!r} failed: {type(error).__name__}: "
                            f"{quoted(str(error))}")


def parse(raw: Any, paths: RelativePaths | None = None) -> PipelineConfig:
    """Validate a loaded YAML document into a PipelineConfig. Every problem found is reported at once: a ConfigError
    with one line per problem, each naming its key path. `paths` makes the stages' relative paths absolute (a pipeline
    file's, `load`); without it they stay as given."""
    if not isinstance(raw, dict):
        raise ConfigError("the pipeline file must be a mapping with input, output and stages")
    raw = dict(raw)
    problems: list[str] = []
    misspelled = set()
    known = list(PipelineConfig.model_fields)
    for key in list(raw):
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"unknown key {quoted(key)}{hint}; a pipeline has: {', '.join(known)}")
            misspelled.update((name,) for name in close)
            del raw[key]
    _import_plugins(raw.get("plugins", []), problems)
    entries = raw.pop("stages", [])
    specs = []
    if not isinstance(entries, list):
        problems.append(f"stages: expected a list of stages, got {type(entries).__name__}")
    else:
        specs = [_stage_spec(i, entry, problems, paths) for i, entry in enumerate(entries)]
    ids = [spec.id for spec in specs if spec is not None]
    for stage_id in sorted({i for i in ids if ids.count(i) > 1}, key=ids.index):
        problems.append(f"stages: id {stage_id!r} appears twice; give repeated stages distinct `id:` values")
    try:
        config = PipelineConfig.model_validate({**raw, "stages": []})
    except ValidationError as error:
        problems.extend(_lines(error, model=PipelineConfig, misspelled=frozenset(misspelled)))
        config = None
    if problems:
        raise ConfigError("\n".join(problems))
    return config.model_copy(update={"stages": specs})


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded: nesting depth, the size of the document with every alias expanded (a
    billion-laughs file is refused before anything is built), no duplicate keys, no infinite or NaN numbers."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise ConfigError(f"nested more than {MAX_DEPTH} levels deep at line {mark.line + 1}")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_document(self, node):
        _expanded_size(node, {})
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise ConfigError(f"duplicate key {quoted(key)} at line {key_node.start_mark.line + 1}: "
                                      "keep one of them")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_float(self, node):
        value = super().construct_yaml_float(node)
        if not math.isfinite(value):
            raise ConfigError(f"{quoted(node.value)} at line {node.start_mark.line + 1} is not a finite number")
        return value


_BoundedLoader.add_constructor("tag:yaml.org,2002:float", _BoundedLoader.construct_yaml_float)
# Booleans as YAML 1.2 has them (true/false in three casings), not YAML 1.1's yes/no/on/off: `on: url` (exact_dedup's
# key, as the docs write it) stays the word `on`, and `languages: [no]` stays Norwegian. A switch given as yes/off is
# still one: pydantic reads those words where a bool is expected.
_BOOL = "tag:yaml.org,2002:bool"
_BoundedLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _BOOL]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_BoundedLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _expanded_size(node: yaml.Node, sizes: dict[int, int | None]) -> int:
    """Nodes in the document with every alias expanded; an alias is the same node object, so each is sized once."""
    if id(node) in sizes:
        if sizes[id(node)] is None:
            raise ConfigError(f"an alias at line {node.start_mark.line + 1} refers to the value that contains it")
        return sizes[id(node)]
    sizes[id(node)] = None
    size = 1
    if isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    if size > MAX_NODES:
        raise ConfigError(f"more than {MAX_NODES:,} values once its aliases are expanded (line {node.start_mark.line + 1})"
                          ": a pipeline file is a page of settings")
    sizes[id(node)] = size
    return size


def read_yaml(path: Path) -> Any:
    """The YAML document of a pipeline file, safely and boundedly loaded; every problem a one-line ConfigError."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read pipeline file {str(path)!r}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})") from None
    try:
        loader = _BoundedLoader(text)  # what yaml.safe_load does, with the bounded SafeLoader
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem[:200]}") from None


def load(path: str | Path, overrides: dict[str, Any] | None = None,
         notice: Callable[[str], None] | None = None) -> PipelineConfig:
    """Read a pipeline YAML file (safely: no tags that build objects), apply command-line overrides, validate.

    Relative paths in the file are relative to its folder (`RelativePaths`; a read path found only in the current
    folder is read there, said through `notice`); the overrides' paths are the current folder's. An `engine.name`
    override that switches engine drops the YAML's settings of the other engine (`master`, `conf`), and says so
    through `notice`: a pipeline written for Spark runs on Beam with `--engine beam` as it stands."""
    path = Path(path)
    raw = read_yaml(path)
    raw = raw if raw is not None else {}
    paths = RelativePaths(path, notice)
    if isinstance(raw, dict):
        raw = paths.top(raw, {key for key, value in (overrides or {}).items() if value is not None})
        engine = raw.get("engine")
        switched = (overrides or {}).get("engine.name")
        if isinstance(engine, dict) and switched and engine.get("name", "spark") != switched:
            dropped = [key for key in ("master", "conf") if engine.get(key)]
            raw["engine"] = {k: v for k, v in engine.items() if k not in ("master", "conf")}
            if dropped and notice is not None:
                notice(f"--engine {switched}: ignoring the pipeline's {engine.get('name', 'spark')} settings "
                       f"({', '.join('engine.' + key for key in dropped)})")
        for key, value in (overrides or {}).items():
            if value is None:
                continue
            section, _, field = key.partition(".")
            if field:
                current = raw.get(section)
                if section == "input" and isinstance(current, (str, list)):  # `input: crawl/` is the paths
                    current = {"paths": current}
                raw[section] = {**(current or {}), field: value}
            else:
                raw[section] = value
    return parse(raw, paths)
