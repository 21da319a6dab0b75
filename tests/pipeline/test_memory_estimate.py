"""`curate explain --estimate` and the memory check before a run: each global stage's figures from a sample of the
input (`curate.pipeline.estimate`), the refusal of a run that would exceed `engine.memory_per_worker`, and a plugin's
global stage estimated by its own method."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.cli.main import main
from curate.pipeline.config import parse
from curate.pipeline.estimate import KeySample, Resources, estimate, sample_tasks
from curate.pipeline.inputs import read, resolve
from curate.pipeline.chain import StageCounts, split
from curate.pipeline.ledger import ReaderLedger
from curate.pipeline.passes import _with_file as with_file
from curate.pipeline.run import checked
from curate.stages.dedup.minhash import star_rounds

WORDS = ("river boat summer evening lantern harbour meadow orchard quarry bridge candle window market letter "
         "garden thunder pebble ribbon violin basket").split()


def curate(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def texts(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, 60)) + f" {seed}-{i}" for i in range(n)]


def write_input(folder: Path, files: int = 1, unique: int = 30, copies: int = 10) -> Path:
    """JSONL files: `unique` distinct texts each, the first file also `copies` copies of one more text."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        rows = texts(unique, f) + (["the same text copied " * 10] * copies if f == 0 else [])
        (folder / f"part-{f}.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in rows))
    return folder


def config(tmp_path: Path, stages: list[dict], engine: dict | None = None, plugins: list[str] | None = None):
    return parse({"input": {"paths": [str(tmp_path / "in")], "dataset": "t"}, "output": str(tmp_path / "out"),
                  "engine": engine or {"name": "spark", "master": "local[2]"}, "plugins": plugins or [],
                  "stages": stages})


def test_figures_of_a_whole_small_input_are_its_keys(tmp_path):
    """An input smaller than the sample is read whole: the key bytes are its keys' own size, the largest group the
    copies of the one repeated text."""
    write_input(tmp_path / "in")
    plan = checked(config(tmp_path, [{"name": "exact_dedup"}]))
    found = estimate(plan.pipeline, plan.inputs)
    bound, task = plan.pipeline.stages[0], plan.inputs[0]
    keys = pa.Table.from_batches([with_file(bound.keys(split(batch)[0], StageCounts(bound.id))[2], task.key)
                                  for batch in read(task, plan.config.input, ReaderLedger(task.rel))])
    got = found.stages["exact_dedup"]
    assert found.scale == 1.0 and found.sampled_documents == 40
    assert got.documents == 40 and got.largest_group == 10
    assert got.key_bytes == keys.nbytes  # the keys a run's pass writes for this file (`passes.run_pass`)
    assert got.shuffle_bytes > got.key_bytes  # the keys once, and the ten grouped documents' decisions


def test_a_sample_scales_to_the_whole_input(tmp_path):
    """Eight files read in part: documents, and the copies of one text, scaled by the stored bytes."""
    write_input(tmp_path / "in", files=8, unique=400, copies=0)
    plan = checked(config(tmp_path, [{"name": "exact_dedup"}]))
    inputs = resolve(plan.config.input)
    tasks = sample_tasks(inputs, budget=8 * 8192)
    assert all(task.part is not None and task.part.index == 0 for task in tasks)  # a first range of each file
    found = estimate(plan.pipeline, inputs, budget=8 * 8192)
    assert found.scale > 2
    assert found.stages["exact_dedup"].documents == pytest.approx(3200, rel=0.1)
    assert found.stages["exact_dedup"].largest_group == 1  # no text repeats


def test_largest_group_scales_a_repeated_value_only():
    sample = KeySample(pa.table({"uid": pa.array([bytes(16)] * 4, pa.binary(16))}), 50.0,
                       Resources(2, 8, None, "test"))
    assert sample.documents == 200
    assert sample.largest([1, 1, 1]) == 1  # a value seen once stands for itself
    assert sample.largest([3, 1]) == 150  # a value seen 3 times in 4: its share of the whole input
    assert sample.held(800, 10) == 100 and sample.held(800, 400) == 400


def test_minhash_estimate_finds_the_cluster_and_its_rounds(tmp_path):
    write_input(tmp_path / "in")
    plan = checked(config(tmp_path, [{"name": "minhash_dedup"}]))
    got = estimate(plan.pipeline, plan.inputs).stages["minhash_dedup"]
    assert got.largest_group == 10 and got.rounds == 1  # ten copies: one star, settled in one round
    assert got.bounds["salts"] == 16 and got.bounds["largest bucket"] == "10"


def test_star_rounds_follow_the_plan_steps():
    chain = np.array([[i, i + 1] for i in range(9)])
    assert star_rounds(chain, 40) > star_rounds(np.array([[0, 1], [0, 2], [0, 3]]), 40) == 1
    assert star_rounds(chain, 2) == 2  # bounded by max_rounds


def test_explain_estimate_prints_every_global_stage(tmp_path, capsys):
    write_input(tmp_path / "in")
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                "engine": {"name": "spark", "master": "local[2]"},
                                "stages": [{"name": "exact_dedup"}, {"name": "minhash_dedup"}]}))
    code, out, err = curate(capsys, "explain", str(path), "--estimate")
    assert code == 0, err
    lines = out.splitlines()
    assert any(line.startswith("estimate from 40 documents") for line in lines)
    exact = next(line for line in lines if line.strip().startswith("exact_dedup ") and "largest group" in line)
    assert "largest group 10 rows" in exact and "spark.driver.memory 1g" in out
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("engine", [{"conf": {"spark.driver.memory": "lots"}}, {"master": "local[0]"},
                                    {"conf": {"spark.memory.fraction": "most"}}])
def test_a_spark_size_that_is_not_a_size_is_one_line(tmp_path, capsys, engine):
    write_input(tmp_path / "in")
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                "engine": {"name": "spark", "master": "local[2]", **engine},
                                "stages": [{"name": "minhash_dedup"}]}))
    code, out, err = curate(capsys, "explain", str(path), "--estimate")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("curate: error: engine: a Spark setting that sizes its tasks and memory is not a size")


@pytest.mark.parametrize("engine, says", [
    # Spark's least memory per operator (a 16 MiB page with the default 1g) fills it: fewer tasks at once
    ({"memory_per_worker": "1MiB"}, "5 buffer(s) a task take 80.0 MiB however little they hold, and a worker runs 2 "
                                    "tasks at once: run fewer tasks per worker"),
    # the data fills it: the stage's own suggestion
    ({"memory_per_worker": 1, "conf": {"spark.buffer.pageSize": "1"}}, "raise threshold"),
])
def test_a_run_over_its_memory_refuses_in_one_line(tmp_path, capsys, engine, says):
    write_input(tmp_path / "in")
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"input": str(tmp_path / "in"), "output": str(tmp_path / "out"),
                                "engine": {"name": "spark", "master": "local[2]", **engine},
                                "stages": [{"name": "minhash_dedup"}]}))
    code, out, err = curate(capsys, "run", str(path))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: minhash_dedup needs about ")
    assert "of engine.memory_per_worker" in lines[0] and says in lines[0]
    assert not (tmp_path / "out").exists()  # nothing written, no engine started


def test_enough_memory_is_not_refused(tmp_path):
    from curate.pipeline.estimate import refuse_exceeding

    write_input(tmp_path / "in")
    plan = checked(config(tmp_path, [{"name": "minhash_dedup"}],
                          {"name": "spark", "master": "local[2]", "memory_per_worker": "8GiB"}))
    refuse_exceeding(plan.pipeline, plan.inputs)  # no MemoryExceeded


PLUGIN = '''
"""A plugin global stage that declares its own estimate."""
from curate.pipeline.engine import plan
from curate.pipeline.estimate import Estimate
from curate.pipeline.registry import register
from host_cap_stage import HostCap, host_cap_on_spark


@register
class SizedCap(HostCap):
    name = "sized_cap"

    def estimate(self, sample):
        return Estimate(sample.documents, sample.key_bytes, 2 * sample.key_bytes, 7, 1 << 20,
                        bounds={"max_per_host": self.params.max_per_host}, suggestion="raise max_per_host")


plan("spark", SizedCap)(host_cap_on_spark)
'''


def test_a_plugin_global_stage_brings_its_estimate(tmp_path, capsys, monkeypatch):
    """The framework presents a plugin's own estimate, and says when a stage (host_cap) declares none."""
    (tmp_path / "sized_cap_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    folder = write_input(tmp_path / "in")
    for part in folder.iterdir():  # host_cap reads the url
        rows = [{**json.loads(line), "url": f"https://h{i % 3}.example/{i}"}
                for i, line in enumerate(part.read_text().splitlines())]
        part.write_text("".join(json.dumps(r) + "\n" for r in rows))
    path = tmp_path / "p.yaml"
    path.write_text(json.dumps({"input": str(folder), "output": str(tmp_path / "out"),
                                "engine": {"name": "spark", "master": "local[2]"},
                                "plugins": ["sized_cap_plugin"],
                                "stages": [{"name": "sized_cap"}, {"name": "host_cap"}]}))
    code, out, err = curate(capsys, "explain", str(path), "--estimate")
    assert code == 0, err
    sized = next(line for line in out.splitlines() if line.strip().startswith("sized_cap ") and "keys" in line)
    assert "largest group 7 rows" in sized and "held per task 1.0 MiB" in sized and "max_per_host 2" in sized
    assert any(line.strip().startswith("host_cap") and "no estimate" in line for line in out.splitlines())


def test_a_file_that_cannot_be_cut_is_read_in_part(tmp_path):
    """One gzip JSONL file (one member: no range can start inside it) is read up to the sample's bytes, and scaled
    by the bytes its reader consumed."""
    import gzip

    rows = texts(6000, 1)
    folder = tmp_path / "in"
    folder.mkdir()
    with gzip.open(folder / "big.jsonl.gz", "wt") as out:
        out.writelines(json.dumps({"text": t}) + "\n" for t in rows)
    plan = checked(config(tmp_path, [{"name": "exact_dedup"}]))
    found = estimate(plan.pipeline, plan.inputs, budget=64 << 10)
    assert found.sampled_documents < 6000 and found.sampled_bytes < plan.inputs[0].stored_size
    assert found.stages["exact_dedup"].documents == pytest.approx(6000, rel=0.15)
