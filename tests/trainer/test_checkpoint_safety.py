"""Checkpoints are data, not code: a crafted pickle in a checkpoint runs nothing on resume or export, and a damaged
checkpoint is one line with exit status 2 (not DCP's multi-line CheckpointException, a BaseException)."""

import os
import shutil
import subprocess
import sys

import pytest
import yaml

from curate.trainer import checkpoint, data, launch, train


class Payload:
    """Unpickled, this would run a shell command that creates `marker`."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    """A run stopped at step 2 with its checkpoint, and its config file (which resumes it)."""
    root = tmp_path_factory.mktemp("safety")
    path = root / "train.yaml"
    path.write_text(yaml.safe_dump({
        "output": str(root / "run"), "data": {"manifest": str(corpus), "seq_len": 16},
        "parallel": {"dtype": "float32"},
        "train": {"steps": 4, "global_batch": 4, "micro_batch": 4, "warmup_steps": 1, "exit_after": 2}}))
    assert launch.main(str(path)) == 0
    return path


def _copy(run, tmp_path):
    """The run in its own folder (each test damages its copy), and the config pointing at it."""
    config = yaml.safe_load(run.read_text())
    shutil.copytree(config["output"], tmp_path / "run")
    config["output"] = str(tmp_path / "run")
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, tmp_path / "run" / "checkpoints" / "step_0000002"


def _export(run_dir, out):
    """`curate train export-hf` in-process through the CLI's own error handling: (exit status, stderr lines)."""
    from curate.cli.main import _status

    return _status(["train", "export-hf", str(run_dir), str(out)])


def _one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_a_crafted_index_runs_nothing_on_resume_or_export(run, tmp_path, capsys):
    path, step = _copy(run, tmp_path)
    marker = tmp_path / "pwned"
    import pickle

    (step / ".metadata").write_bytes(pickle.dumps(Payload(marker)))
    capsys.readouterr()
    assert launch.main(str(path)) == 2
    line = _one_error_line(capsys)
    assert line.startswith(f"error: {step}: its index .metadata cannot be read") and "posix.system" in line
    assert _export(tmp_path / "run", tmp_path / "hf") == 2
    assert "posix.system, which is not part of a checkpoint's index" in _one_error_line(capsys)
    assert not marker.exists()


def test_a_crafted_value_runs_nothing_on_resume(corpus, tmp_path, capsys, monkeypatch):
    """DCP reads non-tensor values (the step, the data position) with torch.load(weights_only=False) by default."""
    marker = tmp_path / "pwned"
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump({
        "output": str(tmp_path / "run"), "data": {"manifest": str(corpus), "seq_len": 16},
        "parallel": {"dtype": "float32"},
        "train": {"steps": 4, "global_batch": 4, "micro_batch": 4, "warmup_steps": 1, "exit_after": 2}}))
    with monkeypatch.context() as patch:  # the checkpoint's data position is the payload
        patch.setattr(data.Loader, "state_dict", lambda self: {"consumed_samples": Payload(marker)})
        assert launch.main(str(path)) == 0
    capsys.readouterr()
    assert launch.main(str(path), ["train.exit_after=null"]) == 2
    line = _one_error_line(capsys)
    assert "step_0000002: cannot be read (UnpicklingError" in line and "posix.system" in line
    # as a user runs it: DCP's own error log (the traceback) stays out of the terminal too
    done = subprocess.run([sys.executable, "-m", "curate.cli.main", "train", str(path),
                           "train.exit_after=null"], capture_output=True, text=True)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not marker.exists()


def test_a_damaged_checkpoint_is_one_line_and_exit_2(run, tmp_path, capsys):
    path, step = _copy(run, tmp_path)
    # an empty step folder, newer than the good one
    empty = step.with_name("step_0000003")
    empty.mkdir()
    capsys.readouterr()
    assert launch.main(str(path)) == 2
    assert _one_error_line(capsys) == (f"error: {empty}: not a complete checkpoint (.metadata is missing); delete the "
                                       "folder to resume from the one before, or set checkpoint.resume=false")
    assert _export(tmp_path / "run", tmp_path / "hf") == 2
    assert "not a complete checkpoint" in _one_error_line(capsys)
    empty.rmdir()
    # a truncated .distcp
    shard = next(step.glob("*.distcp"))
    size = shard.stat().st_size
    with open(shard, "r+b") as f:
        f.truncate(size // 2)
    assert launch.main(str(path)) == 2
    assert _one_error_line(capsys) == (f"error: {step}: {shard.name} is {size // 2:,} bytes, the checkpoint's index "
                                       f"needs {size:,} (truncated?)")
    assert _export(tmp_path / "run", tmp_path / "hf") == 2
    assert "(truncated?)" in _one_error_line(capsys)
    # a garbage index
    (step / ".metadata").write_bytes(os.urandom(512))
    assert launch.main(str(path)) == 2
    assert _one_error_line(capsys).startswith(f"error: {step}: its index .metadata cannot be read (")
    assert not (tmp_path / "hf").exists()


def test_the_cli_prints_one_line_for_a_damaged_checkpoint(run, tmp_path):
    """The console script, as a user runs it: no traceback (CheckpointException is a BaseException)."""
    path, step = _copy(run, tmp_path)
    (step / ".metadata").write_bytes(b"\x80\x04garbage")
    cli = [sys.executable, "-m", "curate.cli.main", "train"]
    for command in ([*cli, str(path)], [*cli, "export-hf", str(tmp_path / "run"), str(tmp_path / "hf")]):
        done = subprocess.run(command, capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "its index .metadata cannot be read" in lines[0], done.stderr


def test_a_good_checkpoint_still_resumes(run, tmp_path):
    path, _ = _copy(run, tmp_path)
    records = train.run(launch.config.load(path, ["train.exit_after=null"]))
    assert [r["step"] for r in records if r["kind"] == "train"][-1] == 4
