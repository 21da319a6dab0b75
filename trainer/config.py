"""Training configuration: YAML -> validated dataclasses, with model presets (tiny, 125M, 350M, 1B).

Every error is a `ConfigError` whose message names the key path (`train.steps: ...`), so the launcher can print one line
and exit 2. Overrides are `key.path=value` strings whose value is parsed as YAML (`train.steps=10`, `log.tensorboard=true`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A bad training config; the message starts with the offending key path."""


# Architectures only: the vocabulary comes from the manifest's tokenizer.
PRESETS: dict[str, dict[str, int]] = {
    "tiny": dict(dim=64, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=192),
    "125M": dict(dim=768, n_layers=12, n_heads=12, n_kv_heads=12, ffn_dim=2048),
    "350M": dict(dim=1024, n_layers=24, n_heads=8, n_kv_heads=8, ffn_dim=2816),
    "1B": dict(dim=2048, n_layers=18, n_heads=16, n_kv_heads=16, ffn_dim=5632),
}


@dataclass
class DataConfig:
    manifest: str = ""
    seq_len: int = 2048
    seed: int = 1234
    cache_dir: str | None = None  # converted shards and indices; default: <output>/data_cache
    max_epochs: float | None = None  # overrides every domain's manifest cap when set
    prefetch: int = 4  # batches prepared ahead by the loader thread


@dataclass
class ModelConfig:
    preset: str | None = "tiny"
    dim: int | None = None
    n_layers: int | None = None
    n_heads: int | None = None
    n_kv_heads: int | None = None
    ffn_dim: int | None = None
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5


@dataclass
class ParallelConfig:
    nproc: int = 1  # processes per node (torchrun --nproc-per-node); the world is nodes x nproc
    tp: int = 1  # tensor-parallel degree, within a node; data parallel (FSDP) is world / tp
    sequence_parallel: bool = True
    activation_checkpointing: bool = False
    compile: bool = False
    dtype: str = "bf16"  # compute dtype: bf16 or float32 (tests)


@dataclass
class TrainLoopConfig:
    steps: int = 1000
    global_batch: int = 64  # sequences per optimizer step, all ranks together
    micro_batch: int = 8  # sequences per rank per forward
    lr: float = 3e-4
    min_lr: float = 3e-5
    warmup_steps: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0
    seed: int = 0
    exit_after: int | None = None  # stop (after checkpointing) at this step, e.g. to fit a job's time limit


@dataclass
class EvalConfig:
    every: int = 0  # 0: never
    batches: int = 4


@dataclass
class CheckpointConfig:
    every: int = 0  # 0: no periodic checkpoints (still one at exit_after and, with at_end, at the last step)
    at_end: bool = True
    resume: bool = True  # continue from the newest checkpoint under output/checkpoints
    keep: int = 2
    # A resumed run whose schedule (steps, warmup, lr, min_lr, global_batch) differs from its checkpoint's is refused:
    # the LR schedule would silently change shape. true: accept it and continue on the new schedule.
    allow_schedule_change: bool = False


@dataclass
class LogConfig:
    every: int = 10
    tensorboard: bool = False


@dataclass
class TrainConfig:
    output: str | None = None  # the run directory; default beside the data: <manifest folder>-train/<config name>
    device: str = "auto"  # auto, cpu or cuda
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _coerce(value, tp, path: str):
    """Check `value` against the annotation `tp` (int, float, str, bool, X | None, a dataclass)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, path)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, path)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{path}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{path}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{path}: expected a string, got {value!r}")
    raise TypeError(f"unsupported config type {tp} at {path}")


def _build(cls, raw, path: str):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in raw if k not in names]
    if unknown:
        key = f"{path}.{unknown[0]}" if path else str(unknown[0])
        raise ConfigError(f"{key}: unknown key (allowed: {', '.join(names)})")
    kwargs = {k: _coerce(v, hints[k], f"{path}.{k}" if path else k) for k, v in raw.items()}
    return cls(**kwargs)


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
    node[parts[-1]] = yaml.safe_load(value)


def _check(cfg: TrainConfig) -> None:
    def need(ok: bool, key: str, msg: str):
        if not ok:
            raise ConfigError(f"{key}: {msg}")

    need(bool(cfg.data.manifest), "data.manifest", "required (path to a curate output's manifest.json)")
    need(cfg.data.seq_len >= 2, "data.seq_len", "must be >= 2")
    need(cfg.data.prefetch >= 1, "data.prefetch", "must be >= 1")
    need(cfg.data.max_epochs is None or cfg.data.max_epochs > 0, "data.max_epochs", "must be > 0")
    m = cfg.model
    need(m.preset is None or m.preset in PRESETS, "model.preset", f"one of {', '.join(PRESETS)} or null")
    for key in ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim"):
        need(getattr(m, key) is not None, f"model.{key}", "required when model.preset is null")
        need(getattr(m, key) > 0, f"model.{key}", "must be positive")
    need(m.dim % m.n_heads == 0, "model.n_heads", f"must divide model.dim ({m.dim})")
    need((m.dim // m.n_heads) % 2 == 0, "model.n_heads", "head dim (dim / n_heads) must be even for RoPE")
    need(m.n_heads % m.n_kv_heads == 0, "model.n_kv_heads", f"must divide model.n_heads ({m.n_heads})")
    p = cfg.parallel
    need(p.nproc >= 1, "parallel.nproc", "must be >= 1")
    need(p.tp >= 1 and p.nproc % p.tp == 0, "parallel.tp", f"must divide parallel.nproc ({p.nproc})")
    need(m.n_kv_heads % p.tp == 0, "parallel.tp", f"must divide model.n_kv_heads ({m.n_kv_heads})")
    need(p.dtype in ("bf16", "float32"), "parallel.dtype", "one of bf16, float32")
    need(cfg.device in ("auto", "cpu", "cuda"), "device", "one of auto, cpu, cuda")
    t = cfg.train
    need(t.steps > 0, "train.steps", "must be positive")
    need(t.micro_batch > 0, "train.micro_batch", "must be positive")
    check_world(cfg, p.nproc)
    need(0 <= t.warmup_steps <= t.steps, "train.warmup_steps", "must be between 0 and train.steps")
    need(t.lr > 0 and 0 <= t.min_lr <= t.lr, "train.min_lr", "must be between 0 and train.lr")
    need(t.grad_clip >= 0, "train.grad_clip", "must be >= 0 (0: no clipping)")
    need(t.exit_after is None or 0 < t.exit_after <= t.steps, "train.exit_after", "must be in 1..train.steps")
    need(cfg.eval.every >= 0 and cfg.eval.batches > 0, "eval.batches", "must be positive")
    need(cfg.checkpoint.every >= 0, "checkpoint.every", "must be >= 0")
    need(cfg.checkpoint.keep >= 1, "checkpoint.keep", "must be >= 1")
    need(cfg.log.every >= 1, "log.every", "must be >= 1")


def check_world(cfg: TrainConfig, world: int) -> None:
    """What depends on the number of processes (nodes x parallel.nproc): the batch must split over the ranks."""
    t, dp = cfg.train, world // cfg.parallel.tp
    if t.global_batch % (t.micro_batch * dp):
        raise ConfigError(f"train.global_batch: must be a multiple of train.micro_batch x data-parallel size "
                          f"({t.micro_batch} x {dp})")


def default_output(manifest: str, name: str) -> str:
    """Beside the curated data, not inside it (a new curate run may replace its output): OUT-train/NAME."""
    data_dir = Path(manifest).resolve().parent
    return str(data_dir.with_name(f"{data_dir.name}-train") / name)


def from_dict(raw: dict, overrides: list[str] | None = None, name: str = "train") -> TrainConfig:
    """`name` names the run directory when `output` is not set (the config file's stem)."""
    raw = dict(raw or {})
    for o in overrides or []:
        _apply_override(raw, o)
    cfg = _build(TrainConfig, raw, "")
    if cfg.model.preset is not None and cfg.model.preset not in PRESETS:
        raise ConfigError(f"model.preset: one of {', '.join(PRESETS)} or null, got {cfg.model.preset!r}")
    if cfg.model.preset is not None:
        for key, value in PRESETS[cfg.model.preset].items():
            if getattr(cfg.model, key) is None:
                setattr(cfg.model, key, value)
    _check(cfg)
    if cfg.output is None:
        cfg.output = default_output(cfg.data.manifest, name)
    if cfg.data.cache_dir is None:
        cfg.data.cache_dir = str(Path(cfg.output) / "data_cache")
    return cfg


def load(path: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return from_dict(raw or {}, overrides, path.stem)
