"""How long an ablation's runs will take, said before they start: training steps of the runs' model measured on the
device and with the dtype and threads the runs use, times the steps to run, plus the evaluation at a measured forward
pass per token.

The measurement goes through the trainer's own `build` and `train_step` (the model, optimizer, autocast and loss a run
has) on random tokens: WARMUP steps (allocation, CUDA kernels' first launch), then TIMED steps. A forward pass of
`evaluation.batch` windows, timed the same way, gives the evaluation's cost per token; the tokens to evaluate are the
evaluation sets' (encoded with the shared tokenizer) and the arm's validation documents. A run's time is its steps
times the step time plus its evaluated tokens times the token time; runs side by side (`runs_at_once`, one per GPU)
divide the sum. What it leaves out: data preparation (shard conversion, indices: seconds on the ablation's scale),
and contention between runs side by side on a CPU beyond the threads each is given.
"""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

WARMUP = 1
TIMED = 2


@dataclass
class Speed:
    step_seconds: float  # one optimizer step: every micro-batch forward and backward, the optimizer
    token_seconds: float  # one evaluated token: a forward pass over evaluation windows, per token
    device: str
    dtype: str


def measure(trainer: dict, vocab_size: int, eval_batch: int) -> Speed:
    """The speed of the run a `curate train` config describes (`trainer`: a run spec's), on its device."""
    import numpy as np
    import torch

    from curate.trainer import config, parallel, train

    threads = torch.get_num_threads()
    with tempfile.TemporaryDirectory(prefix="curate-estimate-") as scratch:
        cfg = config.from_dict({**trainer, "output": scratch, "checkpoint": {"resume": False}})
        d = parallel.init(cfg.parallel, cfg.device)
        train.set_threads(cfg, d)
        try:
            state, _, _ = train.build(cfg, d, vocab_size)
            t, seq_len = cfg.train, cfg.data.seq_len
            rng = np.random.default_rng(0)

            def batch(rows: int) -> torch.Tensor:
                return torch.from_numpy(rng.integers(0, vocab_size, (rows, seq_len + 1))).to(d.device)

            micro = [(b[:, :-1], b[:, 1:]) for b in (batch(t.micro_batch) for _ in range(state.accum))]
            step_seconds = _timed(lambda: train.train_step(state, micro), d.device)
            windows = batch(eval_batch)[:, :-1]
            model = state.model.eval()

            def forward():
                with torch.inference_mode(), state.autocast():
                    model(windows).float()

            token_seconds = _timed(forward, d.device) / windows.numel()
        finally:
            torch.set_num_threads(threads)
        del state, micro, model
        if d.device.type == "cuda":
            torch.cuda.empty_cache()
    return Speed(step_seconds, token_seconds, d.device.type, cfg.parallel.dtype)


def _timed(work, device) -> float:
    """Seconds per call of `work`, after WARMUP calls, over TIMED calls (the device's queue drained)."""
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(WARMUP):
        work()
    sync()
    started = time.perf_counter()
    for _ in range(TIMED):
        work()
    sync()
    return (time.perf_counter() - started) / TIMED


def speed_key(trainer: dict) -> tuple:
    """What makes two runs equally fast: the model, the batch, the device, the dtype, the threads."""
    return (trainer["model"]["preset"], trainer["data"]["seq_len"], trainer["train"]["global_batch"],
            trainer["train"]["micro_batch"], trainer["device"], trainer["parallel"]["dtype"],
            trainer["train"].get("threads"))


def steps_to_train(spec: dict) -> int:
    return 0 if spec.get("evaluate_only") else spec["trainer"]["train"]["steps"]


def run_seconds(spec: dict, speed: Speed) -> float:
    return steps_to_train(spec) * speed.step_seconds + spec["eval_tokens"] * speed.token_seconds


def evaluated_tokens(texts: list[str], tokenizer_file: str) -> int:
    """Tokens the evaluation sets' texts hold with the shared tokenizer (each after its one EOS, as scored)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    return sum(len(e.ids) + 1 for e in tokenizer.encode_batch(texts, add_special_tokens=False))


def estimate(todo: list[dict], at_once: int, eval_batch: int) -> str:
    """The line said before `todo` runs start: how long they should take, and from what."""
    import json
    from pathlib import Path

    from curate.trainer.train import duration

    speeds: dict[tuple, Speed] = {}
    total = 0.0
    for spec in todo:
        key = speed_key(spec["trainer"])
        if key not in speeds:
            vocab = json.loads(Path(spec["manifest"]).read_text())["tokenizer"]["vocab_size"]
            speeds[key] = measure(spec["trainer"], vocab, eval_batch)
        total += run_seconds(spec, speeds[key])
    measured = "; ".join(
        f"{key[0]}, {key[2]} x {key[1]} tokens a step: {s.step_seconds:.3g} s a step, "
        f"{s.token_seconds * 1e6:.3g} µs an evaluated token ({s.device}, {s.dtype}"
        + (f", {key[6]} thread(s)" if key[6] else "") + ")"
        for key, s in speeds.items())
    steps = sum(steps_to_train(spec) for spec in todo)
    tokens = sum(spec["eval_tokens"] for spec in todo)
    return (f"estimate: {len(todo)} run(s), {at_once} at once, {steps:,} steps and {tokens:,} evaluated tokens in "
            f"all: about {duration(total / at_once)} (measured here: {measured})")
