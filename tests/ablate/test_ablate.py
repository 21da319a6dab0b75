"""`curate ablate` end to end on a small JSONL crawl: two pipeline arms, a trained shared tokenizer, a leak found by
the decontaminate stage, two seeds each on equal tokens, every metric, results written, a rerun that redoes nothing."""
from __future__ import annotations

import json
import random

import pytest
import yaml

from curate.pipeline.commands.ablate import ablate, check_tokenizers
from curate.pipeline.commands.ablate_config import load
from curate.pipeline.commands.ablate_results import ordering
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
    return cfg, ablate(cfg), root


def test_every_arm_and_seed_trains_on_equal_tokens_and_is_scored(ablation):
    cfg, results, root = ablation
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
    _, results, _ = ablation
    assert results["arms"]["all"]["leaks"] == {"leaky": 1}
    assert "clean" not in results["arms"]["all"]["leaks"]


def test_a_rerun_redoes_nothing(ablation):
    cfg, results, root = ablation
    logs = {p: p.read_text() for p in (root / "out" / "runs").rglob("train_log.jsonl")}
    again = ablate(cfg)
    assert {p: p.read_text() for p in logs} == logs
    assert again["arms"]["all"]["metrics"]["bpb/clean"] == results["arms"]["all"]["metrics"]["bpb/clean"]


def test_a_foreign_tokenizer_is_refused(ablation, tmp_path):
    cfg, results, root = ablation
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
    from curate.pipeline.commands.ablate import arm_documents

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
