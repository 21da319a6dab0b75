"""The map stage over one rule set of `curate.filters`: signals per document, then the rule set's first failing rule.

Four stages are built on it, one file each: `gopher_quality`, `gopher_repetition`, `c4_quality`, `fineweb_quality`.
A stage's parameters are its filter's published thresholds plus `keep_signals`, which keeps the signal columns
(`<stage id>_<signal>`, float64) so users can re-threshold without recomputing. Reject rules are the filter's rule
names (`gopher_quality:mean_word_length`). A stage reads `lang` where one before it added the column (language-aware
rules). `c4_quality` also removes the lines its rules drop, so it modifies `text`. The run report draws the kept
signals against the thresholds the stage's parameters set (`signals_section`).

The three rule sets FineWeb-2 tuned per language (`gopher_repetition`, `gopher_quality`, `fineweb_quality`) take
`LanguageParams` too. With `thresholds: fineweb2` each document is judged by its language's FineWeb-2 config
(`curate.filters.fineweb2`): the batch is grouped by language, each group's words come from that language's word
tokenizer (`curate.filters.words`), its signals are measured as FineWeb-2 measured them, and one vectorised comparison
applies the group's bounds (a `Judge` per language, made once per worker). The language is the `language` parameter,
else the document's `lang` (a FineWeb-2 code as it is, a short label such as lid.176's mapped with
`curate.filters.languages`); a language without a config is judged by `language_fallback`'s config, or rejected as
`no_language_config`. `overrides` changes thresholds for all languages or for one.
"""
from __future__ import annotations

import dataclasses
import html
import math
from collections import defaultdict
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.filters.fineweb2.configs import LanguageConfig, config, configs
from curate.filters.fineweb2.decide import STEMS, bounds, first_failing
from curate.filters.languages import fineweb2_code
from curate.filters.words import MissingPackage, WordTokenizer, word_tokenizer
from curate.pipeline.errors import CurateError
from curate.pipeline.sections import Report, RunView, Section, figure, histogram
from curate.pipeline.stage import Params, Stage, emit


def signal_thresholds(spec: dict, signal: str) -> list[tuple[float, str]]:
    """The thresholds a quality stage's config sets on `signal` (min_/max_ parameters), as (value, label)."""
    stem = STEMS.get(signal, signal)
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
        per_language = spec.get("thresholds") == "fineweb2"  # no one threshold to draw
        for ax, column in zip(axes, columns):
            signal = column.removeprefix(prefix)
            values = run.values(column)
            histogram(ax, values, signal, [] if per_language else signal_thresholds(spec, signal))
        for ax in axes[len(columns):]:
            ax.set_visible(False)
        how = "thresholds per language: FineWeb-2's configs" if per_language else "dashed: thresholds"
        plot.suptitle(f"{spec['id']} signals of kept documents ({how})", fontsize=10)
        body += [f"<h3>{html.escape(spec['id'])}</h3>", run.plot(f"quality-{spec['id']}", plot)]
    if not body:
        return None
    body.insert(0, '<p class="note">Signals of the kept documents only (rejected rows keep no signals); '
                   "a threshold shows how close the corpus sits to it.</p>")
    return Section("quality", "Quality signals", body)


class LanguageParams(Params):
    """What the rule sets FineWeb-2 tuned per language take besides their thresholds: where the thresholds come from,
    and the language."""

    thresholds: Literal["fixed", "fineweb2"] = Field(
        "fixed", description="fixed: the thresholds below, for every document; fineweb2: the FineWeb-2 config of "
                             "each document's language (thresholds, stop words, word tokenizer) and FineWeb-2's fixed "
                             "choices")
    language: str | None = Field(None, description="the language of every document (deu_Latn, de), instead of "
                                                   "the lang column")
    language_fallback: str | None = Field(None, description="fineweb2: the config (a FineWeb-2 code) for documents "
                                                            "whose language has none; none: reject them as "
                                                            "no_language_config")
    overrides: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="fineweb2: thresholds that replace the configs' values, for 'all' "
                                          "languages or by FineWeb-2 code: {all: {min_stop_words: 3}}")

    @classmethod
    def threshold_names(cls) -> list[str]:
        """The rule set's own numeric parameters (what `overrides` may set)."""
        own = set(cls.model_fields) - set(LanguageParams.model_fields) - {"keep_signals"}
        return sorted(name for name in own if cls.model_fields[name].annotation in (int, float))

    @model_validator(mode="after")
    def _check_languages(self) -> LanguageParams:
        if self.thresholds != "fineweb2":
            if self.language_fallback or self.overrides:
                raise ValueError("language_fallback and overrides apply with thresholds: fineweb2 only")
            return self
        changed = [name for name, field in type(self).model_fields.items()
                   if name not in LanguageParams.model_fields and name != "keep_signals"
                   and getattr(self, name) != field.default]
        if changed:
            raise ValueError(f"thresholds: fineweb2 takes {', '.join(changed)} from each language's config: set "
                             f"{'it' if len(changed) == 1 else 'them'} in overrides (all: or per language)")
        if self.language_fallback is not None and config(self.language_fallback) is None:
            raise ValueError(f"language_fallback {self.language_fallback!r} is not a FineWeb-2 config (a code such as "
                             "deu_Latn)")
        names = self.threshold_names()
        for key, values in self.overrides.items():
            if key != "all" and config(key) is None:
                raise ValueError(f"overrides: {key!r} is neither 'all' nor a FineWeb-2 config (a code such as "
                                 "deu_Latn)")
            unknown = sorted(set(values) - set(names))
            if unknown:
                raise ValueError(f"overrides.{key}: {', '.join(unknown)} is not a threshold here "
                                 f"(one of {', '.join(names)})")
        if self.language is not None:
            code = fineweb2_code(self.language)
            if config(code) is None and self.language_fallback is None:
                raise ValueError(f"language {self.language!r} ({code}) has no FineWeb-2 config: name another, or "
                                 "set language_fallback")
            missing = word_tokenizer(code).missing()
            if missing:
                raise ValueError(f"language {code} needs {', '.join(missing)} for its words: "
                                 "pip install 'curate[multilingual]'")
        return self


@dataclass
class Judge:
    """How the documents of one language are judged under FineWeb-2's configs: the config (the language's own, or the
    fallback's; None: rejected), the rule set's thresholds over it with the overrides, their bounds, the tokenizer."""

    code: str | None
    config: LanguageConfig | None
    thresholds: Any
    lower: np.ndarray
    upper: np.ndarray
    tokenizer: WordTokenizer


class HeuristicStage(Stage):
    """A rule set of `curate.filters` applied to every kept document."""

    module: ClassVar[ModuleType]
    # The rule set as FineWeb-2 measured it (`curate.filters.fineweb2.<rule set>`); None: no `thresholds: fineweb2`.
    fineweb2: ClassVar[ModuleType | None] = None
    report = Report(signals_section)

    @property
    def per_language(self) -> bool:
        return self.fineweb2 is not None and self.params.thresholds == "fineweb2"

    def requires(self) -> tuple[str, ...]:
        if self.per_language and self.params.language is None:
            return ("text", "lang")
        return ("text",)

    def adds(self) -> dict[str, pa.DataType]:
        if not self.params.keep_signals:
            return {}
        return {f"{self.id}_{signal}": pa.float64() for signal in self.module.SIGNALS}

    def setup(self) -> None:
        values = self.params.model_dump()
        self.thresholds = self.module.Thresholds(
            **{f.name: values[f.name] for f in dataclasses.fields(self.module.Thresholds)}
        )
        self.judges: dict[str | None, Judge] = {}

    def measure(self, text: str, lang: str | None) -> tuple[str | None, dict[str, float]]:
        """(the text rewritten, or None when unchanged; the signals)."""
        return None, self.module.signals(text, lang)

    def measure_fineweb2(self, texts: list[str], words: list[list[str]], judge: Judge) -> list[dict[str, float]]:
        """The signals as FineWeb-2 measured them, for each of one language's texts with its words."""
        return [self.fineweb2.signals(text, ws) for text, ws in zip(texts, words)]

    def languages(self, batch: pa.RecordBatch) -> list[str | None]:
        """Each document's language: the `language` parameter, else the `lang` column, else None."""
        pinned = getattr(self.params, "language", None)
        if pinned or "lang" not in batch.schema.names:
            return [pinned] * batch.num_rows
        return batch.column("lang").to_pylist()

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.per_language:
            return self.process_per_language(batch)
        texts = batch.column("text").to_pylist()
        measured = [self.measure(text or "", lang) for text, lang in zip(texts, self.languages(batch))]
        reasons = [self.module.reject(sig, self.thresholds) for _, sig in measured]
        columns: dict[str, Any] = {}
        if self.params.keep_signals:
            columns = {f"{self.id}_{name}": pa.array([sig[name] for _, sig in measured], pa.float64())
                       for name in self.module.SIGNALS}
        if "text" in self.modifies():
            columns["text"] = pa.array([new if new is not None else old for (new, _), old in zip(measured, texts)],
                                       pa.string())
        return emit(batch, reasons, **columns)

    def judge(self, code: str | None) -> Judge:
        """The judge of language `code` (a FineWeb-2 code, or a label without a config), made once per worker."""
        if code not in self.judges:
            own = config(code) if code else None
            used = own or (config(self.params.language_fallback) if self.params.language_fallback else None)
            thresholds, lower, upper = None, np.empty(0), np.empty(0)
            if used is not None:
                overrides = {**self.params.overrides.get("all", {}), **self.params.overrides.get(used.code, {})}
                thresholds = dataclasses.replace(self.fineweb2.thresholds(used), **overrides)
                lower, upper = bounds(thresholds, self.module.SIGNALS)
            self.judges[code] = Judge(code, used, thresholds, lower, upper, word_tokenizer(code))
        return self.judges[code]

    def process_per_language(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`thresholds: fineweb2`: the batch grouped by language, each group measured and decided at once."""
        texts = [text or "" for text in batch.column("text").to_pylist()]
        known = configs()
        groups: dict[str | None, list[int]] = defaultdict(list)
        for row, (text, lang) in enumerate(zip(texts, self.languages(batch))):
            groups[lang if not lang or lang in known else fineweb2_code(lang, text)].append(row)
        names = self.module.SIGNALS
        values = np.full((len(texts), len(names)), np.nan)
        reasons: list[str | None] = ["no_language_config"] * len(texts)
        for code, rows in groups.items():
            judge = self.judge(code)
            if judge.config is None:
                continue
            group_texts = [texts[row] for row in rows]
            try:
                words = judge.tokenizer.words_of(group_texts)
            except MissingPackage as error:
                raise CurateError(f"{self.id}: documents in {code}: {error}") from None
            measured = self.measure_fineweb2(group_texts, words, judge)
            group = np.array([[sig[name] for name in names] for sig in measured], np.float64)
            values[rows] = group
            for row, reason in zip(rows, first_failing(group, judge.lower, judge.upper, names)):
                reasons[row] = reason
        columns: dict[str, Any] = {}
        if self.params.keep_signals:
            columns = {f"{self.id}_{name}": pa.array(values[:, k], pa.float64()) for k, name in enumerate(names)}
        return emit(batch, reasons, **columns)
