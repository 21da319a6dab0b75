"""Parallelism applied from outside the model: process group and mesh, tensor/sequence parallel plan, activation
checkpointing, torch.compile, FSDP2.

Ranks form a (dp, tp) mesh with tp innermost (tensor-parallel peers share a node's fast links). The order matters and is
torchtitan's: TP plan -> activation checkpointing -> compile (per block) -> fully_shard (per block, then the root).
At world size 1 nothing is wrapped: the model is the plain module, compiled if asked.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn

from .config import ConfigError, ParallelConfig
from .model import Transformer


# Data preparation (shard conversion, index building) waits at barriers far longer than a training collective: a
# first run over a large corpus converts for as long as the corpus takes to read, so it gets its own gloo group.
PREPARE_TIMEOUT = timedelta(hours=6)


@dataclass
class Dist:
    rank: int
    world: int
    local_rank: int
    local_world: int
    dp_rank: int
    dp_size: int
    tp: int
    device: torch.device
    mesh: object | None  # DeviceMesh with dims ("dp", "tp") when world > 1
    prepare_group: object | None = None  # gloo, PREPARE_TIMEOUT, when world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def prepare_barrier(self) -> None:
        """A barrier after data preparation, with PREPARE_TIMEOUT instead of the process group's."""
        if self.world > 1:
            dist.barrier(group=self.prepare_group)

    def dp_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Sum over the data-parallel group (tensor-parallel peers already agree)."""
        if self.dp_size == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value, op=dist.ReduceOp.SUM, group=self.mesh["dp"].get_group())
        return value

    def dp_mean(self, value: torch.Tensor) -> torch.Tensor:
        return self.dp_sum(value) / self.dp_size


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
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    if local_world != cfg.nproc:
        raise ConfigError(f"parallel.nproc: {cfg.nproc} processes per node, but {local_world} were started on this node")
    if world % cfg.tp:
        raise ConfigError(f"parallel.tp: {cfg.tp} does not divide the world size {world}")
    mesh = prepare_group = None
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        from torch.distributed.device_mesh import init_device_mesh

        mesh = init_device_mesh(dev.type, (world // cfg.tp, cfg.tp), mesh_dim_names=("dp", "tp"))
        prepare_group = dist.new_group(backend="gloo", timeout=PREPARE_TIMEOUT)
    return Dist(rank, world, local_rank, local_world, rank // cfg.tp, world // cfg.tp, cfg.tp, dev, mesh,
                prepare_group)


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
    """Global gradient norm (over all shards), and clip to max_norm when it is > 0.

    Gradients can live on different meshes (2-D under FSDP + TP, the dp mesh for FSDP-only parameters, none for
    parameters tensor parallel leaves replicated, such as the norms without sequence parallel), and DTensor ops do
    not mix them: each group's norm is reduced over its own mesh, the groups' norms are combined, and each group is
    scaled by the one global factor.
    """
    groups: dict[object, list[nn.Parameter]] = {}
    for p in params:
        if p.grad is not None:
            mesh = getattr(p.grad, "device_mesh", None)
            key = None if mesh is None else (mesh, tuple(p.grad.placements))
            groups.setdefault(key, []).append(p)
    norms = []
    for group in groups.values():
        norm = torch.nn.utils.get_total_norm([p.grad for p in group], 2.0)
        full_tensor = getattr(norm, "full_tensor", None)  # a DTensor when the gradients are
        norms.append(full_tensor() if full_tensor is not None else norm)
    norm = torch.linalg.vector_norm(torch.stack(norms)) if len(norms) > 1 else norms[0]
    if max_norm > 0:
        for group in groups.values():
            torch.nn.utils.clip_grads_with_norm_(group, max_norm, norm)
    return norm
