"""`curate train TRAIN.yaml`: validate, then run in-process (one process) or under torchrun (per node, N processes).

Multi-node: the same command on every node with `nnodes`, the node's rank and one rendezvous endpoint (host:port on
the first node); torchrun's c10d rendezvous gathers the nodes, and the world is nodes x `parallel.nproc`.
"""

from __future__ import annotations

import subprocess
import sys

from . import config


def user_errors() -> tuple[type[Exception], ...]:
    """What a user can act on, told in one line with exit status 2: the config, the data, a checkpoint that cannot be
    read (checkpoint and data import torch: not imported to refuse a bad config, seconds of a cold start)."""
    from . import checkpoint, data

    return config.ConfigError, data.DataError, checkpoint.CheckpointError


def _check(cfg: config.TrainConfig, nnodes: int) -> None:
    """Fail before spawning anything on what is knowable here: the config, the manifest, a resume's checkpoint."""
    from . import checkpoint, data

    config.check_world(cfg, nnodes * cfg.parallel.nproc)
    manifest = data.read_manifest(cfg.data.manifest)
    missing = [s["path"] for s in manifest.shards if not (manifest.root / s["path"]).exists()]
    if missing:
        raise data.DataError(f"{cfg.data.manifest}: {len(missing)} shard(s) missing, first {missing[0]}")
    checkpoint.resume_point(cfg)


def torchrun_command(config_path: str, overrides: list[str], nproc: int, nnodes: int, node_rank: int,
                     rdzv_endpoint: str | None) -> list[str]:
    if nnodes == 1:
        where = ["--standalone"]
    else:  # node 0 hosts the rendezvous store; the others connect to it
        where = [f"--nnodes={nnodes}", "--rdzv-backend=c10d", f"--rdzv-endpoint={rdzv_endpoint}",
                 f"--rdzv-conf=is_host={'true' if node_rank == 0 else 'false'}"]
    return [sys.executable, "-m", "torch.distributed.run", *where, f"--nproc-per-node={nproc}",
            "--max-restarts=0", "-m", "curate.jobs.train", config_path, *overrides]


def main(config_path: str, overrides: list[str] | None = None, nnodes: int = 1, node_rank: int = 0,
         rdzv_endpoint: str | None = None) -> int:
    """Exit status: 0 done, 2 bad config, data or checkpoint (one line on stderr naming the key or the file), else the
    trainer's (torchrun's when it launched: non-zero when any rank failed or was killed)."""
    overrides = list(overrides or [])
    try:
        if nnodes < 1 or not 0 <= node_rank < nnodes:
            raise config.ConfigError(f"--node-rank: {node_rank} is not in 0..{nnodes - 1} (--nnodes {nnodes})")
        if nnodes > 1 and not rdzv_endpoint:
            raise config.ConfigError("--rdzv-endpoint: required with --nnodes > 1 (host:port of node 0)")
        cfg = config.load(config_path, overrides)
    except config.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from . import data

    errors = user_errors()
    try:
        _check(cfg, nnodes)
    except data.DataError as e:
        print(f"error: data.manifest: {e}", file=sys.stderr)
        return 2
    except errors as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if cfg.parallel.nproc == 1 and nnodes == 1:
        from . import train

        try:
            train.run(cfg)
        except errors as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    cmd = torchrun_command(config_path, overrides, cfg.parallel.nproc, nnodes, node_rank, rdzv_endpoint)
    return subprocess.call(cmd)
