"""Config validation: presets, overrides, and one-line errors that name the key, worded as the pipeline's (exit
status 2 from the launcher)."""

import pytest
import yaml

from curate.trainer import config, launch


def test_preset_fills_architecture_and_explicit_keys_win():
    cfg = config.from_dict({"data": {"manifest": "m.json"}, "model": {"preset": "1B", "n_layers": 4}})
    assert (cfg.model.dim, cfg.model.n_heads, cfg.model.ffn_dim) == (2048, 16, 5632)
    assert cfg.model.n_layers == 4


def test_override_parses_yaml_values():
    cfg = config.from_dict({"data": {"manifest": "m.json"}}, ["train.steps=700", "log.tensorboard=true", "data.seed=3"])
    assert (cfg.train.steps, cfg.log.tensorboard, cfg.data.seed) == (700, True, 3)


@pytest.mark.parametrize("raw, key", [
    ({"data": {"manifest": "m", "seq_lne": 5}}, "data.seq_lne: unknown key (did you mean 'seq_len'?)"),
    ({"data": {"manifest": "m"}, "train": {"steps": "many"}}, "train.steps: Input should be a valid integer"),
    ({"data": {"manifest": "m"}, "train": {"steps": 0}}, "train.steps: Input should be greater than 0, got 0"),
    ({"data": {"manifest": "m"}, "model": {"preset": "7B"}}, "model.preset: Input should be 'tiny', '125M', '350M' "
                                                             "or '1B', got '7B'"),
    ({"data": {"manifest": "m"}, "model": {"preset": None, "dim": 64}}, "model.n_layers: required when"),
    ({"data": {"manifest": "m"}, "model": {"n_heads": 3}}, "model.n_heads: must divide model.dim (64)"),
    ({"data": {"manifest": "m"}, "parallel": {"nproc": 2, "tp": 3}}, "parallel.tp:"),
    ({"data": {"manifest": "m"}, "train": {"global_batch": 10, "micro_batch": 4}}, "train.global_batch:"),
    ({}, "data.manifest: required key is missing"),
    ({"data": {"manifest": "m"}, "train": {"threads": 0}}, "train.threads: Input should be greater than or equal to 1"),
])
def test_errors_name_the_key(raw, key):
    with pytest.raises(config.ConfigError) as e:
        config.from_dict(raw)
    assert str(e.value).startswith(key)


def test_launch_returns_2_with_one_line_naming_the_key(tmp_path, capsys, corpus):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"data": {"manifest": str(corpus)}, "train": {"lr": "fast"}}))
    assert launch.main(str(path)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: train.lr: Input should be a valid number, unable to parse string as a number, got 'fast'"]


def test_errors_are_worded_as_the_pipelines(tmp_path):
    """The same pydantic wording and key path as a pipeline or ablation file: the text after the key is the same."""
    from curate.workflows import ablate_config
    from curate.pipeline.errors import ConfigError as PipelineConfigError

    path = tmp_path / "a.yaml"
    arms = [{"name": "a", "output": "x"}, {"name": "b", "output": "y"}]
    for ours, theirs in [({"data": {"manifest": "m", "seq_len": "long"}}, {"tokens": 5, "seq_len": "long"}),
                         ({"data": {"manifest": "m"}, "train": {"lr": "fast"}}, {"tokens": 5, "lr": "fast"}),
                         ({"data": {"manifest": "m"}, "train": {"lr": 0}}, {"tokens": 5, "lr": 0})]:
        path.write_text(yaml.safe_dump({"output": "o", "arms": arms, "training": theirs}))
        with pytest.raises(PipelineConfigError) as pipeline_error:
            ablate_config.load(path)
        with pytest.raises(config.ConfigError) as trainer_error:
            config.from_dict(ours)
        assert str(trainer_error.value).split(": ", 1)[1] == str(pipeline_error.value).split(": ", 1)[1]


def test_launch_returns_2_for_a_missing_manifest(tmp_path, capsys):
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"data": {"manifest": str(tmp_path / "nope.json")}}))
    assert launch.main(str(path)) == 2
    assert "data.manifest" in capsys.readouterr().err


def test_example_configs_validate():
    from pathlib import Path

    examples = sorted((Path(__file__).resolve().parents[2] / "examples").glob("train*.yaml"))
    assert {p.stem for p in examples} >= {"train_tiny", "train_125M", "train_350M", "train_1B"}
    for p in examples:
        cfg = config.load(p)
        assert cfg.model.preset in config.PRESETS, p


def test_trainer_imports_no_pipeline_stages_or_engines():
    import subprocess
    import sys

    code = ("import sys, curate.trainer.launch, curate.trainer.train, curate.jobs.train; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('pyspark', 'apache_beam') "
            "or m.startswith(('curate.stages', 'curate.pipeline'))]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_default_run_dir_is_beside_the_data_and_the_cache_in_the_run(tmp_path):
    """Not runs/ in whatever directory the command ran from, not $HOME: OUT-train/<config name>/, cache inside."""
    (tmp_path / "out").mkdir()
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"data": {"manifest": str(tmp_path / "out" / "manifest.json")}}))
    cfg = config.load(path)
    assert cfg.output == str(tmp_path / "out-train" / "tiny")
    assert cfg.data.cache_dir == str(tmp_path / "out-train" / "tiny" / "data_cache")
    cfg = config.load(path, [f"output={tmp_path / 'elsewhere'}"])
    assert cfg.data.cache_dir == str(tmp_path / "elsewhere" / "data_cache")


def test_docs_name_the_run_directory_the_tiny_example_writes(monkeypatch):
    import os
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # the example's manifest path is relative to where `curate train` runs
    expected = os.path.relpath(config.load("examples/train_tiny.yaml").output, root)
    named = set(re.findall(r"curate-demo[\w/.-]*?-train/train_tiny", (root / "docs" / "TRAINER.md").read_text()))
    assert named == {expected}
