"""Fixtures shared by every test folder (one SparkSession per test session, the shared third-party data) and the
markers: what a test starts decides its marker, and `make test-fast` runs the tests that start none of them."""
from __future__ import annotations

import ast
import os
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

GUARD = Path(__file__).resolve().parent / "guard"
sys.path.insert(0, str(GUARD))
import sitecustomize as guard  # noqa: E402  (tests/guard/sitecustomize.py: the audit hook, off until a fast test)

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
    settings, and the driver JIT of a small input's run (the tests' inputs are small: the demo crawl's conformance
    test, 103 -> 81 CPU-s). Every in-process run finds it active and reuses it; `local[2]` whatever the machine's
    cores."""
    from curate.pipeline.config import EngineConfig
    from curate.pipeline.spark import session

    spark, _ = session(EngineConfig(master="local[2]"), jvm_work=False)
    yield spark
    spark.stop()


# --- markers -------------------------------------------------------------------------------------------------------
# Registered in pyproject.toml. A test that uses the `spark` fixture is marked `spark`, one parametrized with
# `engine` is marked with the engine, a module's `pytestmark` marks its tests; every test left unmarked is `fast`, and
# while it runs, starting a JVM, a Beam pipeline or torchrun makes it fail (`tests/guard/sitecustomize.py`), so a
# new test that needs an engine is told to say so.
ENGINES = ("spark", "beam", "cluster", "distributed")  # what a fast test must not start
NOT_FAST = (*ENGINES, "slow")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "spark" in item.fixturenames:
            item.add_marker("spark")
        engine = getattr(item, "callspec", None) and item.callspec.params.get("engine")
        if engine in ("spark", "beam"):
            item.add_marker(engine)
        if not any(item.get_closest_marker(name) for name in NOT_FAST):
            item.add_marker("fast")


def pytest_ignore_collect(collection_path, config):
    """Under `-m fast`, a module whose `pytestmark` names an engine is not imported at all (Beam, torch and Spark
    imports are most of the time the fast set would spend collecting)."""
    if config.option.markexpr != "fast" or collection_path.suffix != ".py" or \
            not collection_path.name.startswith("test_"):
        return None
    return bool(_module_marks(collection_path) & set(NOT_FAST)) or None


def _module_marks(path: Path) -> set[str]:
    """The marker names in a module's top-level `pytestmark = pytest.mark.X` (or a list of them)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "pytestmark" for t in node.targets):
            return {n.attr for n in ast.walk(node.value) if isinstance(n, ast.Attribute)
                    and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"}
    return set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _guarded(item) as violations:
        outcome = yield
        _fail_on(outcome, violations())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _guarded(item) as violations:
        outcome = yield
        _fail_on(outcome, violations())


# An active SparkSession or an imported Beam runner needs no new JVM or import to be used again: these are the calls
# a run goes through to use what an earlier, marked test started in this process.
_STARTED_ALREADY = [
    ("pyspark.sql.session", "SparkSession", ["getActiveSession", "active"]),
    ("pyspark.sql.session", "SparkSession.Builder", ["getOrCreate"]),
    ("apache_beam.pipeline", "Pipeline", ["run"]),
]


@contextmanager
def _guarded(item):
    """Around a fast test's setup or call: the guard on, here and in the children; yields the violations' reader."""
    if any(item.get_closest_marker(name) for name in ENGINES):
        yield list
        return
    record = Path(tempfile.gettempdir()) / f"curate-fast-guard-{os.getpid()}.txt"
    record.unlink(missing_ok=True)
    with ExitStack() as stack:
        stack.enter_context(_environ({guard.RECORD: str(record), "PYTHONPATH": os.pathsep.join(
            filter(None, [str(GUARD), os.environ.get("PYTHONPATH")]))}))
        for module, owner, names in _STARTED_ALREADY:
            if module in sys.modules:
                cls = sys.modules[module]
                for part in owner.split("."):
                    cls = getattr(cls, part)
                for name in names:
                    stack.enter_context(_replaced(cls, name))
        guard.activate(str(record))
        stack.callback(guard.activate, None)
        stack.callback(record.unlink, missing_ok=True)
        yield lambda: record.read_text().splitlines() if record.exists() else []


@contextmanager
def _replaced(owner: type, name: str):
    """`owner.name` replaced by a call that records a violation."""
    saved = owner.__dict__[name]
    what = f"used {owner.__qualname__}.{name} (Spark or Beam that an earlier test started)"
    setattr(owner, name, staticmethod(lambda *args, **kwargs: guard.violation(what)))
    try:
        yield
    finally:
        setattr(owner, name, saved)


@contextmanager
def _environ(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _fail_on(outcome, violations: list[str]) -> None:
    if violations:
        outcome.force_exception(pytest.fail.Exception(
            "this test is in the fast set (no spark, beam, cluster or distributed marker) but it "
            + "; ".join(dict.fromkeys(violations)) + ": mark it", pytrace=False))
