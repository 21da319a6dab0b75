"""fix_text: the stage on a batch (text repaired, counts added, nothing rejected) and its counts in the run report."""
import json
from pathlib import Path

import pyarrow as pa
import pytest

from curate.pipeline import config as pipeline_config
from curate.pipeline.commands.report import write_report
from curate.pipeline.run import run
from curate.stages.fix_text import FixText, FixTextParams

BROKEN = "Die Helfer fÃ¼r das Turnier"  # "für" as UTF-8 bytes read as Windows-1252
TABLE = "Preise\n|  |  | \n| |\nAb 10 Euro"


def stage(**params) -> FixText:
    s = FixText(FixTextParams(**params))
    s.setup()
    return s


def test_repairs_text_and_counts_what_changed():
    batch = pa.RecordBatch.from_pydict({"text": [BROKEN, TABLE, "Schön ｜ ﬁne", None]})
    out = stage().process(batch)
    assert out.column("text").to_pylist() == ["Die Helfer für das Turnier", "Preise\n\nAb 10 Euro",
                                              "Schön ｜ ﬁne", None]
    assert out.column("text_fixed").to_pylist() == [1, 0, 0, 0]
    assert out.column("table_lines_removed").to_pylist() == [0, 2, 0, 0]
    assert out.column("reject_reason").null_count == 4
    assert out.schema.field("text_fixed").type == pa.int8()


def test_each_part_can_be_turned_off_and_ftfy_options_reach_ftfy():
    batch = pa.RecordBatch.from_pydict({"text": [BROKEN, TABLE, "ﬁne “quotes”"]})
    assert stage(encoding=False).process(batch).column("text").to_pylist()[0] == BROKEN
    assert stage(table_lines=False).process(batch).column("text").to_pylist()[1] == TABLE
    normalising = stage(fix_latin_ligatures=True, uncurl_quotes=True).process(batch)
    assert normalising.column("text").to_pylist()[2] == 'fine "quotes"'
    assert normalising.column("text_fixed").to_pylist() == [1, 0, 1]


@pytest.mark.beam
def test_counts_in_the_run_report(tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    texts = [BROKEN, TABLE, "clean text", BROKEN + "\n| |"]
    (inputs / "a.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    config = pipeline_config.parse({"input": {"paths": [str(inputs)], "dataset": "t"}, "output": str(tmp_path / "o"),
                                    "engine": {"name": "beam"}, "stages": [{"name": "fix_text"}]})
    run(config)
    page = Path(write_report(config.output)).read_text()
    # total, documents with any, per 1,000 documents
    assert '<td class="">fix_text: text_fixed</td><td class="num">2</td><td class="num">2</td>' in page
    assert '<td class="">fix_text: table_lines_removed</td><td class="num">3</td><td class="num">2</td>' in page
