"""Mixture search for `curate ablate` (`search:`): mixtures drawn around the natural one, a regression from mixture
weights to each metric fitted on proxy runs, the predicted best mixture, and the `balance` block that applies it.

The method is RegMix's (Liu et al. 2024, "RegMix: Data Mixture as Regression for Language Model Pre-training"): many
small proxy runs on sampled mixtures, a regression per metric from the weights to the score, then the best mixture of
a large set of candidates drawn from the same distribution, as predicted by the regression (RegMix averages its top
100 of 1M; here TOP of CANDIDATES). What is drawn and how it is checked:
- **Draws.** Dirichlet(c · natural) over the domains, c = `concentration`: centred on the natural mixture (the manifest's
  weights, shares of training tokens), each weight's variance natural_d (1 - natural_d) / (c + 1). A draw where a
  domain would need more than `max_epochs` epochs of its training tokens at the full budget (`training.tokens`) is
  drawn again: every proxy mixture, and so the chosen one, can be trained at the full budget within the caps.
- **Regressions** (scikit-learn), one per metric: `linear` (least squares on the weights), `quadratic` (ridge on the
  weights and their pairwise products, its penalty chosen by leave-one-out; the interactions RegMix's linear model
  cannot hold) and `boosted` (gradient-boosted trees, scikit-learn's counterpart of the LightGBM RegMix uses; trees
  need many proxies: with a few dozen they predict in steps). `regression` picks the one that chooses; every one is
  fitted on the same proxies and its held-out Spearman shown, so the choice can be checked against the others.
- **Held-out proxies.** The last `held_out` proxies are left out of a first fit; the Spearman correlation between what
  that fit predicts for them and what they measured says whether the regression ranks mixtures it never saw. The
  chosen mixture comes from a second fit on every proxy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from curate.pipeline.errors import CurateError

REGRESSIONS = ("linear", "quadratic", "boosted")
CANDIDATES = 100_000  # mixtures the fitted regression scores to choose from
TOP = 100  # the chosen mixture is the mean of the best TOP of them: one candidate alone is the regression's noise


@dataclass
class Domains:
    """The domains of the searched arm: natural weights and training tokens (every repeat counted), and the largest
    weight each may take at the full budget within `max_epochs`."""

    names: list[str]
    natural: np.ndarray
    tokens: np.ndarray
    caps: np.ndarray


def domains_of(manifest: dict, budget: int, max_epochs: float) -> Domains:
    """From a tokenized arm's manifest: its domains with a positive weight, in name order."""
    domains = {d: info for d, info in manifest["domains"].items() if info.get("weight", 0) > 0}
    if len(domains) < 2:
        raise CurateError(f"search: the arm's shards hold {len(domains)} domain(s) with training tokens; a mixture "
                          "needs two or more (give its documents a `domain` column: an input field or the domain "
                          "stage)")
    names = sorted(domains)
    train = manifest["splits"]["train"]
    total = train.get("repeated_tokens", train["tokens"])
    natural = np.array([domains[d]["weight"] for d in names], np.float64)
    natural /= natural.sum()
    tokens = natural * total  # a natural weight is the domain's share of the training tokens
    return Domains(names, natural, tokens, np.minimum(1.0, max_epochs * tokens / budget))


def draw(domains: Domains, n: int, concentration: float, rng: np.random.Generator) -> np.ndarray:
    """n mixtures (rows summing to 1) from Dirichlet(concentration · natural), each within the caps."""
    if domains.caps.sum() < 1:
        raise CurateError("search.max_epochs: at the full budget the domains cannot supply training.tokens even at "
                          "their caps; raise max_epochs or lower training.tokens")
    found: list[np.ndarray] = []
    tried = 0
    while sum(len(f) for f in found) < n:
        batch = rng.dirichlet(concentration * domains.natural, size=max(4 * n, 1024))
        tried += len(batch)
        found.append(batch[(batch <= domains.caps + 1e-12).all(axis=1)])
        if tried > 1000 * n and sum(len(f) for f in found) < n:
            raise CurateError(f"search: fewer than 1 in 1,000 mixtures drawn around the natural one keep every domain "
                              f"within max_epochs at the full budget; raise search.max_epochs or "
                              f"search.concentration")
    return np.concatenate(found)[:n]


def regression(kind: str):
    """An unfitted scikit-learn regressor from weights to a metric (module docstring)."""
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import LinearRegression, RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures

    if kind == "linear":
        return LinearRegression()
    if kind == "quadratic":
        return make_pipeline(PolynomialFeatures(2, include_bias=False), RidgeCV(alphas=np.logspace(-6, 1, 15)))
    if kind == "boosted":
        return GradientBoostingRegressor(n_estimators=200, max_depth=2, learning_rate=0.05, min_samples_leaf=2,
                                         random_state=0)
    raise ValueError(kind)


def spearman(a, b) -> float | None:
    """Spearman's rank correlation; None where it is undefined (fewer than 3 values, or one side constant)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(spearmanr(a, b).statistic)


@dataclass
class Fit:
    """One regression of one metric: what the fit on the fitting proxies predicts for every proxy (in sample for
    those, out of sample for the held-out ones), that fit's held-out Spearman, and the model fitted on every proxy."""

    kind: str
    predicted: np.ndarray
    held_out_spearman: float | None
    model: object


def fit(weights: np.ndarray, values: np.ndarray, held_out: np.ndarray, kind: str) -> Fit:
    first = regression(kind).fit(weights[~held_out], values[~held_out])
    predicted = first.predict(weights)
    rho = spearman(predicted[held_out], values[held_out]) if held_out.any() else None
    return Fit(kind, predicted, rho, regression(kind).fit(weights, values))


def choose(model, domains: Domains, concentration: float, lower_is_better: bool,
           rng: np.random.Generator) -> np.ndarray:
    """The predicted best mixture: the mean of the TOP best-predicted of CANDIDATES draws (within the caps, whose
    mean then is too)."""
    candidates = draw(domains, CANDIDATES, concentration, rng)
    predicted = model.predict(candidates)
    order = np.argsort(predicted if lower_is_better else -predicted, kind="stable")
    return candidates[order[:TOP]].mean(axis=0)


def slice_through(domains: Domains, d: int, points: int = 41) -> np.ndarray:
    """Mixtures where domain d's weight runs from 0 to its cap and the others keep their natural proportions: the
    line along which the page draws the fitted surface for domain d."""
    grid = np.linspace(0.0, domains.caps[d], points)
    rest = np.delete(domains.natural, d)
    rest = rest / rest.sum() if rest.sum() > 0 else np.full(len(rest), 1 / len(rest))
    return np.array([np.insert((1 - w) * rest, d, w) for w in grid])


def balance_block(names: list[str], weights: np.ndarray, max_epochs: float, budget: int) -> str:
    """The chosen mixture as a `balance` stage to paste into a pipeline after its `tokenize` stage (docs/SHARDS.md)."""
    shares = ", ".join(f"{n}: {w:.4f}" for n, w in zip(names, weights))
    return (f"- name: balance            # the mixture `curate ablate` chose (search.metric), after tokenize\n"
            f"  weights: {{{shares}}}\n"
            f"  max_epochs: {max_epochs:g}\n"
            f"  budget: {budget}          # training.tokens: the run it was verified for\n")


def search_summary(domains: Domains, weights: np.ndarray, held_out: np.ndarray, proxies: list[dict], metrics: list[str],
                   optimised: str, kind: str, lower_is_better, concentration: float, max_epochs: float, budget: int,
                   rng: np.random.Generator) -> dict:
    """Fit every metric the proxies share with every regression, choose the mixture by `kind` on `optimised`; the
    search's part of results.json."""
    fits: dict[str, dict] = {}
    chosen = None
    for metric in metrics:
        values = np.array([p["metrics"][metric]["value"] for p in proxies], np.float64)
        if not np.isfinite(values).all():
            continue
        by_kind = {k: fit(weights, values, held_out, k) for k in REGRESSIONS}
        fits[metric] = {
            "measured": values.tolist(),
            "predicted": {k: f.predicted.tolist() for k, f in by_kind.items()},
            "held_out_spearman": {k: f.held_out_spearman for k, f in by_kind.items()},
            "surface": {name: {"weights": slice_through(domains, d)[:, d].tolist(),
                               "predicted": by_kind[kind].model.predict(slice_through(domains, d)).tolist()}
                        for d, name in enumerate(domains.names)},
        }
        if metric == optimised:
            model = by_kind[kind].model
            chosen = np.round(choose(model, domains, concentration, lower_is_better(metric), rng), 4)
            fits[metric]["natural_predicted"] = float(model.predict(domains.natural[None])[0])
            fits[metric]["chosen_predicted"] = float(model.predict(chosen[None])[0])
    if chosen is None:
        raise CurateError(f"search.metric: no proxy run measured {optimised!r} as a finite number")
    return {
        "domains": domains.names, "natural": domains.natural.tolist(), "caps": domains.caps.tolist(),
        "training_tokens": domains.tokens.tolist(), "concentration": concentration, "max_epochs": max_epochs,
        "budget": budget, "metric": optimised, "regression": kind,
        "proxies": [{"name": p["arm"], "weights": w.tolist(), "held_out": bool(h)}
                    for p, w, h in zip(proxies, weights, held_out)],
        "fits": fits,
        "chosen": dict(zip(domains.names, chosen.tolist())),  # rounded: the mixture verified is the one pasted
        "balance": balance_block(domains.names, chosen, max_epochs, budget),
    }


def verdict(arms: dict[str, dict], natural: str, searched: str, metric: str, lower_is_better: bool) -> dict:
    """The verification: the searched mixture against the natural one at the full budget, on the optimised metric,
    under the ablation's significance rule (gap larger than the sum of the seeds' standard deviations)."""
    a, b = arms[natural]["metrics"].get(metric), arms[searched]["metrics"].get(metric)
    if a is None or b is None:
        return {"metric": metric, "measured": False}
    gain = (a["mean"] - b["mean"]) if lower_is_better else (b["mean"] - a["mean"])
    spread = a["std"] + b["std"]
    significant = None if min(a["n"], b["n"]) < 2 else bool(abs(gain) > spread)
    return {"metric": metric, "measured": True, "natural": a["mean"], "natural_std": a["std"], "searched": b["mean"],
            "searched_std": b["std"], "gain": gain, "std_sum": spread, "significant": significant,
            "searched_wins": gain > 0 and bool(significant)}


def proxy_name(k: int, n: int) -> str:
    return f"proxy{k:0{max(2, math.ceil(math.log10(n + 1)))}d}"
