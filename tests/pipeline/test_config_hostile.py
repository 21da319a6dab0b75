"""Hostile pipeline files (issue #21, item 4): each is refused in one line with exit status 2, fast and in little
memory — never a traceback, a RecursionError, minutes of alias expansion, or a value silently taken."""
from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from curate.pipeline import config
from curate.cli.main import main
from curate.pipeline.errors import ConfigError

GOOD = "input: crawl/\noutput: out\n"


def billion_laughs() -> str:
    """Nine levels of ten aliases of the level below: 10^9 strings once expanded, in well under 1 KB, used where an
    error message quotes it (before: >20 s and growing memory, 220 s and 7.9 GB to the end)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for below, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{below}"] * 10) + "]")
    return "\n".join([*lines, "input: crawl/", "output: *i"]) + "\n"


def refused(capsys, tmp_path: Path, text: str | bytes) -> str:
    """The one stderr line of `curate explain` on this file, which must exit 2."""
    path = tmp_path / "pipeline.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(SystemExit) as done:
        main(["explain", str(path)])
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert done.value.code == 2 and out.out == "" and len(lines) == 1, out.err
    assert lines[0].startswith("curate: error: ") and "Traceback" not in out.err
    return lines[0].removeprefix("curate: error: ")


def test_billion_laughs_is_refused_before_it_expands(capsys, tmp_path):
    text = billion_laughs()
    assert len(text) < 700
    tracemalloc.start()
    started = time.perf_counter()
    message = refused(capsys, tmp_path, text)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "more than 100,000 values once its aliases are expanded" in message
    assert seconds < 5 and peak < 20e6  # it took 220 s and 7.9 GB (a bound against a hang, not a benchmark)


def test_aliases_within_the_bound_still_work(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("input: &where crawl/\noutput: out\nstages:\n  - {name: langid, languages: &langs [en, de]}\n"
                    "  - {name: domain, id: by_lang, column: lang}\n")
    parsed = config.load(path)
    assert parsed.input.paths == [str(tmp_path / "crawl")] and parsed.stages[0].params.languages == ["en", "de"]


def test_nesting_20000_deep_is_one_line(capsys, tmp_path):
    message = refused(capsys, tmp_path, "input: " + "[" * 20_000 + "]" * 20_000 + "\n")
    assert message.endswith("nested more than 64 levels deep at line 1")


def test_a_value_that_contains_itself(capsys, tmp_path):
    assert "refers to the value that contains it" in refused(capsys, tmp_path, "a: &a [*a]\n")


def test_not_utf8(capsys, tmp_path):
    message = refused(capsys, tmp_path, b"input: crawl/\noutput: \xff\xfeout\n")
    assert message.endswith("not UTF-8 text (byte 0xff at offset 22)")


@pytest.mark.parametrize("module", ["", ".x", "a..b", "1abc"])
def test_plugins_that_are_not_module_names(capsys, tmp_path, module):
    message = refused(capsys, tmp_path, GOOD + f"plugins: [{module!r}]\n")
    assert message == f"plugins[0]: {module!r} is not a module name (like `mypkg.stages`)"


@pytest.mark.parametrize("value", ["1e309", ".inf", "-.inf", ".nan", "1.0e+400"])
def test_non_finite_numbers(capsys, tmp_path, value):
    message = refused(capsys, tmp_path, GOOD + f"stages:\n  - name: extract\n    timeout: {value}\n")
    assert "finite number" in message, message


def test_duplicate_keys(capsys, tmp_path):
    assert refused(capsys, tmp_path, GOOD + "output: elsewhere\n").endswith(
        "duplicate key 'output' at line 3: keep one of them")
    assert "duplicate key 'threshold'" in refused(
        capsys, tmp_path, GOOD + "stages:\n  - {name: langid, threshold: 0.5, threshold: 0.9}\n")


def test_values_quoted_in_messages_are_capped(capsys, tmp_path):
    message = refused(capsys, tmp_path, GOOD + "stages:\n  - name: langid\n    threshold: " + "x" * 100_000 + "\n")
    assert len(message) < 300 and "..." in message
    nested = "[" * 60 + "]" * 60
    assert len(refused(capsys, tmp_path, GOOD + f"stages: [{nested}]\n")) < 300


def test_misspelled_top_level_key_is_named():
    with pytest.raises(ConfigError) as error:
        config.parse({"input": "crawl/", "outptu": "out"})
    assert str(error.value).startswith("unknown key 'outptu' (did you mean 'output'?)")
    with pytest.raises(ConfigError) as error:
        config.parse({"input": {"pathz": ["crawl/"]}, "output": "out"})
    assert str(error.value).startswith("input.pathz: unknown key (did you mean 'paths'?)")
