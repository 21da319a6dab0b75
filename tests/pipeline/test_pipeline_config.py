"""The pipeline YAML: validation errors name the key path and what is allowed; the chain check names the stage."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curate.pipeline import config
from curate.pipeline.errors import ConfigError
from curate.pipeline.inputs import InputFile
from curate.pipeline.check import check

BASE = {"input": {"paths": ["x.warc.gz"], "dataset": "cc"}, "output": "out"}
WARC = [InputFile("x.warc.gz", "x.warc.gz", 10, "warc")]
JSONL = [InputFile("x.jsonl", "x.jsonl", 10, "jsonl")]


def parse_error(raw: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        config.parse(raw)
    return str(caught.value)


def test_unknown_stage_names_the_key_and_suggests():
    message = parse_error({**BASE, "stages": [{"name": "extract"}, {"name": "langidd"}]})
    assert message.startswith("stages[1].name: unknown stage 'langidd' (did you mean 'langid'?)")
    assert "gopher_quality" in message


def test_wrong_parameter_type_names_the_path():
    message = parse_error({**BASE, "stages": [{"name": "langid", "max_chars": "many"}]})
    assert message.startswith("stages[0] (langid).max_chars:")
    assert "'many'" in message


def test_unknown_parameter_and_literal_values_listed():
    assert parse_error({**BASE, "stages": [{"name": "extract", "bakend": "x"}]}) == \
        "stages[0] (extract).bakend: unknown key (did you mean 'backend'?)"
    message = parse_error({**BASE, "stages": [{"name": "extract", "backend": "lxml"}]})
    assert "'trafilatura'" in message and "'resiliparse'" in message


def test_top_level_errors():
    assert parse_error({"input": {"paths": ["a"], "dataset": "cc"}}) == "output: required key is missing"
    assert parse_error({**BASE, "input": {"paths": [], "dataset": "cc"}}).startswith("input.paths:")
    assert parse_error({**BASE, "input": {"paths": ["a"], "dataset": "c c"}}).startswith("input.dataset:")
    assert parse_error({**BASE, "stages": [{"name": "langid"}, {"name": "langid"}]}).startswith(
        "stages: id 'langid' appears twice")


def test_chain_needs_extraction_before_text_stages_on_warc():
    plan_config = config.parse({**BASE, "stages": [{"name": "langid"}]})
    with pytest.raises(ConfigError) as caught:
        check(plan_config, WARC)
    assert str(caught.value).startswith("stages[0] (langid): requires column 'text'")
    assert "extract" in str(caught.value)


def test_chain_html_only_from_warc():
    plan_config = config.parse({**BASE, "stages": [{"name": "extract"}]})
    with pytest.raises(ConfigError, match="requires column 'html'"):
        check(plan_config, JSONL)


def test_chain_columns_accumulate():
    plan = check(config.parse({**BASE, "stages": [{"name": "extract"}, {"name": "langid"},
                                                  {"name": "gopher_quality", "keep_signals": True}]}), WARC)
    assert [s.id for s in plan.stages] == ["extract", "langid", "gopher_quality"]
    assert {"text", "lang", "lang_score", "gopher_quality_word_count"} <= set(plan.columns)
    assert "html" not in plan.columns
    explained = plan.explain()
    assert "langid" in explained and "adds lang:string, lang_score:float" in explained
    stage_line = next(line for line in explained.splitlines() if line.startswith("  gopher_quality "))
    assert stage_line.startswith("  gopher_quality  requires text; adds gopher_quality_word_count:double")
    assert stage_line.endswith("; with keep_signals: true")  # the parameters other than their defaults


def test_explain_shows_the_parameters_set_and_what_they_require():
    plan = check(config.parse({**BASE, "input": {"paths": ["x.jsonl"], "fields": ["lang"]}, "stages": [
        {"name": "gopher_quality", "thresholds": "fineweb2", "overrides": {"deu_Latn": {"min_stop_words": 3}}},
        {"name": "langid", "labels": "fineweb2", "threshold": "fineweb2"}]}), JSONL)
    lines = plan.explain().splitlines()
    assert '  gopher_quality  requires text, lang; with thresholds: "fineweb2", overrides: {"deu_Latn": ' \
           '{"min_stop_words": 3.0}}' in lines
    assert '  langid          requires text; adds lang:string, lang_score:float; with threshold: "fineweb2", ' \
           'labels: "fineweb2"' in lines


def test_same_stage_twice_under_ids():
    raw = {**BASE, "stages": [{"name": "extract"}, {"name": "langid", "id": "langid_loose", "threshold": 0.2},
                              {"name": "langid", "id": "langid_strict", "threshold": 0.9}]}
    plan = check(config.parse(raw), WARC)
    assert [s.id for s in plan.stages] == ["extract", "langid_loose", "langid_strict"]


def test_config_hash_ignores_output_and_engine_but_not_params():
    a = config.parse({**BASE, "stages": [{"name": "langid"}]})
    b = config.parse({**BASE, "output": "elsewhere", "engine": {"master": "spark://h:7077"},
                      "stages": [{"name": "langid"}]})
    c = config.parse({**BASE, "stages": [{"name": "langid", "threshold": 0.5}]})
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert config.parse(a.to_json()).content_hash() == a.content_hash()


@pytest.mark.parametrize(
    "yaml_text, expected",
    [
        ("input: {paths: [x], dataset: cc}\noutput: o\nstages: [{name: nope}]\n", "stages[0].name: unknown stage 'nope'"),
        ("input: {paths: [x], dataset: cc}\noutput: o\nstages: [{name: langid, threshold: high}]\n",
         "stages[0] (langid).threshold:"),
        ("input: {paths: [x], dataset: cc}\noutput: o\nstages:\n - name: langid\n   bad: [\n",
         "invalid YAML at line"),
    ],
)
def test_cli_reports_one_line_and_exit_status_2(tmp_path: Path, yaml_text: str, expected: str):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(yaml_text)
    result = subprocess.run([sys.executable, "-m", "curate.cli.main", "explain", str(pipeline)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_cli_missing_column_is_one_line(tmp_path: Path, shared_data: Path):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent(f"""
        input: {{paths: ['{shared_data}/warc/sample-0000.warc.gz'], dataset: cc}}
        output: {tmp_path}/out
        stages: [{{name: gopher_quality}}]
    """))
    result = subprocess.run([sys.executable, "-m", "curate.cli.main", "explain", str(pipeline)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "stages[0] (gopher_quality): requires column 'text'" in result.stderr


def test_plugins_register_their_stages(tmp_path, monkeypatch):
    (tmp_path / "my_stages.py").write_text(
        "from curate.pipeline.registry import register\n"
        "from curate.pipeline.stage import Stage, emit\n"
        "@register\n"
        "class Upper(Stage):\n"
        "    '''Upper-cases text.'''\n"
        "    name = 'my_upper'\n"
        "    def modifies(self):\n"
        "        return ('text',)\n"
        "    def process(self, batch):\n"
        "        return emit(batch, [None] * batch.num_rows, text=[t.upper() for t in batch.column('text').to_pylist()])\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    parsed = config.parse({**BASE, "plugins": ["my_stages"], "stages": [{"name": "my_upper"}]})
    assert parsed.stages[0].stage_class.__name__ == "Upper"
    assert parse_error({**BASE, "plugins": ["no_such_module_x"]}).startswith("plugins[0]: cannot import")


def test_a_plugin_declaring_modifies_as_a_class_attribute_is_told_to_write_a_method(tmp_path, monkeypatch):
    (tmp_path / "my_old_stages.py").write_text(
        "from curate.pipeline.registry import register\n"
        "from curate.pipeline.stage import Stage\n"
        "@register\n"
        "class Old(Stage):\n"
        "    name = 'my_old'\n"
        "    modifies = ('text',)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    message = parse_error({**BASE, "plugins": ["my_old_stages"], "stages": [{"name": "extract"}]})
    assert message.startswith("plugins[0]: importing 'my_old_stages' failed: TypeError:")
    assert "stage 'my_old': modifies must be a method" in message


def test_a_global_stage_without_a_plan_on_the_engine_is_a_config_error(tmp_path, monkeypatch):
    (tmp_path / "my_global_stages.py").write_text(
        "from curate.pipeline.registry import register\n"
        "from curate.pipeline.stage import GlobalStage\n"
        "@register\n"
        "class Clusters(GlobalStage):\n"
        "    '''Clusters documents; no engine has a plan for it.'''\n"
        "    name = 'my_clusters'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    raw = {**BASE, "plugins": ["my_global_stages"], "engine": {"name": "beam"},
           "stages": [{"name": "extract"}, {"name": "my_clusters"}]}
    with pytest.raises(ConfigError, match=r"stages\[1\] \(my_clusters\): stage 'my_clusters' has no beam plan"):
        check(config.parse(raw), WARC)


def test_every_config_error_at_once_one_line_each(tmp_path: Path):
    """Five mistakes in one file: five lines, each one error with its key path, never "(and N more)"."""
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(textwrap.dedent("""
        input: {paths: [x], dataset: cc}
        outptu: o
        stages:
          - {name: langid, threshold: high, max_chars: many}
          - {name: gopher_qualty}
          - {name: extract, bakend: x}
    """))
    result = subprocess.run([sys.executable, "-m", "curate.cli.main", "explain", str(pipeline)],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert all(line.startswith("curate: error: ") for line in lines), result.stderr
    assert "more)" not in result.stderr
    found = [line.removeprefix("curate: error: ") for line in lines]
    expected = ["unknown key 'outptu' (did you mean 'output'?)", "stages[0] (langid).threshold:",
                "stages[0] (langid).max_chars:", "stages[1].name: unknown stage 'gopher_qualty'",
                "stages[2] (extract).bakend: unknown key (did you mean 'backend'?)"]
    assert len(found) == len(expected) and all(line.startswith(e) for line, e in zip(found, expected)), found


def test_every_chain_error_at_once():
    """Two stages that each miss something: both named, one line each; a column missing once is named once."""
    raw = {**BASE, "stages": [{"name": "langid"}, {"name": "gopher_quality"},
                              {"name": "tokenize", "tokenizer": "no-such-tokenizer.json"}]}
    with pytest.raises(ConfigError) as caught:
        check(config.parse(raw), WARC)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("stages[0] (langid): requires column 'text'")
    assert lines[1].startswith("stages[2] (tokenize).tokenizer: no file or folder 'no-such-tokenizer.json'")
