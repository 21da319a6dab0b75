"""The map stage over one rule set of `curate.filters`: signals per document, then the rule set's first failing rule.

Four stages are built on it, one file each: `gopher_quality`, `gopher_repetition`, `c4_quality`, `fineweb_quality`.
A stage's parameters are its filter's published thresholds plus `keep_signals`, which keeps the signal columns
(`<stage id>_<signal>`, float64) so users can re-threshold without recomputing. Reject rules are the filter's rule
names (`gopher_quality:mean_word_length`). A stage reads `lang` where one before it added the column (language-aware
rules). `c4_quality` also removes the lines its rules drop, so it modifies `text`.
"""
from __future__ import annotations

import dataclasses
from types import ModuleType
from typing import Any, ClassVar

import pyarrow as pa

from curate.pipeline.stage import Stage, emit


class HeuristicStage(Stage):
    """A rule set of `curate.filters` applied to every kept document."""

    module: ClassVar[ModuleType]

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
