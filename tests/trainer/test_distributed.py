"""Two gloo processes (through `curate.trainer.launch.main`, i.e. torchrun): FSDP and tensor parallel reproduce one
process, two nodes reproduce one, a run stopped at step k and resumed reproduces the uninterrupted run exactly, and a
killed rank fails the whole launch."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from curate.trainer import launch, train

pytestmark = pytest.mark.distributed

STEPS = 6
CLI = [sys.executable, "-m", "curate.pipeline.commands.cli", "train"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _two_nodes(path: Path, overrides: list[str], home: Path) -> None:
    """Two `curate train --nnodes 2` processes, one per node rank, meeting at one c10d endpoint on 127.0.0.1."""
    endpoint = f"127.0.0.1:{_free_port()}"
    env = {**os.environ, "HOME": str(home)}
    nodes = [subprocess.Popen([*CLI, "--nnodes", "2", "--node-rank", str(r), "--rdzv-endpoint", endpoint, str(path),
                               *overrides], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for r in range(2)]
    outputs = [n.communicate(timeout=300)[0] for n in nodes]
    assert [n.returncode for n in nodes] == [0, 0], outputs


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Run each variant once; returns {name: [train records]}."""
    tmp = tmp_path_factory.mktemp("dist")
    base = {
        "data": {"manifest": str(corpus), "seq_len": 32, "cache_dir": str(tmp / "cache")},
        "parallel": {"dtype": "float32"},
        "train": {"steps": STEPS, "global_batch": 8, "micro_batch": 4, "lr": 3e-3, "warmup_steps": 2,
                  "grad_clip": 0.5},
        "log": {"every": 1},
    }
    path = tmp / "train.yaml"
    path.write_text(yaml.safe_dump(base))
    variants = {
        "single": ["parallel.nproc=1", "train.micro_batch=8"],
        "single_accum": ["parallel.nproc=1", "train.micro_batch=4"],
        "fsdp": ["parallel.nproc=2"],
        "tp": ["parallel.nproc=2", "parallel.tp=2", "train.micro_batch=8"],
        # the norms stay replicated plain tensors while the other gradients are DTensors
        "tp_no_sp": ["parallel.nproc=2", "parallel.tp=2", "parallel.sequence_parallel=false", "train.micro_batch=8"],
        # stopped after step 3 (checkpointed), then the same command resumes it
        "resumed": ["parallel.nproc=2", "train.exit_after=3"],
    }
    out = {"tmp": tmp}
    for name, overrides in variants.items():
        assert launch.main(str(path), overrides + [f"output={tmp / name}"]) == 0, name
    assert launch.main(str(path), ["parallel.nproc=2", f"output={tmp / 'resumed'}"]) == 0
    # two nodes of one process each (world 2, as "fsdp"), with the default cache (beside the run, not in $HOME)
    two_nodes = dict(base, data={k: v for k, v in base["data"].items() if k != "cache_dir"})
    (tmp / "two_nodes.yaml").write_text(yaml.safe_dump(two_nodes))
    (tmp / "home").mkdir()
    _two_nodes(tmp / "two_nodes.yaml", ["parallel.nproc=1", f"output={tmp / 'two_nodes'}"], tmp / "home")
    variants["two_nodes"] = []
    for name in variants:
        lines = (tmp / name / "train_log.jsonl").read_text().splitlines()
        out[name] = [r for r in map(json.loads, lines) if r["kind"] == "train"]
    return out


def _losses(records):
    return [r["loss"] for r in records]


def test_fsdp_matches_one_process(runs):
    single, fsdp = runs["single"], runs["fsdp"]
    assert [r["step"] for r in fsdp] == list(range(1, STEPS + 1))
    assert _losses(single)[-1] < _losses(single)[0] - 0.3  # it trains, so agreement is not trivial
    assert _losses(fsdp) == pytest.approx(_losses(single), abs=1e-5)
    assert [r["grad_norm"] for r in fsdp] == pytest.approx([r["grad_norm"] for r in single], abs=1e-4)
    # gradient accumulation over two micro-batches is the same step too
    assert _losses(runs["single_accum"]) == pytest.approx(_losses(single), abs=1e-5)


@pytest.mark.parametrize("variant", ["tp", "tp_no_sp"])
def test_tensor_parallel_2_matches_1(runs, variant):
    assert _losses(runs[variant]) == pytest.approx(_losses(runs["single"]), abs=1e-5)
    assert [r["grad_norm"] for r in runs[variant]] == pytest.approx([r["grad_norm"] for r in runs["single"]],
                                                                     abs=1e-4)


def test_two_nodes_match_one(runs):
    """World = nodes x parallel.nproc: 2 nodes x 1 process reproduce 1 node x 2 processes (and one process)."""
    two = runs["two_nodes"]
    assert [r["step"] for r in two] == list(range(1, STEPS + 1))
    assert _losses(two) == pytest.approx(_losses(runs["fsdp"]), abs=1e-5)
    assert _losses(two) == pytest.approx(_losses(runs["single"]), abs=1e-5)
    # the shards were converted beside the run, not under $HOME
    tmp = runs["tmp"]
    assert len(list((tmp / "two_nodes" / "data_cache" / "shards").iterdir())) == 5
    assert not (tmp / "home" / ".cache").exists()


def test_logged_lr_is_the_rate_the_step_used(runs):
    """Step 1 trains at the first warmup rate (lr / warmup_steps), not the second."""
    cfg = train.TrainConfig(data={"manifest": "m.json"})
    cfg.train.lr, cfg.train.warmup_steps, cfg.train.steps, cfg.train.min_lr = 3e-3, 2, STEPS, 3e-5
    factor = train.lr_lambda(cfg)
    assert [r["lr"] for r in runs["single"]] == pytest.approx([3e-3 * factor(s) for s in range(STEPS)])
    assert runs["single"][0]["lr"] == pytest.approx(1.5e-3)


def test_stop_and_resume_reproduces_the_uninterrupted_run_exactly(runs):
    resumed = runs["resumed"]
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))
    assert [r["consumed_samples"] for r in resumed] == [8 * s for s in range(1, STEPS + 1)]
    assert _losses(resumed) == _losses(runs["fsdp"])  # bit for bit
    assert [r["lr"] for r in resumed] == [r["lr"] for r in runs["fsdp"]]


def test_activation_checkpointing_changes_no_loss(corpus, tmp_path):
    from curate.trainer import config, train

    def losses(ac: bool):
        cfg = config.from_dict({
            "output": str(tmp_path / f"ac{ac}"),
            "data": {"manifest": str(corpus), "seq_len": 32, "cache_dir": str(tmp_path / "cache")},
            "parallel": {"dtype": "float32", "activation_checkpointing": ac},
            "train": {"steps": 3, "global_batch": 8, "micro_batch": 8, "lr": 3e-3, "warmup_steps": 1},
            "log": {"every": 1},
        })
        return [r["loss"] for r in train.run(cfg)]

    plain, recomputed = losses(False), losses(True)
    assert plain[-1] < plain[0]
    assert recomputed == pytest.approx(plain, abs=1e-6)
    assert (tmp_path / "acTrue" / "checkpoints" / "step_0000003").is_dir()  # wrapped blocks still checkpoint


def _descendants(pid: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children + [d for c in children for d in _descendants(c)]


def test_a_killed_rank_fails_the_whole_launch(corpus, tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({
        "output": str(tmp_path / "run"),
        "data": {"manifest": str(corpus), "seq_len": 32},
        "parallel": {"nproc": 2, "dtype": "float32"},
        "train": {"steps": 2000, "global_batch": 8, "micro_batch": 4, "warmup_steps": 2},
        "checkpoint": {"at_end": False},
        "log": {"every": 1}}))
    launcher = subprocess.Popen([*CLI, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run" / "train_log.jsonl"
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and log.read_text().count("\n") >= 2):  # both ranks are training
            assert launcher.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        workers = [p for p in _descendants(launcher.pid)
                   if "curate.jobs.train" in (cmd := Path(f"/proc/{p}/cmdline").read_text())
                   and "torch.distributed.run" not in cmd]
        assert len(workers) == 2
        os.kill(max(workers), signal.SIGKILL)
        assert launcher.wait(timeout=120) != 0
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
