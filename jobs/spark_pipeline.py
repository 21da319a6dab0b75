"""spark-submit entry point: run a curate pipeline on the cluster spark-submit connects to.

    spark-submit --master spark://host:7077 --archives env.tar.gz#env \\
        --conf spark.pyspark.python=./env/bin/python jobs/spark_pipeline.py pipeline.yaml [--resume|--overwrite]

The session comes from spark-submit (its master and configuration win over the YAML's `engine` section).
"""
from __future__ import annotations

import argparse
import json
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spark_pipeline.py", description=__doc__.splitlines()[0])
    parser.add_argument("pipeline")
    parser.add_argument("--input", action="append")
    parser.add_argument("--output")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--resume", action="store_true")
    mode.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession

    from curate.pipeline.config import load
    from curate.pipeline.errors import CurateError
    from curate.pipeline.run import run

    spark = SparkSession.builder.appName("curate").getOrCreate()
    try:
        config = load(args.pipeline, {"input.paths": args.input, "output": args.output})
        result = run(config, resume=args.resume, overwrite=args.overwrite)
    except CurateError as error:
        print(f"curate: error: {error}", file=sys.stderr)
        return error.status
    finally:
        spark.stop()
    print(json.dumps({k: result.stats[k] for k in ("input", "kept", "rejected")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
