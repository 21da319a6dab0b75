"""The results of an ablation: mean ± std over seeds per arm and metric, the ordering and whether it is significant,
written as `results.json`, `results.md` (the table) and `report/ablation.html` (loss curves, a bar chart per metric).

Significance rule: arms are ranked by their mean over seeds; two neighbours in the ranking differ significantly only
when the gap between their means is larger than the sum of their standard deviations over seeds (sample std, n - 1),
i.e. when their mean ± std intervals do not overlap. Anything smaller is within the spread the seeds alone produce,
and is shown as "not significant". With one seed there is no spread to compare against: "unknown (one seed)".
This is a heuristic for a handful of seeds, not a hypothesis test.

`val_loss/<domain>` is each arm's loss on its own held-out documents: arms hold different text, so it is shown but
not ranked. Bits per byte and accuracies are on the same sets for every arm and are ranked.
"""
from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path

import numpy as np

from curate.workflows.ablate_config import AblationConfig

LOWER_IS_BETTER = ("bpb/", "val_loss/")


def ranked(metric: str) -> bool:
    return not metric.startswith("val_loss/")


def better_is_lower(metric: str) -> bool:
    return metric.startswith(LOWER_IS_BETTER)


def mean_std(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def ordering(arms: dict[str, dict], metric: str) -> list[dict]:
    """The arms from best to worst on `metric`, each with its gap to the next and whether that gap is significant."""
    scored = [(name, arm["metrics"][metric]) for name, arm in arms.items() if metric in arm["metrics"]]
    scored.sort(key=lambda item: item[1]["mean"], reverse=not better_is_lower(metric))
    out = []
    for i, (name, stat) in enumerate(scored):
        row = {"arm": name, "mean": stat["mean"], "std": stat["std"]}
        if i + 1 < len(scored):
            nxt = scored[i + 1][1]
            gap = abs(stat["mean"] - nxt["mean"])
            row["gap_to_next"] = gap
            if stat["n"] < 2 or nxt["n"] < 2:
                row["significant"] = None
            else:
                row["significant"] = bool(gap > stat["std"] + nxt["std"])
        out.append(row)
    return out


def final_log(log: list[dict]) -> list[dict]:
    """A run's log records, the last of each (kind, step): a run interrupted before its first checkpoint starts again
    from step 0 and appends to the same log."""
    last = {(rec.get("kind"), rec.get("step")): rec for rec in log}
    return sorted(last.values(), key=lambda rec: (rec.get("step", 0), str(rec.get("kind"))))


def loop_seconds(log: list[dict]) -> float:
    """Seconds in the training loop, from the trainer's own step times (comparable however often a run resumed)."""
    seconds, previous = 0.0, 0
    for rec in final_log(log):
        if rec.get("kind") == "train" and "step_time_s" in rec:
            seconds += rec["step_time_s"] * (rec["step"] - previous)
            previous = rec["step"]
    return seconds


def summarise(cfg: AblationConfig, runs: list[dict], tokenizer_sha256: str) -> dict:
    order = list(dict.fromkeys([a.name for a in cfg.arms] + [r["arm"] for r in runs]))  # + the search's verification
    arms: dict[str, dict] = {}
    for name in order:
        mine = sorted((r for r in runs if r["arm"] == name), key=lambda r: r["seed"])
        metrics = sorted({m for r in mine for m in r["metrics"]})
        arms[name] = {
            "seeds": [r["seed"] for r in mine],
            "tokens": mine[0]["tokens"], "train_tokens": mine[0]["train_tokens"], "epochs": mine[0]["epochs"],
            "leaks": mine[0]["leaks"],
            "train_seconds": dict(zip(("mean", "std"), mean_std([loop_seconds(r["log"]) for r in mine]))),
            "eval_seconds": dict(zip(("mean", "std"), mean_std([r["eval_seconds"] for r in mine]))),
            "metrics": {},
        }
        for metric in metrics:
            values = [r["metrics"][metric]["value"] for r in mine if metric in r["metrics"]]
            mean, std = mean_std(values)
            stat = {"mean": mean, "std": std, "n": len(values), "values": values}
            stderrs = [r["metrics"][metric].get("stderr") for r in mine if metric in r["metrics"]]
            if all(s is not None for s in stderrs):
                stat["item_stderr"] = float(np.mean(stderrs))  # accuracy: the harness's standard error over items
            arms[name]["metrics"][metric] = stat
    metrics = sorted({m for arm in arms.values() for m in arm["metrics"]})
    return {
        "tokenizer_sha256": tokenizer_sha256,
        "training": cfg.training.model_dump(mode="json") | {"steps": cfg.training.steps},
        "significance_rule": "neighbours in the ranking differ significantly when |mean_a - mean_b| > std_a + std_b "
                             "(sample std over seeds)",
        "arms": arms,
        "orderings": {m: ordering(arms, m) for m in metrics if ranked(m)},
        "runs": [{k: v for k, v in r.items() if k != "log"} for r in runs],
        "curves": {f"{r['arm']}/seed{r['seed']}": [[rec["step"], rec["loss"], rec["kind"]]
                                                   for rec in final_log(r["log"])
                                                   if rec.get("kind") in ("train", "eval") and "loss" in rec]
                   for r in runs},
    }


def _pm(stat: dict, digits: int = 4) -> str:
    text = f"{stat['mean']:.{digits}f} ± {stat['std']:.{digits}f}"
    if "item_stderr" in stat:
        text += f" (items ±{stat['item_stderr']:.{digits}f})"
    return text


def table(results: dict) -> tuple[list[str], list[list[str]]]:
    metrics = sorted({m for arm in results["arms"].values() for m in arm["metrics"]})
    header = ["arm", "seeds", "tokens", "epochs", "train loop s", "eval s", "leaks"] + [
        m + (" ↓" if better_is_lower(m) else " ↑") + ("" if ranked(m) else " (own data)") for m in metrics]
    rows = []
    for name, arm in results["arms"].items():
        leak = ", ".join(f"{k} {v}" for k, v in arm["leaks"].items() if v) or "0"
        rows.append([name, str(len(arm["seeds"])), f"{arm['tokens']:,}", f"{arm['epochs']:.2f}",
                     f"{arm['train_seconds']['mean']:.1f} ± {arm['train_seconds']['std']:.1f}",
                     f"{arm['eval_seconds']['mean']:.1f} ± {arm['eval_seconds']['std']:.1f}", leak]
                    + [_pm(arm["metrics"][m]) if m in arm["metrics"] else "–" for m in metrics])
    return header, rows


def ordering_lines(results: dict) -> list[str]:
    lines = []
    for metric, rows in results["orderings"].items():
        parts = [rows[0]["arm"]]
        for prev, row in zip(rows, rows[1:]):
            sign = {True: ">", False: "≈", None: "?"}[prev["significant"]]
            parts.append(f" {sign} {row['arm']}")
        verdicts = [{True: "significant", False: "not significant", None: "unknown (one seed)"}[r["significant"]]
                    + f" (gap {r['gap_to_next']:.4f} vs std sum {r['std'] + nxt['std']:.4f})"
                    for r, nxt in zip(rows, rows[1:])]
        lines.append(f"{metric} ({'lower' if better_is_lower(metric) else 'higher'} is better): {''.join(parts)}"
                     f" — {'; '.join(verdicts)}")
    return lines


def markdown(results: dict) -> str:
    header, rows = table(results)
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    out += ["", "Ordering (best first; `>` significant, `≈` not significant under the rule below):", ""]
    out += [f"- {line}" for line in ordering_lines(results)]
    out += ["", f"Rule: {results['significance_rule']}.", f"Tokenizer sha256: {results['tokenizer_sha256']}",
            f"Wall time of this invocation: {results.get('wall_seconds', 0):.0f} s"]
    if "search" in results:
        out += ["", "Mixture search:", ""] + [f"- {line}" for line in search_lines(results["search"])]
        out += ["", "```yaml", results["search"]["balance"].rstrip(), "```"]
    return "\n".join(out) + "\n"


def search_lines(search: dict) -> list[str]:
    """The search in a few lines: the proxies, how well each regression ranked the held-out ones, the choice and its
    verification."""
    fits = search["fits"][search["metric"]]
    n_out = sum(p["held_out"] for p in search["proxies"])
    rhos = ", ".join(f"{kind} {'n/a' if rho is None else f'{rho:.3f}'}" + (" (chooses)" if kind == search["regression"]
                                                                             else "")
                     for kind, rho in fits["held_out_spearman"].items())
    natural = ", ".join(f"{d} {w:.3f}" for d, w in zip(search["domains"], search["natural"]))
    chosen = ", ".join(f"{d} {w:.3f}" for d, w in search["chosen"].items())
    lines = [f"{len(search['proxies'])} proxy runs on mixtures of {', '.join(search['domains'])} (Dirichlet around the "
             f"natural mixture, concentration {search['concentration']:g}, at most {search['max_epochs']:g} epochs "
             f"per domain at the full budget); {search['metric']} fitted by each regression on "
             f"{len(search['proxies']) - n_out}, Spearman on the {n_out} held out: {rhos}",
             f"natural mixture: {natural} (predicted {search['metric']} {fits['natural_predicted']:.4f})",
             f"chosen mixture: {chosen} (predicted {fits['chosen_predicted']:.4f})"]
    v = search.get("verification")
    if v and v["measured"]:
        verdict = {True: "beyond the seeds' spread", False: "within the seeds' spread",
                   None: "unknown (one seed)"}[v["significant"]]
        lines.append(f"verification at the full budget: natural {v['natural']:.4f} ± {v['natural_std']:.4f}, chosen "
                     f"{v['searched']:.4f} ± {v['searched_std']:.4f}: the chosen mixture is "
                     f"{'better' if v['gain'] > 0 else 'worse'} by {abs(v['gain']):.4f}, {verdict} (std sum "
                     f"{v['std_sum']:.4f})")
    return lines


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
    return buffer.getvalue()


def plots(results: dict) -> dict[str, bytes]:
    from curate.pipeline.sections import PALETTE, figure  # the run report's look

    arms = list(results["arms"])
    colour = {arm: PALETTE[i % len(PALETTE)] for i, arm in enumerate(arms)}
    out = {}
    plot = figure(9, 4)
    ax = plot.add_subplot(1, 1, 1)
    styles = ["-", "--", ":", "-."]
    for run, points in results["curves"].items():
        arm, seed = run.rsplit("/seed", 1)
        seeds = results["arms"][arm]["seeds"]
        train = [(s, v) for s, v, kind in points if kind == "train"]
        if train:
            ax.plot(*zip(*train), color=colour[arm], linestyle=styles[seeds.index(int(seed)) % len(styles)],
                    linewidth=1.2, label=f"{arm} seed {seed}")
    ax.set_xlabel("step", fontsize=8)
    ax.set_ylabel("training loss (nats/token)", fontsize=8)
    ax.set_title("training loss of every run", fontsize=9)
    ax.legend(fontsize=7, ncol=max(1, len(arms)))
    ax.tick_params(labelsize=7)
    out["loss_curves.png"] = _png(plot)
    for metric in sorted({m for arm in results["arms"].values() for m in arm["metrics"]}):
        plot = figure(max(3.5, 1.2 * len(arms) + 1.5), 3)
        ax = plot.add_subplot(1, 1, 1)
        names = [a for a in arms if metric in results["arms"][a]["metrics"]]
        stats = [results["arms"][a]["metrics"][metric] for a in names]
        ax.bar(range(len(names)), [s["mean"] for s in stats], yerr=[s["std"] for s in stats], capsize=4,
               color=[colour[a] for a in names], alpha=0.8)
        for i, s in enumerate(stats):  # every seed's value, so the spread is visible
            ax.scatter([i] * len(s["values"]), s["values"], color="black", s=8, zorder=3)
        low = min(min(s["values"]) for s in stats)
        high = max(max(s["values"]) for s in stats)
        pad = (high - low) * 0.5 or abs(high) * 0.05 or 0.1
        zoomed = metric.startswith(LOWER_IS_BETTER)
        if zoomed:
            ax.set_ylim(max(0.0, low - pad), high + pad)  # differences of a few percent must be visible
        ax.set_xticks(range(len(names)), names, fontsize=8)
        ax.set_title(f"{metric} ({'lower' if better_is_lower(metric) else 'higher'} is better), mean ± std"
                     + (", axis not from 0" if zoomed else ""), fontsize=9)
        ax.tick_params(labelsize=7)
        out[f"{metric.replace('/', '_')}.png"] = _png(plot)
    return out


def search_plots(search: dict) -> dict[str, bytes]:
    """The fitted surface per domain, predicted vs measured for every proxy, natural vs chosen weights."""
    from curate.pipeline.sections import KEPT, PALETTE, figure

    metric, kind = search["metric"], search["regression"]
    fits = search["fits"][metric]
    measured, predicted = np.asarray(fits["measured"]), np.asarray(fits["predicted"][kind])
    held = np.array([p["held_out"] for p in search["proxies"]])
    weights = np.array([p["weights"] for p in search["proxies"]])
    out = {}
    plot = figure(4.6, 4.2)
    ax = plot.add_subplot(1, 1, 1)
    ax.scatter(measured[~held], predicted[~held], color="#999999", s=18, label="fitted on (in sample)")
    ax.scatter(measured[held], predicted[held], color=PALETTE[0], s=26, label="held out (never fitted)")
    low, high = float(min(measured.min(), predicted.min())), float(max(measured.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="black", linewidth=0.8, linestyle=":")
    rho = fits["held_out_spearman"][kind]
    ax.set_title(f"{metric}: {kind} regression, held-out Spearman {'n/a' if rho is None else f'{rho:.2f}'}",
                 fontsize=9)
    ax.set_xlabel("measured", fontsize=8)
    ax.set_ylabel("predicted by the fit without the held-out proxies", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    out["search_predicted.png"] = _png(plot)

    names = search["domains"]
    plot = figure(3.2 * len(names), 3.2)
    axes = plot.subplots(1, len(names), sharey=True, squeeze=False)[0]
    for d, (name, ax) in enumerate(zip(names, axes)):
        surface = fits["surface"][name]
        ax.plot(surface["weights"], surface["predicted"], color=KEPT, label="fitted (others natural)")
        ax.scatter(weights[:, d], measured, color="#999999", s=12, label="proxies (measured)")
        ax.axvline(search["natural"][d], color="black", linestyle=":", linewidth=0.9, label="natural")
        ax.axvline(search["chosen"][name], color=PALETTE[0], linestyle="--", linewidth=0.9, label="chosen")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"weight of {name}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(metric, fontsize=8)
    axes[0].legend(fontsize=6)
    out["search_surface.png"] = _png(plot)

    plot = figure(max(4.0, 1.3 * len(names) + 1.5), 3)
    ax = plot.add_subplot(1, 1, 1)
    x = np.arange(len(names))
    ax.bar(x - 0.2, search["natural"], 0.4, color="#aaaaaa", label="natural")
    ax.bar(x + 0.2, [search["chosen"][n] for n in names], 0.4, color=PALETTE[0], label="chosen")
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("share of training tokens", fontsize=8)
    ax.legend(fontsize=7)
    ax.tick_params(labelsize=7)
    out["search_mixture.png"] = _png(plot)
    return out


def search_section(search: dict) -> str:
    from curate.pipeline import sections as look

    metric, kind, names = search["metric"], search["regression"], search["domains"]
    fits = search["fits"][metric]
    rows = [[p["name"], *[f"{w:.3f}" for w in p["weights"]], f"{fits['measured'][i]:.4f}",
             f"{fits['predicted'][kind][i]:.4f}", "held out" if p["held_out"] else "fitted on"]
            for i, p in enumerate(search["proxies"])]
    proxies = look.table(["proxy", *names, f"{metric} measured", "predicted", ""], rows, numeric_from=1)
    regressions = look.table(["metric", *(f"{k} (held-out Spearman)" for k in fits["held_out_spearman"])],
                             [[m, *("n/a" if r is None else f"{r:.3f}" for r in f["held_out_spearman"].values())]
                              for m, f in search["fits"].items()], numeric_from=1)
    return ("<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in search_lines(search)) + "</ul>"
            + '<img class="plot" src="search_mixture.png" alt="natural and chosen mixture">'
            + '<img class="plot" src="search_surface.png" alt="fitted surface per domain">'
            + f'<p class="note">The fitted surface of {html.escape(metric)} ({html.escape(kind)} regression on every '
              "proxy) along each domain's weight, the other domains in their natural proportions; the grey points are "
              "the proxies' measurements, whose other weights vary too.</p>"
            + '<img class="plot" src="search_predicted.png" alt="predicted against measured">'
            + "<h3>The chosen mixture as a balance stage (after tokenize)</h3>"
            + f"<pre>{html.escape(search['balance'])}</pre>"
            + "<h3>Every proxy</h3>" + proxies
            + "<h3>Every metric, every regression</h3>" + regressions)


def page(results: dict, title: str) -> str:
    from curate.pipeline import sections as look  # the run report's look

    header, rows = table(results)
    sections = [("results", "Results", look.table(header, rows, numeric_from=1)
                 + "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in ordering_lines(results)) + "</ul>"
                 + f'<p class="note">{html.escape("Rule: " + results["significance_rule"])}. Tokenizer sha256 '
                   f'{html.escape(results["tokenizer_sha256"])}; {results["training"]["steps"]:,} steps of '
                   f'{results["training"]["global_batch"]} x {results["training"]["seq_len"]} tokens per run.</p>'),
                ("curves", "Loss curves", '<img class="plot" src="loss_curves.png" alt="loss curves">')]
    bars = "".join(f'<img class="plot" src="{html.escape(m.replace("/", "_"))}.png" alt="{html.escape(m)}">'
                   for m in sorted({m for arm in results["arms"].values() for m in arm["metrics"]}))
    sections.append(("metrics", "Metrics per arm", bars))
    if "search" in results:
        sections.append(("search", "Mixture search", search_section(results["search"])))
    nav = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{html.escape(t)}</h2>{b}</section>' for a, t, b in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{look.CSS}</style></head><body><header><h1>{html.escape(title)}</h1></header>"
            f"<nav>{nav}</nav><main>{body}</main></body></html>\n")


def write_results(cfg: AblationConfig, results: dict) -> Path:
    """results.json, results.md and report/ablation.html (with its PNGs) in the ablation's output; returns the page."""
    root = Path(cfg.output)
    _atomic(root / "results.json", json.dumps(results, indent=1))
    _atomic(root / "results.md", markdown(results))
    report = root / "report"
    report.mkdir(parents=True, exist_ok=True)
    for name, data in plots(results).items():
        (report / name).write_bytes(data)
    if "search" in results:
        for name, data in search_plots(results["search"]).items():
            (report / name).write_bytes(data)
    _atomic(report / "ablation.html", page(results, f"curate ablation — {', '.join(results['arms'])}"))
    return report / "ablation.html"


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
