"""Progress in a non-interactive log, on both engines: plain lines at a steady interval and one when the work ends."""
from __future__ import annotations

import json
import re

import pytest
from rich.console import Console

from curate.pipeline import config as pipeline_config
from curate.pipeline.progress import RunProgress
from curate.pipeline.run import run

FILES, RECORDS = 3, 40  # per file; every third text is a copy of another file's, for exact_dedup to reject
LINE = re.compile(r"^pass (\d) \((.+)\): (\d+)/(\d+) files, ([\d,]+) documents, ([\d,]+) docs/s, "
                  r"(?:done in )?\d+:\d\d:\d\d(?:, ETA (?:\d+:\d\d:\d\d|-))?$")


def inputs(directory) -> None:
    for f in range(FILES):
        rows = [{"text": f"document {i % 3 == 0 and i or f * 1000 + i} of the progress test, long enough to keep"}
                for i in range(RECORDS)]
        (directory / f"part-{f}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))


def config(tmp_path, engine: str, stages: list[dict]):
    data = tmp_path / "data"
    data.mkdir()
    inputs(data)
    return pipeline_config.parse({"input": {"paths": [str(data)], "dataset": "p"}, "output": str(tmp_path / "out"),
                                  "engine": {"name": engine}, "stages": stages})


def check_log(log: str, global_stage: bool) -> None:
    """Lines at the interval with files done of the total, documents, rate and ETA; a `done` line per pass with
    every file and every document it saw; the global stage with its time."""
    lines = log.splitlines()
    passes = [LINE.match(line) for line in lines if line.startswith("pass ")]
    assert passes and all(passes), log
    expected = [("0", "read + map stages")] + [("1", "apply exact_dedup + map stages")] * global_stage
    assert {m[1] for m in passes} == {index for index, _ in expected}
    for index, work in expected:
        mine = [m for m in passes if m[1] == index]
        assert {m[2] for m in mine} == {work}
        done = [m for m in mine if "done in" in m[0]]
        assert len(done) == 1 and mine[-1] is done[0], log
        assert (int(done[0][3]), int(done[0][4])) == (FILES, FILES)
        documents = FILES * RECORDS if index == "0" else None  # pass 1 sees what pass 0 kept
        assert documents is None or int(done[0][5].replace(",", "")) == documents
        files = [int(m[3]) for m in mine]
        assert files == sorted(files) and all("ETA" in m[0] for m in mine if m is not done[0])
    done = [line for line in lines if re.fullmatch(r"global stage exact_dedup: done in \d+:\d\d:\d\d", line)]
    assert len(done) == global_stage, log
    assert sum("done in" not in line for line in lines) >= 1, log  # at least one line came from the interval


# Beam runs a pipeline per pass and per global stage (each starts its workers): a map-only run there keeps it short.
@pytest.mark.parametrize("engine, stages", [("spark", [{"name": "exact_dedup"}]), ("beam", [])], ids=["spark", "beam"])
def test_a_run_logs_plain_progress_lines_when_not_on_a_terminal(engine, stages, request, tmp_path, capfd):
    if engine == "spark":
        request.getfixturevalue("spark")
    # The console writes to descriptor 2, as `curate run` does: the Beam engine points that descriptor at its
    # workers' log file while a pipeline runs, and the progress must still reach the user.
    stderr = open(2, "w", closefd=False)
    progress = RunProgress(Console(file=stderr, force_terminal=False), every=0.05)
    result = run(config(tmp_path, engine, stages), progress=progress)
    stderr.flush()
    assert result.stats["input"] == FILES * RECORDS
    check_log(capfd.readouterr().err, global_stage=bool(stages))

