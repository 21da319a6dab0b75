"""quality_classifier: a model's quality score for every document (`quality_score`); keeps by threshold or top fraction.

A global stage whose key is the score. Its keys (computed per file, in the task of the pass before it) are the
document's `uid`, its `quality_score`, and a 64-bit rank: the score's float32 bits in an order-preserving form, then
32 bits of a hash of the uid to break ties the same way on every engine. The decision keeps documents whose rank is at
least a cutoff:
- `threshold: t` -> the rank of (t as float32, hash 0): kept iff quality_score >= t; rule `below_threshold`;
- `keep_fraction: f` -> exactly round(f * N) documents of the N the stage sees, the highest ranks. The engines find
  the cutoff by radix selection on the rank's four 16-bit digits: each round counts documents per digit (at most
  65,536 rows) among those whose earlier digits match, and `select` (pure, below) picks the digit where the cut lies.
  Four rounds give the exact k-th rank. Only documents with an identical 64-bit rank (the same float32 score and the
  same 32-bit uid hash) can make the kept count differ from k, by the size of that tie (`kept` in the summary says
  what happened); rule `below_keep_fraction`;
- neither: scores only.

Backends (one interface: texts -> scores):
- `fasttext` (default): a fastText supervised model file — one `curate quality train` wrote (DCLM's recipe), or a
  published one such as DCLM's `openhermes_reddit_eli5_vs_rw_v2_bigram_200k_train.bin` (fasttext_oh_eli5). The score
  is the probability of `label` (default `__label__hq`, DCLM's and ours). Text is prepared as the model was trained:
  by the model card beside it (`<model>.json`, written by `curate quality train`: lower-cased, newlines to spaces),
  else as DCLM's published scorer does (newlines to spaces, case kept); :mod:`curate.filters.quality_model`, which
  the command shares.
- `huggingface`: a local sequence-classification checkpoint folder (config.json, weights, tokenizer), loaded by
  transformers' Auto classes, offline. A regression head (one output, FineWeb-Edu's classifier) gives its raw output
  as the score; a classification head the softmax probability of `label` (a name in its id2label). Texts are batched
  by length (longest first, less padding), truncated at `max_length` tokens, on the GPU when there is one.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
from pydantic import Field, model_validator

from curate.filters.quality_model import FastTextScorer, ModelError
from curate.filters.uid_hash import uid_hash
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.stage import GlobalStage, Params

DIGIT_BITS = 16
LEVELS = 4  # 4 x 16 bits: the whole 64-bit rank
RANK_SALT = 0x7175616C697479  # "quality": independent of balance's and the split's hashes
KEEP_ALL, KEEP_NONE = np.iinfo(np.int64).min, np.iinfo(np.int64).max
TEST_TEXT = "A short test text, scored once when the run is planned to see that the model answers."


class QualityClassifierParams(Params):
    model: str = Field(description="fasttext: a model file (.bin); huggingface: a local checkpoint folder")
    backend: Literal["fasttext", "huggingface"] = Field("fasttext", description="fasttext or huggingface")
    label: str | None = Field(None, description="the positive label; none = __label__hq for fasttext, "
                                                "the regression output for a huggingface regression head")
    threshold: float | None = Field(None, description="keep documents with quality_score >= threshold")
    keep_fraction: float | None = Field(None, gt=0, le=1,
                                        description="keep this top fraction of the whole corpus by quality_score")
    batch_size: int = Field(32, gt=0, description="texts per model call (huggingface)")
    max_length: int = Field(512, gt=0, description="tokens per text (huggingface; the rest is cut)")
    device: str | None = Field(None, description="torch device (huggingface); none = cuda when present, else cpu")

    @model_validator(mode="after")
    def _one_rule(self) -> QualityClassifierParams:
        if self.threshold is not None and self.keep_fraction is not None:
            raise ValueError("give threshold or keep_fraction, not both")
        if "://" in self.model:
            raise ValueError(f"model {self.model!r}: a local path is needed (copy the model to every worker)")
        # the model file or folder is checked with every stage's files when the run is planned (`files`)
        model = Path(self.model)
        if self.backend == "huggingface" and model.exists() and not (model / "config.json").is_file():
            raise ValueError(f"{self.model!r} is not a local Hugging Face checkpoint folder (no config.json)")
        return self

    def positive_label(self) -> str | None:
        return self.label or ("__label__hq" if self.backend == "fasttext" else None)


class HuggingFaceScorer:
    """A local sequence-classification checkpoint loaded by transformers; batches sorted by length."""

    def __init__(self, params: QualityClassifierParams) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.torch = torch
        self.device = params.device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(params.model, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(params.model, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - OSError, ValueError, a SafetensorError for a file cut short: one line
            first = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
            raise CurateError(f"quality_classifier: cannot load the checkpoint {params.model!r} ({first})") from None
        self.model.to(self.device).eval()
        config = self.model.config
        self.regression = config.num_labels == 1 or config.problem_type == "regression"
        self.index = None
        if not self.regression:
            names = {name: int(i) for i, name in config.id2label.items()}
            if params.label not in names:
                raise CurateError(f"quality_classifier: the checkpoint's labels are {', '.join(names)}; set "
                                  f"quality_classifier.label to the positive one (got {params.label!r})")
            self.index = names[params.label]
        self.batch_size, self.max_length = params.batch_size, params.max_length

    def __call__(self, texts: list[str | None]) -> np.ndarray:
        texts = [t or "" for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")
        scores = np.zeros(len(texts), np.float32)
        with self.torch.inference_mode():
            for at in range(0, len(texts), self.batch_size):
                rows = order[at: at + self.batch_size]
                inputs = self.tokenizer([texts[i] for i in rows], truncation=True, max_length=self.max_length,
                                        padding=True, return_tensors="pt").to(self.device)
                logits = self.model(**inputs).logits.float()
                values = logits[:, 0] if self.regression else logits.softmax(-1)[:, self.index]
                scores[rows] = values.cpu().numpy()
        return scores


def new_scorer(params: QualityClassifierParams):
    """The scorer of the stage's model; a model that cannot be loaded is one line."""
    if params.backend == "fasttext":
        try:
            return FastTextScorer(params.model, params.positive_label())
        except ModelError as error:
            raise CurateError(str(error)) from None
    return HuggingFaceScorer(params)


@lru_cache(maxsize=4)
def load_scorer(params: QualityClassifierParams):
    """One scorer per worker process and parameters: the model loads once, not once per file."""
    return new_scorer(params)


def check_scorer(params: QualityClassifierParams) -> None:
    """When the run is planned: the model loads (a fastText file walked whole first) and scores a test text with a
    finite number. Not cached: the driver does not keep a model the workers load for themselves."""
    try:
        scores = new_scorer(params)([TEST_TEXT])
    except CurateError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever a checkpoint's loader or forward pass raises: one line
        first = (str(error).strip().splitlines() or [""])[0][:200]
        raise CurateError(f"model {params.model!r} cannot score a test text ({type(error).__name__}: {first})") \
            from None
    if not np.isfinite(scores).all():
        raise CurateError(f"model {params.model!r} scores a test text {float(scores[0])}, not a number")


def _ordered(scores: np.ndarray) -> np.ndarray:
    """float32 scores as uint64 whose unsigned order is the scores' order (NaN lowest, -0.0 as 0.0)."""
    scores = scores.astype(np.float32)
    bits = (np.where(np.isnan(scores), np.float32(-np.inf), scores) + np.float32(0)).view(np.uint32)
    return np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000)).astype(np.uint64)


def ranks(scores: np.ndarray, uids: pa.Array) -> np.ndarray:
    """The signed 64-bit rank of each document: order-preserving float32 score bits, then 32 bits of a uid hash."""
    unsigned = (_ordered(scores) << np.uint64(32)) | (uid_hash(uids, 0, RANK_SALT) >> np.uint64(32))
    return (unsigned ^ np.uint64(1 << 63)).view(np.int64)


def digits(rank: np.ndarray) -> list[np.ndarray]:
    """The rank's four 16-bit digits, most significant first, of its unsigned form (so digits order as ranks)."""
    unsigned = rank.view(np.uint64) ^ np.uint64(1 << 63)
    return [((unsigned >> np.uint64(DIGIT_BITS * (LEVELS - 1 - level))) & np.uint64(0xFFFF)).astype(np.int32)
            for level in range(LEVELS)]


def rank_of_prefix(prefix: list[int]) -> int:
    """The signed rank whose digits are `prefix` (then zeros)."""
    unsigned = 0
    for digit in prefix + [0] * (LEVELS - len(prefix)):
        unsigned = (unsigned << DIGIT_BITS) | digit
    return unsigned - (1 << 63)


def select(histogram: dict[int, int], state: dict | None, keep_fraction: float) -> dict:
    """One round of the radix selection: the digit the cut falls in, among documents matching the prefix so far.

    `histogram` counts those documents per digit of this round; `state` is the previous round's result (None for the
    first: then the histogram covers the whole corpus, which sets N and k = round(f * N)). Pure: both engines call it
    on the same counts. `need` is how many documents to keep among those matching the prefix; it stays >= 1.
    """
    if state is None:
        documents = sum(histogram.values())
        keep = int(np.floor(keep_fraction * documents + 0.5))
        state = {"documents": documents, "keep": keep, "need": keep, "prefix": [], "tied": None,
                 "done": keep in (0, documents)}
    if state["done"]:
        return state
    above = 0
    for digit in sorted(histogram, reverse=True):
        if above + histogram[digit] >= state["need"]:
            prefix = state["prefix"] + [digit]
            return {**state, "prefix": prefix, "need": state["need"] - above, "tied": histogram[digit],
                    "done": len(prefix) == LEVELS}
        above += histogram[digit]
    raise ValueError(f"select: the counts ({above}) do not cover the {state['need']} documents to keep")


def cutoff(params: QualityClassifierParams, state: dict | None) -> tuple[int, str | None]:
    """The lowest rank kept and the reason of the documents below it (None: the stage only scores)."""
    if params.threshold is not None:
        lowest = int(_ordered(np.array([params.threshold]))[0]) << 32  # hash bits 0: every tie at t is kept
        return lowest - (1 << 63), "below_threshold"
    if params.keep_fraction is None:
        return KEEP_ALL, None
    if state["keep"] == 0:
        return KEEP_NONE, "below_keep_fraction"
    if state["keep"] == state["documents"]:
        return KEEP_ALL, "below_keep_fraction"
    return rank_of_prefix(state["prefix"]), "below_keep_fraction"


def summary(state: dict) -> dict[str, Any]:
    """What the keep_fraction decision did: documents seen, k, and how many the cutoff keeps (k unless ranks tie)."""
    kept = state["keep"] if state["keep"] in (0, state["documents"]) else \
        state["keep"] - state["need"] + state["tied"]
    return {"documents": state["documents"], "keep": state["keep"], "kept": kept}


def summary_path(stage_id: str) -> str:
    """Where the plans leave the summary of a keep_fraction decision (relative to the output root)."""
    return f"work/quality_classifier/{stage_id}.json"


@register
class QualityClassifier(GlobalStage):
    """Model quality score (fastText, or a Hugging Face classifier); keeps by threshold or top fraction (global)."""

    name = "quality_classifier"
    Params = QualityClassifierParams

    files = ("model",)

    def adds(self) -> dict[str, pa.DataType]:
        return {"quality_score": pa.float32()}

    def check_files(self) -> None:
        check_scorer(self.params)

    def score(self, texts: list[str | None]) -> np.ndarray:
        return load_scorer(self.params)(texts) if texts else np.zeros(0, np.float32)

    def key_schema(self) -> pa.Schema:
        return pa.schema([("uid", pa.binary(16)), ("quality_score", pa.float32()), ("rank", pa.int64()),
                          *((f"d{level}", pa.int32()) for level in range(LEVELS))])

    # The decision, as the plans call it: `select` once per digit level (`levels` rounds at most) with keep_fraction,
    # then `cutoff`; what keep_fraction did (`kept`) written to `summary_path`.
    levels = LEVELS

    def select(self, histogram: dict[int, int], state: dict | None) -> dict:
        return select(histogram, state, self.params.keep_fraction)

    def cutoff(self, state: dict | None) -> tuple[int, str | None]:
        return cutoff(self.params, state)

    kept = staticmethod(summary)

    def summary_path(self) -> str:
        return summary_path(self.id)

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        scores = self.score(batch.column("text").to_pylist())
        rank = ranks(scores, batch.column("uid"))
        return pa.RecordBatch.from_arrays([batch.column("uid"), pa.array(scores, pa.float32()), pa.array(rank),
                                           *(pa.array(d) for d in digits(rank))], schema=self.key_schema())
