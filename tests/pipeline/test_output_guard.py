"""The output guard: only a real overlap of output and input is refused, compared as real paths (issue #17 item 2,
issue #21 item 6)."""
from __future__ import annotations

from pathlib import Path

import pytest

from curate.pipeline.errors import CurateError
from curate.pipeline.output import refuse_inside_input


@pytest.fixture
def crawl(tmp_path: Path) -> Path:
    folder = tmp_path / "crawl"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jsonl").write_text("{}\n")
    return folder


def refused(output: Path | str, *inputs: Path | str) -> bool:
    try:
        refuse_inside_input(str(output), [str(i) for i in inputs])
    except CurateError as error:
        assert "overlaps input" in str(error)
        return True
    return False


def test_an_output_beside_a_single_input_file_is_fine(crawl):
    assert not refused(crawl / "out", crawl / "a.jsonl")  # was refused: the file's folder was taken as the input
    assert not refused(crawl.parent / "out", crawl / "a.jsonl")


def test_real_overlaps_are_refused(crawl):
    assert refused(crawl / "out", crawl)  # inside a scanned folder
    assert refused(crawl, crawl)
    assert refused(crawl / "sub" / "out", f"{crawl}/*.jsonl")  # inside a glob's root
    assert refused(crawl.parent, crawl / "a.jsonl")  # the input inside the output
    assert not refused(crawl.parent / "crawl-out", crawl)  # a common prefix is not an overlap


def test_an_output_that_is_a_symlink_into_the_input(crawl, tmp_path):
    link = tmp_path / "out-link"
    link.symlink_to(crawl / "sub")
    assert refused(link, crawl)
    assert refused(link / "out", crawl)


def test_an_input_through_a_symlink_that_holds_the_output(crawl, tmp_path):
    link = tmp_path / "crawl-link"
    link.symlink_to(crawl)
    assert refused(crawl / "out", link)  # the next run would read the previous output back as input
    assert refused(crawl / "out", f"{link}/*.jsonl")
