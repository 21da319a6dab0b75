"""`curate report`: one HTML page with PNG plots (`OUTPUT/report/`) of what a finished run kept, dropped and why.

The page: a summary, the funnel by stage and reject reason, then the section of each stage family that has one
(`Stage.report`, in pipeline order: languages, quality signals, toxicity, bias, dedup cluster sizes, the domain
mixture and tokens, the totals of the counts stages add such as PII replaced per kind…), and run time per stage
(`stats.json`, the global stages' decision manifests). This module knows no stage: counts come from `stats.json` and
the manifest, distributions from the sections' own reads of the kept documents
(pipeline/sections.py).

The page needs no network: inline CSS, no script, plots as PNG files beside it.
"""
from __future__ import annotations

import html
import posixpath
from typing import Any

import numpy as np

from curate.pipeline import registry
from curate.pipeline.errors import CurateError
from curate.pipeline.output import MANIFEST, Output
from curate.pipeline.sections import CSS, KEPT, PALETTE, Report, RunView, Section, figure, pct, table
from curate.pipeline.stage import Stage

REPORT_DIR = "report"
REPORT_FILE = f"{REPORT_DIR}/report.html"
TOP_REASONS = 8


def write_report(output_uri: str) -> str:
    """Write `report/report.html` and its PNGs into the run at `output_uri`; returns the page's path (or URI)."""
    output = Output(output_uri)
    if not output.exists(MANIFEST):
        raise CurateError(f"{output_uri!r} holds no finished run ({MANIFEST} is missing): run the pipeline first")
    run = RunView.load(output)
    stages = run_stages(run.manifest["config"].get("stages", []))
    sections = [_summary(run), _funnel(run)]
    sections += [section for family, members in families(stages) if family.section is not None
                 and (section := family.section(run, members)) is not None]
    if (timing := _timing(run)) is not None:
        sections.append(timing)
    page = _page(run, sections)
    folder = output.path(REPORT_DIR)
    if output.fs.exists(folder):
        output.fs.rm(folder, recursive=True)  # no plot of an earlier report lingers beside the new page
    output.fs.makedirs(folder, exist_ok=True)
    for name, data in run.plots.items():
        output.fs.pipe_file(output.path(REPORT_DIR, name), data)
    output.fs.pipe_file(output.path(REPORT_FILE), page.encode("utf-8"))
    return output.path(REPORT_FILE) if output.local else output.uri_of(REPORT_FILE)


def report_text(output: Output) -> list[Any]:
    """The console lines of the run's stage families that have some (`Report.text`), for `curate report`."""
    run = RunView.load(output)
    stages = run_stages(run.manifest["config"].get("stages", []))
    return [line for family, members in families(stages) if family.text is not None
            for line in family.text(run, members)]


def run_stages(config_stages: list[dict]) -> list[Stage]:
    """The stages of a finished run, rebuilt from its config (stages that cannot be rebuilt here, such as a plugin's
    that is not importable, are left out)."""
    out = []
    for spec in config_stages:
        cls = registry.get(spec.get("name", ""))
        if cls is None:
            continue
        try:
            params = cls.Params.model_validate({k: v for k, v in spec.items() if k not in ("name", "id", "on_error")})
        except ValueError:
            continue
        out.append(cls(params, spec.get("id")))
    return out


def families(stages: list[Stage]) -> list[tuple[Report, list[Stage]]]:
    """The distinct `Report`s the stages name, in pipeline order, each with the stages that name it."""
    grouped: dict[Report, list[Stage]] = {}
    for stage in stages:
        if stage.report is not None:
            grouped.setdefault(stage.report, []).append(stage)
    return list(grouped.items())


def _input_files(stats: dict, manifest: dict) -> int | str:
    """How many input files, and in how many ranges those over `input.split_size` were read (one task each)."""
    files = stats.get("files", len(manifest.get("inputs", [])))
    if not stats.get("ranges"):
        return files
    return f"{files:,} ({stats['ranges']:,} ranges of the files over input.split_size, one task each)"


def _summary(run: RunView) -> Section:
    stats, manifest = run.stats, run.manifest
    rejected = sum(stats["rejected"].values())
    config = manifest["config"]
    rows = [
        ["input documents", stats["input"]],
        ["kept", f"{stats['kept']:,} ({pct(stats['kept'], stats['input'])})"],
        ["rejected", f"{rejected:,} ({pct(rejected, stats['input'])})"],
        ["input files", _input_files(stats, manifest)],
        ["engine", config.get("engine", {}).get("name", "–")],
        ["stages", " → ".join(s["id"] for s in config.get("stages", [])) or "–"],
        ["wall time", f"{stats['seconds']:.1f} s" if "seconds" in stats else None],
        ["finished", manifest.get("created")],
        ["config hash", manifest.get("config_hash", "")[:16]],
    ]
    section = Section("summary", "Summary", [table(None, rows, numeric_from=2)])
    errors = stats.get("file_errors") or {}
    if errors:
        section.body.append("<h3>File errors</h3>" + table(["file", "error"], [[k, v] for k, v in errors.items()], 2))
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


def _funnel(run: RunView) -> Section:
    stats = run.stats
    stages = stats["stages"]
    grouped = reasons_by_stage(stats)
    palette: dict[str, str] = {}
    plot = figure(9, 0.45 * len(stages) + 1.4)
    ax = plot.add_subplot()
    names = [s["name"] for s in stages][::-1]
    y = np.arange(len(names))
    for row, stage in zip(y, stages[::-1]):
        ax.barh(row, stage["out"], color=KEPT)
        left = stage["out"]
        reasons = sorted(grouped.get(stage["name"], {}).items(), key=lambda kv: -kv[1])
        shown = reasons[:TOP_REASONS]
        rest = sum(n for _, n in reasons[TOP_REASONS:])
        for reason, count in shown + ([(f"{stage['name']}: other", rest)] if rest else []):
            rule = reason.split(":", 1)[1] if ":" in reason else reason
            if rule not in palette:
                palette[rule] = PALETTE[len(palette) % len(PALETTE)]
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
                     pct(stage["out"], stage["in"]), stage["cpu_seconds"]])
    reasons = [[reason, count, pct(count, stats["input"])] for reason, count in stats["rejected"].items()]
    body = [run.plot("funnel", plot),
            table(["stage", "in", "out", "rejected", "kept %", "cpu s"], rows)]
    if reasons:
        body += ["<h3>Reject reasons</h3>", table(["reason", "documents", "of input"], reasons)]
    return Section("funnel", "Funnel", body)


def _timing(run: RunView) -> Section | None:
    rows = [(s["name"], s["cpu_seconds"]) for s in run.stats["stages"] if s["cpu_seconds"]]
    for stage_id, path in run.manifest.get("phases", {}).get("decisions", {}).items():
        if run.output.exists(path):
            seconds = run.output.read_json(path).get("seconds")
            if seconds is not None:
                rows.append((f"{stage_id} (global plan, wall)", seconds))
    if not rows:
        return None
    plot = figure(8, 0.35 * len(rows) + 1.2)
    ax = plot.add_subplot()
    names = [name for name, _ in rows][::-1]
    ax.barh(names, [seconds for _, seconds in rows][::-1], color=KEPT)
    ax.set_xlabel("seconds (map stages: CPU seconds summed over tasks; global plans: wall seconds)")
    ax.set_title("time per stage", fontsize=10)
    ax.tick_params(labelsize=8)
    listing = table(["stage", "seconds"], [[name, seconds] for name, seconds in rows])
    wall = run.stats.get("seconds")
    note = f"<p>Whole run: {wall:.1f} s wall.</p>" if wall is not None else ""
    return Section("time", "Run time", [run.plot("time", plot), listing, note])


# ---------------------------------------------------------------- page

def _page(run: RunView, sections: list[Section]) -> str:
    title = f"curate run report — {posixpath.basename(run.output.root.rstrip('/')) or run.output.uri}"
    nav = "".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    parts = "".join(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.body)}</section>'
                    for s in sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{html.escape(title)}</h1><p>{html.escape(run.output.uri)} · "
            f"{html.escape(str(run.manifest.get('created', '')))}</p></header>"
            f"<nav>{nav}</nav><main>{parts}</main></body></html>\n")
