"""The fast set's guard: a test in the fast set that starts a JVM, runs a Beam pipeline or launches torchrun fails.

`tests/conftest.py` turns it on around every test of the fast set (every test not marked `spark`, `beam`, `cluster`
or `distributed`) in the pytest process, and puts this folder on the children's PYTHONPATH with `CURATE_FAST_GUARD`
naming a file, so every Python process the test starts (a `curate run`, its workers) imports this file first and is
guarded too. What it catches, from Python's audit events (PEP 578):
- `subprocess.Popen` of a JVM (`java`, `spark-submit`, `spark-class`: an in-process SparkSession starts its JVM this
  way) or of torchrun (`torch.distributed.run`);
- the first import of Beam's local runner (`fn_api_runner`: imported to run a pipeline, not to build one).
A Spark session or a Beam runner that an earlier, marked test already started in the pytest process is caught by the
patches `conftest.py` adds. The offending call raises, and the file named by `CURATE_FAST_GUARD` gets one line per
violation, which `conftest.py` turns into the test's failure (a child's exit status alone may be what the test
expects).
"""
from __future__ import annotations

import os
import sys

RECORD = "CURATE_FAST_GUARD"
_JVM = {"java", "spark-submit", "spark-class"}
_BEAM_RUNNER = "apache_beam.runners.portability.fn_api_runner"
_active = {"record": None}


class FastSetViolation(RuntimeError):
    """Raised where a test of the fast set starts what its markers do not allow."""


def violation(what: str) -> None:
    """Record `what` (for the test's report) and stop the call that did it."""
    record = _active["record"]
    with open(record, "a", encoding="utf-8") as f:
        f.write(what + "\n")
    raise FastSetViolation(f"a test of the fast set {what}: mark it (pytest.mark.spark, beam, cluster, distributed)")


def _started(argv) -> str | None:
    words = [str(a) for a in (argv if isinstance(argv, (list, tuple)) else [argv])]
    if any(os.path.basename(w) in _JVM for w in words[:1]) or any(w.endswith("/bin/spark-submit") for w in words):
        return f"started a JVM ({' '.join(words)[:120]})"
    if "torch.distributed.run" in words or any(os.path.basename(w) == "torchrun" for w in words[:1]):
        return "launched torchrun"
    return None


def _hook(event: str, args: tuple) -> None:
    if _active["record"] is None:
        return
    if event == "subprocess.Popen":
        what = _started(args[1])
        if what:
            violation(what)
    elif event == "import" and args[0] == _BEAM_RUNNER:
        violation("ran a Beam pipeline (imported Beam's local runner)")


def activate(record: str | None) -> None:
    """Guard from now on, recording violations in `record`; None stops guarding."""
    _active["record"] = record


sys.addaudithook(_hook)  # an audit hook cannot be removed: `activate(None)` makes it a no-op
activate(os.environ.get(RECORD) or None)
