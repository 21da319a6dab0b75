"""What a new user meets first (issue #17 items 6 and 9): `curate stages` shows every default and whole names and
types, the examples work as the README chains them, and the plan warns only about what matters."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate.pipeline import config as config_module
from curate.cli.main import _default, _type_name, main
from curate.pipeline.check import check

ROOT = Path(__file__).resolve().parents[2]


def stages_output(capsys) -> str:
    with pytest.raises(SystemExit) as done:
        main(["stages"])
    assert done.value.code == 0
    return capsys.readouterr().out


def test_stages_shows_factory_defaults_not_required(capsys):
    out = stages_output(capsys)
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") >= 4}
    assert "(required)" not in rows["lexicon_paths"] and "[]" in rows["lexicon_paths"]  # bias
    assert "(required)" not in rows["thresholds"] and "{}" in rows["thresholds"]  # toxicity


def test_stages_keeps_names_whole_and_types_readable(capsys):
    from curate.pipeline import registry

    out = stages_output(capsys)  # rich renders 80 columns wide when not on a terminal
    names = {field for cls in registry.stages().values() for field in cls.Params.model_fields}
    cells = {line.split("│")[1].strip() for line in out.splitlines() if line.count("│") >= 4}
    assert names <= cells  # no parameter name cut
    assert "Union" not in out and "Optional" not in out
    assert _type_name(int | None) == "int | None" and _type_name(list[str] | None) == "list[str] | None"
    assert _type_name(dict[str, float]) == "dict[str, float]"


def test_default_of_a_factory():
    from pydantic import BaseModel, Field

    class P(BaseModel):
        a: list[str] = Field(default_factory=list)
        b: int
        c: str = "x"

    assert [_default(P.model_fields[k]) for k in "abc"] == ["[]", "(required)", "'x'"]


def test_train_tiny_reads_the_manifest_the_demo_writes():
    import inspect

    from curate.cli import main as cli

    workdir = inspect.signature(cli.demo).parameters["workdir"].default  # run_demo writes <workdir>/output
    tiny = yaml.safe_load((ROOT / "examples" / "train_tiny.yaml").read_text())
    assert tiny["data"]["manifest"] == f"{workdir}/output/manifest.json" == "curate-demo/output/manifest.json"


def test_fineweb_example_explains_without_its_crawl_and_without_warnings(capsys):
    with pytest.raises(SystemExit) as done:
        main(["explain", str(ROOT / "examples" / "fineweb.yaml")])
    out = capsys.readouterr().out
    assert done.value.code == 0
    warnings = [line for line in out.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "the input is not listed here" in warnings[0], warnings


def test_a_decision_on_a_stale_signal_still_warns():
    config = config_module.parse({"input": "x.jsonl", "output": "out", "stages": [
        {"name": "langid"}, {"name": "c4_quality"}, {"name": "domain", "column": "lang"}]})
    plan = check(config, [], "jsonl")
    assert plan.warnings == ["domain reads 'lang', computed on 'text' before c4_quality modified it"]
    config = config_module.parse({"input": "x.jsonl", "output": "out", "stages": [
        {"name": "langid"}, {"name": "c4_quality"}, {"name": "langid", "id": "again"}, {"name": "domain", "column": "lang"}]})
    assert not [w for w in check(config, [], "jsonl").warnings if "reads" in w]  # computed again after the change


def test_child_stderr_drops_the_jvm_start_up_noise(tmp_path):
    script = (
        "import subprocess, sys\n"
        "from curate.engines.spark import quiet\n"
        "with quiet.child_stderr():\n"
        "    child = subprocess.Popen([sys.executable, '-c', 'import sys; sys.stderr.write("
        "\"WARNING: Using incubator modules: jdk.incubator.vector\\\\nSetting default log level to \\\\\"WARN\\\\\".\\\\n"
        "To adjust logging level use sc.setLogLevel(newLevel). For SparkR, use setLogLevel(newLevel).\\\\n"
        "a real error\\\\n\")'])\n"
        "sys.stderr.write('ours\\n')\n"
        "child.wait()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(result.stderr.splitlines()) == ["a real error", "ours"]


def test_run_outputs_are_ignored_by_git():
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "runs/tiny", "curate-demo/output"],
                             capture_output=True, text=True)
    if ignored.returncode == 128:
        pytest.skip("not a git checkout")
    assert ignored.stdout.split() == ["runs/tiny", "curate-demo/output"]


def test_every_parameter_of_every_built_in_stage_says_what_it_means():
    from curate.pipeline import registry

    blank = [f"{name}.{field}" for name, cls in registry.stages().items()
             for field, info in cls.Params.model_fields.items() if not (info.description or "").strip()]
    assert blank == []


def test_stages_name_shows_that_stage_alone(capsys):
    with pytest.raises(SystemExit) as done:
        main(["stages", "c4_quality"])
    out = capsys.readouterr().out
    assert done.value.code == 0
    assert "c4_quality" in out and "min_sentences" in out and "bad_words_path" in out
    assert "langid" not in out and "lexicon_paths" not in out  # no other stage's table


def test_stages_with_an_unknown_name_is_one_line_with_close_matches(capsys):
    with pytest.raises(SystemExit) as done:
        main(["stages", "gopher_qualty"])
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert done.value.code == 2 and out.out == "" and len(lines) == 1, out.err
    assert lines[0].startswith("curate: error: ") and "'gopher_quality'" in lines[0]


def test_help_names_both_engines(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    out = capsys.readouterr().out
    assert done.value.code == 0 and "Spark" in out and "Beam" in out
