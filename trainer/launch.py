"""`curate train TRAIN.yaml`: validate the config, then run in-process (1 process) or under torchrun (N processes)."""

from __future__ import annotations

import subprocess
import sys

from . import config, data


def _check(cfg: config.TrainConfig) -> None:
    """Fail before spawning anything on what is knowable here: the config and the manifest."""
    manifest = data.read_manifest(cfg.data.manifest)
    missing = [s["path"] for s in manifest.shards if not (manifest.root / s["path"]).exists()]
    if missing:
        raise data.DataError(f"{cfg.data.manifest}: {len(missing)} shard(s) missing, first {missing[0]}")


def main(config_path: str, overrides: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 bad config or data (one line on stderr naming the key), else the trainer's."""
    try:
        cfg = config.load(config_path, overrides)
        _check(cfg)
    except config.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except data.DataError as e:
        print(f"error: data.manifest: {e}", file=sys.stderr)
        return 2
    if cfg.parallel.nproc == 1:
        from . import train

        try:
            train.run(cfg)
        except data.DataError as e:
            print(f"error: data: {e}", file=sys.stderr)
            return 2
        return 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={cfg.parallel.nproc}",
           "-m", "curate.jobs.train", config_path, *(overrides or [])]
    return subprocess.call(cmd)
