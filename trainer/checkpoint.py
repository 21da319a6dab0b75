"""Checkpoints with torch distributed checkpoint (DCP): model, optimizer, scheduler, data position and RNG.

Layout: `<output>/checkpoints/step_0000100/` (DCP files, one set per rank's shards). A checkpoint is written to
`step_N.tmp` and renamed once every rank has finished, so a directory named `step_N` is always complete. Beside the DCP
files, `schedule.json` records the run's schedule (steps, warmup, lr, min_lr, global_batch): a resume that changes it
is refused unless `checkpoint.allow_schedule_change` is set. Model and
optimizer go through `get_state_dict` / `set_state_dict` (sharded DTensors under FSDP/TP). RNG states differ per rank
and are stored under per-rank keys, so a resume needs the same world size.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

from .parallel import Dist

_STEP_DIR = re.compile(r"^step_(\d+)$")


def latest(root: Path) -> Path | None:
    found = [(int(m.group(1)), p) for p in root.glob("step_*") if (m := _STEP_DIR.match(p.name)) and p.is_dir()]
    return max(found)[1] if found else None


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
    saved = json.loads(saved_file.read_text())
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
    with warnings.catch_warnings():  # at world size 1 DCP warns that it saves in one process: that is the intent
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.save(state, checkpoint_id=str(tmp))
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
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(path))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    scheduler.load_state_dict(state["train"]["scheduler"])
    rng = state[f"rng_rank{d.rank}"]
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], d.device)
    return {"step": int(state["train"]["step"]), "data": dict(state["train"]["data"])}
