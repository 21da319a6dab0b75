"""Config validation: presets, overrides, and one-line errors that name the key (exit status 2 from the launcher)."""

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
    ({"data": {"manifest": "m", "seq_lne": 5}}, "data.seq_lne: unknown key"),
    ({"data": {"manifest": "m"}, "train": {"steps": "many"}}, "train.steps: expected an integer"),
    ({"data": {"manifest": "m"}, "model": {"preset": "7B"}}, "model.preset:"),
    ({"data": {"manifest": "m"}, "parallel": {"nproc": 2, "tp": 3}}, "parallel.tp:"),
    ({"data": {"manifest": "m"}, "train": {"global_batch": 10, "micro_batch": 4}}, "train.global_batch:"),
    ({}, "data.manifest: required"),
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
    assert err == ["error: train.lr: expected a number, got 'fast'"]


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
