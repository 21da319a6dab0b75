"""One writer per output (issue #21 item 7): a run, a `--resume` or a report on an output another process is writing
is refused in one line with exit status 2; a lock left by a process that is gone is taken over."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from curate.cli.main import main
from curate.pipeline.errors import CurateError
from curate.pipeline.output import LOCK, Output

_HOLD = """
import sys, time
from curate.pipeline.output import Output
with Output(sys.argv[1]).lock():
    print("locked", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(json.dumps({"text": "a short document about rivers and boats"}) + "\n")
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                "engine": {"name": "beam"}}))
    return path


def curate(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return done.value.code, capsys.readouterr().err


def test_a_second_writer_is_refused_in_one_line(capsys, pipeline, tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        for args in (["run", str(pipeline)], ["run", str(pipeline), "--resume"], ["run", str(pipeline), "--overwrite"]):
            code, err = curate(capsys, *args)
            assert code == 2 and len(err.strip().splitlines()) == 1, err
            assert f"is being written by another curate run (pid {holder.pid} on {socket.gethostname()}" in err
        assert sorted(os.listdir(out)) == [LOCK]  # nothing of the refused runs
    finally:
        holder.stdin.close()
        holder.wait()
    assert not (out / LOCK).exists()  # the holder removed its lock as it ended
    with Output(str(out)).lock():
        assert json.loads((out / LOCK).read_text())["pid"] == os.getpid()


def test_a_lock_of_a_process_that_is_gone_is_taken_over(tmp_path):
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / LOCK).write_text(json.dumps({"host": socket.gethostname(), "pid": int(gone.stdout),
                                             "started": "2026-01-01T00:00:00Z"}))  # killed: never removed it
    with Output(str(tmp_path)).lock():
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / LOCK).exists()


def test_a_lock_from_another_host_is_refused(tmp_path):
    (tmp_path / LOCK).write_text(json.dumps({"host": "elsewhere.example", "pid": 1, "started": "x"}))
    with pytest.raises(CurateError, match="locked by a run on host 'elsewhere.example' .* delete .* and retry"):
        with Output(str(tmp_path)).lock():
            pass
    assert (tmp_path / LOCK).exists()  # not ours to remove
