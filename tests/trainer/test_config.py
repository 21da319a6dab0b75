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
