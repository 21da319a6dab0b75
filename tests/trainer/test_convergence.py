"""A tiny model trained for a few hundred steps on CPU lowers its loss clearly (train and held-out)."""

import json

import pytest

from curate.trainer import config, train

pytestmark = pytest.mark.slow  # 300 CPU training steps


def test_tiny_model_learns(corpus, tmp_path):
    cfg = config.from_dict({
        "output": str(tmp_path / "run"),
        "data": {"manifest": str(corpus), "seq_len": 64, "cache_dir": str(tmp_path / "cache")},
        "model": {"preset": "tiny"},
        "parallel": {"dtype": "float32"},
        "train": {"steps": 300, "global_batch": 16, "micro_batch": 16, "lr": 3e-3, "min_lr": 3e-4,
                  "warmup_steps": 20},
        "eval": {"every": 100, "batches": 2},
        "log": {"every": 10},
    })
    records = train.run(cfg)
    trained = [r for r in records if r["kind"] == "train"]
    evals = [r for r in records if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [100, 200, 300]
    assert trained[0]["loss"] > 4.5  # ~ln(256) untrained
    assert trained[-1]["loss"] < 1.0
    assert evals[-1]["loss"] < 1.0 and evals[-1]["loss"] <= evals[0]["loss"]
    logged = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert logged == records
    assert (tmp_path / "run" / "checkpoints" / "step_0000300").is_dir()
