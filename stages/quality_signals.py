"""The run report's quality-signals section, shared by the rule-based quality stages (Gopher, C4, FineWeb): the
`<stage id>_<signal>` columns a stage keeps with `keep_signals`, drawn against the thresholds its parameters set."""
from __future__ import annotations

import html
import math

from curate.pipeline.sections import RunView, Section, figure, histogram
from curate.pipeline.stage import Stage

# Signals whose threshold parameter is not `min_<signal>` / `max_<signal>`.
THRESHOLD_STEMS = {"word_count": "words", "stop_word_count": "stop_words", "kept_sentences": "sentences"}


def signal_thresholds(spec: dict, signal: str) -> list[tuple[float, str]]:
    """The thresholds a quality stage's config sets on `signal` (min_/max_ parameters), as (value, label)."""
    stem = THRESHOLD_STEMS.get(signal, signal)
    lines = []
    for bound in ("min", "max"):
        key = f"{bound}_{stem}"
        value = spec.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines.append((float(value), f"{key} = {value}"))
    return lines


def signals_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's quality signals: per stage that kept them, each signal's histogram with its thresholds."""
    body = []
    for stage in stages:
        spec = {**stage.params.model_dump(mode="json"), "id": stage.id}
        if not spec.get("keep_signals"):
            continue
        prefix = f"{spec['id']}_"
        columns = [c for c in run.columns if c.startswith(prefix)]
        if not columns:
            continue
        width = 4
        height = math.ceil(len(columns) / width)
        plot = figure(12, 2.3 * height + 0.4)
        axes = plot.subplots(height, width, squeeze=False).ravel()
        for ax, column in zip(axes, columns):
            signal = column.removeprefix(prefix)
            values = run.values(column)
            histogram(ax, values, signal, signal_thresholds(spec, signal))
        for ax in axes[len(columns):]:
            ax.set_visible(False)
        plot.suptitle(f"{spec['id']} signals of kept documents (dashed: thresholds)", fontsize=10)
        body += [f"<h3>{html.escape(spec['id'])}</h3>", run.plot(f"quality-{spec['id']}", plot)]
    if not body:
        return None
    body.insert(0, '<p class="note">Signals of the kept documents only (rejected rows keep no signals); '
                   "a threshold shows how close the corpus sits to it.</p>")
    return Section("quality", "Quality signals", body)
