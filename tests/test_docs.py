"""The docs say what the code does: every registered stage is in the README's table with the columns it adds, and
every pipeline in `examples/`, the README and `docs/` passes `curate explain`."""
from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from curate.pipeline import config as pipeline_config
from curate.pipeline import registry
from curate.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def stage_table() -> dict[str, str]:
    """The README's stage table: each stage named in a row's first cell -> that row's `adds` cell."""
    text = (ROOT / "README.md").read_text()
    table = text[text.index("### Stages"):].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[3:]:  # the heading, the header and its rule
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        for name in re.findall(r"`([a-z0-9_]+)`", cells[0]):
            rows[name] = cells[-1]
    return rows


def added_columns(cls) -> list[str]:
    """The columns a stage adds with its defaults and, for a filter, with `keep_signals`. Required parameters are
    left unset; a stage whose `adds` reads one is not compared (there is no value to compare it with)."""
    columns = []
    for extra in ({}, {"keep_signals": True}):
        if extra and "keep_signals" not in cls.Params.model_fields:
            continue
        try:
            columns += cls(cls.Params.model_construct(**extra)).adds()
        except AttributeError:
            return []
    return columns


def test_every_registered_stage_is_in_the_readme_table_with_the_columns_it_adds():
    # the stages curate ships: tests register stages of their own (plugins) in the same process
    documented = stage_table()
    stages = {name: cls for name, cls in registry.stages().items() if cls.__module__.startswith("curate.stages.")}
    assert sorted(set(stages) - set(documented)) == [], "registered stages missing from the README's stage table"
    assert sorted(set(documented) - set(stages)) == [], "README rows for stages that are not registered"
    for name, cls in stages.items():
        # `<id>` in the table stands for the stage's id (its name unless `id:` is set), `<anything else>` for a part
        # named by the stage's options (`<signal>`, `<kind>`)
        patterns = [re.sub(r"<[^>]+>", "*", p.replace("<id>", name)) for p in re.findall(r"`([^`]+)`", documented[name])]
        missing = [c for c in added_columns(cls) if not any(fnmatch.fnmatchcase(c, p) for p in patterns)]
        assert missing == [], f"{name} adds {missing}, which its README row does not name"


def pipelines() -> list[tuple[str, dict]]:
    """Every pipeline a user may copy: the files in examples/ that have stages, and each YAML block of the README and
    docs/ that is a pipeline, its `stages:` alone, or a list of stages."""
    found = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        raw = yaml.safe_load(path.read_text())
        if "stages" in raw:
            found.append((str(path.relative_to(ROOT)), raw))
    for doc in DOCS:
        for number, block in enumerate(re.findall(r"```ya?ml\n(.*?)```", doc.read_text(), re.S)):
            raw = yaml.safe_load(block)
            if isinstance(raw, list) and all(isinstance(s, dict) and "name" in s for s in raw):
                raw = {"stages": raw}
            if isinstance(raw, dict) and "stages" in raw:
                found.append((f"{doc.relative_to(ROOT)} block {number + 1}", raw))
    return found


def input_format(raw: dict) -> str:
    """The format the pipeline reads: its `format`, else its paths' ending, else WARC when a stage reads `html`."""
    source = raw.get("input")
    declared = source.get("format", "auto") if isinstance(source, dict) else "auto"
    if declared != "auto":
        return declared
    paths = source.get("paths", []) if isinstance(source, dict) else [source] if isinstance(source, str) else source
    for path in paths or []:
        for fmt, ending in (("wet", ".wet"), ("warc", ".warc"), ("jsonl", ".jsonl"), ("parquet", ".parquet")):
            if ending in path:
                return fmt
    config = pipeline_config.parse({**raw, "input": {"paths": ["x"], "dataset": "d"}, "output": "o"})
    return "warc" if any("html" in spec.build().requires() for spec in config.stages) else "jsonl"


@pytest.mark.parametrize("where, raw", pipelines(), ids=[where for where, _ in pipelines()])
def test_every_example_and_documented_pipeline_passes_curate_explain(where, raw, tmp_path, monkeypatch):
    # Its input and the files its stages name are the user's: an input file of the pipeline's format stands in for
    # the first; the others are not there (a static check warns of them), for what a file holds is checked too.
    monkeypatch.chdir(tmp_path)
    ending = {"warc": ".warc.gz", "wet": ".warc.wet.gz", "jsonl": ".jsonl", "parquet": ".parquet"}[input_format(raw)]
    sample = tmp_path / "input" / f"sample{ending}"
    sample.parent.mkdir()
    sample.touch()
    raw = {"input": {"paths": [str(sample)], "dataset": "docs"}, "output": "out", **raw}
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(yaml.safe_dump(raw))
    result = CliRunner().invoke(app, ["explain", str(pipeline), "--input", str(sample), "--output",
                                      str(tmp_path / "out")])
    assert result.exit_code == 0, f"{where}: {result.output} {result.exception!r}"
    assert "documents/ columns:" in result.output
