"""The training loop's bookkeeping: throughput over training time only, per-domain evaluation, the schedule a resume
must keep, and the exit status of `curate train`."""

import json
import subprocess
import sys
import types

import pytest
import yaml

from curate.trainer import checkpoint, config, data, train


def _cfg(corpus, tmp_path, **train_keys):
    return config.from_dict({
        "output": str(tmp_path / "run"),
        "data": {"manifest": str(corpus), "seq_len": 16},
        "parallel": {"dtype": "float32"},
        "train": {"steps": 4, "global_batch": 4, "micro_batch": 4, "lr": 1e-3, "warmup_steps": 1, **train_keys},
        "log": {"every": 2},
    })


def test_evals_and_checkpoints_are_not_counted_as_training_time(corpus, tmp_path, monkeypatch):
    """A clock that moves only when the loop waits for data (1 s a step) or evaluates / checkpoints (100 s): every
    interval is then 2 steps in 2 s, whatever falls inside it."""
    now = [0.0]
    monkeypatch.setattr(train, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    next_batch, evaluate, save = data.Loader.next, train.evaluate, checkpoint.save

    def advancing(seconds, fn):
        def wrapped(*a, **k):
            now[0] += seconds
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(data.Loader, "next", advancing(1.0, next_batch))
    monkeypatch.setattr(train, "evaluate", advancing(100.0, evaluate))
    monkeypatch.setattr(checkpoint, "save", advancing(100.0, save))
    cfg = _cfg(corpus, tmp_path)
    cfg.eval.every, cfg.checkpoint.every = 1, 1  # inside every log interval
    records = [r for r in train.run(cfg) if r["kind"] == "train"]
    assert [r["step"] for r in records] == [2, 4]
    assert [r["step_time_s"] for r in records] == [1.0, 1.0]
    assert [r["tokens_per_s"] for r in records] == [4 * 16, 4 * 16]


def test_eval_reports_every_domain(corpus, tmp_path):
    cfg = _cfg(corpus, tmp_path)
    cfg.eval.every, cfg.eval.batches = 2, 5
    evals = [r for r in train.run(cfg) if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [2, 4]
    for r in evals:
        by_domain = r["loss_by_domain"]
        assert set(by_domain) == {"web", "wiki"}
        # 20 samples: 14 web, 6 wiki (weights 0.7 / 0.3); the overall loss is their sample-weighted mean
        assert r["loss"] == pytest.approx((14 * by_domain["web"] + 6 * by_domain["wiki"]) / 20)
        assert by_domain["web"] != by_domain["wiki"]


def test_a_resume_with_another_schedule_is_refused_unless_allowed(corpus, tmp_path, capsys):
    from curate.trainer import launch

    path = tmp_path / "train.yaml"
    raw = {"output": str(tmp_path / "run"), "data": {"manifest": str(corpus), "seq_len": 16},
           "parallel": {"dtype": "float32"},
           "train": {"steps": 4, "global_batch": 4, "micro_batch": 4, "warmup_steps": 1, "exit_after": 2}}
    path.write_text(yaml.safe_dump(raw))
    assert launch.main(str(path)) == 0
    capsys.readouterr()
    assert launch.main(str(path), ["train.steps=8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: train.steps: the checkpoint") and "was trained with 4" in err[0]
    # explicitly allowed: continues from step 2 on the new schedule
    assert launch.main(str(path), ["train.steps=8", "checkpoint.allow_schedule_change=true", "train.exit_after=null"]) == 0
    log = [json.loads(line) for line in (tmp_path / "run" / "train_log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if r["kind"] == "train"][-1] == 8
    assert checkpoint.schedule_change(checkpoint.latest(tmp_path / "run" / "checkpoints"), config.load(path)) \
        .startswith("train.steps:")  # the newest checkpoint records the new schedule (8 steps)


def test_curate_train_exits_2_on_a_bad_config(corpus, tmp_path):
    cli = [sys.executable, "-m", "curate.pipeline.commands.cli", "train"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"manifest": str(corpus)}, "train": {"lr": "fast"}}))
    done = subprocess.run([*cli, str(bad)], capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip() == "error: train.lr: expected a number, got 'fast'"
    # a run that crashes (a rank killed): tests/trainer/test_distributed.py::test_a_killed_rank_fails_the_whole_launch


def test_a_bad_config_is_refused_before_torch_is_imported(tmp_path):
    """A config error is a quick answer: torch (seconds to import cold) is imported once the config is good."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"manifest": str(tmp_path / "none.json")}, "train": {"lr": "fast"}}))
    code = ("import sys; from curate.trainer.launch import main; "
            f"status = main({str(bad)!r}); print(status, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["2", "False"], done.stderr
