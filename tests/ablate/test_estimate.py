"""`curate ablate` on a GPU, what a CPU can check of it: the dtype a run gets on each device, one worker per GPU, the
time estimate measured through the trainer's own step (on the device, dtype and threads the runs use) and summed over
the runs to do. The bf16 evaluation and the CUDA timings themselves need a GPU (docs/ABLATE.md, "On GPUs")."""
from __future__ import annotations

import json
import os
import queue
from pathlib import Path

import pytest
import torch

from curate.workflows import ablate as ablate_module
from curate.workflows import ablate_estimate
from curate.workflows.ablate_config import TrainingConfig


def _trainer(tmp_path: Path, **training) -> dict:
    t = TrainingConfig(tokens=4 * 8 * 16, seq_len=16, global_batch=8, device="cpu", **training)
    return ablate_module.trainer_config(t, tmp_path / "cache", tmp_path / "manifest.json", tmp_path / "run", 0, 2.0)


@pytest.mark.parametrize("device, dtype, cuda, expected", [
    ("auto", "auto", True, "bf16"), ("auto", "auto", False, "float32"), ("cuda", "auto", True, "bf16"),
    ("cpu", "auto", True, "float32"), ("auto", "float32", True, "float32"), ("cpu", "bf16", False, "bf16")])
def test_the_dtype_follows_the_device(tmp_path, monkeypatch, device, dtype, cuda, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    t = TrainingConfig(tokens=128, device=device, dtype=dtype)
    trainer = ablate_module.trainer_config(t, tmp_path, tmp_path / "m.json", tmp_path / "r", 0, 2.0)
    assert (trainer["parallel"]["dtype"], trainer["device"]) == (expected, device)


def test_a_worker_takes_one_gpu_for_all_its_runs(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    devices = queue.Queue()
    for gpu in (0, 1):
        devices.put(gpu)
    ablate_module._worker_init(devices)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
    ablate_module._worker_init(devices)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")


def test_measure_runs_the_trainers_step_on_the_runs_device_and_threads(tmp_path):
    before = torch.get_num_threads()
    trainer = _trainer(tmp_path, threads=1)
    trainer["train"]["threads"] = 1
    speed = ablate_estimate.measure(trainer, vocab_size=300, eval_batch=4)
    assert (speed.device, speed.dtype) == ("cpu", "float32")
    assert 0 < speed.token_seconds < speed.step_seconds  # a token's forward is a sliver of a step of 8 x 16 tokens
    assert torch.get_num_threads() == before  # the runs set their own
    assert not list(tmp_path.iterdir())  # nothing written beside the runs


def test_the_estimate_sums_the_runs_to_do_at_the_measured_speeds(tmp_path, monkeypatch):
    """Two kinds of run (proxy-sized and full), one only evaluated again; two at once."""
    measured = []

    def fake_measure(trainer, vocab_size, eval_batch):
        measured.append(trainer["model"]["preset"])
        return ablate_estimate.Speed(0.5 if trainer["model"]["preset"] == "tiny" else 2.0, 1e-4, "cpu", "float32")

    monkeypatch.setattr(ablate_estimate, "measure", fake_measure)
    (tmp_path / "manifest.json").write_text(json.dumps({"tokenizer": {"vocab_size": 300}}))
    small, large = _trainer(tmp_path), _trainer(tmp_path, preset="125M")
    specs = [{"trainer": small, "eval_tokens": 10_000, "manifest": str(tmp_path / "manifest.json")},
             {"trainer": small, "eval_tokens": 10_000, "manifest": str(tmp_path / "manifest.json")},
             {"trainer": large, "eval_tokens": 20_000, "manifest": str(tmp_path / "manifest.json"),
              "evaluate_only": True}]
    line = ablate_estimate.estimate(specs, at_once=2, eval_batch=4)
    assert measured == ["tiny", "125M"]  # once per kind of run
    # tiny: 4 steps x 0.5 s + 10,000 x 0.1 ms = 3 s, twice; 125M: evaluation only, 2 s; 8 s over 2 at once
    assert line.startswith("estimate: 3 run(s), 2 at once, 8 steps and 40,000 evaluated tokens in all: about 4s ")
    assert "tiny, 8 x 16 tokens a step: 0.5 s a step, 100 µs an evaluated token (cpu, float32)" in line
