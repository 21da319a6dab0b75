"""Fixtures shared by every test folder: one SparkSession per test session, and the shared third-party data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

# One OpenMP thread per process (torch's CPU kernels; torchrun already does this for its ranks): tests run several
# processes at once on few cores (Spark workers, torchrun ranks, this one), and OpenMP threads that spin waiting for
# each other on a busy core made the trainer's CPU steps 10x slower (60 tiny-model steps: 58 s -> 4.5 s, 2 cores).
# Set before anything imports torch; children inherit it.
os.environ.setdefault("OMP_NUM_THREADS", "1")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the checkout; tests that need it skip where it is absent (a user's clone)."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark():
    """One embedded SparkSession for the whole test session (a JVM start is seconds), built by the production
    builder, so tests run the configuration users run: the worker daemon module, the class-data archive, the log4j
    settings. Every in-process run finds it active and reuses it; `local[2]` whatever the machine's cores."""
    from curate.pipeline.config import EngineConfig
    from curate.engines.spark import session

    spark, _ = session(EngineConfig(master="local[2]"))
    yield spark
    spark.stop()
