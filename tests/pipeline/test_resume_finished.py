"""`curate run --resume` on a run that had finished: it says so, and prints no rate (a finished run resumed in 0.2 s
read as 218 documents at 1,038.9 docs/s)."""
from __future__ import annotations

import pytest
from test_cli_exit import curate, write_pipeline


@pytest.mark.beam
def test_resuming_a_finished_run_says_so_and_prints_no_rate(capsys, tmp_path):
    path = write_pipeline(tmp_path, rows=4)
    code, out, _ = curate(capsys, "run", str(path))
    assert code == 0 and " docs/s)" in out  # a run that worked: its rate
    code, out, _ = curate(capsys, "run", str(path), "--resume")
    assert code == 0
    assert "docs/s" not in out
    last = " ".join(out.split()).split("report: ")[0]
    assert "4 documents: the run had finished; nothing to do" in last
