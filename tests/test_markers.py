"""The markers (tests/conftest.py): a test of the fast set that starts Spark, Beam or torchrun fails, in the pytest
process or in a child; a marked test may; `-m fast` does not even import a module marked as a whole.

Each rule is shown failing on a probe: a pytest run in a child process over probe tests, with this checkout's
conftest.py and guard copied beside them. Nothing is really started: the guard stops each call before it runs."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PYPROJECT = TESTS.parent / "pyproject.toml"

PROBES = '''
import subprocess
import sys

import pytest


def test_spark_in_process():
    from pyspark.sql import SparkSession

    SparkSession.builder.master("local[1]").getOrCreate()


def test_beam_in_process():
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    with beam.Pipeline(runner=FnApiRunner()) as p:
        _ = p | beam.Create([1, 2]) | beam.Map(lambda x: x + 1)


def test_a_jvm_in_a_child_whose_failure_the_test_ignores():
    subprocess.run([sys.executable, "-c", "import subprocess; subprocess.run(['/nonexistent/bin/java', '-version'])"],
                   capture_output=True)


def test_torchrun():
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--help"], capture_output=True)


def test_a_jvm():
    with pytest.raises(OSError):  # no such java: marked, the call goes through and fails here
        subprocess.run(["/nonexistent/bin/java", "-version"])


@pytest.mark.spark
def test_a_jvm_marked():
    with pytest.raises(OSError):
        subprocess.run(["/nonexistent/bin/java", "-version"])


def test_plain():
    assert sum([1, 2]) == 3
'''


def _pytest(folder: Path, *args: str) -> str:
    """A pytest run over `folder` in a child, with this checkout's conftest and guard; its report, which lists each
    collected test's markers."""
    (folder / "conftest.py").write_text((TESTS / "conftest.py").read_text() + _SHOW_MARKERS)
    shutil.copytree(TESTS / "guard", folder / "guard", ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True)
    # the child is not itself a test of the fast set being guarded (this test may be one)
    env = {k: v for k, v in os.environ.items() if k not in ("CURATE_FAST_GUARD", "PYTHONPATH")} | {"COLUMNS": "500"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-c", str(PYPROJECT), "--rootdir", str(folder),
                           "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", "-rA", *args, str(folder)],
                          capture_output=True, text=True, env=env, cwd=folder, timeout=600)
    return done.stdout + done.stderr


_SHOW_MARKERS = """

def pytest_collection_finish(session):
    for item in session.items:
        print("markers", item.name, *sorted({m.name for m in item.iter_markers()} - {"parametrize"}))
"""


def _outcomes(report: str) -> dict[str, str]:
    return {name: word for word, name in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)", report, re.M)}


def test_a_fast_test_that_starts_an_engine_fails_and_a_marked_one_does_not(tmp_path):
    (tmp_path / "test_probes.py").write_text(PROBES)
    report = _pytest(tmp_path)
    assert _outcomes(report) == {
        "test_spark_in_process": "FAILED", "test_beam_in_process": "FAILED",
        "test_a_jvm_in_a_child_whose_failure_the_test_ignores": "FAILED", "test_torchrun": "FAILED",
        "test_a_jvm": "FAILED", "test_a_jvm_marked": "PASSED", "test_plain": "PASSED"}, report
    for name, what in [("test_spark_in_process", "started a JVM"), ("test_beam_in_process", "ran a Beam pipeline"),
                       ("test_a_jvm_in_a_child_whose_failure_the_test_ignores", "started a JVM"),
                       ("test_torchrun", "launched torchrun"), ("test_a_jvm", "started a JVM")]:
        assert re.search(rf"FAILED \S+::{name} - .*{what}", report), (name, report)


def test_the_guard_holds_in_xdist_workers(tmp_path):
    """`make test-fast` runs in pytest-xdist workers: there too a fast test that starts a JVM or torchrun fails (the
    probes that need no Spark or Beam import, to keep this one cheap)."""
    (tmp_path / "test_probes.py").write_text(PROBES)
    report = _pytest(tmp_path, "-n", "2", "-k", "jvm or torchrun or plain")
    assert re.search(r"^\[gw[01]\] ", report, re.M), report  # the tests ran in workers
    assert _outcomes(report) == {"test_a_jvm_in_a_child_whose_failure_the_test_ignores": "FAILED",
                                 "test_torchrun": "FAILED", "test_a_jvm": "FAILED", "test_a_jvm_marked": "PASSED",
                                 "test_plain": "PASSED"}, report
    assert re.search(r"FAILED \S+::test_a_jvm - .*started a JVM", report), report


def test_markers_are_set_from_what_a_test_uses_and_fast_is_the_rest(tmp_path):
    (tmp_path / "test_kinds.py").write_text('''
import pytest

@pytest.fixture
def spark():
    return None

def test_uses_the_spark_fixture(spark):
    pass

@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_per_engine(engine):
    pass

@pytest.mark.slow
def test_slow():
    pass

def test_plain():
    pass
''')
    (tmp_path / "test_whole_module.py").write_text("import pytest\nimport not_a_module_anywhere\n\n"
                                                   "pytestmark = pytest.mark.beam\n\ndef test_x():\n    pass\n")
    collected = _pytest(tmp_path, "--co", "--ignore", str(tmp_path / "test_whole_module.py"))
    assert re.findall(r"^markers (.*)$", collected, re.M) == [
        "test_uses_the_spark_fixture spark", "test_per_engine[spark] spark", "test_per_engine[beam] beam",
        "test_slow slow", "test_plain fast"], collected
    fast = _pytest(tmp_path, "-m", "fast", "--co")
    assert re.findall(r"^markers (.*)$", fast, re.M) == ["test_plain fast"], fast
    assert "not_a_module_anywhere" not in fast  # the module marked as a whole was not even imported
