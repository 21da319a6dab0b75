"""Parallelism applied from outside the model: process group and mesh, tensor/sequence parallel plan, activation
checkpointing, torch.compile, FSDP2.

Ranks form a (dp, tp) mesh with tp innermost (tensor-parallel peers share a node's fast links). The order matters and is
torchtitan's: TP plan -> activation checkpointing -> compile (per block) -> fully_shard (per block, then the root).
At world size 1 nothing is wrapped: the model is the plain module, compiled if asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

from .config import ParallelConfig
from .model import Transformer


@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    dp_rank: int
    dp_size: int
    tp: int
    device: torch.device
    mesh: object | None  # DeviceMesh with dims ("dp", "tp") when world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def dp_mean(self, value: torch.Tensor) -> torch.Tensor:
        """Mean over the data-parallel group (tensor-parallel peers already agree)."""
        if self.dp_size == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM, group=self.mesh["dp"].get_group())
        return value / self.dp_size


def init(cfg: ParallelConfig, device: str) -> Dist:
    """Join the process group torchrun describes (or none at world size 1) and build the mesh."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world != cfg.nproc:
        raise RuntimeError(f"parallel.nproc is {cfg.nproc} but {world} processes were started")
    mesh = None
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        from torch.distributed.device_mesh import init_device_mesh

        mesh = init_device_mesh(dev.type, (world // cfg.tp, cfg.tp), mesh_dim_names=("dp", "tp"))
    return Dist(rank, world, local_rank, rank // cfg.tp, world // cfg.tp, cfg.tp, dev, mesh)


def _tensor_parallel(model: Transformer, tp_mesh, sequence_parallel: bool) -> None:
    """Megatron's split: q/k/v and w1/w3 by output columns, wo and w2 by input rows; with sequence parallel the
    norms and residual stream are sharded along the sequence between blocks."""
    from torch.distributed.tensor import Replicate, Shard
    from torch.distributed.tensor.parallel import (ColwiseParallel, PrepareModuleInput, RowwiseParallel,
                                                   SequenceParallel, parallelize_module)

    seq = Shard(1) if sequence_parallel else Replicate()
    top = {
        "tok_embeddings": RowwiseParallel(input_layouts=Replicate(), output_layouts=seq),
        "output": ColwiseParallel(input_layouts=seq, output_layouts=Replicate()),
    }
    if sequence_parallel:
        top["norm"] = SequenceParallel()
    parallelize_module(model, tp_mesh, top)
    for block in model.layers:
        plan = {
            "attention.wq": ColwiseParallel(),
            "attention.wk": ColwiseParallel(),
            "attention.wv": ColwiseParallel(),
            "attention.wo": RowwiseParallel(output_layouts=seq),
            "feed_forward.w1": ColwiseParallel(),
            "feed_forward.w3": ColwiseParallel(),
            "feed_forward.w2": RowwiseParallel(output_layouts=seq),
        }
        if sequence_parallel:
            plan.update({
                "attention_norm": SequenceParallel(),
                "attention": PrepareModuleInput(input_layouts=(seq, None, None),
                                                desired_input_layouts=(Replicate(), None, None)),
                "ffn_norm": SequenceParallel(),
                "feed_forward": PrepareModuleInput(input_layouts=(seq,), desired_input_layouts=(Replicate(),)),
            })
        parallelize_module(block, tp_mesh, plan)


def parallelize(model: Transformer, d: Dist, cfg: ParallelConfig) -> nn.Module:
    if d.tp > 1:
        _tensor_parallel(model, d.mesh["tp"], cfg.sequence_parallel)
    if cfg.activation_checkpointing:
        from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper

        for i, block in enumerate(model.layers):
            model.layers[i] = checkpoint_wrapper(block)
    if cfg.compile:
        # Per block: identical blocks share one compiled graph, so compile time does not grow with depth.
        for block in model.layers:
            block.compile()
    if d.dp_size > 1:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16 if cfg.dtype == "bf16" else torch.float32,
                                  reduce_dtype=torch.float32)
        dp_mesh = d.mesh["dp"]
        for i, block in enumerate(model.layers):
            # The last block's parameters are needed again at once by backward: keep them gathered.
            fully_shard(block, mesh=dp_mesh, mp_policy=mp, reshard_after_forward=i < len(model.layers) - 1)
        fully_shard(model, mesh=dp_mesh, mp_policy=mp)
    return model


def uses_autocast(d: Dist, cfg: ParallelConfig) -> bool:
    """bf16 by autocast unless FSDP's mixed-precision policy already casts the parameters."""
    return cfg.dtype == "bf16" and d.dp_size == 1


def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Global gradient norm (over all shards), and clip to max_norm when it is > 0."""
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads, 2.0)
    full_tensor = getattr(norm, "full_tensor", None)  # a DTensor under FSDP / TP
    if full_tensor is not None:
        norm = full_tensor()
    if max_norm > 0:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return norm
