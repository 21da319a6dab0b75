"""The balance core: targets, caps, water-filling, temperature, down-sampling keys; infeasible targets reported."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from curate.filters.uid_hash import uid_hash
from curate.stages.balance import Balance, BalanceParams, cuts, decide
from curate.stages.shards import balance_report
from curate.trainer.data import blend_index

SKEWED = {"web": 900_000, "wiki": 90_000, "code": 10_000}  # tokens: 90% / 9% / 1%
TARGET = {"web": 0.5, "wiki": 0.3, "code": 0.2}


def trainer_draws(weights: dict[str, float], train_tokens: dict[str, int], caps: dict[str, float],
                  n_tokens: int, seq_len: int = 64) -> dict[str, tuple[float, float]]:
    """Sample as the trainer does (trainer.data.blend_index over the positive weights): per domain, its share of the
    drawn tokens and the epochs of its data that takes; fails where a domain would pass its cap."""
    names = [d for d, w in weights.items() if w > 0]
    domain, _ = blend_index([weights[d] for d in names], n_tokens // seq_len)
    drawn = np.bincount(domain, minlength=len(names)) * seq_len
    out = {}
    for name, tokens in zip(names, drawn):
        epochs = tokens / train_tokens[name]
        assert epochs <= caps[name] + 1e-9, f"{name}: {epochs:.3f} epochs, cap {caps[name]}"
        out[name] = (tokens / drawn.sum(), epochs)
    return out


def test_a_feasible_target_is_met_within_one_percent_with_no_domain_past_its_cap():
    # A budget of 200k tokens: code needs 0.2 * 200k / 10k = 4 epochs, exactly its cap.
    summary = decide(SKEWED, BalanceParams(weights=TARGET, max_epochs=4, budget=200_000))
    assert summary["feasible"] and summary["notes"] == []
    weights = {d: i["weight"] for d, i in summary["domains"].items()}
    assert weights == pytest.approx(TARGET)
    kept = {d: i["keep"] for d, i in summary["domains"].items()}
    assert kept == {"web": 100_000, "wiki": 60_000, "code": 10_000}  # web and wiki down-sampled, code whole
    draws = trainer_draws(weights, kept, {d: 4.0 for d in kept}, 200_000)
    for name, (share, epochs) in draws.items():
        assert abs(share - TARGET[name]) < 0.01
    assert draws["code"][1] == pytest.approx(4.0, abs=0.01) and draws["web"][1] == pytest.approx(1.0, abs=0.01)


def test_an_infeasible_target_says_so_and_gives_the_closest_mixture_the_caps_allow():
    # Budget = the corpus (1M tokens): code would need 0.2 * 1M / 10k = 20 epochs, its cap is 4.
    summary = decide(SKEWED, BalanceParams(weights=TARGET, max_epochs=4))
    assert not summary["feasible"] and summary["budget"] == 1_000_000
    assert any(n.startswith("code: target 0.2000 needs 20.00 epochs") and "achieved 0.0400" in n
               for n in summary["notes"])
    weights = {d: i["weight"] for d, i in summary["domains"].items()}
    # code held at its cap (4 x 10k / 1M); web and wiki share the rest 5:3
    assert weights == pytest.approx({"code": 0.04, "web": 0.6, "wiki": 0.36})
    kept = {d: i["keep"] for d, i in summary["domains"].items()}
    assert kept == {"web": 600_000, "wiki": 90_000, "code": 10_000}
    draws = trainer_draws(weights, kept, {d: 4.0 for d in kept}, 1_000_000)
    assert {d: round(s, 2) for d, (s, _) in draws.items()} == {"web": 0.6, "wiki": 0.36, "code": 0.04}
    # the report, as manifest_section writes it to balance.json: target and achieved side by side
    domains = {d: {"weight": w, "max_epochs": 4.0, "documents": 1, "tokens": kept[d]} for d, w in weights.items()}
    report = balance_report("balance", summary, domains, kept)
    assert not report["feasible"] and report["notes"] == summary["notes"]
    assert {d: (r["target"], r["achieved"]) for d, r in report["domains"].items()} == {
        "web": (0.5, 0.6), "wiki": (0.3, 0.36), "code": (0.2, 0.04)}
    assert report["max_training_tokens"] == 1_000_000  # code and wiki reach their caps there


def test_a_budget_beyond_every_cap_shrinks_to_what_the_caps_supply():
    summary = decide({"a": 100, "b": 100}, BalanceParams(weights={"a": 1, "b": 1}, max_epochs=2, budget=1000))
    assert summary["budget"] == 400 and "exceeds what the domains can supply" in summary["notes"][0]
    assert {d: i["weight"] for d, i in summary["domains"].items()} == pytest.approx({"a": 0.5, "b": 0.5})


def test_temperature_flattens_the_natural_mixture():
    natural = decide(SKEWED, BalanceParams(temperature=1.0, max_epochs=100))
    assert {d: i["target"] for d, i in natural["domains"].items()} == pytest.approx({"web": 0.9, "wiki": 0.09,
                                                                                      "code": 0.01})
    flat = decide(SKEWED, BalanceParams(temperature=3.0, max_epochs=100))
    p = {d: n ** (1 / 3) for d, n in SKEWED.items()}
    assert {d: i["weight"] for d, i in flat["domains"].items()} == pytest.approx(
        {d: v / sum(p.values()) for d, v in p.items()})
    assert flat["domains"]["code"]["weight"] > 0.1 and flat["feasible"]


def test_per_domain_caps_and_unweighted_domains():
    params = BalanceParams(weights={"web": 0.5, "code": 0.5}, max_epochs={"default": 1, "code": 8})
    summary = decide({"web": 1000, "code": 100, "spam": 50}, params)
    assert summary["domains"]["spam"]["weight"] == 0 and summary["domains"]["spam"]["keep"] == 0
    assert summary["domains"]["code"]["max_epochs"] == 8 and summary["domains"]["web"]["max_epochs"] == 1
    # budget 1100: code can give 800 (8 x 100) of the 550 wanted, web 550 of its 1000
    assert summary["feasible"] and summary["domains"]["web"]["keep"] == 550


@pytest.mark.parametrize("params, message", [
    ({}, "exactly one of weights and temperature"),
    ({"weights": {"a": 1}, "temperature": 2}, "exactly one of weights and temperature"),
    ({"weights": {"a": 1}, "max_epochs": 0.5}, "max_epochs must be >= 1"),
    ({"weights": {"a": -1, "b": 2}}, "weights must be >= 0"),
])
def test_bad_parameters_are_config_errors(params, message):
    with pytest.raises(ValueError, match=message):
        BalanceParams(**params)


def test_keys_carry_no_text_and_the_hash_is_seeded_and_stable():
    uids = pa.array([bytes([i]) * 16 for i in range(200)], pa.binary(16))
    batch = pa.RecordBatch.from_pydict({"uid": uids, "domain": ["a"] * 200, "text": ["héllo"] * 200,
                                        "n_tokens": pa.array([3] * 200, pa.int32())})
    by_chars = Balance(BalanceParams(weights={"a": 1}, by="characters")).keys(batch)
    assert by_chars.schema.names == ["uid", "domain", "amount", "bucket"]
    assert set(by_chars.column("amount").to_pylist()) == {5}
    assert Balance(BalanceParams(weights={"a": 1})).requires() == ("domain", "n_tokens")
    h0, h1 = uid_hash(uids, 0), uid_hash(uids, 1)
    assert (h0 != h1).all() and (uid_hash(uids.slice(50), 0) == h0[50:]).all()
    buckets = by_chars.column("bucket").to_numpy()
    assert buckets.min() >= 0 and buckets.max() < 4096 and len(set(buckets)) > 180
    uid = bytes(range(16))
    assert int(uid_hash(pa.array([uid], pa.binary(16)), 7, 99)[0]) == reference_hash(uid, 7, 99)


def reference_hash(uid: bytes, seed: int, salt: int) -> int:
    """uid_hash written from its definition with Python integers: what another engine must reproduce."""
    mask = (1 << 64) - 1

    def mix(x: int) -> int:
        x = (x + 0x9E3779B97F4A7C15) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    lo, hi = int.from_bytes(uid[:8], "little"), int.from_bytes(uid[8:], "little")
    key = mix((seed * 0x100000001B3 + salt) & mask)
    return mix(lo ^ mix(hi ^ key))


def test_cuts_round_to_the_nearest_bucket_and_name_the_reason():
    summary = decide({"web": 100, "wiki": 10, "spam": 5}, BalanceParams(weights={"web": 0.5, "wiki": 0.5},
                                                                       max_epochs=10, budget=40))
    assert {d: i["keep"] for d, i in summary["domains"].items()} == {"web": 20, "wiki": 10, "spam": 0}
    histogram = {"web": {3: 8, 9: 8, 17: 7, 40: 77}, "wiki": {5: 10}, "spam": {1: 5}}
    # web: 8 + 8 = 16, the next bucket's midpoint (16 + 3.5) is within 20: kept; the one after is not
    assert cuts(histogram, summary) == {"web": (17, "downsample"), "spam": (-1, "unweighted")}


_WATER_FILL = """
from curate.stages.balance import _water_fill
target = {f"d{i}": (i * 0.1234567) % 1 + 0.01 for i in range(12)}
total = sum(target.values())
target = {d: t / total for d, t in target.items()}
print(repr(sorted(_water_fill(target, {d: 0.05 if i % 3 == 0 else 1.0 for i, d in enumerate(target)}).items())))
"""


def test_water_fill_gives_the_same_floats_whatever_the_hash_seed():
    """Spark decides the mixture in the driver, Beam in a worker: set order must not reach the sums."""
    import os
    import subprocess
    import sys

    outputs = {subprocess.run([sys.executable, "-c", _WATER_FILL], capture_output=True, text=True, check=True,
                              env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout for seed in range(1, 7)}
    assert len(outputs) == 1 and "d0" in outputs.pop()


def test_the_stage_decides_on_the_histogram_both_plans_gather():
    histogram = {"web": {3: 8, 9: 8, 17: 7, 40: 77}, "wiki": {5: 6, 8: 4}, "spam": {1: 5}}
    stage = Balance(BalanceParams(weights={"web": 0.5, "wiki": 0.5}, max_epochs=10, budget=40), "mix")
    summary, cut = stage.policy().decide(histogram)
    assert {d: (i["available"], i["keep"]) for d, i in summary["domains"].items()} == \
        {"web": (100, 20), "wiki": (10, 10), "spam": (5, 0)}
    assert cut == {"web": (17, "downsample"), "spam": (-1, "unweighted")}
