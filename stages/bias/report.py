"""bias's corpus report, from additive sums: `bias_sums` over a table's documents, `merge_sums` of two, and
`report_from_sums` (representation per axis and group, the pronoun ratio, toxicity by group, before and after
filtering, kept fractions and removal ratios); `bias_report(before, after)` is the whole computation on two tables."""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.stages.bias.lexicon import PREFIX, PRONOUN, split_column
from curate.stages.toxicity import PREFIX as TOX_PREFIX

REPORT_FILE = "bias.json"  # the corpus report, at the output root; the manifest names it under `bias`
REPORT_KEY = "bias"


def bias_sums(table: pa.Table) -> dict[str, Any]:
    """Additive totals over a table's documents that carry `bias_*` counts (rows where they are null are skipped)."""
    bias = [n for n in table.schema.names if n.startswith(PREFIX)]
    tox = [n for n in table.schema.names if n.startswith(TOX_PREFIX)]
    if not bias:
        return {"documents": 0, "toxicity": {}, "groups": {}}
    present = pc.is_valid(table.column(bias[0]))
    table = table.filter(present)
    counts = {n: table.column(n).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64) for n in bias}
    scores = {n.removeprefix(TOX_PREFIX): table.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
              for n in tox}

    def tox_totals(mask: np.ndarray) -> dict[str, list[float]]:
        out = {}
        for label, values in scores.items():
            chosen = values[mask]
            chosen = chosen[~np.isnan(chosen)]
            out[label] = [float(chosen.sum()), int(len(chosen))]
        return out

    everyone = np.ones(table.num_rows, bool)
    groups = {}
    for name, values in counts.items():
        mentioned = values > 0
        groups[name] = {"documents": int(mentioned.sum()), "mentions": int(values.sum()),
                        "toxicity": tox_totals(mentioned)}
    return {"documents": table.num_rows, "toxicity": tox_totals(everyone), "groups": groups}


def merge_sums(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The sums of two disjoint sets of documents."""
    def tox(x: dict, y: dict) -> dict:
        return {label: [x.get(label, [0.0, 0])[0] + y.get(label, [0.0, 0])[0],
                        x.get(label, [0.0, 0])[1] + y.get(label, [0.0, 0])[1]] for label in sorted({*x, *y})}

    groups = {}
    for name in sorted({*a["groups"], *b["groups"]}):
        ga = a["groups"].get(name, {"documents": 0, "mentions": 0, "toxicity": {}})
        gb = b["groups"].get(name, {"documents": 0, "mentions": 0, "toxicity": {}})
        groups[name] = {"documents": ga["documents"] + gb["documents"], "mentions": ga["mentions"] + gb["mentions"],
                        "toxicity": tox(ga["toxicity"], gb["toxicity"])}
    return {"documents": a["documents"] + b["documents"], "toxicity": tox(a["toxicity"], b["toxicity"]),
            "groups": groups}


def _mean(total: list[float]) -> float | None:
    return round(total[0] / total[1], 6) if total[1] else None


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


def _side(sums: dict[str, Any]) -> dict[str, Any]:
    """One set of documents: per axis and group, counts and shares; pronouns; corpus toxicity."""
    n = sums["documents"]
    axes: dict[str, dict[str, Any]] = {}
    for name, group in sums["groups"].items():
        axis, label = split_column(name)
        axes.setdefault(axis, {})[label] = group
    out: dict[str, Any] = {"documents": n, "toxicity": {k: _mean(v) for k, v in sums["toxicity"].items()}, "axes": {}}
    for axis, groups in sorted(axes.items()):
        mentions = sum(g["mentions"] for g in groups.values())
        out["axes"][axis] = {
            label: {"documents": g["documents"], "mentions": g["mentions"],
                    "document_share": _ratio(g["documents"], n), "mention_share": _ratio(g["mentions"], mentions),
                    "mean_toxicity": {k: _mean(v) for k, v in g["toxicity"].items()}}
            for label, g in sorted(groups.items())
        }
    return out


def report_from_sums(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The bias report: `before` = documents that reached the bias stage, `after` = those kept at the end."""
    b, a = _side(before), _side(after)
    kept = _ratio(a["documents"], b["documents"])
    report: dict[str, Any] = {
        "documents": {"before": b["documents"], "after": a["documents"], "kept_fraction": kept},
        "toxicity": {"before": b["toxicity"], "after": a["toxicity"]},
        "pronouns": {},
        "axes": {},
    }
    for axis in b["axes"]:
        rows = {}
        for label, gb in b["axes"][axis].items():
            ga = a["axes"].get(axis, {}).get(label, {"documents": 0, "mentions": 0, "document_share": 0.0,
                                                      "mention_share": None, "mean_toxicity": {}})
            group_kept = _ratio(ga["documents"], gb["documents"])
            removal = None
            if group_kept is not None and kept is not None and kept < 1:
                removal = round((1 - group_kept) / (1 - kept), 4)
            rows[label] = {"before": gb, "after": ga, "kept_fraction": group_kept, "removal_ratio": removal}
        if axis == PRONOUN:
            for side, data in (("before", b), ("after", a)):
                mentions = {label: g["mentions"] for label, g in data["axes"].get(PRONOUN, {}).items()}
                report["pronouns"][side] = {**mentions, "female_to_male": _ratio(mentions.get("female", 0),
                                                                                  mentions.get("male", 0))}
        else:
            report["axes"][axis] = rows
    return report


def bias_report(before: pa.Table, after: pa.Table) -> dict[str, Any]:
    """The bias report of two tables with `bias_*` (and, where scored, `tox_*`) columns: every document that reached
    the bias stage (kept or rejected later), and the documents kept at the end."""
    return report_from_sums(bias_sums(before), bias_sums(after))


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table for `curate report`."""
    docs = report["documents"]
    lines = [f"bias: {docs['before']} documents reached the bias stage, {docs['after']} kept "
             f"({_pct(docs['kept_fraction'])})"]
    label = _main_label(report["toxicity"]["before"])
    if label:
        lines.append(f"corpus mean {label}: before {_num(report['toxicity']['before'].get(label))}, "
                     f"after {_num(report['toxicity']['after'].get(label))}")
    for side in ("before", "after"):
        pronouns = report["pronouns"].get(side)
        if pronouns:
            lines.append(f"pronouns {side}: she/her {pronouns.get('female', 0)}, he/him {pronouns.get('male', 0)}, "
                         f"female:male {_num(pronouns['female_to_male'])}")
    header = f"  {'group':<26}{'docs':>8}{'share':>8}{'kept':>8}{'removal':>9}"
    if label:
        header += f"{'mean ' + label:>{max(len(label) + 6, 14)}}"
    for axis, groups in report["axes"].items():
        silent = [name for name, row in groups.items() if not row["before"]["documents"]]
        lines += ["", f"{axis}:" + (f" (no mention of {', '.join(silent)})" if silent else ""), header]
        for name, row in groups.items():
            if name in silent:
                continue
            line = (f"  {name:<26}{row['before']['documents']:>8}{_pct(row['before']['mention_share']):>8}"
                    f"{_pct(row['kept_fraction']):>8}{_num(row['removal_ratio']):>9}")
            if label:
                line += f"{_num(row['before']['mean_toxicity'].get(label)):>{max(len(label) + 6, 14)}}"
            lines.append(line)
    return "\n".join(lines)


def _main_label(toxicity: dict[str, Any]) -> str | None:
    for label in ("toxicity", "profanity"):
        if label in toxicity:
            return label
    return next(iter(toxicity), None)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
