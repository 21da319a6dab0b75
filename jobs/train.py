"""torchrun entry of the trainer: `torchrun --nproc-per-node N -m curate.jobs.train TRAIN.yaml [key.path=value ...]`.

`curate train` builds this command (with `--nnodes`, c10d rendezvous on several nodes); call it yourself only to pass
torchrun options `curate train` does not. A config, data or checkpoint error prints one line and exits 2.
"""

from __future__ import annotations

import sys

from curate.trainer import config, train
from curate.trainer.launch import user_errors


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        cfg = config.load(argv[0], argv[1:])
        train.run(cfg)
    except user_errors() as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
