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
                  r"(?:done in )?\d+:\d\d:\d\d(?:, ETA (?:\d+:\d\d:\d\d|-))?(?:; reading \d+ files? \(in flight\): .*)?$")


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



IN_FLIGHT = re.compile(r"^pass 0 \(read \+ map stages\): (\d+)/(\d+) files, .*; reading (\d+) files? \(in flight\): "
                       r"([\d,]+) records, ([\d,.]+) MB of ([\d,.]+) MB, ([\d,]+) through the stages$")


def real_crawl(shared_data, directory, files: int, pages: int) -> list[int]:
    """`files` WARC files of `pages` real pages each (trafilatura-eval), uncompressed; returns their sizes in bytes."""
    import gzip
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    root = shared_data / "extraction" / "trafilatura-eval"
    index = [json.loads(line) for line in (root / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    for f in range(files):
        with open(directory / f"pages-{f}.warc", "wb") as stream:
            writer = WARCWriter(stream, gzip=False)
            for page in index[f * pages:(f + 1) * pages]:
                body = gzip.decompress((root / page["html"]).read_bytes())
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(page["url"], "response", payload=io.BytesIO(body),
                                                              http_headers=http))
    return [p.stat().st_size for p in directory.iterdir()]


@pytest.mark.parametrize("engine", ["spark", "beam"])
def test_records_and_bytes_read_show_before_the_first_file_commits(engine, request, tmp_path, capfd, shared_data):
    """Three WARCs of 40 real pages (3-5 MB each) through trafilatura: while no file has committed, the log shows
    the running tasks' records and bytes, labelled as in flight; bytes never pass the files' size, and the last line
    (everything committed) shows nothing in flight."""
    if engine == "spark":
        request.getfixturevalue("spark")
    data = tmp_path / "crawl"
    data.mkdir()
    sizes = real_crawl(shared_data, data, files=3, pages=40)
    assert min(sizes) > 3_000_000
    config = pipeline_config.parse({"input": {"paths": [str(data)], "dataset": "c"}, "output": str(tmp_path / "out"),
                                    "engine": {"name": engine}, "stages": [{"name": "extract"}]})
    stderr = open(2, "w", closefd=False)
    result = run(config, progress=RunProgress(Console(file=stderr, force_terminal=False), every=0.05))
    stderr.flush()
    assert result.stats["input"] == 120
    lines = capfd.readouterr().err.splitlines()
    shown = [m for m in map(IN_FLIGHT.match, lines) if m]
    before_commit = [m for m in shown if m[1] == "0" and int(m[4].replace(",", "")) > 0
                     and float(m[5].replace(",", "")) > 0]
    assert before_commit, "\n".join(lines)
    for m in shown:
        assert 1 <= int(m[3]) <= 3 and int(m[3]) + int(m[1]) <= 3
        assert float(m[5].replace(",", "")) <= float(m[6].replace(",", "")) <= sum(sizes) / 1e6 + 0.1
    done = [line for line in lines if line.startswith("pass 0") and "done in" in line]
    assert len(done) == 1 and "in flight" not in done[0] and done[0].startswith("pass 0 (read + map stages): 3/3 files")


@pytest.mark.beam
def test_a_pass_over_ranges_counts_ranges_and_the_report_says_so(tmp_path, capfd):
    """One file cut into ranges and one read whole: the pass counts tasks, and names them so (`tasks`); a pass over
    ranges alone says `ranges`; the report's summary gives the files and their ranges."""
    from curate.cli.report import _input_files
    from curate.pipeline.inputs import InputConfig, resolve, tasks
    from curate.pipeline.progress import unit

    data = tmp_path / "data"
    data.mkdir()
    inputs(data)
    rows = [{"text": f"document {i} of the big file of the progress test, long enough to keep it"} for i in range(400)]
    (data / "big.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    raw = {"input": {"paths": [str(data)], "dataset": "p", "split_size": "8KiB"}, "output": str(tmp_path / "out"),
           "engine": {"name": "beam"}, "stages": []}
    cfg = pipeline_config.parse(raw)
    work = tasks(resolve(cfg.input), cfg.input)
    ranges = sum(task.part is not None for task in work)
    assert ranges >= 3 and len(work) == ranges + FILES
    assert (unit(work), unit(work[:ranges]), unit(work[ranges:])) == ("tasks", "ranges", "files")
    stderr = open(2, "w", closefd=False)
    result = run(cfg, progress=RunProgress(Console(file=stderr, force_terminal=False), every=0.05))
    stderr.flush()
    done = [line for line in capfd.readouterr().err.splitlines() if line.startswith("pass 0") and "done in" in line]
    assert len(done) == 1 and done[0].startswith(f"pass 0 (read + map stages): {len(work)}/{len(work)} tasks, "), done
    assert result.stats["ranges"] == ranges and result.stats["files"] == FILES + 1
    assert _input_files(result.stats, {}) == \
        f"{FILES + 1} ({ranges} ranges of the files over input.split_size, one task each)"
