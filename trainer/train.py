"""The training loop: data, model, parallelism, AdamW + warmup/cosine, clipping, accumulation, eval, logs, checkpoints.

`run(cfg)` is the whole job for one process; torchrun starts one per GPU (`curate.jobs.train`), and at one process it
runs in-process. It returns the log records (rank 0's are also written to `<output>/train_log.jsonl`). The loop calls
`train_step` once per optimizer step; what surrounds it (logs, evaluations, checkpoints) is decided by the step number.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml

from . import checkpoint, config, data, evaluate, parallel
from .config import TrainConfig
from .flops import flops_per_token, peak_flops
from .model import ModelArgs, Transformer, cross_entropy, matmul_params


def lr_lambda(cfg: TrainConfig):
    """Linear warmup to lr, then cosine down to min_lr at the last step (a factor of lr, for LambdaLR)."""
    t = cfg.train
    floor = t.min_lr / t.lr

    def factor(step: int) -> float:
        if step < t.warmup_steps:
            return (step + 1) / t.warmup_steps
        progress = (step - t.warmup_steps) / max(1, t.steps - t.warmup_steps)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    t = cfg.train
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [  # no weight decay on norm gains
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": t.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    fused = device.type == "cuda"
    return torch.optim.AdamW(groups, lr=t.lr, betas=(t.beta1, t.beta2), eps=1e-8, fused=fused, foreach=not fused)


@dataclasses.dataclass
class TrainState:
    """What one optimizer step reads and changes: the (parallelised) model, its optimizer and schedule, the loss, the
    precision context, and how the global batch is accumulated and clipped."""

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss_fn: Callable
    autocast: Callable
    accum: int  # micro-batches per optimizer step on this rank
    grad_clip: float
    params: list = dataclasses.field(init=False)

    def __post_init__(self):
        self.params = [p for p in self.model.parameters() if p.requires_grad]


def train_step(state: TrainState, micro_batches) -> tuple[torch.Tensor, torch.Tensor, float]:
    """One optimizer step over this rank's share of a global batch: forward and backward each (inputs, targets)
    micro-batch (gradients accumulate), clip the global gradient norm, step the optimizer and the schedule.
    Returns this rank's loss of the step (a tensor, not synchronised), the gradient norm, and the rate it used."""
    loss_sum = None
    for inputs, targets in micro_batches:
        if loss_sum is None:
            loss_sum = torch.zeros((), device=inputs.device)
        with state.autocast():
            logits = state.model(inputs)
        loss = state.loss_fn(logits, targets) / state.accum
        loss.backward()
        loss_sum += loss.detach()
    grad_norm = parallel.clip_grad_norm(state.params, state.grad_clip)
    lr = state.scheduler.get_last_lr()[0]  # the rate this step used: scheduler.step() moves on to the next one
    state.optimizer.step()
    state.scheduler.step()
    state.optimizer.zero_grad(set_to_none=True)
    return loss_sum, grad_norm, lr


class Logger:
    """JSONL (rank 0) + a short stdout line; TensorBoard when asked and installed."""

    def __init__(self, out: Path, d: parallel.Dist, tensorboard: bool, steps: int, stop_at: int):
        self.records: list[dict] = []
        self.steps, self.stop_at = steps, stop_at  # the run's length; where this invocation stops (exit_after)
        self.main = d.is_main
        self.file = None
        self.tb = None
        if self.main:
            out.mkdir(parents=True, exist_ok=True)
            self.file = open(out / "train_log.jsonl", "a")
            if tensorboard:
                try:
                    from torch.utils.tensorboard import SummaryWriter
                    self.tb = SummaryWriter(str(out / "tensorboard"))
                except ImportError:
                    print("log.tensorboard: tensorboard is not installed; logging JSONL only", flush=True)

    def log(self, rec: dict) -> None:
        self.records.append(rec)
        if not self.main:
            return
        self.file.write(json.dumps(rec) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in rec.items():
                if k not in ("kind", "step") and isinstance(v, (int, float)):
                    self.tb.add_scalar(f"{rec['kind']}/{k}", v, rec["step"])
                elif isinstance(v, dict):  # loss_by_domain
                    for name, x in v.items():
                        self.tb.add_scalar(f"{rec['kind']}/{k}/{name}", x, rec["step"])
        if rec["kind"] == "train":
            mfu = f" mfu {rec['mfu']:.1%}" if rec.get("mfu") is not None else ""
            eta = duration((self.stop_at - rec["step"]) * rec["step_time_s"])
            print(f"step {rec['step']}/{self.steps} loss {rec['loss']:.4f} lr {rec['lr']:.2e} "
                  f"tok/s {rec['tokens_per_s']:,.0f}{mfu} data-wait {rec['data_wait']:.1%} eta {eta}", flush=True)
        else:
            domains = "".join(f" {k} {v:.4f}" for k, v in rec.get("loss_by_domain", {}).items())
            print(f"step {rec['step']}/{self.steps} {rec['kind']} loss {rec['loss']:.4f}{domains}", flush=True)

    def close(self) -> None:
        if self.file:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


@dataclasses.dataclass
class Flops:
    """Model FLOPs per token (PaLM's count and the causal one) and the device's peak: what MFU is measured against."""

    per_token: float
    per_token_causal: float
    peak: float | None  # FLOP/s of one device; None: unknown, no MFU

    def mfu(self, tokens_per_s: float, world: int, causal: bool = False) -> float | None:
        if not self.peak:
            return None
        return tokens_per_s * (self.per_token_causal if causal else self.per_token) / (self.peak * world)


class Interval:
    """Optimizer steps, training time and the time spent waiting on data since the last train record. Evaluations
    and checkpoints that fall inside the interval are paused out of its time, so throughput and MFU count training
    alone."""

    def __init__(self, loader: data.Loader):
        self.loader = loader
        self.restart()

    def restart(self) -> None:
        self.t0, self.steps, self.paused, self.wait0 = time.perf_counter(), 0, 0.0, self.loader.wait_s

    @contextlib.contextmanager
    def pause(self):
        t = time.perf_counter()
        try:
            yield
        finally:
            self.paused += time.perf_counter() - t

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0 - self.paused

    def rates(self, tokens_per_step: int, flops: Flops, world: int) -> dict:
        """The interval's throughput, step time, MFU (both counts) and share of time spent waiting on data."""
        elapsed = self.elapsed()
        tps = self.steps * tokens_per_step / elapsed
        return {"tokens_per_s": tps, "step_time_s": elapsed / self.steps, "mfu": flops.mfu(tps, world),
                "mfu_causal": flops.mfu(tps, world, causal=True),
                "data_wait": (self.loader.wait_s - self.wait0) / elapsed}


def duration(seconds: float) -> str:
    """`45s`, `12m 05s`, `3h 20m`: an ETA as a reader takes it in."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def set_threads(cfg: TrainConfig, d: parallel.Dist) -> str | None:
    """The CPU threads of this process: `train.threads`; else OMP_NUM_THREADS when set (torch reads it); else on CPU
    `config.default_threads` for this node's processes. GPU runs keep torch's default. Returns what it chose, to say."""
    if cfg.train.threads is not None:
        torch.set_num_threads(cfg.train.threads)
        return f"{cfg.train.threads} (train.threads)"
    if os.environ.get("OMP_NUM_THREADS"):
        return f"{torch.get_num_threads()} (OMP_NUM_THREADS)"
    if d.device.type != "cpu":
        return None
    threads = config.default_threads(d.local_world)
    torch.set_num_threads(threads)
    return (f"{threads} (of {len(os.sched_getaffinity(0))} cores, {d.local_world} process(es), one core left for "
            "the data loader; train.threads sets it)")


def run(cfg: TrainConfig) -> list[dict]:
    d = parallel.init(cfg.parallel, cfg.device)
    threads = set_threads(cfg, d)
    if d.is_main:  # first, before data preparation (which can take long): where to look
        print(f"run directory: {cfg.output}" + (f"; CPU threads: {threads}" if threads else ""), flush=True)
    try:
        return _run(cfg, d)
    finally:
        if d.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _prepare_data(cfg: TrainConfig, manifest: data.Manifest, d: parallel.Dist, cache: Path):
    """Shards are converted by all ranks, each its share; then rank 0 builds the indices and the others load them."""
    data.convert_shards(manifest, cache, d.rank, d.world)
    d.prepare_barrier()
    # Nodes whose cache is not on a shared filesystem have only their own ranks' shards: each node's ranks split
    # the rest (on a shared filesystem nothing is left).
    data.convert_shards(manifest, cache, d.local_rank, d.local_world)
    d.prepare_barrier()
    t = cfg.train

    def datasets():
        train_ds = data.build_train(manifest, cfg.data.seq_len, t.steps * t.global_batch, cfg.data.seed, cache,
                                    cfg.data.max_epochs, cfg.data.weights)
        val_ds = (data.build_validation(manifest, cfg.data.seq_len, cfg.data.seed, cache,
                                        cfg.eval.batches * t.global_batch) if cfg.eval.every else None)
        return train_ds, val_ds

    if d.is_main:
        built = datasets()
    d.prepare_barrier()
    if not d.is_main:
        built = datasets()
    return built


def build(cfg: TrainConfig, d: parallel.Dist, vocab_size: int) -> tuple[TrainState, Flops, int]:
    """The model this run trains (same seed on every rank: identical weights before sharding), its shape written
    beside the run with the resolved config (what export-hf and a reader need), parallelised, with its optimizer,
    schedule, loss and precision; its FLOPs and its parameter count."""
    m, t, out = cfg.model, cfg.train, Path(cfg.output)
    vocab = -(-vocab_size // 128) * 128  # padded: tensor-parallel splits and matmul tiles like multiples
    args = ModelArgs(dim=m.dim, n_layers=m.n_layers, n_heads=m.n_heads, n_kv_heads=m.n_kv_heads, ffn_dim=m.ffn_dim,
                     vocab_size=vocab, max_seq_len=cfg.data.seq_len, rope_theta=m.rope_theta, norm_eps=m.norm_eps)
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        (out / "model.json").write_text(json.dumps(dataclasses.asdict(args), indent=1))
    with torch.device(d.device):
        model = Transformer(args)
    n_matmul = matmul_params(model)
    flops = Flops(flops_per_token(n_matmul, args.n_layers, args.dim, cfg.data.seq_len),
                  flops_per_token(n_matmul, args.n_layers, args.dim, cfg.data.seq_len, causal=True),
                  peak_flops(torch.cuda.get_device_name(d.device)) if d.device.type == "cuda" else None)
    n_params = sum(p.numel() for p in model.parameters())
    model = parallel.parallelize(model, d, cfg.parallel)
    optimizer = build_optimizer(model, cfg, d.device)
    state = TrainState(
        model, optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg)),
        torch.compile(cross_entropy) if cfg.parallel.compile else cross_entropy,
        ((lambda: torch.autocast(d.device.type, dtype=torch.bfloat16))
         if parallel.uses_autocast(d, cfg.parallel) else contextlib.nullcontext),
        accum=t.global_batch // (t.micro_batch * d.dp_size), grad_clip=t.grad_clip)
    return state, flops, n_params


def _run(cfg: TrainConfig, d: parallel.Dist) -> list[dict]:
    t, out = cfg.train, Path(cfg.output)
    config.check_world(cfg, d.world)
    last = checkpoint.resume_point(cfg)
    torch.manual_seed(t.seed)
    manifest = data.read_manifest(cfg.data.manifest)
    train_ds, val_ds = _prepare_data(cfg, manifest, d, Path(cfg.data.cache_dir))
    state, flops, n_params = build(cfg, d, manifest.vocab_size)

    step, consumed = 0, 0
    stop_at = t.exit_after or t.steps
    if last is not None:
        restored = checkpoint.load(last, state.model, state.optimizer, state.scheduler, d)
        step, consumed = restored["step"], restored["data"]["consumed_samples"]
        if d.is_main:
            left = (f"training steps {step + 1}-{stop_at}" if step < stop_at
                    else f"already at step {step} of {t.steps}: nothing to train")
            print(f"resumed from {last} at step {step} ({consumed} samples consumed); {left}", flush=True)
    elif d.is_main:
        print(f"model: {n_params / 1e6:.1f}M parameters, {flops.per_token / 1e9:.2f} GFLOP/token; world {d.world} "
              f"(dp {d.dp_size} x tp {d.tp}) on {d.device.type}; {t.steps} steps of {t.global_batch} x "
              f"{cfg.data.seq_len} tokens", flush=True)
    logger = Logger(out, d, cfg.log.tensorboard, t.steps, stop_at)
    loader = data.Loader(train_ds, t.global_batch, t.micro_batch, d.dp_rank, d.dp_size, consumed, d.device,
                         cfg.data.prefetch)
    interval = Interval(loader)
    if d.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(d.device)
    try:
        while step < stop_at:
            loss, grad_norm, lr = train_step(state, loader.next())
            step += 1
            interval.steps += 1
            if step % cfg.log.every == 0 or step == stop_at:
                rec = {"kind": "train", "step": step,
                       "loss": float(d.dp_mean(loss)),  # synchronises: the interval's time is complete
                       "lr": lr, "grad_norm": float(grad_norm),
                       **interval.rates(t.global_batch * cfg.data.seq_len, flops, d.world),
                       "consumed_samples": loader.consumed_samples}
                if d.device.type == "cuda":
                    rec["max_memory_gib"] = torch.cuda.max_memory_allocated(d.device) / 2**30
                logger.log(rec)
                interval.restart()
            if val_ds is not None and (step % cfg.eval.every == 0 or step == t.steps):
                with interval.pause():
                    logger.log({"kind": "eval", "step": step,
                                **evaluate.validation_loss(state.model, val_ds, cfg, d, state.autocast)})
            if ((cfg.checkpoint.every and step % cfg.checkpoint.every == 0) or step == t.exit_after
                    or (step == t.steps and cfg.checkpoint.at_end)):
                with interval.pause():
                    checkpoint.save(out / "checkpoints", step, state.model, state.optimizer, state.scheduler,
                                    loader.state_dict(), d, cfg.checkpoint.keep, checkpoint.schedule(cfg))
    finally:
        loader.close()
        logger.close()
    return logger.records
