"""What a run report is made of, for the stages that add a section to it: the finished run as a section reads it
(`RunView`), the `Section` itself, and the page's tables, figures and histograms (one look for every section).

A stage family names its part of the report in `Stage.report` (a `Report`: a section function, console lines);
`curate report` (cli/report.py) calls each once with the run and the run's stages of that family. Distributions come
from the kept documents, reading only the columns a section asks for, over an even 1-in-k sample of rows when there
are more than `SAMPLE_ROWS`.
"""
from __future__ import annotations

import html
import io
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from curate.pipeline.output import MANIFEST, STATS, Output

if TYPE_CHECKING:
    from curate.pipeline.stage import Stage

SAMPLE_ROWS = 200_000
KEPT, REJECTED = "#3b7dd8", "#d9534f"
PALETTE = ["#d9534f", "#f0ad4e", "#9b59b6", "#5bc0de", "#8e6c3a", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#2ca02c", "#ff7f0e", "#8c564b", "#c49c94", "#98df8a"]


@dataclass
class Section:
    """One part of the page: an anchor, a title, HTML fragments and the plots they show."""

    anchor: str
    title: str
    body: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Report:
    """A stage family's part of the run report, each a function of (the finished run, the run's stages of the family):
    its page section (a `Section`, or None when it has nothing to show) and its lines for `curate report` on the
    console (plain strings or rich renderables)."""

    section: Callable[[RunView, list[Stage]], Section | None] | None = None
    text: Callable[[RunView, list[Stage]], list[Any]] | None = None


@dataclass
class RunView:
    """A finished run as the report reads it: manifest, stats, the kept documents' files, and the plots drawn so far."""

    output: Output
    manifest: dict
    stats: dict
    files: list[tuple[str, int, list[str]]]  # (path, rows, column names) of each documents/ file
    stride: int
    plots: dict[str, bytes] = field(default_factory=dict)

    @classmethod
    def load(cls, output: Output) -> RunView:
        manifest = output.read_json(MANIFEST)
        stats = output.read_json(manifest.get("stats", STATS))
        files = []
        for path in manifest.get("documents", []):
            with output.fs.open(output.path(path), "rb") as f:
                meta = pq.ParquetFile(f).metadata
                files.append((path, meta.num_rows, meta.schema.to_arrow_schema().names))
        stride = max(1, math.ceil(sum(rows for _, rows, _ in files) / SAMPLE_ROWS))
        return cls(output, manifest, stats, files, stride)

    @property
    def columns(self) -> list[str]:
        """The kept documents' column names, in file order."""
        return list(dict.fromkeys(name for _, _, names in self.files for name in names))

    def sample(self, names: list[str]) -> pa.Table:
        """The columns `names` (those present) of the sampled kept documents."""
        tables = []
        for path, rows, present in self.files:
            columns = [n for n in names if n in present]
            if not rows or not columns:
                continue
            with self.output.fs.open(self.output.path(path), "rb") as f:
                table = pq.read_table(f, columns=columns)
            if self.stride > 1:
                table = table.take(np.arange(0, table.num_rows, self.stride))
            tables.append(table)
        return pa.concat_tables(tables, promote_options="permissive") if tables else pa.table({})

    def values(self, name: str) -> np.ndarray | None:
        """A numeric column of the sampled documents as float64, nulls and NaNs dropped; None when absent."""
        if name not in self.columns:
            return None
        values = self.sample([name]).column(name).cast(pa.float64()).to_numpy(zero_copy_only=False)
        return values[~np.isnan(values)]

    def plot(self, name: str, figure) -> str:
        """Keep the figure as `<name>.png`; returns its <img> tag."""
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=100, metadata={"Software": None})
        self.plots[f"{name}.png"] = buffer.getvalue()
        return f'<img class="plot" src="{name}.png" alt="{html.escape(name)}">'


def figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no display backend

    return Figure(figsize=(width, height), layout="tight")


def histogram(ax, values: np.ndarray, title: str, lines: list[tuple[float, str]], log: bool = False) -> None:
    """`values` in 40 bins with `lines` (value, label) drawn as thresholds; one far from the data is only named."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    span = max(high - low, abs(low), abs(high), 1.0)
    # a threshold far from the data would squash it into one bar: it is drawn only when near, else named
    near = [(v, label) for v, label in lines if low - span <= v <= high + span]
    for value, _ in near:
        low, high = min(low, value), max(high, value)
    if len(finite):
        ax.hist(finite, bins=40, range=(low, high if high > low else low + 1), color=KEPT, alpha=0.85)
    for value, label in lines:
        if (value, label) in near:
            ax.axvline(value, color=REJECTED, linestyle="--", linewidth=1.5, label=label)
        else:
            ax.plot([], [], color=REJECTED, linestyle=":", label=f"{label} (off the chart)")
    if lines:
        ax.legend(fontsize=7, loc="best")
    if log:
        ax.set_yscale("log")
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)


def table(header: list[str] | None, rows: list[list[Any]], numeric_from: int = 1) -> str:
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


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def counts_section(run: RunView, stages: list[Stage]) -> Section | None:
    """Sums of the integer columns the stages add (counts of things found or replaced: PII per kind, lines removed)
    over every kept document (read in full: integer columns are small)."""
    wanted = {stage.id: [name for name, kind in stage.adds().items() if pa.types.is_integer(kind)] for stage in stages}
    sums: dict[str, list[int]] = {c: [0, 0] for columns in wanted.values() for c in columns}
    documents = 0
    for path in run.manifest.get("documents", []):
        with run.output.fs.open(run.output.path(path), "rb") as f:
            parquet = pq.ParquetFile(f)
            present = [c for c in sums if c in parquet.schema_arrow.names]
            documents += parquet.metadata.num_rows
            if present:
                read = parquet.read(columns=present)
                for c in present:
                    values = read.column(c).to_numpy(zero_copy_only=False)
                    values = values[~np.isnan(values)] if values.dtype.kind == "f" else values
                    sums[c][0] += int(values.sum())
                    sums[c][1] += int((values > 0).sum())
    rows = [[f"{stage_id}: {c}", sums[c][0], sums[c][1], round(1000 * sums[c][0] / documents, 2) if documents else None]
            for stage_id, columns in wanted.items() for c in columns]
    return Section("totals", "Counts", [f"<p>Over the {documents:,} kept documents.</p>",
                                         table(["column", "total", "documents with any", "per 1,000 documents"],
                                                rows)])


COUNTS = Report(counts_section)  # the stages that count what they found, in one table


CSS = """
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
