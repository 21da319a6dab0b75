"""Training configuration: YAML -> validated pydantic models, with model presets (tiny, 125M, 350M, 1B).

Every error is a `ConfigError` of one line that starts with the key path, worded as the pipeline's config errors are
(`train.steps: Input should be a valid integer, got 'many'`, `data.seq_lne: unknown key (did you mean 'seq_len'?)`),
so the launcher prints it and exits 2. Types and ranges are declared on the fields; what ties keys together
(heads that divide the width, a batch that splits over the ranks) is checked after, naming the key to change.
Overrides are `key.path=value` strings whose value is parsed as YAML (`train.steps=10`, `log.tensorboard=true`).
"""

from __future__ import annotations

import difflib
import os
import reprlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A bad training config; the message starts with the offending key path."""


# Architectures only: the vocabulary comes from the manifest's tokenizer.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=192),
    "125M": dict(dim=768, n_layers=12, n_heads=12, n_kv_heads=12, ffn_dim=2048),
    "350M": dict(dim=1024, n_layers=24, n_heads=8, n_kv_heads=8, ffn_dim=2816),
    "1B": dict(dim=2048, n_layers=18, n_heads=16, n_kv_heads=16, ffn_dim=5632),
}
ARCHITECTURE = ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class DataConfig(_Section):
    manifest: str = Field(min_length=1, description="a curate output's manifest.json")
    seq_len: int = Field(2048, ge=2)
    seed: int = 1234
    cache_dir: str | None = Field(None, description="converted shards and indices; none: <output>/data_cache")
    max_epochs: float | None = Field(None, gt=0, description="overrides every domain's manifest cap when set")
    weights: dict[str, Annotated[float, Field(ge=0)]] | None = Field(None, description="domain weights replacing the manifest's, normalised; "
                                             "a domain left out gets 0 (`curate ablate`'s mixture search sets it)")
    prefetch: int = Field(4, ge=1, description="batches prepared ahead by the loader thread")


class ModelConfig(_Section):
    preset: Literal["tiny", "125M", "350M", "1B"] | None = "tiny"
    dim: int | None = Field(None, gt=0)
    n_layers: int | None = Field(None, gt=0)
    n_heads: int | None = Field(None, gt=0)
    n_kv_heads: int | None = Field(None, gt=0)
    ffn_dim: int | None = Field(None, gt=0)
    rope_theta: float = Field(10000.0, gt=0)
    norm_eps: float = Field(1e-5, gt=0)


class ParallelConfig(_Section):
    nproc: int = Field(1, ge=1, description="processes per node (torchrun --nproc-per-node)")
    tp: int = Field(1, ge=1, description="tensor-parallel degree, within a node; data parallel is world / tp")
    sequence_parallel: bool = True
    activation_checkpointing: bool = False
    compile: bool = False
    dtype: Literal["bf16", "float32"] = Field("bf16", description="compute dtype: bf16, or float32 (CPU, tests)")


class TrainLoopConfig(_Section):
    steps: int = Field(1000, gt=0)
    global_batch: int = Field(64, gt=0, description="sequences per optimizer step, all ranks together")
    micro_batch: int = Field(8, gt=0, description="sequences per rank per forward")
    lr: float = Field(3e-4, gt=0)
    min_lr: float = Field(3e-5, ge=0)
    warmup_steps: int = Field(100, ge=0)
    weight_decay: float = Field(0.1, ge=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="0: no clipping")
    seed: int = 0
    exit_after: int | None = Field(None, gt=0, description="stop (after checkpointing) at this step")
    threads: int | None = Field(None, ge=1, description="CPU threads of each process; none: `default_threads`")


class EvalConfig(_Section):
    every: int = Field(0, ge=0, description="steps between evaluations; 0: never")
    batches: int = Field(4, gt=0)


class CheckpointConfig(_Section):
    every: int = Field(0, ge=0, description="0: no periodic checkpoints (still one at exit_after and at_end)")
    at_end: bool = True
    resume: bool = Field(True, description="continue from the newest checkpoint under output/checkpoints")
    keep: int = Field(2, ge=1)
    # A resumed run whose schedule (steps, warmup, lr, min_lr, global_batch) differs from its checkpoint's is refused:
    # the LR schedule would silently change shape. true: accept it and continue on the new schedule.
    allow_schedule_change: bool = False


class LogConfig(_Section):
    every: int = Field(10, ge=1)
    tensorboard: bool = False


class TrainConfig(_Section):
    output: str | None = Field(None, description="the run directory; none: <manifest folder>-train/<config name>")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    data: DataConfig
    model: ModelConfig = ModelConfig()
    parallel: ParallelConfig = ParallelConfig()
    train: TrainLoopConfig = TrainLoopConfig()
    eval: EvalConfig = EvalConfig()
    checkpoint: CheckpointConfig = CheckpointConfig()
    log: LogConfig = LogConfig()

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")


# ------------------------------------------------------------------ one-line errors, worded as the pipeline's

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxdict, _SHOWN.maxlist, _SHOWN.maxstring, _SHOWN.maxother = 2, 4, 4, 60, 60


def _one_line(error: ValidationError) -> str:
    """The first error as `key.path: message, got value`; a misspelled key first (it is also a missing one)."""
    errors = error.errors()
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    loc = ".".join(str(part) for part in first["loc"]) or "(top level)"
    if first["type"] == "extra_forbidden":
        message = "unknown key" + _did_you_mean(first["loc"])
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = first["msg"]
    got = first.get("input")
    shown = "" if first["type"] in ("missing", "extra_forbidden") or isinstance(got, dict) else f", got {_SHOWN.repr(got)}"
    extra = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{loc}: {message}{shown}{extra}"


def _did_you_mean(loc: tuple) -> str:
    model: type[BaseModel] | None = TrainConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        model = field.annotation if field is not None and isinstance(field.annotation, type) \
            and issubclass(field.annotation, BaseModel) else None
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1) if model is not None else []
    return f" (did you mean {close[0]!r}?)" if close else ""


# ------------------------------------------------------------------ what ties keys together


def _fill_preset(model: ModelConfig) -> None:
    """A preset's architecture for every key the config leaves out; keys given explicitly win."""
    for key in ARCHITECTURE:
        if getattr(model, key) is None:
            if model.preset is None:
                raise ConfigError(f"model.{key}: required when model.preset is null")
            setattr(model, key, PRESETS[model.preset][key])


def _check(cfg: TrainConfig) -> None:
    def need(ok: bool, key: str, msg: str):
        if not ok:
            raise ConfigError(f"{key}: {msg}")

    m, p, t = cfg.model, cfg.parallel, cfg.train
    need(m.dim % m.n_heads == 0, "model.n_heads", f"must divide model.dim ({m.dim})")
    need((m.dim // m.n_heads) % 2 == 0, "model.n_heads", "head dim (dim / n_heads) must be even for RoPE")
    need(m.n_heads % m.n_kv_heads == 0, "model.n_kv_heads", f"must divide model.n_heads ({m.n_heads})")
    need(p.nproc % p.tp == 0, "parallel.tp", f"must divide parallel.nproc ({p.nproc})")
    need(m.n_kv_heads % p.tp == 0, "parallel.tp", f"must divide model.n_kv_heads ({m.n_kv_heads})")
    check_world(cfg, p.nproc)
    need(t.warmup_steps <= t.steps, "train.warmup_steps", "must be between 0 and train.steps")
    need(t.min_lr <= t.lr, "train.min_lr", "must be between 0 and train.lr")
    need(t.exit_after is None or t.exit_after <= t.steps, "train.exit_after", "must be in 1..train.steps")


def check_world(cfg: TrainConfig, world: int) -> None:
    """What depends on the number of processes (nodes x parallel.nproc): the batch must split over the ranks."""
    t, dp = cfg.train, world // cfg.parallel.tp
    if t.global_batch % (t.micro_batch * dp):
        raise ConfigError(f"train.global_batch: must be a multiple of train.micro_batch x data-parallel size "
                          f"({t.micro_batch} x {dp})")


def default_threads(processes: int = 1, cores: int | None = None) -> int:
    """CPU threads for each of `processes` training processes on this machine: its cores shared out, one core left
    for the data loader's thread (it prepares steps ahead in Python and NumPy). OpenMP threads that outnumber the free
    cores wait for each other at every operator: with torch's default of one per core, the tiny model on 2 cores
    trained at 500-1,300 tokens/s, with one thread at ~6,000-16,500 (docs/TRAINER.md)."""
    cores = cores or len(os.sched_getaffinity(0))
    return max(1, cores // processes - 1)


def default_output(manifest: str, name: str) -> str:
    """Beside the curated data, not inside it (a new curate run may replace its output): OUT-train/NAME."""
    data_dir = Path(manifest).resolve().parent
    return str(data_dir.with_name(f"{data_dir.name}-train") / name)


def _apply_override(raw: dict, override: str) -> None:
    if "=" not in override:
        raise ConfigError(f"{override}: an override is key.path=value")
    key, value = override.split("=", 1)
    node = raw
    parts = key.strip().split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {part} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError:
        raise ConfigError(f"{key}: {value!r} is not a YAML value") from None


def from_dict(raw: dict, overrides: list[str] | None = None, name: str = "train") -> TrainConfig:
    """`name` names the run directory when `output` is not set (the config file's stem)."""
    raw = dict(raw or {})
    raw.setdefault("data", {})  # so that a config without it is told which key it needs: data.manifest
    for o in overrides or []:
        _apply_override(raw, o)
    try:
        cfg = TrainConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_one_line(error)) from None
    _fill_preset(cfg.model)
    _check(cfg)
    if cfg.output is None:
        cfg.output = default_output(cfg.data.manifest, name)
    if cfg.data.cache_dir is None:
        cfg.data.cache_dir = str(Path(cfg.output) / "data_cache")
    return cfg


def load(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    path = Path(path)
    try:
        raw: Any = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return from_dict(raw or {}, overrides, path.stem)
