"""The peer of bench/dedup_scale.py: datatrove's MinHash deduplication, its four stages, on a folder of Parquet files.

    python bench/peers/datatrove_minhash.py --input DIR --work DIR --workers 2 --datatrove DIR

The four stages as datatrove's `examples/minhash_deduplication.py` chains them, each on LocalPipelineExecutor with
`--workers` processes: ParquetReader → MinhashDedupSignature (one task per input file); MinhashDedupBuckets (one
task per band); MinhashDedupCluster (one task); ParquetReader → MinhashDedupFilter → ParquetWriter (one task per
input file, as the signatures). MinhashConfig's defaults, which are FineWeb's and curate's: 5-word shingles, 14 bands
× 8 rows, English word tokenizer. `--datatrove` is a folder datatrove is installed in (see datatrove_fineweb.py);
it is appended to `sys.path`.

Prints a JSON line as each stage starts, `{"stage": ..., "started": epoch}`, and as it ends, the same with `"ended":
epoch, "bytes": ...`, bytes being what the stage left on disk under `--work` (signatures, bucket matches, ids to
remove, output): the bench cuts its CPU and memory curves into stages by them. Run again on the same `--work`, it
goes on where it stopped: datatrove's executor skips the tasks it has recorded as completed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--datatrove", required=True, help="folder datatrove is installed in")
    args = parser.parse_args()
    sys.path.append(args.datatrove)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), args.datatrove]))

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import ParquetWriter

    config = MinhashConfig()
    files = len(list(Path(args.input).glob("*.parquet")))
    work = args.work
    stages = [
        ("signatures", work / "signatures",
         [ParquetReader(args.input, text_key="text"),
          MinhashDedupSignature(output_folder=str(work / "signatures"), config=config)], files),
        ("buckets", work / "buckets",
         [MinhashDedupBuckets(input_folder=str(work / "signatures"), output_folder=str(work / "buckets"),
                              config=config)], config.num_buckets),
        ("cluster", work / "remove_ids",
         [MinhashDedupCluster(input_folder=str(work / "buckets"), output_folder=str(work / "remove_ids"),
                              config=config)], 1),
        ("filter", work / "output",
         [ParquetReader(args.input, text_key="text"),
          MinhashDedupFilter(input_folder=str(work / "remove_ids")),
          ParquetWriter(str(work / "output"))], files),
    ]
    for name, written, pipeline, tasks in stages:
        started = time.time()
        print(json.dumps({"stage": name, "started": started}), flush=True)
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=min(args.workers, tasks),
                              logging_dir=str(work / "logs" / name)).run()
        print(json.dumps({"stage": name, "started": started, "ended": time.time(),
                          "bytes": folder_bytes(written)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
