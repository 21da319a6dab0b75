"""Mixture search (`curate ablate` with `search:`): the draws, the regressions and the choice on known functions, and
the whole search on a small three-domain corpus where one domain is off the target: proxies on drawn mixtures, a fit,
a chosen mixture that moves away from that domain, verified against the natural mixture, written as a balance block
and drawn on the page; a rerun redoes nothing."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest
import yaml

from curate.pipeline import config as pipeline_config
from curate.workflows import ablate_search as search
from curate.workflows.ablate import ablate
from curate.workflows.ablate_config import load
from curate.pipeline.errors import ConfigError, CurateError


def _domains(natural, tokens, budget, max_epochs=4.0):
    manifest = {"domains": {f"d{i}": {"weight": w} for i, w in enumerate(natural)},
                "splits": {"train": {"tokens": tokens}}}
    return search.domains_of(manifest, budget, max_epochs)


def test_draws_are_centred_on_the_natural_mixture_and_within_the_caps():
    domains = _domains([0.6, 0.3, 0.1], tokens=1000, budget=1000, max_epochs=2.0)
    np.testing.assert_allclose(domains.caps, [1.0, 0.6, 0.2])  # 2 epochs of 600, 300, 100 tokens over 1,000
    draws = search.draw(domains, 4000, 4.0, np.random.default_rng(0))
    assert draws.shape == (4000, 3)
    np.testing.assert_allclose(draws.sum(axis=1), 1.0)
    assert (draws <= domains.caps + 1e-12).all()
    assert draws[:, 2].max() > 0.15 and draws[:, 1].max() > 0.55  # the caps cut, not a narrow cloud
    # centred: the uncapped Dirichlet's mean is the natural mixture; the caps pull the capped domains' means down
    free = search.draw(_domains([0.6, 0.3, 0.1], 1000, 1000, 100.0), 20000, 4.0, np.random.default_rng(1))
    np.testing.assert_allclose(free.mean(axis=0), [0.6, 0.3, 0.1], atol=0.01)
    np.testing.assert_allclose(free.var(axis=0), [0.6 * 0.4 / 5, 0.3 * 0.7 / 5, 0.1 * 0.9 / 5], rtol=0.1)


def test_caps_that_cannot_fill_the_budget_are_refused():
    with pytest.raises(CurateError, match="search.max_epochs"):
        search.draw(_domains([0.5, 0.5], tokens=100, budget=1000, max_epochs=2.0), 10, 4.0, np.random.default_rng(0))


def test_a_single_domain_is_refused():
    with pytest.raises(CurateError, match="1 domain"):
        _domains([1.0], tokens=100, budget=100)


def test_regressions_rank_held_out_mixtures_of_a_known_surface_and_the_choice_finds_its_minimum():
    """A quadratic bowl with its minimum at (0.2, 0.5, 0.3) plus noise: every regression ranks held-out mixtures
    (Spearman > 0.6; the quadratic near 1), and the quadratic's choice lands near the minimum, not at the natural
    mixture."""
    best = np.array([0.2, 0.5, 0.3])
    domains = _domains([0.5, 0.2, 0.3], tokens=10**6, budget=10**6)
    rng = np.random.default_rng(0)
    weights = search.draw(domains, 40, 4.0, rng)
    values = 3.0 + 4 * ((weights - best) ** 2).sum(axis=1) + rng.normal(0, 0.005, len(weights))
    held_out = np.arange(40) >= 30
    fits = {kind: search.fit(weights, values, held_out, kind) for kind in search.REGRESSIONS}
    assert fits["quadratic"].held_out_spearman > 0.9
    assert all(f.held_out_spearman > 0.6 for f in fits.values()), {k: f.held_out_spearman for k, f in fits.items()}
    chosen = search.choose(fits["quadratic"].model, domains, 4.0, True, np.random.default_rng(1))
    assert np.abs(chosen - best).max() < 0.08, chosen
    assert np.abs(domains.natural - best).max() > 0.25
    higher = search.choose(fits["quadratic"].model, domains, 4.0, False, np.random.default_rng(1))
    assert ((higher - best) ** 2).sum() > ((chosen - best) ** 2).sum()  # "higher is better" picks the rim


def test_spearman_is_none_where_undefined():
    assert search.spearman([1, 2], [1, 2]) is None
    assert search.spearman([1, 1, 1], [1, 2, 3]) is None
    assert search.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)


def test_the_balance_block_is_a_balance_stage_curate_accepts():
    block = search.balance_block(["web", "wiki"], np.array([0.25, 0.75]), 4.0, 1_000_000)
    stages = yaml.safe_load(block)
    assert stages == [{"name": "balance", "weights": {"web": 0.25, "wiki": 0.75}, "max_epochs": 4,
                       "budget": 1_000_000}]
    pipeline_config.parse({"input": {"paths": ["x.jsonl"], "dataset": "x"}, "output": "o",
                           "stages": [{"name": "tokenize", "tokenizer": "t.json"}, *stages]})


# ---------------------------------------------------------------- the whole search, small

WORDS = {"alpha": "river mill farm wheat barley field harvest".split(),
         "beta": "quark gluon boson lepton hadron meson photon".split(),
         "gamma": "seven plus three equals ten minus two".split()}


def _text(rng: random.Random, domain: str) -> str:
    return " ".join(" ".join(rng.choices(WORDS[domain], k=rng.randint(6, 10))).capitalize() + "." for _ in range(5))


@pytest.fixture(scope="module")
def searched(spark, tmp_path_factory):
    """One arm over three domains, beta 60% of it; the target is alpha and gamma text, never beta."""
    root = tmp_path_factory.mktemp("search")
    rng = random.Random(0)
    rows = [{"text": _text(rng, d), "domain": d} for d, n in (("alpha", 40), ("beta", 120), ("gamma", 40))
            for _ in range(n)]
    rng.shuffle(rows)
    (root / "crawl").mkdir()
    (root / "crawl" / "crawl.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "target.jsonl").write_text("".join(json.dumps({"text": _text(rng, d)}) + "\n"
                                               for d in ("alpha", "gamma") for _ in range(6)))
    (root / "all.yaml").write_text(yaml.safe_dump({"input": {"paths": ["x"], "dataset": "x"}, "output": "x",
                                                   "stages": []}))
    config = {
        "output": str(root / "out"),
        "input": {"paths": [str(root / "crawl")], "dataset": "crawl", "format": "jsonl", "fields": ["domain"]},
        "arms": [{"name": "mixed", "pipeline": str(root / "all.yaml")}],
        "tokenizer": {"vocab_size": 300, "sample": 500},
        "training": {"preset": "tiny", "seq_len": 16, "tokens": 30 * 8 * 16, "seeds": [0, 1], "global_batch": 8,
                     "warmup_steps": 2, "lr": 1e-2, "device": "cpu", "validation_fraction": 0.05},
        "evaluation": {"reference": [{"name": "target", "path": str(root / "target.jsonl")}]},
        "search": {"arm": "mixed", "metric": "bpb/target", "proxies": 8, "held_out": 3, "tokens": 20 * 8 * 16,
                   "concentration": 2.0},
    }
    (root / "ablation.yaml").write_text(yaml.safe_dump(config))
    cfg = load(root / "ablation.yaml")
    lines: list[str] = []
    return cfg, ablate(cfg, progress=lines.append), root, lines


def test_proxies_train_on_their_drawn_mixtures_and_are_all_fitted_and_shown(searched):
    cfg, results, root, _ = searched
    s = results["search"]
    assert s["domains"] == ["alpha", "beta", "gamma"]
    manifest = json.loads((root / "out" / "arms" / "mixed" / "tokens" / "manifest.json").read_text())
    assert s["natural"] == pytest.approx([manifest["domains"][d]["weight"] for d in s["domains"]])
    assert max(s["natural"]) == s["natural"][1]  # beta: the most documents, the most tokens
    assert len(s["proxies"]) == 8 and sum(p["held_out"] for p in s["proxies"]) == 3
    for p in s["proxies"]:
        assert sum(p["weights"]) == pytest.approx(1.0)
        trained = yaml.safe_load((root / "out" / "search" / "mixed" / p["name"] / "train.yaml").read_text())
        assert trained["data"]["weights"] == dict(zip(s["domains"], p["weights"]))
        assert trained["train"]["steps"] == 20
        result = json.loads((root / "out" / "search" / "mixed" / p["name"] / "result.json").read_text())
        assert result["metrics"]["bpb/target"]["value"] == s["fits"]["bpb/target"]["measured"][s["proxies"].index(p)]
    fit = s["fits"]["bpb/target"]
    assert set(fit["held_out_spearman"]) == {"linear", "quadratic", "boosted"}
    assert all(len(v) == 8 for v in fit["predicted"].values())
    assert set(fit["surface"]) == {"alpha", "beta", "gamma"}
    assert "val_loss/beta" in s["fits"]  # every metric the proxies share is fitted


def test_the_chosen_mixture_moves_off_the_domain_the_target_lacks_and_is_verified(searched):
    cfg, results, root, lines = searched
    s = results["search"]
    chosen = s["chosen"]
    assert sum(chosen.values()) == pytest.approx(1.0, abs=1e-3)
    assert chosen["beta"] < s["natural"][1] - 0.1, chosen  # the target has no beta text
    assert s["fits"]["bpb/target"]["chosen_predicted"] < s["fits"]["bpb/target"]["natural_predicted"]
    verified = results["arms"]["mixed.searched"]
    assert verified["seeds"] == [0, 1] and verified["tokens"] == results["arms"]["mixed"]["tokens"]
    for seed in (0, 1):
        trained = yaml.safe_load((root / "out" / "runs" / "mixed.searched" / f"seed{seed}" / "train.yaml").read_text())
        assert trained["data"]["weights"] == chosen and trained["train"]["steps"] == 30
    v = s["verification"]
    natural, searched_arm = results["arms"]["mixed"]["metrics"]["bpb/target"], verified["metrics"]["bpb/target"]
    assert v["natural"] == natural["mean"] and v["searched"] == searched_arm["mean"]
    assert v["gain"] == pytest.approx(natural["mean"] - searched_arm["mean"])
    assert v["significant"] == (abs(v["gain"]) > natural["std"] + searched_arm["std"])
    # the balance block applies what was verified
    assert yaml.safe_load(s["balance"])[0]["weights"] == chosen
    assert any(line.startswith("search: quadratic regression of bpb/target, Spearman on the 3 held-out") for line in lines)
    assert any(line.startswith("estimate: 8 run(s), 1 at once, 160 steps") for line in lines), lines
    assert any(line.startswith("run proxy00/seed0 done: 20 steps") and line.endswith("at the pace so far")
               and "; 7 run(s) left, about " in line for line in lines), lines


def test_the_page_shows_the_search(searched):
    cfg, results, root, _ = searched
    page = (root / "out" / "report" / "ablation.html").read_text()
    assert 'id="search"' in page and "name: balance" in page
    for plot in ("search_surface.png", "search_predicted.png", "search_mixture.png"):
        assert (root / "out" / "report" / plot).stat().st_size > 1000 and plot in page
    for p in results["search"]["proxies"]:
        assert f'>{p["name"]}</td>' in page
    assert "Mixture search:" in (root / "out" / "results.md").read_text()


def test_a_rerun_redoes_nothing_and_chooses_the_same(searched):
    cfg, results, root, _ = searched
    logs = {p: p.read_text() for p in (root / "out").rglob("train_log.jsonl")}
    assert len(logs) == 8 + 2 + 2
    lines: list[str] = []
    again = ablate(cfg, progress=lines.append)
    assert {p: p.read_text() for p in logs} == logs
    assert again["search"]["chosen"] == results["search"]["chosen"]
    assert not any(line.startswith("estimate:") for line in lines)


def test_a_search_config_names_an_arm_and_a_measured_metric(tmp_path):
    base = {"output": "o", "arms": [{"name": "a", "output": "x"}], "training": {"tokens": 100},
            "evaluation": {"reference": [{"name": "wiki", "path": "w.txt"}]}}
    path = tmp_path / "a.yaml"
    for search_section, message in (({"arm": "b", "metric": "bpb/wiki", "tokens": 10}, "search.arm: 'b' is not"),
                                    ({"arm": "a", "metric": "bpb/web", "tokens": 10}, "search.metric: 'bpb/web'"),
                                    ({"arm": "a", "metric": "bpb/wiki", "tokens": 10, "proxies": 5, "held_out": 3},
                                     "at least 3 proxies to fit"),
                                    (None, "at least two arms")):
        path.write_text(yaml.safe_dump(base | ({"search": search_section} if search_section else {})))
        with pytest.raises(ConfigError, match=message):
            load(path)
