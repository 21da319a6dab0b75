"""`curate ablate` end to end on a small JSONL crawl: two pipeline arms, a trained shared tokenizer, a leak found by
the decontaminate stage, two seeds each on equal tokens, every metric, results written, a rerun that redoes nothing,
a rerun with other training settings that redoes the runs (never a stale table), an empty evaluation set refused
before any arm runs, and each run's lines labelled with its arm and seed."""
from __future__ import annotations

import json
import random

import pytest
import yaml

from curate.workflows.ablate import ablate, check_tokenizers
from curate.workflows.ablate_config import load
from curate.workflows.ablate_results import ordering
from curate.pipeline.errors import ConfigError, CurateError

WORDS = ("the river runs past old mills and quiet farms where people grow wheat and barley every year while "
         "children walk to school along the road and the market opens on saturday mornings").split()


def _documents(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        sentences = [" ".join(rng.choices(WORDS, k=rng.randint(8, 14))).capitalize() + "." for _ in range(6)]
        docs.append(" ".join(sentences) if i % 3 else "buy now " * 30)  # every third one is spam
    return docs


@pytest.fixture(scope="module")
def ablation(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("ablate")
    docs = _documents(60, 0)
    (root / "crawl").mkdir()
    (root / "crawl" / "crawl.jsonl").write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    (root / "all.yaml").write_text(yaml.safe_dump({"input": {"paths": ["x"], "dataset": "x"}, "output": "x",
                                                   "stages": []}))
    (root / "filtered.yaml").write_text(yaml.safe_dump({"input": {"paths": ["x"], "dataset": "x"}, "output": "x",
                                                        "stages": [{"name": "gopher_repetition"}]}))
    (root / "reference.txt").write_text(docs[1])  # a training document: the leak check must find it
    (root / "clean.txt").write_text("Quantum chromodynamics describes the strong interaction between quarks.")
    (root / "mc.jsonl").write_text("".join(json.dumps(item) + "\n" for item in [
        {"context": "The river runs past", "choices": ["old mills", "purple engines"], "gold": 0},
        {"context": "Children walk to", "choices": ["xylophone", "school"], "gold": 1},
        {"context": "The market opens on", "choices": ["saturday mornings", "zebra"], "gold": 0},
    ]))
    config = {
        "output": str(root / "out"),
        "input": {"paths": [str(root / "crawl")], "dataset": "crawl", "format": "jsonl"},
        "arms": [{"name": "all", "pipeline": str(root / "all.yaml")},
                 {"name": "filtered", "pipeline": str(root / "filtered.yaml")}],
        "tokenizer": {"vocab_size": 300, "sample": 100},
        "training": {"preset": "tiny", "seq_len": 16, "tokens": 3 * 4 * 16, "seeds": [0, 1], "global_batch": 4,
                     "warmup_steps": 1, "device": "cpu", "validation_fraction": 0.2},
        "evaluation": {"reference": [{"name": "leaky", "path": str(root / "reference.txt")},
                                     {"name": "clean", "path": str(root / "clean.txt")}],
                       "multiple_choice": [{"name": "mc", "path": str(root / "mc.jsonl")}]},
    }
    (root / "ablation.yaml").write_text(yaml.safe_dump(config))
    cfg = load(root / "ablation.yaml")
    lines = []
    return cfg, ablate(cfg, progress=lines.append), root, lines


def test_every_arm_and_seed_trains_on_equal_tokens_and_is_scored(ablation):
    cfg, results, root, _ = ablation
    assert list(results["arms"]) == ["all", "filtered"]
    for arm in results["arms"].values():
        assert arm["seeds"] == [0, 1]
        assert arm["tokens"] == 3 * 4 * 16
        assert arm["epochs"] == pytest.approx(arm["tokens"] / arm["train_tokens"])
        assert set(arm["metrics"]) == {"bpb/leaky", "bpb/clean", "acc/mc", "acc_norm/mc", "val_loss/documents"}
        bpb = arm["metrics"]["bpb/clean"]
        assert len(bpb["values"]) == 2 and all(0 < v < 20 for v in bpb["values"])
        assert 0 <= arm["metrics"]["acc/mc"]["mean"] <= 1 and "item_stderr" in arm["metrics"]["acc/mc"]
    # the filter removed the spam: fewer training tokens, so more epochs on the same budget
    assert results["arms"]["filtered"]["train_tokens"] < results["arms"]["all"]["train_tokens"]
    for run in results["runs"]:
        log = [json.loads(line) for line in (root / "out" / "runs" / run["arm"] / f"seed{run['seed']}"
                                              / "train_log.jsonl").read_text().splitlines()]
        assert log[-1]["step"] == 3
    assert (root / "out" / "report" / "ablation.html").read_text().count('<img class="plot"') == 6
    assert json.loads((root / "out" / "results.json").read_text())["orderings"].keys() == {
        "bpb/leaky", "bpb/clean", "acc/mc", "acc_norm/mc"}


def test_leaked_reference_text_is_found_and_removed_before_training(ablation):
    _, results, _, _ = ablation
    assert results["arms"]["all"]["leaks"] == {"leaky": 1}
    assert "clean" not in results["arms"]["all"]["leaks"]


def test_a_rerun_redoes_nothing(ablation):
    cfg, results, root, _ = ablation
    logs = {p: p.read_text() for p in (root / "out" / "runs").rglob("train_log.jsonl")}
    again = ablate(cfg)
    assert {p: p.read_text() for p in logs} == logs
    assert again["arms"]["all"]["metrics"]["bpb/clean"] == results["arms"]["all"]["metrics"]["bpb/clean"]


def test_a_foreign_tokenizer_is_refused(ablation, tmp_path):
    cfg, results, root, _ = ablation
    other = tmp_path / "tokenizer.json"
    other.write_text("{}")
    with pytest.raises(CurateError, match="not the shared tokenizer"):
        check_tokenizers({"all": root / "out" / "arms" / "all" / "tokens"}, other)


def test_significance_rule():
    arms = {"a": {"metrics": {"bpb/x": {"mean": 1.0, "std": 0.1, "n": 3}}},
            "b": {"metrics": {"bpb/x": {"mean": 1.5, "std": 0.1, "n": 3}}},
            "c": {"metrics": {"bpb/x": {"mean": 1.6, "std": 0.1, "n": 3}}}}
    rows = ordering(arms, "bpb/x")
    assert [r["arm"] for r in rows] == ["a", "b", "c"]
    assert [r.get("significant") for r in rows] == [True, False, None]


def test_bad_file_is_one_line_naming_the_key(tmp_path):
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump({"output": "o", "arms": [{"name": "a", "output": "x"}, {"name": "b", "output": "y"}],
                                    "training": {"tokens": "many"}}))
    with pytest.raises(ConfigError, match=r"^training.tokens: "):
        load(path)


def test_an_arm_that_tokenizes_or_names_a_later_arm_is_refused(tmp_path):
    from curate.workflows.ablate import arm_documents

    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(yaml.safe_dump({"input": {"paths": ["x"], "dataset": "x"}, "output": "x",
                                        "stages": [{"name": "tokenize", "tokenizer": "t.json"}]}))
    base = {"output": str(tmp_path / "o"), "input": {"paths": [str(tmp_path)], "dataset": "d"},
            "training": {"tokens": 100}}
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(base | {"arms": [{"name": "a", "pipeline": str(pipeline), "after": "b"},
                                                    {"name": "b", "pipeline": str(pipeline)}]}))
    with pytest.raises(ConfigError, match="must name an arm listed before it"):
        load(path)
    path.write_text(yaml.safe_dump(base | {"arms": [{"name": "a", "pipeline": str(pipeline)},
                                                    {"name": "b", "pipeline": str(pipeline)}]}))
    cfg = load(path)
    with pytest.raises(CurateError, match="leave `tokenize` out"):
        arm_documents(cfg.arms[0], cfg, {}, None)


def test_each_run_says_when_it_ends(ablation):
    _, results, _, lines = ablation
    done = [line for line in lines if " done: " in line]
    assert len(done) == 4
    for run in results["runs"]:
        line = next(line for line in done if line.startswith(f"run {run['arm']}/seed{run['seed']} done: 3 steps in "))
        assert f"bpb/clean {run['metrics']['bpb/clean']['value']:.4f}" in line


def test_an_empty_or_missing_reference_set_is_refused_before_any_arm_runs(ablation, tmp_path):
    """Bits per byte of no text read 0.0000 for every arm: a perfect score nothing measured."""
    cfg, _, root, _ = ablation
    (tmp_path / "empty.txt").write_text("")
    arms = [{"name": "all", "output": str(root / "out" / "arms" / "all" / "curated")},
            {"name": "filtered", "output": str(root / "out" / "arms" / "filtered" / "curated")}]
    for path, refusal in ((tmp_path / "empty.txt", "holds no text to score"),
                          (tmp_path / "missing.txt", "no .txt, .jsonl or .parquet file")):
        raw = cfg.model_dump(mode="json") | {"output": str(tmp_path / "out"), "input": None, "arms": arms}
        raw["evaluation"]["reference"].append({"name": "empty", "path": str(path)})
        (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
        with pytest.raises(CurateError, match=rf"^evaluation.reference empty: .*{refusal}"):
            ablate(load(tmp_path / "a.yaml"))
        assert not (tmp_path / "out" / "arms").exists() and not (tmp_path / "out" / "runs").exists()


def test_changed_training_settings_train_again_instead_of_keeping_stale_runs(ablation, capsys):
    """Tokens 192 -> 128 (3 steps -> 2): every run trains again and the table says 128; back again afterwards."""
    cfg, results, root, _ = ablation
    fewer = cfg.model_copy(update={"training": cfg.training.model_copy(update={"tokens": 2 * 4 * 16})})
    lines = []
    again = ablate(fewer, progress=lines.append)
    assert not any("already done" in line for line in lines)
    assert sum("changed since it ran (training.tokens: 192 -> 128)" in line for line in lines) == 4, lines
    assert {arm["tokens"] for arm in again["arms"].values()} == {2 * 4 * 16}
    assert {run["tokens"] for run in again["runs"]} == {2 * 4 * 16}
    for run in again["runs"]:
        log = (root / "out" / "runs" / run["arm"] / f"seed{run['seed']}" / "train_log.jsonl").read_text()
        assert [json.loads(line)["step"] for line in log.splitlines()][-1] == 2  # a fresh log, not appended to
    assert "| 128 |" in (root / "out" / "results.md").read_text()
    # every line a run printed says which run it is
    printed = [line for line in capsys.readouterr().out.splitlines() if " step " in line]
    assert printed and all(line.split(" ", 1)[0] in {f"[{a}/seed{s}]" for a in ("all", "filtered") for s in (0, 1)}
                           for line in printed)
    assert any(line.startswith("[filtered/seed1] step 2/2 loss ") for line in printed)
    back = ablate(cfg)  # the fixture's settings again: trained again, to the same numbers (deterministic on CPU)
    assert back["arms"]["all"]["metrics"]["bpb/clean"]["values"] == results["arms"]["all"]["metrics"]["bpb/clean"][
        "values"]


def test_a_changed_evaluation_scores_again_without_training_again(ablation):
    cfg, results, root, _ = ablation
    logs = {p: p.read_text() for p in (root / "out" / "runs").rglob("train_log.jsonl")}
    smaller = cfg.model_copy(update={"evaluation": cfg.evaluation.model_copy(update={"batch": 2})})
    lines = []
    again = ablate(smaller, progress=lines.append)
    assert sum("evaluation changed since it ran (evaluation.batch: 32 -> 2): evaluating it again" in line
               for line in lines) == 4, lines
    assert {p: p.read_text() for p in logs} == logs  # not trained again
    for arm in ("all", "filtered"):
        assert again["arms"][arm]["metrics"]["bpb/clean"]["values"] == pytest.approx(
            results["arms"][arm]["metrics"]["bpb/clean"]["values"], abs=1e-5)
    ablate(cfg)  # the fixture's evaluation again, for the test below


def test_a_changed_arm_pipeline_is_run_again_and_only_its_runs_retrain(ablation):
    """The last test of the module: it leaves the fixture's `filtered` arm changed."""
    cfg, results, root, _ = ablation
    (root / "filtered.yaml").write_text(yaml.safe_dump({"input": {"paths": ["x"], "dataset": "x"}, "output": "x",
                                                        "stages": [{"name": "gopher_repetition"},
                                                                   {"name": "gopher_quality"}]}))
    lines = []
    again = ablate(cfg, progress=lines.append)
    assert any(line.startswith("arm filtered: changed since it ran (pipeline: ") for line in lines), lines
    assert any(line.startswith("arm filtered: leak check + tokenize: changed since it ran (inputs: ") or
               line.startswith("arm filtered: leak check + tokenize: changed since it ran (documents: ")
               for line in lines), lines
    assert "2 run(s) already done with these settings, data and evaluation sets: kept" in lines
    assert sum(line.startswith("run filtered/seed") and "changed since it ran (data: " in line for line in lines) == 2
    assert again["arms"]["all"]["metrics"] == results["arms"]["all"]["metrics"]
    curated = json.loads((root / "out" / "arms" / "filtered" / "curated" / "manifest.json").read_text())
    assert [stage["name"] for stage in curated["config"]["stages"]] == ["gopher_repetition", "gopher_quality"]


def test_an_arms_repeat_counts_travel_to_its_tokenize_run(tmp_path):
    """The slim copy an arm is tokenized from keeps `repeats` (balance's counts reach the arm's shards), not the
    columns a second pass would carry twice."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.workflows.ablate import slim_documents

    out = tmp_path / "arm"
    (out / "documents").mkdir(parents=True)
    pq.write_table(pa.table({"text": ["a", "b"], "input_id": ["x", "y"], "repeats": pa.array([3, 1], pa.int32())}),
                   out / "documents" / "part-0.parquet")
    (out / "manifest.json").write_text(json.dumps({"documents": ["documents/part-0.parquet"]}))
    files = slim_documents(out, tmp_path / "slim")
    table = pq.read_table(files[0])
    assert table.column_names == ["text", "repeats"] and table.column("repeats").to_pylist() == [3, 1]
