"""Trainer throughput on whatever GPU is present: tokens/s, MFU (PaLM FLOPs), data-wait share and peak memory per preset.

Self-contained: writes synthetic token shards + manifest.json (docs/FORMAT.md) to a temp dir, then runs the real trainer
(`curate.trainer.train.run`, one process, so no parallel wrappers) for each preset and prints one JSON line per preset,
measured over the steps after warm-up (the first interval holds torch.compile). Example:

    python bench/train_mfu.py --preset 350M --preset 1B --seq-len 2048 --micro-batch 16 --grad-accum 4

Targets (issue 6, one H100/H200, seq 2048, bf16): MFU >= 60% (1B), >= 52% (350M), data-wait < 1% of step time.
`--probe-attention` first times each SDPA backend, forward + backward, at the 1B attention shape.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path


def _import_trainer():
    """`curate.trainer` from an install, or from this checkout (the folder `trainer/` is `curate.trainer`)."""
    try:
        import curate.trainer  # noqa: F401
    except ImportError:
        root = Path(__file__).resolve().parents[1]
        sys.path.insert(0, str(root))
        import curate

        curate.__path__.append(str(root))  # curate.trainer -> <root>/trainer
    from curate.trainer import config, train

    return config, train


def write_synthetic_corpus(root: Path, tokens: int, vocab: int, seed: int = 0) -> Path:
    """Two domains of random documents (lengths 200-4000, one EOS=0 each), uint16, weights 0.6 / 0.4."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    shards, domains = [], {}
    for name, weight in (("web", 0.6), ("code", 0.4)):
        (root / "shards" / name).mkdir(parents=True, exist_ok=True)
        want = int(tokens * weight) + 10_000
        lengths = rng.integers(200, 4000, size=want // 200)
        lengths = lengths[: np.searchsorted(np.cumsum(lengths), want) + 1]
        values = rng.integers(1, vocab, size=int(lengths.sum()), dtype=np.uint16)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
        values[offsets[1:] - 1] = 0  # EOS closes each document
        n = len(lengths)
        table = pa.table({
            "id": pa.array([f"bench/{name}/{i}.jsonl:0" for i in range(n)]),
            "uid": pa.array([hashlib.md5(f"{name}{i}".encode()).digest() for i in range(n)], pa.binary(16)),
            "domain": pa.array([name] * n),
            "split": pa.array(["train"] * n),
            "n_tokens": pa.array(lengths.astype(np.int32)),
            "tokens": pa.ListArray.from_arrays(pa.array(offsets), pa.array(values)),
        })
        rel = f"shards/{name}/part-00000.parquet"
        pq.write_table(table, root / rel)
        shards.append({"path": rel, "domain": name, "rows": n, "tokens": int(lengths.sum()),
                       "sha256": hashlib.sha256((root / rel).read_bytes()).hexdigest()})
        domains[name] = {"documents": n, "tokens": int(lengths.sum()), "weight": weight, "max_epochs": 100.0}
    manifest = {
        "format_version": 1, "created": "2026-01-01T00:00:00Z", "config": {}, "config_hash": "0" * 64,
        "inputs": [], "phases": {},
        "tokenizer": {"file": "tokenizer/tokenizer.json", "sha256": "0" * 64, "vocab_size": vocab, "eos_id": 0,
                      "dtype": "uint16"},
        "shards": shards, "domains": domains,
        "splits": {"train": {"documents": sum(d["documents"] for d in domains.values()),
                             "tokens": sum(d["tokens"] for d in domains.values())},
                   "validation": {"documents": 0, "tokens": 0}},
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return root / "manifest.json"


def probe_attention(batch: int, heads: int, seq: int, head_dim: int) -> None:
    """Forward + backward causal SDPA per backend, TFLOP/s (4 b h s^2 d x 0.5 causal x 3.5 for fwd+bwd)."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    q, k, v = (torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    flops = 4 * batch * heads * seq * seq * head_dim * 0.5 * 3.5
    backends = {"default": None, "flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION,
                "efficient": SDPBackend.EFFICIENT_ATTENTION}
    out = {}
    for name, backend in backends.items():
        try:
            ctx = sdpa_kernel([backend]) if backend is not None else torch.enable_grad()
            with ctx:
                for i in range(13):
                    if i == 3:
                        torch.cuda.synchronize()
                        t0 = time.perf_counter()
                    torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
                torch.cuda.synchronize()
            out[name] = round(flops * 10 / (time.perf_counter() - t0) / 1e12, 1)
        except Exception as e:  # a backend unavailable on this build or card
            out[name] = f"unavailable: {str(e).splitlines()[0][:80]}"
    print(json.dumps({"probe": "sdpa_fwd_bwd_tflops", "shape": [batch, heads, seq, head_dim], **out}), flush=True)


def bench_preset(config, train, manifest: Path, work: Path, args, preset: str) -> dict:
    import torch

    interval = args.measure_every
    steps = args.warmup_steps + args.steps
    cfg = config.from_dict({
        "output": str(work / f"run-{preset}"),
        "device": args.device,
        "data": {"manifest": str(manifest), "seq_len": args.seq_len, "cache_dir": str(work / "cache")},
        "model": {"preset": preset},
        "parallel": {"compile": not args.no_compile, "dtype": args.dtype,
                     "activation_checkpointing": args.activation_checkpointing},
        "train": {"steps": steps, "global_batch": args.micro_batch * args.grad_accum,
                  "micro_batch": args.micro_batch, "warmup_steps": min(10, steps)},
        "checkpoint": {"at_end": False},
        "log": {"every": interval},
    })
    records = [r for r in train.run(cfg) if r["kind"] == "train" and r["step"] > args.warmup_steps]
    seconds = sum(r["step_time_s"] * interval for r in records)
    tokens = len(records) * interval * cfg.train.global_batch * cfg.data.seq_len
    mfu = [r["mfu"] for r in records if r["mfu"] is not None]
    res = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu",
        "torch": torch.__version__,
        "preset": preset,
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "grad_accum": args.grad_accum,
        "dtype": args.dtype,
        "compile": not args.no_compile,
        "measured_steps": len(records) * interval,
        "tokens_per_s": round(tokens / seconds),
        # "mfu": 6N + 12 L d T per token (PaLM); "mfu_causal": the attention term halved for the causal mask
        "mfu": round(sum(r["mfu"] * r["step_time_s"] * interval for r in records) / seconds, 4) if mfu else None,
        "mfu_causal": (round(sum(r["mfu_causal"] * r["step_time_s"] * interval for r in records) / seconds, 4)
                       if mfu else None),
        "data_wait": round(sum(r["data_wait"] * r["step_time_s"] * interval for r in records) / seconds, 5),
        "step_time_s": round(seconds / (len(records) * interval), 4),
        "max_memory_gib": round(max(r.get("max_memory_gib", 0.0) for r in records), 2),
        "final_loss": round(records[-1]["loss"], 4),
    }
    print(json.dumps(res), flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", action="append", help="tiny, 125M, 350M or 1B (repeatable; default 350M and 1B)")
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--micro-batch", type=int, default=16)
    p.add_argument("--grad-accum", type=int, default=4)
    p.add_argument("--warmup-steps", type=int, default=6, help="not measured (compile, allocator warm-up)")
    p.add_argument("--steps", type=int, default=12, help="measured optimizer steps")
    p.add_argument("--measure-every", type=int, default=3, help="log interval, in steps")
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "float32"])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--activation-checkpointing", action="store_true")
    p.add_argument("--probe-attention", action="store_true")
    p.add_argument("--out", help="also append the JSON lines to this file")
    args = p.parse_args(argv)
    presets = args.preset or ["350M", "1B"]
    if args.warmup_steps % args.measure_every or args.steps % args.measure_every:
        p.error("--warmup-steps and --steps must be multiples of --measure-every")
    config, train = _import_trainer()
    import torch

    if args.probe_attention and torch.cuda.is_available():
        probe_attention(args.micro_batch, 16, args.seq_len, 128)
    results = []
    with tempfile.TemporaryDirectory(prefix="curate-bench-") as tmp:
        work = Path(tmp)
        total = (args.warmup_steps + args.steps) * args.micro_batch * args.grad_accum * (args.seq_len + 1)
        t0 = time.perf_counter()
        manifest = write_synthetic_corpus(work / "corpus", int(total * 1.2), args.vocab)
        print(f"synthetic corpus: {int(total * 1.2):,} tokens in {time.perf_counter() - t0:.1f}s", flush=True)
        for preset in presets:
            results.append(bench_preset(config, train, manifest, work, args, preset))
            torch._dynamo.reset()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
    if args.out:
        with open(args.out, "a") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    print(f"torch {torch.__version__}; MFU: 6N+12LdT (PaLM), causal: 6N+6LdT")
    print(f"{'device':<24} {'preset':>6} {'batch':>9} {'seq':>5} {'tok/s':>10} {'MFU':>6} {'causal':>6} {'wait':>6} "
          f"{'GiB':>6}")
    for r in results:
        mfu = f"{r['mfu']:.1%}" if r["mfu"] is not None else "-"
        causal = f"{r['mfu_causal']:.1%}" if r["mfu_causal"] is not None else "-"
        print(f"{r['device'][:24]:<24} {r['preset']:>6} {r['micro_batch']:>4}x{r['grad_accum']:<4} {r['seq_len']:>5} "
              f"{r['tokens_per_s']:>10,} {mfu:>6} {causal:>6} {r['data_wait']:>6.2%} {r['max_memory_gib']:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
