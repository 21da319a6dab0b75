"""PySpark's Python worker daemon, started with the imports every task needs already done.

PySpark forks each Python worker from one daemon process per executor (`spark.python.daemon.module`). With the stock
daemon every fork imports pyarrow, pandas, PySpark's SQL workers (from `pyspark.zip`, which has no byte-code cache,
so they are compiled from source each time), pydantic and the stages on its first task — about 3 seconds of CPU per
worker, which a profile of `bench/end_to_end.py` put at a third of a small run's CPU. Here the daemon imports them
once before it forks, and every worker starts with them loaded (copy-on-write). Nothing here starts a thread or loads
a model: a stage's `setup` still runs in the worker.
"""
from __future__ import annotations

import pandas  # noqa: F401  (pyarrow imports it on a worker's first `from_pydict`, to check its arguments)
import pyarrow.parquet  # noqa: F401
import pyspark.worker  # noqa: F401
from pyspark.daemon import manager

import curate.pipeline.passes  # noqa: F401
import curate.engines.spark  # noqa: F401
from curate.pipeline import registry

registry.stages()  # every built-in stage module, imported

if __name__ == "__main__":
    manager()
