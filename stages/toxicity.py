"""toxicity: scores documents with a classifier, adds `tox_<label>` columns, rejects above per-label thresholds.

Backends, one interface (texts -> {label: scores}):
- `profanity` (default, offline): alt-profanity-check, a linear SVM on TF-IDF word n-grams that ships its model;
  one label, `profanity`. Fast (~30k short texts/s) and crude: it keys on swear words, so it misses hate without them.
- `detoxify`: Detoxify's transformers (Hanu & Unitary 2020) — `original` (BERT, Jigsaw 2018: toxicity,
  severe_toxicity, obscene, threat, insult, identity_attack), `unbiased` (RoBERTa, Jigsaw 2019, + sexual_explicit)
  and `multilingual` (XLM-R, Jigsaw 2020, + sexual_explicit). Detoxify downloads weights; offline, set `checkpoint`
  to a local Detoxify checkpoint whose `config.arch.args.model_type` is a local folder holding the base model's
  config and tokenizer (docs/SAFETY.md shows how). Batched, longest-first, on the GPU when there is one.

A document is scored in chunks of `chunk_chars` characters (cut at whitespace, at most `max_chunks`) and each label's
score is the maximum over its chunks: one toxic paragraph in a long page counts, and the models see inputs of the
length they were trained on. Only documents in the model's languages are scored (by the `lang` column, when there
is one; `languages` changes that): the English models score clean German text as profane (0.6 on the demo crawl),
and a threshold would then remove other languages wholesale. With no `thresholds` the stage only scores (filters on
toxicity are known to remove text about minorities: see the bias stage); a label above its threshold rejects with
rule `<label>`.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.sections import Report, RunView, Section, figure, histogram, table
from curate.pipeline.stage import Params, Stage, emit

# The languages each model was trained on (Detoxify's README; alt-profanity-check: English tweets and comments).
MODEL_LANGUAGES = {"profanity": ["en"], "original": ["en"], "unbiased": ["en"],
                   "multilingual": ["en", "fr", "es", "it", "pt", "tr", "ru"]}
DETOXIFY_LABELS = {
    "original": ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"],
    "unbiased": ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack", "sexual_explicit"],
    "multilingual": ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack",
                     "sexual_explicit"],
}
PROFANITY_LABELS = ["profanity"]
TEST_TEXT = "A short test text, scored once when the run is planned to see that the model answers."
_SPACE = re.compile(r"\s+")


class ToxicityParams(Params):
    backend: Literal["profanity", "detoxify"] = Field("profanity", description="profanity (offline) or detoxify")
    model: Literal["original", "unbiased", "multilingual"] = Field("original", description="the Detoxify model")
    checkpoint: str | None = Field(None, description="a local Detoxify checkpoint file (offline use)")
    labels: list[str] | None = Field(None, description="labels to keep as tox_<label>; none = all of the model's")
    languages: list[str] | Literal["all"] | None = Field(
        None, description="score only documents whose `lang` is listed (others get null scores and are kept); "
                          "none = the languages the model was trained on; all = every document")
    thresholds: dict[str, float] = Field(default_factory=dict,
                                         description="reject when a label's score is above its threshold")
    device: str | None = Field(None, description="torch device for detoxify; none = cuda when present, else cpu")
    batch_size: int = Field(32, gt=0, description="texts per model call (detoxify)")
    chunk_chars: int = Field(2000, gt=0, description="characters per scored chunk")
    max_chunks: int = Field(16, gt=0, description="chunks scored per document (the rest of a long text is not)")

    @model_validator(mode="after")
    def _labels_exist(self) -> ToxicityParams:
        known = PROFANITY_LABELS if self.backend == "profanity" else DETOXIFY_LABELS[self.model]
        for name in [*(self.labels or []), *self.thresholds]:
            # a checkpoint may bring labels of its own: checked against the loaded model in setup()
            if name not in known and not (self.backend == "detoxify" and self.checkpoint):
                raise ValueError(f"unknown label {name!r} for backend {self.backend}"
                                 f"{' ' + self.model if self.backend == 'detoxify' else ''}; labels: {', '.join(known)}")
        missing = [name for name in self.thresholds if self.labels is not None and name not in self.labels]
        if missing:
            raise ValueError(f"thresholds name {', '.join(missing)}, which `labels` leaves out")
        return self

    def scored_languages(self) -> set[str] | None:
        if self.languages == "all":
            return None
        return set(self.languages or MODEL_LANGUAGES[self.backend if self.backend == "profanity" else self.model])

    def label_names(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        return PROFANITY_LABELS if self.backend == "profanity" else DETOXIFY_LABELS[self.model]


def chunks(text: str, size: int, limit: int) -> list[str]:
    """`text` with whitespace collapsed, in pieces of about `size` characters cut at spaces; at most `limit`."""
    text = _SPACE.sub(" ", text[: size * limit + size]).strip()
    out: list[str] = []
    while text and len(out) < limit:
        if len(text) <= size:
            out.append(text)
            break
        cut = text.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        out.append(text[:cut])
        text = text[cut:].lstrip()
    return out or [""]


class ProfanityScorer:
    """alt-profanity-check's bundled model: probability that a text is offensive."""

    labels = PROFANITY_LABELS

    def __init__(self) -> None:
        from profanity_check import predict_prob

        self._predict = predict_prob

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        return {"profanity": np.asarray(self._predict(texts), np.float64)}


class DetoxifyScorer:
    """A Detoxify model loaded by Detoxify's own code, scored in batches sorted by length (less padding)."""

    def __init__(self, params: ToxicityParams) -> None:
        import torch
        from detoxify import Detoxify

        device = params.device or ("cuda" if torch.cuda.is_available() else "cpu")
        if params.checkpoint:
            _check_checkpoint(Path(params.checkpoint))
        try:
            self.model = Detoxify(params.model, checkpoint=params.checkpoint, device=device)
        except Exception as error:  # noqa: BLE001 - any failure to fetch weights or configs offline lands here
            where = f"checkpoint {params.checkpoint!r}" if params.checkpoint else f"model {params.model!r}"
            raise CurateError(
                f"toxicity: cannot load Detoxify {where} ({type(error).__name__}: {_first_line(error)}); offline, set "
                "toxicity.checkpoint to a local Detoxify checkpoint whose model_type is a local folder "
                "(docs/SAFETY.md), or use backend: profanity") from None
        self.labels = list(self.model.class_names)
        self.batch_size = params.batch_size

    def __call__(self, texts: list[str]) -> dict[str, np.ndarray]:
        order = np.argsort([-len(t) for t in texts], kind="stable")
        scores = {label: np.zeros(len(texts)) for label in self.labels}
        for at in range(0, len(texts), self.batch_size):
            rows = order[at: at + self.batch_size]
            result = self.model.predict([texts[i] for i in rows])
            for label in self.labels:
                scores[label][rows] = np.atleast_1d(np.asarray(result[label], np.float64))
        return scores


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:200] if lines else ""


def _check_checkpoint(path: Path) -> None:
    """Fail before Detoxify would reach for the network: the file exists and its model_type is a local folder."""
    import torch

    if not path.is_file():
        raise CurateError(f"toxicity.checkpoint {str(path)!r} not found")
    try:  # mmap: the weights stay on disk; only the config is read here
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # never unpickle code
        model_type = loaded["config"]["arch"]["args"]["model_type"]
    except Exception as error:  # noqa: BLE001
        raise CurateError(f"toxicity.checkpoint {str(path)!r} is not a Detoxify checkpoint "
                          f"({type(error).__name__}: {_first_line(error)})") from None
    if not Path(model_type).is_dir():
        raise CurateError(f"toxicity.checkpoint {str(path)!r}: its model_type {model_type!r} is not a local folder, "
                          "so Detoxify would download that model's config and tokenizer; point model_type at a "
                          "folder holding them (docs/SAFETY.md)")


PREFIX = "tox_"  # the score columns: tox_<label>


def toxicity_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's toxicity: each score's histogram (log scale) with its threshold, mean and p99."""
    columns = [c for c in run.columns if c.startswith(PREFIX)]
    if not columns:
        return None
    thresholds = stages[-1].params.model_dump(mode="json").get("thresholds") or {}
    width = min(len(columns), 3)
    height = math.ceil(len(columns) / width)
    plot = figure(4 * width, 2.6 * height + 0.3)
    axes = plot.subplots(height, width, squeeze=False).ravel()
    rows = []
    for ax, column in zip(axes, columns):
        label = column.removeprefix(PREFIX)
        values = run.values(column)
        lines = [(float(thresholds[label]), f"threshold {thresholds[label]}")] if label in thresholds else []
        histogram(ax, values, column, lines, log=True)
        rows.append([column, len(values), float(values.mean()) if len(values) else None,
                     float(np.quantile(values, 0.99)) if len(values) else None, thresholds.get(label)])
    for ax in axes[len(columns):]:
        ax.set_visible(False)
    return Section("toxicity", "Toxicity", [run.plot("toxicity", plot),
                                           table(["score", "scored documents", "mean", "p99", "threshold"], rows)])


@register
class Toxicity(Stage):
    """Toxicity scores (alt-profanity-check offline, or Detoxify); per-label thresholds reject."""

    name = "toxicity"
    files = ("checkpoint",)
    Params = ToxicityParams
    report = Report(toxicity_section)

    def adds(self) -> dict[str, pa.DataType]:
        return {f"{PREFIX}{label}": pa.float32() for label in self.params.label_names()}

    def setup(self) -> None:
        self.scorer = self._scorer()

    def _scorer(self) -> ProfanityScorer | DetoxifyScorer:
        scorer = ProfanityScorer() if self.params.backend == "profanity" else DetoxifyScorer(self.params)
        wanted = self.params.label_names()
        unknown = [label for label in [*wanted, *self.params.thresholds] if label not in scorer.labels]
        if unknown:
            raise CurateError(f"toxicity: the model has no label {', '.join(unknown)} (labels: "
                              f"{', '.join(scorer.labels)}); fix toxicity.labels / toxicity.thresholds")
        return scorer

    def check_files(self) -> None:
        """A Detoxify checkpoint loads (weights only), has the labels asked for and scores a test text with numbers
        between 0 and 1; the bundled profanity model needs no check."""
        if self.params.backend != "detoxify":
            return
        try:
            scores = self._scorer()([TEST_TEXT])  # not kept: the workers load their own
        except CurateError:
            raise
        except Exception as error:  # noqa: BLE001 - a checkpoint whose weights do not fit its model
            raise CurateError(f"checkpoint {self.params.checkpoint!r} cannot score a test text "
                              f"({type(error).__name__}: {_first_line(error)})") from None
        bad = {label: float(v[0]) for label, v in scores.items() if not 0 <= float(v[0]) <= 1}
        if bad:
            raise CurateError(f"checkpoint {self.params.checkpoint!r} scores a test text {bad}: not probabilities")

    def score(self, texts: list[str | None]) -> dict[str, np.ndarray]:
        """Each label's score per text: the maximum over the text's chunks."""
        pieces = [chunks(t or "", self.params.chunk_chars, self.params.max_chunks) for t in texts]
        counts = np.array([len(p) for p in pieces])
        flat = [chunk for p in pieces for chunk in p]
        scored = self.scorer(flat) if flat else {label: np.zeros(0) for label in self.scorer.labels}
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        return {label: (np.maximum.reduceat(scored[label], starts) if len(texts) else np.zeros(0))
                for label in self.params.label_names()}

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        scored = np.ones(len(texts), bool)
        languages = self.params.scored_languages()
        if languages is not None and "lang" in batch.schema.names:
            scored = np.array([lang in languages for lang in batch.column("lang").to_pylist()], bool)
        chosen = np.flatnonzero(scored)
        values = self.score([texts[i] for i in chosen])
        scores = {label: np.full(len(texts), np.nan) for label in values}
        for label, part in values.items():
            scores[label][chosen] = part
        reasons: list[str | None] = [None] * batch.num_rows
        for label, threshold in self.params.thresholds.items():
            for i in np.flatnonzero(scores[label] > threshold).tolist():  # NaN (not scored) is never above
                reasons[i] = reasons[i] or label
        return emit(batch, reasons, **{f"tox_{label}": pa.array(v.astype(np.float32), mask=np.isnan(v))
                                       for label, v in scores.items()})
