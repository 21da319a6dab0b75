"""The run report: one HTML page with PNG plots (`OUTPUT/report/`) of what a finished run kept, dropped and why.

Sections, each left out when the run has nothing for it: the funnel by stage and reject reason, languages (`lang`,
`lang_score` with the langid threshold), the totals of the count columns stages name in `Stage.totals()` (e.g.
PII replaced, per kind), quality signals (the `<stage id>_<signal>` columns that `keep_signals`
keeps, with the stage's thresholds drawn), toxicity scores (`tox_*`, thresholds drawn) and the bias tables
(`bias.json`), dedup cluster sizes (`dup_cluster_size`), the domain mixture achieved versus target and the tokens per
domain (manifest `domains`, `balance.json`), and run time per stage (`stats.json`, the global stages' decision
manifests). Counts come from `stats.json` and the manifest; distributions from the kept documents, reading only the
columns a plot needs, over an even 1-in-k sample of rows when there are more than `SAMPLE_ROWS`.

The page needs no network: inline CSS, no script, plots as PNG files beside it.
"""
from __future__ import annotations

import html
import io
import math
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, STATS, Output

REPORT_DIR = "report"
REPORT_FILE = f"{REPORT_DIR}/report.html"
SAMPLE_ROWS = 200_000
TOP_LANGS = 20
TOP_REASONS = 8
# Signals whose threshold parameter is not `min_<signal>` / `max_<signal>`.
_THRESHOLD_STEMS = {"word_count": "words", "stop_word_count": "stop_words", "kept_sentences": "sentences"}
_KEPT, _REJECTED = "#3b7dd8", "#d9534f"
_PALETTE = ["#d9534f", "#f0ad4e", "#9b59b6", "#5bc0de", "#8e6c3a", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
            "#2ca02c", "#ff7f0e", "#8c564b", "#c49c94", "#98df8a"]


@dataclass
class Section:
    """One part of the page: a title, an anchor, HTML fragments and the plots they show."""

    anchor: str
    title: str
    body: list[str] = field(default_factory=list)


@dataclass
class _Run:
    output: Output
    manifest: dict
    stats: dict
    documents: pa.Table  # the sampled columns the plots need
    stride: int
    plots: dict[str, bytes] = field(default_factory=dict)

    @property
    def stages(self) -> list[dict]:
        return self.manifest["config"].get("stages", [])

    def plot(self, name: str, figure) -> str:
        """Keep the figure as `<name>.png`; returns its <img> tag."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        self.plots[f"{name}.png"] = buffer.getvalue()
        return f'<img class="plot" src="{name}.png" alt="{html.escape(name)}">'


def write_report(output_uri: str) -> str:
    """Write `report/report.html` and its PNGs into the run at `output_uri`; returns the page's path (or URI)."""
    output = Output(output_uri)
    if not output.exists(MANIFEST):
        raise CurateError(f"{output_uri!r} holds no finished run ({MANIFEST} is missing): run the pipeline first")
    run = _load(output)
    sections = [s for s in (_summary(run), _funnel(run), _languages(run), _totals(run), _quality(run), _toxicity(run),
                            _bias(run), _dedup(run), _domains(run), _timing(run)) if s is not None]
    page = _page(run, sections)
    folder = output.path(REPORT_DIR)
    if output.fs.exists(folder):
        output.fs.rm(folder, recursive=True)  # no plot of an earlier report lingers beside the new page
    output.fs.makedirs(folder, exist_ok=True)
    for name, data in run.plots.items():
        output.fs.pipe_file(output.path(REPORT_DIR, name), data)
    output.fs.pipe_file(output.path(REPORT_FILE), page.encode("utf-8"))
    return output.path(REPORT_FILE) if output.local else output.uri_of(REPORT_FILE)


# ---------------------------------------------------------------- reading


def _wanted(name: str) -> bool:
    return name in ("lang", "lang_score", "dup_cluster_size", "domain", "n_tokens") or name.startswith("tox_")


def _load(output: Output) -> _Run:
    manifest = output.read_json(MANIFEST)
    stats = output.read_json(manifest.get("stats", STATS))
    signal_columns = {f"{s['id']}_" for s in manifest["config"].get("stages", []) if s.get("keep_signals")}
    paths = manifest.get("documents", [])
    files = []
    for path in paths:
        with output.fs.open(output.path(path), "rb") as f:
            meta = pq.ParquetFile(f).metadata
            files.append((path, meta.num_rows, meta.schema.to_arrow_schema().names))
    total = sum(rows for _, rows, _ in files)
    stride = max(1, math.ceil(total / SAMPLE_ROWS))
    tables = []
    for path, rows, names in files:
        columns = [n for n in names if _wanted(n) or any(n.startswith(p) for p in signal_columns)]
        if not rows or not columns:
            continue
        with output.fs.open(output.path(path), "rb") as f:
            table = pq.read_table(f, columns=columns)
        if stride > 1:
            table = table.take(np.arange(0, table.num_rows, stride))
        tables.append(table)
    documents = pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})
    return _Run(output, manifest, stats, documents, stride)


def stage_totals(config_stages: list[dict]) -> dict[str, list[str]]:
    """Stage id -> the count columns it names in `Stage.totals()`, from the run's config (stages that cannot be
    rebuilt here, such as a plugin's that is not importable, are left out)."""
    from curate.pipeline import registry

    out = {}
    for spec in config_stages:
        cls = registry.get(spec.get("name", ""))
        if cls is None:
            continue
        try:
            params = cls.Params.model_validate({k: v for k, v in spec.items() if k not in ("name", "id", "on_error")})
        except ValueError:
            continue
        columns = list(cls(params, spec.get("id")).totals())
        if columns:
            out[spec.get("id", spec["name"])] = columns
    return out


def _column(run: _Run, name: str) -> np.ndarray | None:
    """A numeric column of the sampled documents as float64, nulls and NaNs dropped; None when absent."""
    if name not in run.documents.column_names:
        return None
    values = run.documents.column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
    return values[~np.isnan(values)]


# ---------------------------------------------------------------- plotting helpers


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    figure = Figure(figsize=(width, height), layout="tight")
    return figure


def _histogram(ax, values: np.ndarray, title: str, lines: list[tuple[float, str]], log: bool = False) -> None:
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = max(high - low, abs(low), abs(high), 1.0)
    # a threshold far from the data would squash it into one bar: it is drawn only when near, else named
    near = [(v, label) for v, label in lines if low - span <= v <= high + span]
    for value, _ in near:
        low, high = min(low, value), max(high, value)
    if len(finite):
        ax.hist(finite, bins=40, range=(low, high if high > low else low + 1), color=_KEPT, alpha=0.85)
    for value, label in lines:
        if (value, label) in near:
            ax.axvline(value, color=_REJECTED, linestyle="--", linewidth=1.5, label=label)
        else:
            ax.plot([], [], color=_REJECTED, linestyle=":", label=f"{label} (off the chart)")
    if lines:
        ax.legend(fontsize=7, loc="best")
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def _table(header: list[str] | None, rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header or [])
    body = []
    for row in rows:
        cells = "".join(f'<td class="{"num" if i >= numeric_from else ""}">{html.escape(_text(v))}</td>'
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


# ---------------------------------------------------------------- sections


def _summary(run: _Run) -> Section:
    stats, manifest = run.stats, run.manifest
    rejected = sum(stats["rejected"].values())
    config = manifest["config"]
    rows = [
        ["input documents", stats["input"]],
        ["kept", f"{stats['kept']:,} ({_pct(stats['kept'], stats['input'])})"],
        ["rejected", f"{rejected:,} ({_pct(rejected, stats['input'])})"],
        ["input files", stats.get("files", len(manifest.get("inputs", [])))],
        ["engine", config.get("engine", {}).get("name", "–")],
        ["stages", " → ".join(s["id"] for s in run.stages) or "–"],
        ["wall time", f"{stats['seconds']:.1f} s" if "seconds" in stats else None],
        ["finished", manifest.get("created")],
        ["config hash", manifest.get("config_hash", "")[:16]],
    ]
    section = Section("summary", "Summary", [_table(None, rows, numeric_from=2)])
    errors = stats.get("file_errors") or {}
    if errors:
        section.body.append("<h3>File errors</h3>" + _table(["file", "error"], [[k, v] for k, v in errors.items()], 2))
    if run.stride > 1:
        section.body.append(f'<p class="note">Distributions below are drawn from every {run.stride}th kept '
                            "document.</p>")
    return section


def reasons_by_stage(stats: dict) -> dict[str, dict[str, int]]:
    """Reject counts grouped by the stage that rejected them (the reason's first part), in pipeline order."""
    grouped: dict[str, dict[str, int]] = {s["name"]: {} for s in stats["stages"]}
    for reason, count in stats["rejected"].items():
        grouped.setdefault(reason.split(":", 1)[0], {})[reason] = count
    return grouped


def _funnel(run: _Run) -> Section:
    stats = run.stats
    stages = stats["stages"]
    grouped = reasons_by_stage(stats)
    palette: dict[str, str] = {}
    figure = _figure(9, 0.45 * len(stages) + 1.4)
    ax = figure.add_subplot()
    names = [s["name"] for s in stages][::-1]
    y = np.arange(len(names))
    for row, stage in zip(y, stages[::-1]):
        ax.barh(row, stage["out"], color=_KEPT)
        left = stage["out"]
        reasons = sorted(grouped.get(stage["name"], {}).items(), key=lambda kv: -kv[1])
        shown = reasons[:TOP_REASONS]
        rest = sum(n for _, n in reasons[TOP_REASONS:])
        for reason, count in shown + ([(f"{stage['name']}: other", rest)] if rest else []):
            rule = reason.split(":", 1)[1] if ":" in reason else reason
            if rule not in palette:
                palette[rule] = _PALETTE[len(palette) % len(_PALETTE)]
            ax.barh(row, count, left=left, color=palette[rule], label=rule)
            left += count
        ax.text(stage["in"], row, f"  {stage['out']:,} / {stage['in']:,}", va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.set_xlabel("documents (blue: passed on; colours: rejected, by rule)")
    ax.set_xlim(0, max(s["in"] for s in stages) * 1.25 if stages else 1)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    if unique:
        ax.legend(unique.values(), unique.keys(), fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title(f"{stats['input']:,} documents in, {stats['kept']:,} kept", fontsize=10)
    rows = []
    for stage in stages:
        rows.append([stage["name"], stage["in"], stage["out"], stage["in"] - stage["out"],
                     _pct(stage["out"], stage["in"]), stage["cpu_seconds"]])
    reasons = [[reason, count, _pct(count, stats["input"])] for reason, count in stats["rejected"].items()]
    body = [run.plot("funnel", figure),
            _table(["stage", "in", "out", "rejected", "kept %", "cpu s"], rows)]
    if reasons:
        body += ["<h3>Reject reasons</h3>", _table(["reason", "documents", "of input"], reasons)]
    return Section("funnel", "Funnel", body)


def _stage_param(run: _Run, name: str, key: str) -> Any:
    specs = [s for s in run.stages if s["name"] == name]
    return specs[-1].get(key) if specs else None


def _totals(run: _Run) -> Section | None:
    """Sums of the stages' count columns over every kept document (read in full: integer columns are small)."""
    wanted = stage_totals(run.stages)
    if not wanted:
        return None
    sums: dict[str, list[int]] = {c: [0, 0] for columns in wanted.values() for c in columns}
    documents = 0
    for path in run.manifest.get("documents", []):
        with run.output.fs.open(run.output.path(path), "rb") as f:
            parquet = pq.ParquetFile(f)
            present = [c for c in sums if c in parquet.schema_arrow.names]
            documents += parquet.metadata.num_rows
            if present:
                table = parquet.read(columns=present)
                for c in present:
                    values = table.column(c).to_numpy(zero_copy_only=False)
                    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
                    sums[c][0] += int(values.sum())
                    sums[c][1] += int((values > 0).sum())
    rows = [[f"{stage_id}: {c}", sums[c][0], sums[c][1], round(1000 * sums[c][0] / documents, 2) if documents else None]
            for stage_id, columns in wanted.items() for c in columns]
    return Section("totals", "Counts", [f"<p>Over the {documents:,} kept documents.</p>",
                                         _table(["column", "total", "documents with any", "per 1,000 documents"],
                                                rows)])


def _languages(run: _Run) -> Section | None:
    if "lang" not in run.documents.column_names:
        return None
    counts = Counter(run.documents.column("lang").to_pylist())
    ordered = counts.most_common()
    shown = ordered[:TOP_LANGS]
    other = sum(n for _, n in ordered[TOP_LANGS:])
    labels = [str(k) if k is not None else "(none)" for k, _ in shown] + (["other"] if other else [])
    values = [n for _, n in shown] + ([other] if other else [])
    scores = _column(run, "lang_score")
    figure = _figure(10, 3.2)
    axes = figure.subplots(1, 2 if scores is not None else 1, squeeze=False)[0]
    axes[0].bar(labels, values, color=_KEPT)
    axes[0].set_title("kept documents by language", fontsize=9)
    axes[0].tick_params(labelsize=8)
    if scores is not None:
        threshold = _stage_param(run, "langid", "threshold")
        lines = []
        if isinstance(threshold, (int, float)):
            lines = [(float(threshold), f"threshold {threshold}")]
        elif isinstance(threshold, dict) and "default" in threshold:
            lines = [(float(threshold["default"]), f"default threshold {threshold['default']}")]
        _histogram(axes[1], scores, "language score (lang_score)", lines)
    total = sum(values)
    rows = [[label, n, _pct(n, total)] for label, n in zip(labels, values)]
    return Section("languages", "Languages", [run.plot("languages", figure), _table(["lang", "documents", "share"],
                                                                                   rows)])


def signal_thresholds(spec: dict, signal: str) -> list[tuple[float, str]]:
    """The thresholds a quality stage's config sets on `signal` (min_/max_ parameters), as (value, label)."""
    stem = _THRESHOLD_STEMS.get(signal, signal)
    lines = []
    for bound in ("min", "max"):
        key = f"{bound}_{stem}"
        value = spec.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append((float(value), f"{key} = {value}"))
    return lines


def _quality(run: _Run) -> Section | None:
    body = []
    for spec in run.stages:
        if not spec.get("keep_signals"):
            continue
        prefix = f"{spec['id']}_"
        columns = [c for c in run.documents.column_names if c.startswith(prefix)]
        if not columns:
            continue
        width = 4
        height = math.ceil(len(columns) / width)
        figure = _figure(12, 2.3 * height + 0.4)
        axes = figure.subplots(height, width, squeeze=False).ravel()
        for ax, column in zip(axes, columns):
            signal = column.removeprefix(prefix)
            values = _column(run, column)
            _histogram(ax, values, signal, signal_thresholds(spec, signal))
        for ax in axes[len(columns):]:
            ax.set_visible(False)
        figure.suptitle(f"{spec['id']} signals of kept documents (dashed: thresholds)", fontsize=10)
        body += [f"<h3>{html.escape(spec['id'])}</h3>", run.plot(f"quality-{spec['id']}", figure)]
    if not body:
        return None
    body.insert(0, '<p class="note">Signals of the kept documents only (rejected rows keep no signals); '
                   "a threshold shows how close the corpus sits to it.</p>")
    return Section("quality", "Quality signals", body)


def _toxicity(run: _Run) -> Section | None:
    columns = [c for c in run.documents.column_names if c.startswith("tox_")]
    if not columns:
        return None
    thresholds = _stage_param(run, "toxicity", "thresholds") or {}
    width = min(len(columns), 3)
    height = math.ceil(len(columns) / width)
    figure = _figure(4 * width, 2.6 * height + 0.3)
    axes = figure.subplots(height, width, squeeze=False).ravel()
    rows = []
    for ax, column in zip(axes, columns):
        label = column.removeprefix("tox_")
        values = _column(run, column)
        lines = [(float(thresholds[label]), f"threshold {thresholds[label]}")] if label in thresholds else []
        _histogram(ax, values, column, lines, log=True)
        rows.append([column, len(values), float(values.mean()) if len(values) else None,
                     float(np.quantile(values, 0.99)) if len(values) else None, thresholds.get(label)])
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    return Section("toxicity", "Toxicity", [run.plot("toxicity", figure),
                                           _table(["score", "scored documents", "mean", "p99", "threshold"], rows)])


def _bias(run: _Run) -> Section | None:
    if "bias" not in run.manifest:
        return None
    report = run.output.read_json(run.manifest["bias"])
    docs = report["documents"]
    body = [f"<p>{docs['before']:,} documents reached the bias stage; {docs['after']:,} were kept "
            f"({_pct(docs['after'], docs['before'])}). Removal ratio: a group's removal rate over the corpus's "
            "(above 1: filters removed documents mentioning it more often than others).</p>"]
    summary = []
    for label, before in report["toxicity"]["before"].items():
        summary.append([f"corpus mean {label}", before, report["toxicity"]["after"].get(label)])
    for side in ("before", "after"):
        pronouns = report["pronouns"].get(side) or {}
        if pronouns:
            summary.append([f"pronouns female : male ({side})",
                            f"{pronouns.get('female', 0):,} : {pronouns.get('male', 0):,}", pronouns["female_to_male"]])
    if summary:
        body.append(_table(["", "before / count", "after / ratio"], summary))
    labels = list(report["toxicity"]["before"])
    for axis, groups in report["axes"].items():
        rows, silent = [], []
        for name, row in groups.items():
            if not row["before"]["documents"]:
                silent.append(name)
                continue
            share = row["before"]["mention_share"]
            rows.append([name, row["before"]["documents"], row["after"]["documents"],
                         None if share is None else f"{100 * share:.1f}%", row["kept_fraction"], row["removal_ratio"],
                         *[row["before"]["mean_toxicity"].get(label) for label in labels]])
        note = f' <span class="note">(no mention of {html.escape(", ".join(silent))})</span>' if silent else ""
        body.append(f"<h3>{html.escape(axis)}{note}</h3>")
        if rows:
            body.append(_table(["group", "documents before", "after", "mention share", "kept fraction",
                                "removal ratio", *[f"mean {label}" for label in labels]], rows))
    return Section("bias", "Bias", body)


def _dedup(run: _Run) -> Section | None:
    sizes = _column(run, "dup_cluster_size")
    if sizes is None:
        return None
    counts = Counter(sizes.astype(np.int64).tolist())
    removed = {r: n for r, n in run.stats["rejected"].items() if "dedup" in r.split(":", 1)[0]}
    figure = _figure(8, 3)
    ax = figure.add_subplot()
    xs = sorted(counts)
    ax.bar([str(x) for x in xs], [counts[x] for x in xs], color=_KEPT)
    ax.set_yscale("log")
    ax.set_xlabel("cluster size (documents sharing the kept one's content, itself included)")
    ax.set_ylabel("kept documents")
    ax.set_title("dedup cluster sizes of kept documents", fontsize=10)
    rows = [[str(x), counts[x], counts[x] * x] for x in xs]
    body = [run.plot("dedup", figure), _table(["cluster size", "kept documents", "documents in those clusters"], rows)]
    if removed:
        body.append(_table(["reason", "documents removed"], [[r, n] for r, n in removed.items()]))
    return Section("dedup", "Deduplication", body)


def _domains(run: _Run) -> Section | None:
    domains = run.manifest.get("domains")
    body = []
    if domains:
        balance = run.output.read_json(run.manifest["balance"]) if "balance" in run.manifest else None
        names = sorted(domains, key=lambda d: -domains[d]["tokens"])
        available = {}
        if balance:
            total_available = sum(r["available"] for r in balance["domains"].values()) or 1
            available = {d: r["available"] / total_available for d, r in balance["domains"].items()}
        total_tokens = sum(d["tokens"] for d in domains.values()) or 1
        figure = _figure(11, 3.4)
        mix, tokens = figure.subplots(1, 2)
        x = np.arange(len(names))
        bars = [("input", [available.get(n, 0.0) for n in names], "#aaaaaa")] if available else []
        if any("target" in domains[n] for n in names):
            bars.append(("target", [domains[n].get("target", 0.0) for n in names], "#f0ad4e"))
        bars.append(("achieved (manifest weight)", [domains[n]["weight"] for n in names], _KEPT))
        width = 0.8 / len(bars)
        for i, (label, values, colour) in enumerate(bars):
            mix.bar(x + (i - (len(bars) - 1) / 2) * width, values, width, label=label, color=colour)
        mix.set_xticks(x, names)
        mix.set_ylabel("share of training tokens")
        mix.set_title("domain mixture", fontsize=10)
        mix.legend(fontsize=7)
        tokens.bar(names, [domains[n]["tokens"] for n in names], color=_KEPT)
        tokens.set_title("tokens per domain (shards)", fontsize=10)
        tokens.tick_params(labelsize=8)
        rows = [[n, domains[n]["documents"], domains[n]["tokens"], _pct(domains[n]["tokens"], total_tokens),
                 domains[n].get("target"), domains[n]["weight"], domains[n].get("max_epochs")] for n in names]
        body += [run.plot("domains", figure),
                 _table(["domain", "documents", "tokens", "of tokens", "target", "weight", "max epochs"], rows)]
        splits = run.manifest.get("splits")
        if splits:
            body.append(_table(["split", "documents", "tokens"],
                               [[k, v["documents"], v["tokens"]] for k, v in splits.items()]))
        if balance:
            feasible = "feasible" if balance["feasible"] else "not feasible"
            body.append(f"<p>Balance ({html.escape(balance['mode'])} by {html.escape(balance['by'])}): {feasible}; "
                        f"the weights support up to {balance['max_training_tokens']:,} training tokens before a "
                        "domain passes its max_epochs.</p>")
            for note in balance["notes"]:
                body.append(f'<p class="warn">{html.escape(note)}</p>')
    elif "n_tokens" in run.documents.column_names:
        key = "domain" if "domain" in run.documents.column_names else None
        labels = run.documents.column(key).to_pylist() if key else ["(all)"] * run.documents.num_rows
        per: Counter[str] = Counter()
        for label, n in zip(labels, run.documents.column("n_tokens").to_pylist()):
            per[str(label)] += int(n or 0) * run.stride
        figure = _figure(6, 3)
        ax = figure.add_subplot()
        ax.bar(list(per), list(per.values()), color=_KEPT)
        ax.set_title("tokens per domain (kept documents)", fontsize=10)
        body += [run.plot("domains", figure), _table(["domain", "tokens"], [[k, v] for k, v in per.most_common()])]
    else:
        return None
    return Section("domains", "Domains and tokens", body)


def _timing(run: _Run) -> Section | None:
    rows = [(s["name"], s["cpu_seconds"]) for s in run.stats["stages"] if s["cpu_seconds"]]
    for stage_id, path in run.manifest.get("phases", {}).get("decisions", {}).items():
        if run.output.exists(path):
            seconds = run.output.read_json(path).get("seconds")
            if seconds is not None:
                rows.append((f"{stage_id} (global plan, wall)", seconds))
    if not rows:
        return None
    figure = _figure(8, 0.35 * len(rows) + 1.2)
    ax = figure.add_subplot()
    names = [name for name, _ in rows][::-1]
    ax.barh(names, [seconds for _, seconds in rows][::-1], color=_KEPT)
    ax.set_xlabel("seconds (map stages: CPU seconds summed over tasks; global plans: wall seconds)")
    ax.set_title("time per stage", fontsize=10)
    ax.tick_params(labelsize=8)
    table = _table(["stage", "seconds"], [[name, seconds] for name, seconds in rows])
    wall = run.stats.get("seconds")
    note = f"<p>Whole run: {wall:.1f} s wall.</p>" if wall is not None else ""
    return Section("time", "Run time", [run.plot("time", figure), table, note])


# ---------------------------------------------------------------- page

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #23395d; color: white; padding: 16px 32px; }
header h1 { margin: 0; font-size: 22px; } header p { margin: 4px 0 0; opacity: 0.85; font-size: 13px; }
nav { padding: 8px 32px; background: #e8edf4; font-size: 14px; position: sticky; top: 0; }
nav a { margin-right: 16px; color: #23395d; text-decoration: none; }
main { padding: 8px 32px 48px; max-width: 1300px; }
section { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 8px 20px 16px; margin: 16px 0; }
h2 { font-size: 18px; color: #23395d; } h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 3px 10px; text-align: left; }
th { background: #f2f4f7; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
img.plot { max-width: 100%; display: block; margin: 8px 0; }
.note { color: #666; font-size: 13px; } .warn { color: #a94442; }
"""


def _page(run: _Run, sections: list[Section]) -> str:
    title = f"curate run report — {posixpath.basename(run.output.root.rstrip('/')) or run.output.uri}"
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    parts = "".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.body)}</section>'
                    for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(run.output.uri)} · "
            f"{html.escape(str(run.manifest.get('created', '')))}</p></header>"
            f"<nav>{nav}</nav><main>{parts}</main></body></html>\n")
