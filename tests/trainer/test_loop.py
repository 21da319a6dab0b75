"""The training loop's bookkeeping: throughput over training time only, per-domain evaluation, the schedule a resume
must keep, and the exit status of `curate train`."""

import json
import subprocess
import sys
import types

import pytest
import yaml

from curate.trainer import checkpoint, config, data, evaluate, train


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
    next_batch, validation_loss, save = data.Loader.next, evaluate.validation_loss, checkpoint.save

    def advancing(seconds, fn):
        def wrapped(*a, **k):
            now[0] += seconds
            return fn(*a, **k)
        return wrapped

    monkeypatch.setattr(data.Loader, "next", advancing(1.0, next_batch))
    monkeypatch.setattr(evaluate, "validation_loss", advancing(100.0, validation_loss))
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
    assert done.returncode == 2 and done.stderr.strip() == ("error: train.lr: Input should be a valid number, unable to parse "
                                                    "string as a number, got 'fast'")
    # a run that crashes (a rank killed): tests/trainer/test_distributed.py::test_a_killed_rank_fails_the_whole_launch


def test_the_run_says_where_it_writes_and_how_long_it_has_left(corpus, tmp_path, capsys):
    cfg = _cfg(corpus, tmp_path)
    train.run(cfg)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"run directory: {tmp_path / 'run'}")
    steps = [line for line in lines if line.startswith("step ")]
    assert steps[0].startswith("step 2/4 loss ") and " tok/s " in steps[0] and " eta " in steps[0]
    assert steps[-1].startswith("step 4/4 loss ") and steps[-1].endswith(" eta 0s")


def test_a_finished_run_resumed_trains_nothing_and_prints_no_rate(corpus, tmp_path, capsys):
    cfg = _cfg(corpus, tmp_path)
    train.run(cfg)
    capsys.readouterr()
    assert train.run(cfg) == []
    out = capsys.readouterr().out
    assert "already at step 4 of 4: nothing to train" in out
    assert "tok/s" not in out and "step 4/4" not in out


def test_threads_by_default_leave_a_core_to_the_data_loader(corpus, tmp_path, monkeypatch, capsys):
    """OpenMP threads that outnumber the free cores wait for each other at every operator (docs/TRAINER.md)."""
    import torch

    assert [config.default_threads(1, cores) for cores in (1, 2, 4, 16)] == [1, 1, 3, 15]
    assert config.default_threads(processes=4, cores=16) == 3
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS")
        cfg = _cfg(corpus, tmp_path)
        cfg.train.steps = cfg.train.warmup_steps = 1
        train.run(cfg)
        assert torch.get_num_threads() == config.default_threads(1)
        assert f"CPU threads: {config.default_threads(1)} (of " in capsys.readouterr().out
        cfg.output, cfg.train.threads = str(tmp_path / "two"), 2
        train.run(cfg)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_bad_config_is_refused_before_torch_is_imported(tmp_path):
    """A config error is a quick answer: torch (seconds to import cold) is imported once the config is good."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"data": {"manifest": str(tmp_path / "none.json")}, "train": {"lr": "fast"}}))
    code = ("import sys; from curate.trainer.launch import main; "
            f"status = main({str(bad)!r}); print(status, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.split() == ["2", "False"], done.stderr
