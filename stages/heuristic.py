"""The map stage over one rule set of `curate.filters`: signals per document, then the rule set's first failing rule.

Four stages are built on it, one file each: `gopher_quality`, `gopher_repetition`, `c4_quality`, `fineweb_quality`.
A stage's parameters are its filter's published thresholds plus `keep_signals`, which keeps the signal columns
(`<stage id>_<signal>`, float64) so users can re-threshold without recomputing. Reject rules are the filter's rule
names (`gopher_quality:mean_word_length`). A stage reads `lang` where one before it added the column (language-aware
rules). `c4_quality` also removes the lines its rules drop, so it modifies `text`. The run report draws the kept
signals against the thresholds the stage's parameters set (`signals_section`).
"""
from __future__ import annotations

import dataclasses
import html
import math
from types import ModuleType
from typing import Any, ClassVar

import pyarrow as pa

from curate.pipeline.sections import RunView, Section, figure, histogram
from curate.pipeline.stage import Stage, emit


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


class HeuristicStage(Stage):
    """A rule set of `curate.filters` applied to every kept document."""

    module: ClassVar[ModuleType]
    report_section = staticmethod(signals_section)

    def adds(self) -> dict[str, pa.DataType]:
        if not self.params.keep_signals:
            return {}
        return {f"{self.id}_{signal}": pa.float64() for signal in self.module.SIGNALS}

    def setup(self) -> None:
        values = self.params.model_dump()
        self.thresholds = self.module.Thresholds(
            **{f.name: values[f.name] for f in dataclasses.fields(self.module.Thresholds)}
        )

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        """(the text rewritten, or None when unchanged; the signals)."""
        return None, self.module.signals(text, lang)

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        langs = batch.column("lang").to_pylist() if "lang" in batch.schema.names else [None] * len(texts)
        measured = [self.measure(text or "", lang) for text, lang in zip(texts, langs)]
        reasons = [self.module.reject(sig, self.thresholds) for _, sig in measured]
        columns: dict[str, Any] = {}
        if self.params.keep_signals:
            columns = {f"{self.id}_{name}": pa.array([sig[name] for _, sig in measured], pa.float64())
                       for name in self.module.SIGNALS}
        if "text" in self.modifies():
            columns["text"] = pa.array([new if new is not None else old for (new, _), old in zip(measured, texts)],
                                       pa.string())
        return emit(batch, reasons, **columns)
