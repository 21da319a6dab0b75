"""Adding a map stage with a corpus-level result and a report section takes one new file (exclamations_stage.py):
the framework runs it, commits its per-file partials, writes its manifest section and draws its report section
without naming it anywhere."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.commands.report import report_text, write_report
from curate.pipeline.output import Output
from curate.pipeline.run import run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TEXTS = ["Calm words only.", "Wow! Great!", "No! No! No! No!", "", "One! Two! Three!", "!!!!!!", "Plain again."]


@pytest.mark.beam
def test_a_plugin_stage_gets_its_manifest_section_and_report_section(tmp_path, monkeypatch):
    # the Beam workers import the plugin too: this folder goes on their PYTHONPATH, as a user's package would
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    config = pipeline_config.parse({
        "input": {"paths": [str(source)]}, "output": str(tmp_path / "out"), "engine": {"name": "beam"},
        "plugins": ["exclamations_stage"], "stages": [{"name": "exclamations", "max_per_document": 3}]})
    result = run(config)

    marks = [t.count("!") for t in TEXTS]
    kept = sum(m for m in marks if m <= 3)
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["exclamations"] == {"kept": kept, "rejected": sum(marks) - kept} == {"kept": 5, "rejected": 10}
    assert result.stats["rejected"] == {"exclamations:shouting": 2}
    page = Path(write_report(str(tmp_path / "out"))).read_text()
    assert '<section id="exclamations">' in page and (tmp_path / "out" / "report" / "exclamations.png").stat().st_size
    assert report_text(Output(str(tmp_path / "out"))) == ["exclamation marks: 5 kept, 10 rejected"]


def test_the_framework_does_not_name_the_plugin_stage():
    """The one new file is the whole change: no module of the framework, the stages, the filters or the trainer
    mentions it."""
    mentions = [str(path.relative_to(ROOT)) for folder in ("pipeline", "stages", "filters", "trainer")
                for path in (ROOT / folder).rglob("*.py") if "exclamations" in path.read_text().lower()]
    assert mentions == []
    assert "exclamations" in (HERE / "exclamations_stage.py").read_text()  # the scan can see a mention
