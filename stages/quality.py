"""Heuristic quality stages: each wraps one rule set of `curate.filters` (signals + a decision) as a map stage.

A stage's parameters are its filter's published thresholds plus `keep_signals`, which keeps the signal columns
(`<stage id>_<signal>`, float64) so users can re-threshold without recomputing. Reject rules are the filter's rule
names (`gopher_quality:mean_word_length`). `c4` also removes the lines its rules drop, so it modifies `text`.
"""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import pyarrow as pa
from pydantic import Field, create_model

from curate.filters import c4, fineweb, gopher_quality, gopher_repetition
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit


def _params_of(module: ModuleType, **extra: Any) -> type[Params]:
    hints = typing.get_type_hints(module.Thresholds)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(module.Thresholds)}
    fields["keep_signals"] = (bool, Field(False, description="keep the signal columns to re-threshold later"))
    fields.update(extra)
    return create_model(f"{module.__name__.rsplit('.', 1)[-1]}_params", __base__=Params, **fields)


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
        if self.modifies():
            columns["text"] = pa.array([new if new is not None else old for (new, _), old in zip(measured, texts)],
                                       pa.string())
        return emit(batch, reasons, **columns)


@register
class GopherQuality(HeuristicStage):
    """Gopher quality rules (Rae et al. 2021, App. A.1.1): word count and length, symbols, bullets, stop words."""

    name = "gopher_quality"
    module = gopher_quality
    Params = _params_of(gopher_quality)

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return None, gopher_quality.signals(text, lang, self.thresholds.punctuation_tokens)


@register
class GopherRepetition(HeuristicStage):
    """Gopher repetition rules (Rae et al. 2021, Table A1): duplicate lines, paragraphs and n-grams."""

    name = "gopher_repetition"
    module = gopher_repetition
    Params = _params_of(gopher_repetition)


@register
class FineWeb(HeuristicStage):
    """FineWeb's own rules (Penedo et al. 2024): line punctuation, short lines, duplicated lines, lists."""

    name = "fineweb_quality"
    module = fineweb
    Params = _params_of(fineweb)

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return None, fineweb.signals(text, lang, th=self.thresholds)


@register
class C4(HeuristicStage):
    """C4 rules (Raffel et al. 2020, §2.2): drops lines (no end mark, short, javascript, policy), then pages."""

    name = "c4_quality"
    files = ("bad_words_path",)
    module = c4
    Params = _params_of(c4, bad_words_path=(str | None, Field(None, description="file of bad words, one a line")))

    def modifies(self) -> tuple[str, ...]:
        return ("text",)

    def setup(self) -> None:
        super().setup()
        self.bad_words = None
        if self.params.bad_words_path:
            path = Path(self.params.bad_words_path)
            try:
                self.bad_words = c4.BadWords.of(path.read_text(encoding="utf-8").splitlines())
            except OSError as error:
                raise CurateError(f"c4_quality.bad_words_path {str(path)!r}: {error.strerror}") from None

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        return c4.clean(text, lang, th=self.thresholds, bad_words=self.bad_words)
