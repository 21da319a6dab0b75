"""Checkpoints with torch distributed checkpoint (DCP): model, optimizer, scheduler, data position and RNG; read
without running any code a checkpoint file could carry.

Layout: `<output>/checkpoints/step_0000100/` (DCP files, one set per rank's shards). A checkpoint is written to
`step_N.tmp` and renamed once every rank has finished, so a directory named `step_N` is always complete. Beside the DCP
files, `schedule.json` records the run's schedule (steps, warmup, lr, min_lr, global_batch): a resume that changes it
is refused unless `checkpoint.allow_schedule_change` is set. Model and optimizer go through `get_state_dict` /
`set_state_dict` (sharded DTensors under FSDP/TP). RNG states differ per rank and are stored under per-rank keys, so a
resume needs the same world size.

**What is trusted.** DCP writes its index (`.metadata`) with `pickle` and reads it with `pickle.load`, and reads every
non-tensor value (the step, the scheduler's state, the data position) with `torch.load(weights_only=False)`: a
crafted checkpoint would run its own code on `curate train` (resume) or `curate train export-hf`. Here nothing in a
checkpoint is trusted to be code: the index is unpickled with an allow-list of DCP's own metadata types (`_Index`,
`METADATA_TYPES`), non-tensor values with `torch.load(weights_only=True)` (plain containers, numbers, strings,
tensors), and tensors as DCP reads them, with `weights_only=True`. Anything else in a checkpoint is refused before it
is built. A checkpoint that cannot be read (an empty step folder, a truncated `.distcp`, a damaged index) is a
`CheckpointError` of one line naming the folder and the cause, never DCP's `CheckpointException` (a BaseException).
"""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint._traverse import set_element  # how DCP's own planner places a loaded value
from torch.distributed.checkpoint.api import CheckpointException
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from .parallel import Dist

_STEP_DIR = re.compile(r"^step_(\d+)$")
METADATA = ".metadata"  # DCP's index of a checkpoint's items: which file, offset and length hold each

# The globals DCP's index pickles (torch 2.13): its own metadata dataclasses, the file offsets, tensor sizes, dtypes,
# layouts and memory formats, and the path it was saved to. Building any of them runs no code of the file's choosing.
METADATA_TYPES = {
    ("torch.distributed.checkpoint.metadata", name) for name in (
        "Metadata", "TensorStorageMetadata", "BytesStorageMetadata", "ChunkStorageMetadata", "TensorProperties",
        "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING")
} | {
    ("torch.distributed.checkpoint.filesystem", "_StorageInfo"),
    ("torch", "Size"),
    ("torch.serialization", "_get_layout"),  # looks a layout up by name (what `weights_only` loading allows too)
    ("pathlib", "PosixPath"),
}


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely or completely; the message names its folder and the cause."""


def latest(root: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in root.glob("step_*") if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return max(found)[1] if found else None


class _Index(pickle.Unpickler):
    """DCP's `.metadata`, unpickled with only METADATA_TYPES (and torch's dtypes) as globals."""

    def find_class(self, module: str, name: str):
        if (module, name) in METADATA_TYPES or (module == "torch" and isinstance(getattr(torch, name, None),
                                                                                 torch.dtype)):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}, which is not part of a checkpoint's index")

    def load(self) -> dcp.metadata.Metadata:
        metadata = super().load()
        if not isinstance(metadata, dcp.metadata.Metadata):
            raise pickle.UnpicklingError(f"it holds a {type(metadata).__name__}, not DCP metadata")
        return metadata


class _Reader(dcp.FileSystemReader):
    """DCP's file reader, with the index read by `_Index` instead of `pickle.load`."""

    def read_metadata(self, *args, **kwargs):
        rank = kwargs.get("rank")
        name = METADATA if rank is None else f"__{rank}{METADATA}"
        with self.fs.create_stream(self.fs.concat_path(self.path, name), "rb") as file:
            metadata = _Index(file).load()
        if getattr(metadata, "storage_meta", None) is None:
            metadata.storage_meta = dcp.metadata.StorageMeta()
        metadata.storage_meta.load_id = self.load_id
        return metadata


class _Planner(dcp.DefaultLoadPlanner):
    """DCP's load planner, with non-tensor values read by `torch.load(weights_only=True)`."""

    def load_bytes(self, read_item, value: io.BytesIO) -> None:
        obj = torch.load(value, weights_only=True)
        if self.flatten_state_dict:
            set_element(self.original_state_dict, self.mappings[read_item.dest_index.fqn], obj)
        else:
            self.state_dict[read_item.dest_index.fqn] = obj


def check(path: Path) -> None:
    """Refuse, before anything is loaded, a checkpoint whose index is missing, damaged or names anything but DCP's
    types, or whose files are missing or shorter than the index says (a truncated `.distcp`)."""
    index = path / METADATA
    if not index.is_file():
        raise CheckpointError(f"{path}: not a complete checkpoint ({METADATA} is missing); delete the folder to "
                              "resume from the one before, or set checkpoint.resume=false")
    try:
        with open(index, "rb") as file:
            metadata = _Index(file).load()
    except Exception as error:  # noqa: BLE001 (a damaged pickle raises whatever its bytes lead to)
        raise CheckpointError(f"{path}: its index {METADATA} cannot be read ({_cause(error)})") from None
    needed: dict[str, int] = {}
    for info in (metadata.storage_data or {}).values():
        needed[info.relative_path] = max(needed.get(info.relative_path, 0), info.offset + info.length)
    for name, size in sorted(needed.items()):
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{path}: {name} is missing (the checkpoint's index lists it)")
        if file.stat().st_size < size:
            raise CheckpointError(f"{path}: {name} is {file.stat().st_size:,} bytes, the checkpoint's index needs "
                                  f"{size:,} (truncated?)")


def read(path: Path, state: dict) -> None:
    """Fill `state` (DCP's state-dict layout, tensors allocated where they go) from the checkpoint at `path`."""
    check(path)
    try:
        with warnings.catch_warnings():  # at world size 1 DCP warns that it loads in one process: that is the intent
            warnings.filterwarnings("ignore", message="torch.distributed is disabled")
            dcp.load(state, storage_reader=_Reader(path), planner=_Planner())
    except CheckpointException as error:  # a BaseException: every rank's failure, wrapped
        raise CheckpointError(f"{path}: cannot be read ({_cause(error)})") from None
    except (pickle.UnpicklingError, RuntimeError, ValueError, KeyError, OSError, EOFError) as error:
        raise CheckpointError(f"{path}: cannot be read ({_cause(error)})") from None


def _cause(error: BaseException) -> str:
    """The first line of the underlying error: DCP's CheckpointException wraps each rank's."""
    failures = getattr(error, "failures", None)
    if isinstance(failures, dict) and failures:
        error = next(iter(failures.values()))[0]  # (exception, traceback summary) per rank
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # torch.load(weights_only=True) opens with a page about its defaults; the line that says why is further down
    text = next((line for line in lines if "GLOBAL" in line), lines[0] if lines else "")[:300]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def resume_point(cfg) -> Path | None:
    """The newest checkpoint of the run when it resumes, checked (`check`) and of the config's schedule (or allowed
    not to be: a ConfigError names the changed key); None when the run starts from scratch."""
    from .config import ConfigError

    last = latest(Path(cfg.output) / "checkpoints") if cfg.checkpoint.resume else None
    if last is None:
        return None
    check(last)
    if not cfg.checkpoint.allow_schedule_change and (change := schedule_change(last, cfg)) is not None:
        raise ConfigError(change)
    return last


def _rng_state(d: Dist) -> dict:
    state = {"cpu": torch.get_rng_state()}
    if d.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(d.device)
    return state


SCHEDULE_KEYS = ("steps", "warmup_steps", "lr", "min_lr", "global_batch")


def schedule(cfg) -> dict:
    """What fixes the learning rate at each step and the samples each step reads: a resume must keep it."""
    return {k: getattr(cfg.train, k) for k in SCHEDULE_KEYS}


def schedule_change(path: Path, cfg) -> str | None:
    """A one-line refusal naming the first changed key, or None when the checkpoint's schedule is the config's."""
    saved_file = path / "schedule.json"
    if not saved_file.exists():  # written by every save; a checkpoint from before it records none
        return None
    try:
        saved = json.loads(saved_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{saved_file}: cannot be read ({_cause(error)})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{saved_file}: expected a JSON object of the schedule")
    for key, value in schedule(cfg).items():
        if key in saved and saved[key] != value:
            return (f"train.{key}: the checkpoint {path} was trained with {saved[key]}, the config says {value}; "
                    f"resuming would re-shape the learning-rate schedule (set checkpoint.allow_schedule_change=true "
                    f"to continue on the new one, or use a new output)")
    return None


def save(root: Path, step: int, model, optimizer, scheduler, data_state: dict, d: Dist, keep: int,
         schedule: dict) -> Path:
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {
        "model": model_sd,
        "optim": optim_sd,
        "train": {"step": step, "scheduler": scheduler.state_dict(), "data": dict(data_state)},
        f"rng_rank{d.rank}": _rng_state(d),
    }
    final = root / f"step_{step:07d}"
    tmp = root / f"step_{step:07d}.tmp"
    if d.is_main:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    d.barrier()
    try:
        with warnings.catch_warnings():  # at world size 1 DCP warns that it saves in one process: that is the intent
            warnings.filterwarnings("ignore", message="torch.distributed is disabled")
            dcp.save(state, checkpoint_id=str(tmp))
    except CheckpointException as error:  # a BaseException (a full disk, say): an ordinary failure here
        raise RuntimeError(f"{tmp}: the checkpoint could not be written ({_cause(error)})") from None
    d.barrier()
    if d.is_main:
        (tmp / "schedule.json").write_text(json.dumps(schedule))
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
        old = sorted((int(m.group(1)), p) for p in root.glob("step_*") if (m := _STEP_DIR.match(p.name)))
        for _, p in old[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
    d.barrier()
    return final


def load(path: Path, model, optimizer, scheduler, d: Dist) -> dict:
    """Restore everything in place; returns {"step": ..., "data": {...}}."""
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {
        "model": model_sd,
        "optim": optim_sd,
        "train": {"step": 0, "scheduler": scheduler.state_dict(), "data": {"consumed_samples": 0}},
        f"rng_rank{d.rank}": _rng_state(d),
    }
    read(path, state)
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    scheduler.load_state_dict(state["train"]["scheduler"])
    rng = state[f"rng_rank{d.rank}"]
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], d.device)
    return {"step": int(state["train"]["step"]), "data": dict(state["train"]["data"])}


def load_model(run_dir: Path, device: torch.device | str = "cpu"):
    """The model of a run's newest checkpoint, as the run built it (`model.json`), in float32 and eval mode, in one
    process whatever the world size that trained it; and the checkpoint's step. CheckpointError when there is none."""
    from .model import ModelArgs, Transformer

    try:
        args = ModelArgs(**json.loads((run_dir / "model.json").read_text()))
    except OSError as error:
        raise CheckpointError(f"{run_dir}: not a training run ({error.filename} is missing)") from None
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{run_dir / 'model.json'}: not the model's shape ({_cause(error)})") from None
    last = latest(run_dir / "checkpoints")
    if last is None:
        raise CheckpointError(f"{run_dir}: no checkpoint under checkpoints/")
    with torch.device(device):
        model = Transformer(args)
    state = {"model": model.state_dict()}
    read(last, state)
    model.load_state_dict(state["model"])
    return model.eval(), int(last.name.split("_")[1])
