"""Heuristic quality stages: each wraps one rule set of `curate.filters` (signals + a decision) as a map stage.

A stage's parameters are its filter's published thresholds plus `keep_signals`, which keeps the signal columns
(`<stage id>_<signal>`, float64) so users can re-threshold without recomputing. Rules are the filter's rule names.
"""
from __future__ import annotations

import dataclasses
import typing
from types import ModuleType

import pyarrow as pa
from pydantic import Field, create_model

from curate.filters import gopher_quality
from curate.pipeline.registry import register
from curate.pipeline.stage import Params, Stage, emit


def _params_of(module: ModuleType) -> type[Params]:
    hints = typing.get_type_hints(module.Thresholds)
    fields = {f.name: (hints[f.name], f.default) for f in dataclasses.fields(module.Thresholds)}
    fields["keep_signals"] = (bool, Field(False, description="keep the signal columns"))
    return create_model(f"{module.__name__.rsplit('.', 1)[-1]}_params", __base__=Params, **fields)


def heuristic_stage(stage_name: str, module: ModuleType, summary: str) -> type[Stage]:
    """A registered map stage applying `module.signals` and `module.reject` to every document."""

    class Heuristic(Stage):
        __doc__ = summary
        name = stage_name
        Params = _params_of(module)
        optional = ("lang",)

        def adds(self) -> dict[str, pa.DataType]:
            if not self.params.keep_signals:
                return {}
            return {f"{self.id}_{signal}": pa.float64() for signal in module.SIGNALS}

        def setup(self) -> None:
            values = self.params.model_dump()
            self.thresholds = module.Thresholds(**{f.name: values[f.name]
                                                   for f in dataclasses.fields(module.Thresholds)})

        def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
            texts = batch.column("text").to_pylist()
            langs = batch.column("lang").to_pylist() if "lang" in batch.schema.names else [None] * len(texts)
            signals = [module.signals(text or "", lang) for text, lang in zip(texts, langs)]
            reasons = [module.reject(sig, self.thresholds) for sig in signals]
            columns = {}
            if self.params.keep_signals:
                columns = {f"{self.id}_{s}": pa.array([sig[s] for sig in signals], pa.float64())
                           for s in module.SIGNALS}
            return emit(batch, reasons, **columns)

    Heuristic.__name__ = Heuristic.__qualname__ = "".join(p.title() for p in stage_name.split("_"))
    return register(Heuristic)


GopherQuality = heuristic_stage(
    "gopher_quality", gopher_quality, "Gopher quality rules (Rae et al. 2021, App. A.1.1) with their thresholds."
)
