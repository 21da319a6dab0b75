"""torchrun entry of the trainer: `torchrun --nproc-per-node N -m curate.jobs.train TRAIN.yaml [key.path=value ...]`."""

from __future__ import annotations

import sys

from curate.trainer import config, data, train


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        cfg = config.load(argv[0], argv[1:])
        train.run(cfg)
    except (config.ConfigError, data.DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
