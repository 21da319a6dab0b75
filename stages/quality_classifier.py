"""quality_classifier: a model's quality score for every document (`quality_score`), or an ensemble's
(`quality_score_<name>` per model), token-weighted percentile buckets (`quality_bucket`); keeps by threshold, top
fraction or buckets.

Buckets (`buckets`, `combine`, `by`, `keep_buckets`): each model's B - 1 percentile cuts are a global decision of the
same kind, a weighted radix selection on each model's rank (the pure core is `quality_buckets`); a document's bucket
per model is floor(B x its token-weighted percentile), and its quality_bucket their max or rounded mean; rule
`outside_keep_buckets`.

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

The run report's section (`quality_section`): every document the classifier scored is counted once where it leaves
the run (a collector, `ScoreCounts`): its score in one of 65,536 buckets (the top 16 bits of the order-preserving
float32 bits, 1/128 of a value wide), and its URL's host, each split into kept and rejected by the classifier (a
document kept here and rejected by a later stage counts as kept here). The manifest's `quality_classifier.<id>` then
holds the totals, the cutoff score, a 40-bar histogram and the hosts with most documents, with the share kept.
"""
from __future__ import annotations

import html
import math
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.filters.quality_model import FastTextScorer, ModelError
from curate.filters.uid_hash import uid_hash
from curate.pipeline.errors import CurateError
from curate.pipeline.estimate import Estimate, KeySample
from curate.pipeline.output import Folder, Output
from curate.pipeline.registry import register
from curate.pipeline.sections import KEPT, REJECTED, Report, RunView, Section, figure, pct, table
from curate.pipeline.stage import Collector, Facts, GlobalStage, Params, Partial, Stage
from curate.stages import quality_buckets

DIGIT_BITS = 16
LEVELS = 4  # 4 x 16 bits: the whole 64-bit rank
RANK_SALT = 0x7175616C697479  # "quality": independent of balance's and the split's hashes
KEEP_ALL, KEEP_NONE = np.iinfo(np.int64).min, np.iinfo(np.int64).max
REPORT_KEY = "quality_classifier"  # the manifest's section, by stage id
SCORE_BINS = 40  # bars of the report's histogram
HOSTS_PER_FILE = 1_000  # hosts a file's partial names; the rest of its documents are counted under OTHER
TOP_HOSTS = 20  # hosts the report lists
OTHER, NO_URL = "(other)", "(no url)"
_HOST = r"^[A-Za-z][A-Za-z0-9+.\-]*://(?:[^@/?#]*@)?(?P<host>[^:/?#]*)"
TEST_TEXT = "A short test text, scored once when the run is planned to see that the model answers."


class ScoringModel(Params):
    """One classifier: a model file or checkpoint and how to read its score."""

    name: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$",
                             description="names the score column, quality_score_<name> (in `models:` only)")
    model: str = Field(description="fasttext: a model file (.bin); huggingface: a local checkpoint folder")
    backend: Literal["fasttext", "huggingface"] = Field("fasttext", description="fasttext or huggingface")
    label: str | None = Field(None, description="the positive label; none = __label__hq for fasttext, "
                                                "the regression output for a huggingface regression head")
    batch_size: int = Field(32, gt=0, description="texts per model call (huggingface)")
    max_length: int = Field(512, gt=0, description="tokens per text (huggingface; the rest is cut)")
    device: str | None = Field(None, description="torch device (huggingface); none = cuda when present, else cpu")

    @model_validator(mode="after")
    def _local(self) -> ScoringModel:
        if "://" in self.model:
            raise ValueError(f"model {self.model!r}: a local path is needed (copy the model to every worker)")
        # the model file or folder is checked with every stage's files when the run is planned (`files`)
        model = Path(self.model)
        if self.backend == "huggingface" and model.exists() and not (model / "config.json").is_file():
            raise ValueError(f"{self.model!r} is not a local Hugging Face checkpoint folder (no config.json)")
        return self

    def positive_label(self) -> str | None:
        return self.label or ("__label__hq" if self.backend == "fasttext" else None)

    def suffix(self) -> str:
        """What the model's key and output columns end with: `_<name>` in an ensemble, nothing for the one model."""
        return f"_{self.name}" if self.name else ""


class QualityClassifierParams(Params):
    model: str | None = Field(None, description="fasttext: a model file (.bin); huggingface: a local checkpoint folder")
    backend: Literal["fasttext", "huggingface"] = Field("fasttext", description="fasttext or huggingface")
    label: str | None = Field(None, description="the positive label; none = __label__hq for fasttext, "
                                                "the regression output for a huggingface regression head")
    models: list[ScoringModel] | None = Field(
        None, min_length=1, description="instead of model: several classifiers, {name, model, backend, label}, each "
                                        "scoring into quality_score_<name>")
    buckets: int | None = Field(None, ge=2, le=1000, description="quality_bucket 0..buckets-1 from each model's "
                                                                 "token-weighted percentile")
    combine: Literal["max", "mean"] = Field("max", description="quality_bucket from the models' buckets: the highest "
                                                                "(Nemotron-CC) or the mean, rounded")
    by: Literal["tokens", "characters"] = Field(
        "characters", description="what the percentiles weigh: tokens (needs n_tokens: tokenize first) or characters")
    threshold: float | None = Field(None, description="keep documents with quality_score >= threshold")
    keep_fraction: float | None = Field(None, gt=0, le=1,
                                        description="keep this top fraction of the whole corpus by quality_score")
    keep_buckets: list[int] | None = Field(None, min_length=1, description="keep documents whose quality_bucket is "
                                                                           "one of these")
    batch_size: int = Field(32, gt=0, description="texts per model call (huggingface)")
    max_length: int = Field(512, gt=0, description="tokens per text (huggingface; the rest is cut)")
    device: str | None = Field(None, description="torch device (huggingface); none = cuda when present, else cpu")

    @model_validator(mode="after")
    def _one_rule(self) -> QualityClassifierParams:
        if (self.model is None) == (self.models is None):
            raise ValueError("give model (one classifier) or models (several)" +
                             (", not both" if self.model is not None else ""))
        rules = [name for name in ("threshold", "keep_fraction", "keep_buckets") if getattr(self, name) is not None]
        if len(rules) > 1:
            raise ValueError(f"give one of threshold, keep_fraction and keep_buckets, not {' and '.join(rules)}")
        if self.models is not None:
            names = [m.name for m in self.models]
            if None in names or len(set(names)) < len(names):
                raise ValueError("every one of models needs a name of its own")
            if self.threshold is not None or self.keep_fraction is not None:
                raise ValueError("several models select by keep_buckets (threshold and keep_fraction are for one)")
        if self.keep_buckets is not None:
            if self.buckets is None:
                raise ValueError("keep_buckets needs buckets")
            outside = [b for b in self.keep_buckets if not 0 <= b < self.buckets]
            if outside:
                raise ValueError(f"keep_buckets {outside} outside 0..{self.buckets - 1}")
        self.scoring()  # the one model's checks
        return self

    def suffixes(self) -> list[str]:
        """What each model's key and output columns end with: `_<name>` in an ensemble, nothing for the one model."""
        return [m.suffix() for m in self.models] if self.models else [""]

    def scoring(self) -> list[ScoringModel]:
        """The classifiers, each with its own settings; the one `model` unnamed (its column is quality_score)."""
        if self.models is not None:
            return list(self.models)
        return [ScoringModel(model=self.model, backend=self.backend, label=self.label, batch_size=self.batch_size,
                             max_length=self.max_length, device=self.device)]


class HuggingFaceScorer:
    """A local sequence-classification checkpoint loaded by transformers; batches sorted by length."""

    def __init__(self, params: ScoringModel) -> None:
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


def new_scorer(params: ScoringModel):
    """The scorer of the stage's model; a model that cannot be loaded is one line."""
    if params.backend == "fasttext":
        try:
            return FastTextScorer(params.model, params.positive_label())
        except ModelError as error:
            raise CurateError(str(error)) from None
    return HuggingFaceScorer(params)


@lru_cache(maxsize=4)
def load_scorer(params: ScoringModel):
    """One scorer per worker process and parameters: the model loads once, not once per file."""
    return new_scorer(params)


def check_scorer(params: ScoringModel) -> None:
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


@dataclass(frozen=True)
class SelectionState:
    """Where the radix selection stands after a round: of the `documents` the stage sees, `keep` are kept; the digits
    chosen so far (`prefix`) hold the cut, `need` of the documents matching them are still to keep (it stays >= 1),
    and `tied` documents share the last digit chosen. `done` once the cut is found (or nothing needs choosing)."""

    documents: int
    keep: int
    need: int
    prefix: tuple[int, ...]
    tied: int | None
    done: bool


@dataclass(frozen=True)
class RadixSelection:
    """The quality classifier's decision, as both engines' plans call it: with `keep_fraction`, up to `levels` rounds
    of `select` (each on the counts per rank digit of the documents matching the digits chosen so far), then
    `cutoff`, the lowest rank kept; with `threshold`, `cutoff` alone. Pure: the engines only count."""

    threshold: float | None
    keep_fraction: float | None
    buckets: BucketSelection | None = None  # the quality buckets, when `buckets` is set
    levels: int = LEVELS

    def select(self, histogram: dict[int, int], state: SelectionState | None) -> SelectionState:
        """One round: the digit the cut falls in, among the documents matching `state.prefix`. `histogram` counts
        them per digit of this round; `state` is the previous round's (None for the first: then the histogram covers
        the whole corpus, which sets N and k = round(keep_fraction * N))."""
        if state is None:
            documents = sum(histogram.values())
            keep = int(np.floor(self.keep_fraction * documents + 0.5))
            state = SelectionState(documents, keep, keep, (), None, keep in (0, documents))
        if state.done:
            return state
        above = 0
        for digit in sorted(histogram, reverse=True):
            if above + histogram[digit] >= state.need:
                prefix = (*state.prefix, digit)
                return replace(state, prefix=prefix, need=state.need - above, tied=histogram[digit],
                               done=len(prefix) == self.levels)
            above += histogram[digit]
        raise ValueError(f"select: the counts ({above}) do not cover the {state.need} documents to keep")

    def matches(self, row_digits: list[int], state: SelectionState | None) -> bool:
        """Whether a document (its rank digits) matches the digits chosen so far, and so counts in the next round."""
        if state is not None and state.done:
            return False
        return all(row_digits[i] == digit for i, digit in enumerate(state.prefix if state else ()))

    def cutoff(self, state: SelectionState | None) -> tuple[int, str | None]:
        """The lowest rank kept and the reason of the documents below it (None: the stage only scores)."""
        if self.threshold is not None:
            lowest = int(_ordered(np.array([self.threshold]))[0]) << 32  # hash bits 0: every tie at t is kept
            return lowest - (1 << 63), "below_threshold"
        if self.keep_fraction is None:
            return KEEP_ALL, None
        if state.keep == 0:
            return KEEP_NONE, "below_keep_fraction"
        if state.keep == state.documents:
            return KEEP_ALL, "below_keep_fraction"
        return rank_of_prefix(list(state.prefix)), "below_keep_fraction"

    def summary(self, state: SelectionState | None) -> dict[str, Any] | None:
        """What a keep_fraction decision did (the plan's result, in the manifest under `plans.<id>`): documents
        seen, k, and how many the cutoff keeps (k unless ranks tie); None for a threshold or scores only."""
        if self.keep_fraction is None or state is None:
            return None
        kept = state.keep if state.keep in (0, state.documents) else state.keep - state.need + state.tied
        return {"documents": state.documents, "keep": state.keep, "kept": kept}

    def result(self, state: SelectionState | None, buckets: BucketState | None = None) -> dict[str, Any] | None:
        """The plan's result (the manifest's `plans.<id>`): what the keep_fraction selection did (`selection`) and,
        with buckets, each model's units per bucket and cuts (`buckets`); None when there is neither."""
        found = {"selection": self.summary(state)}
        if self.buckets is not None and buckets is not None:
            found["buckets"] = self.buckets.summary(buckets)
        found = {key: value for key, value in found.items() if value is not None}
        return found or None


BucketState = dict[str, Any]  # `quality_buckets.start`'s state: per model the total units and each cut's prefix


@dataclass(frozen=True)
class BucketSelection:
    """The quality buckets' decision, as both engines' plans call it (the pure core is `quality_buckets`): `start`,
    then per digit level the units per (prefix, digit) of each model's `wanted` prefixes -> `advance`; then `cuts`
    once, and `columns` places every document. `models` are the suffixes of each model's key columns (rank<suffix>,
    d0<suffix>..)."""

    models: tuple[str, ...]
    buckets: int
    combine: str
    keep_buckets: tuple[int, ...] | None
    levels: int = LEVELS

    def start(self) -> BucketState:
        return quality_buckets.start(list(self.models), self.buckets)

    def wanted(self, state: BucketState, model: str) -> list[int]:
        return quality_buckets.wanted(state, model)

    def advance(self, state: BucketState, histograms: dict[str, dict[tuple[int, int], int]]) -> BucketState:
        return quality_buckets.advance(state, histograms)

    def cuts(self, state: BucketState) -> dict[str, list[int]]:
        """Each model's cuts, once the rounds are done (what every document is then placed by)."""
        return {m: quality_buckets.cuts(state, m) for m in self.models}

    def summary(self, state: BucketState) -> dict[str, Any]:
        """Per model (by name; quality_score for the one model): its total units, units per bucket and cuts."""
        return {(m.lstrip("_") or "quality_score"): quality_buckets.summary(state, m) for m in self.models}

    def columns(self, ranks: dict[str, np.ndarray], cuts: dict[str, list[int]]) -> dict[str, pa.Array]:
        """Each key row's bucket per model (ensembles; `ranks` by model suffix), its quality_bucket, and
        `bucket_reason`: the reject reason when keep_buckets leaves it out."""
        per_model = {m: quality_buckets.bucket_of(ranks[m], cuts[m]) for m in self.models}
        combined = quality_buckets.combine(list(per_model.values()), self.combine)
        columns = {f"quality_bucket{m}": pa.array(b) for m, b in per_model.items() if m}
        columns["quality_bucket"] = pa.array(combined)
        reason = pa.nulls(len(combined), pa.string())
        if self.keep_buckets is not None:
            outside = ~np.isin(combined, self.keep_buckets)
            reason = pa.array(np.where(outside, "outside_keep_buckets", None).tolist(), pa.string())
        columns["bucket_reason"] = reason
        return columns


def score_of_rank(rank: int) -> float:
    """The float32 score a signed rank was made of (its top 32 bits: `_ordered` undone)."""
    bits = np.array([((rank + (1 << 63)) >> 32) & 0xFFFFFFFF], np.uint32)
    return float(np.where(bits & np.uint32(0x80000000), bits ^ np.uint32(0x80000000), ~bits).astype(np.uint32)
                 .view(np.float32)[0])



def score_buckets(scores: np.ndarray) -> np.ndarray:
    """The report's bucket of each score: the top 16 bits of its order-preserving float32 bits (buckets order as
    scores do; one spans 1/128 of a value)."""
    return (_ordered(scores) >> np.uint64(16)).astype(np.int64)


def bucket_floor(buckets: np.ndarray) -> np.ndarray:
    """The lowest float32 score of each bucket (`score_buckets` undone on the bucket's first bits)."""
    bits = (np.asarray(buckets, np.uint64) << np.uint64(16)).astype(np.uint32)
    return np.where(bits & np.uint32(0x80000000), bits ^ np.uint32(0x80000000), ~bits).astype(np.uint32) \
        .view(np.float32)


def hosts(urls: pa.Array) -> list[str]:
    """Each URL's host, lower-cased, without a leading `www.`; NO_URL where there is none."""
    found = pc.struct_field(pc.extract_regex(pc.fill_null(urls, ""), _HOST), "host")
    names = pc.utf8_lower(found).to_pylist()
    return [name.removeprefix("www.") if name else NO_URL for name in names]


class ScoreCounts(Collector):
    """The classifier's verdicts on one file's documents, counted where they leave the run: score buckets (of
    `column`: the one model's score, or the first model's) and hosts, each as [kept, rejected] by this stage, the
    lowest score it kept, and with `units` (buckets set) [documents, units] per (quality_bucket, rejected)."""

    def __init__(self, stage_id: str, column: str = "quality_score", units=None):
        self.prefix, self.column, self.units = f"{stage_id}:", column, units
        self.buckets: Counter[tuple[int, int]] = Counter()
        self.hosts: Counter[tuple[str, int]] = Counter()
        self.quality: dict[tuple[int, int], list[int]] = {}
        self.lowest_kept = math.inf

    def _count(self, rows: pa.RecordBatch, rejected: np.ndarray) -> None:
        if self.column not in rows.schema.names:
            return  # rows that left before the classifier scored them
        scored = rows.column(self.column).is_valid().to_numpy(zero_copy_only=False)
        if self.units is not None and "quality_bucket" in rows.schema.names:
            bucket = rows.column("quality_bucket").to_numpy(zero_copy_only=False)[scored].astype(np.int64)
            units = self.units(rows).to_numpy(zero_copy_only=False)[scored]
            for b in np.unique(bucket).tolist():
                for side in (0, 1):
                    mask = (bucket == b) & (rejected[scored] == bool(side))
                    if mask.any():
                        counts = self.quality.setdefault((b, side), [0, 0])
                        counts[0], counts[1] = counts[0] + int(mask.sum()), counts[1] + int(units[mask].sum())
        scores = rows.column(self.column).to_numpy(zero_copy_only=False)[scored].astype(np.float32)
        rejected = rejected[scored]
        finite = np.isfinite(scores)
        self.buckets.update(zip(score_buckets(scores[finite]).tolist(), rejected[finite].astype(int).tolist()))
        urls = rows.column("url").filter(pa.array(scored)) if "url" in rows.schema.names else \
            pa.nulls(len(scores), pa.string())
        self.hosts.update(zip(hosts(urls), rejected.astype(int).tolist()))
        if (~rejected).any():
            self.lowest_kept = min(self.lowest_kept, float(scores[~rejected].min()))

    def rejected(self, rows: pa.RecordBatch) -> None:
        mine = pc.starts_with(rows.column("reject_reason"), self.prefix).to_numpy(zero_copy_only=False)
        self._count(rows, mine.astype(bool))

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        self._count(rows, np.zeros(rows.num_rows, bool))
        return rows

    def close(self) -> Partial:
        by_host: dict[str, list[int]] = {}
        for (host, rejected), count in self.hosts.items():
            by_host.setdefault(host, [0, 0])[rejected] += count
        ordered = sorted(by_host.items(), key=lambda item: (-sum(item[1]), item[0]))
        other = [sum(counts[side] for _, counts in ordered[HOSTS_PER_FILE:]) for side in (0, 1)]
        buckets: dict[int, list[int]] = {}
        for (bucket, rejected), count in self.buckets.items():
            buckets.setdefault(bucket, [0, 0])[rejected] += count
        return Partial({"buckets": [[b, *counts] for b, counts in sorted(buckets.items())],
                        "hosts": [[h, *counts] for h, counts in ordered[:HOSTS_PER_FILE]], "other": other,
                        "lowest_kept": None if math.isinf(self.lowest_kept) else self.lowest_kept,
                        "quality_buckets": [[b, side, *counts] for (b, side), counts in sorted(self.quality.items())]})


def score_histogram(buckets: dict[int, list[int]]) -> dict[str, list]:
    """About SCORE_BINS bars from the lowest bucket's floor to the top of the highest, [kept, rejected] per bar. The
    bars' edges are moved to the nearest bucket floor below, so every bucket lies in one bar and the counts are exact
    for the edges given (bars differ in width by at most a bucket; fewer bars when the scores span fewer buckets)."""
    if not buckets:
        return {"edges": [], "kept": [], "rejected": []}
    ordered = np.array(sorted(buckets))
    top = ordered[-1] + 1
    even = np.linspace(float(bucket_floor(ordered[:1])[0]), float(bucket_floor(np.array([top]))[0]), SCORE_BINS + 1)
    cuts = np.unique(np.clip(score_buckets(even[1:-1]), ordered[0], top))
    edges = np.unique(np.concatenate([[ordered[0]], cuts, [top]]))  # as buckets: bar i is [edges[i], edges[i+1])
    bars = np.searchsorted(edges, ordered, side="right") - 1
    kept, rejected = np.zeros(len(edges) - 1, np.int64), np.zeros(len(edges) - 1, np.int64)
    for bar, bucket in zip(bars, ordered.tolist()):
        kept[bar] += buckets[bucket][0]
        rejected[bar] += buckets[bucket][1]
    return {"edges": bucket_floor(edges).astype(float).tolist(), "kept": kept.tolist(), "rejected": rejected.tolist()}


def quality_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's quality classifier: per stage, its scores (kept and rejected by it) with the cutoff, its
    totals, and the hosts with most documents with the share it kept."""
    results = run.manifest.get(REPORT_KEY, {})
    body = []
    for stage in stages:
        result = results.get(stage.id)
        if not result:
            continue
        bars = result["histogram"]
        plot = figure(9, 3.2)
        ax = plot.add_subplot()
        if bars["edges"]:
            edges = np.array(bars["edges"])
            ax.stairs(np.array(bars["kept"]) + np.array(bars["rejected"]), edges, fill=True, color=REJECTED,
                      label="rejected by the classifier")
            ax.stairs(bars["kept"], edges, fill=True, color=KEPT, label="kept by the classifier")
        if result["cutoff"] is not None:
            ax.axvline(result["cutoff"], color="black", linestyle="--", linewidth=1.2,
                       label=f"cutoff {result['cutoff']:.4g}")
        ax.set_xlabel(f"quality_score{stage.params.suffixes()[0]}")
        ax.set_ylabel("documents")
        ax.legend(fontsize=8)
        ax.set_title(f"{stage.id}: scores of the {result['documents']:,} documents it scored", fontsize=10)
        rule = "none (scores only)"
        if result["rule"] == "threshold":
            rule = f"quality_score >= {stage.params.threshold}"
        elif result["rule"] == "keep_fraction":
            rule = f"the top {stage.params.keep_fraction:g} of the corpus"
        rows = [["documents scored", result["documents"]],
                ["kept", f"{result['kept']:,} ({pct(result['kept'], result['documents'])})"],
                ["rejected", f"{result['rejected']:,} ({pct(result['rejected'], result['documents'])})"],
                ["rule", rule],
                ["cutoff (lowest score kept)", result["cutoff"]]]
        domains = [[d["domain"], d["kept"] + d["rejected"], d["kept"], pct(d["kept"], d["kept"] + d["rejected"])]
                   for d in result["domains"]]
        body += [f"<h3>{html.escape(stage.id)}</h3>", run.plot(f"{stage.id}-scores", plot),
                 table(None, rows, numeric_from=2),
                 f'<p class="note">Hosts with most scored documents (of each input file the {HOSTS_PER_FILE:,} '
                 f"largest are named, the others are counted under {OTHER}).</p>",
                 table(["host", "documents", "kept", "kept share"], domains)]
        if "buckets" in result:
            body.append(buckets_table(result["buckets"]))
    return Section("quality-classifier", "Quality classifier", body) if body else None


def buckets_table(buckets: dict[str, Any]) -> str:
    """Per quality_bucket: documents and units scored and kept, and each model's units in its own bucket of that number
    (1/B of the total each, to within one document) with the score where that bucket begins."""
    models = buckets["models"]
    header = ["quality_bucket", "documents", buckets["by"], "kept documents", f"kept {buckets['by']}"]
    header += [f"{name}: {buckets['by']} (from score)" for name in models]
    rows = []
    for row in buckets["quality_bucket"]:
        b = row["bucket"]
        cells = [b, row["documents"], row["units"], row["kept_documents"], row["kept_units"]]
        for info in models.values():
            start = f"{info['cut_scores'][b - 1]:.4g}" if b and info["cut_scores"] else "lowest"
            cells.append(f"{info['units'][b]:,} ({start})")
        rows.append(cells)
    return table(header, rows)


def quality_text(run: RunView, stages: list[Stage]) -> list[str]:
    """One line per classifier for the console: documents scored, kept, and the cutoff."""
    lines = []
    for stage in stages:
        result = run.manifest.get(REPORT_KEY, {}).get(stage.id)
        if result:
            cutoff = f", cutoff quality_score >= {result['cutoff']:.4g}" if result["cutoff"] is not None else ""
            lines.append(f"{stage.id}: {result['documents']:,} documents scored, {result['kept']:,} kept "
                         f"({pct(result['kept'], result['documents'])}){cutoff}")
    return lines


@register
class QualityClassifier(GlobalStage):
    """Model quality scores (fastText, Hugging Face; one or an ensemble), token-weighted percentile buckets; keeps by
    threshold, top fraction or buckets (global)."""

    name = "quality_classifier"
    Params = QualityClassifierParams
    report = Report(quality_section, quality_text)

    files = ("model", "models.model")

    def requires(self) -> tuple[str, ...]:
        return ("text", "n_tokens") if self.params.buckets and self.params.by == "tokens" else ("text",)

    def adds(self) -> dict[str, pa.DataType]:
        added = {f"quality_score{s}": pa.float32() for s in self.params.suffixes()}
        if self.params.buckets:
            added.update({f"quality_bucket{s}": pa.int32() for s in self.params.suffixes() if s})
            added["quality_bucket"] = pa.int32()
        return added

    def check_files(self) -> None:
        for model in self.params.scoring():
            check_scorer(model)

    def score(self, texts: list[str | None], model: ScoringModel | None = None) -> np.ndarray:
        """The scores of `model` (the first, or the one) for `texts`."""
        return load_scorer(model or self.params.scoring()[0])(texts) if texts else np.zeros(0, np.float32)

    def key_schema(self) -> pa.Schema:
        fields = [("uid", pa.binary(16))]
        if self.params.buckets:
            fields.append(("units", pa.int64()))
        for m in self.params.scoring():
            fields += [(f"quality_score{m.suffix()}", pa.float32()), (f"rank{m.suffix()}", pa.int64()),
                       *((f"d{level}{m.suffix()}", pa.int32()) for level in range(LEVELS))]
        return pa.schema(fields)

    def policy(self) -> RadixSelection:
        buckets = None
        if self.params.buckets:
            keep = tuple(self.params.keep_buckets) if self.params.keep_buckets is not None else None
            buckets = BucketSelection(tuple(self.params.suffixes()), self.params.buckets, self.params.combine, keep)
        return RadixSelection(self.params.threshold, self.params.keep_fraction, buckets)

    def estimate(self, sample: KeySample) -> Estimate:
        """What the plan moves: per selection round, one (digit, count) row per digit value among the documents
        still in play (the radix digits are 16 bits: 65,536 values at most), `LEVELS` rounds at most with
        `keep_fraction` and per model with `buckets`, all to the driver; then every document's decision row (its
        uid, scores and buckets; the reason and file key repeat, and compress away) once, to be written by input
        file. The largest histogram: of each digit, the values the sample's documents take, scaled up to the corpus
        where they are spread over most of the sample (a digit shared by most documents, as the top one of a score,
        stays as the sample has it). What one task holds is that histogram or its share of the decisions: one
        buffer at a time."""
        p = self.params
        models = len(p.scoring())
        selecting = p.keep_fraction is not None or bool(p.buckets)
        rounds = LEVELS * (int(p.keep_fraction is not None) + (models if p.buckets else 0)) if selecting else 1
        histogram = 0
        for name in (c for c in sample.keys.column_names if c.startswith("d") and c[1:2].isdigit()) if selecting \
                else ():
            seen = pc.count_distinct(sample.keys.column(name)).as_py()
            spread = seen * 2 >= sample.keys.num_rows
            histogram = max(histogram, min(1 << 16, sample.scaled(seen)) if spread else seen)
        decided = 16 + 4 * models + (4 * (models + 1) if p.buckets else 0)
        shuffle = sample.documents * decided + histogram * 16
        return Estimate(sample.documents, sample.key_bytes, round(shuffle), histogram,
                        sample.held(shuffle, histogram * 16), rounds,
                        bounds={"digits": f"{LEVELS} x 16 bits", "models": models},
                        suggestion="its decisions are spread over the shuffle partitions: raise them "
                        "(spark.sql.shuffle.partitions), or give workers more memory")

    def units(self, batch: pa.RecordBatch) -> pa.Array:
        """What a document weighs in the percentiles: its tokens or characters, at least 1."""
        if self.params.by == "tokens":
            amount = pc.fill_null(batch.column("n_tokens").cast(pa.int64()), 0)
        else:
            amount = pc.fill_null(pc.utf8_length(batch.column("text")), 0).cast(pa.int64())
        return pc.max_element_wise(amount, pa.scalar(1, pa.int64()))

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        texts = batch.column("text").to_pylist()
        arrays = [batch.column("uid")]
        if self.params.buckets:
            arrays.append(self.units(batch))
        for model in self.params.scoring():
            scores = self.score(texts, model)
            rank = ranks(scores, batch.column("uid"))
            arrays += [pa.array(scores, pa.float32()), pa.array(rank), *(pa.array(d) for d in digits(rank))]
        return pa.RecordBatch.from_arrays(arrays, schema=self.key_schema())

    def collector(self, folder: Folder, tag: str) -> Collector:
        return ScoreCounts(self.id, f"quality_score{self.params.suffixes()[0]}",
                           self.units if self.params.buckets else None)

    def result(self, partials: list[dict], output: Output, run: Facts) -> dict[str, Any]:
        """`quality_classifier.<id>` in the manifest: documents scored, kept and rejected by this stage, the rule and
        the cutoff (the threshold, or the lowest score the top fraction kept), the score histogram, the hosts."""
        buckets: dict[int, list[int]] = {}
        by_host: dict[str, list[int]] = {}
        other = [0, 0]
        for partial in partials:
            for bucket, kept, rejected in partial["buckets"]:
                counts = buckets.setdefault(bucket, [0, 0])
                counts[0], counts[1] = counts[0] + kept, counts[1] + rejected
            for host, kept, rejected in partial["hosts"]:
                counts = by_host.setdefault(host, [0, 0])
                counts[0], counts[1] = counts[0] + kept, counts[1] + rejected
            other = [other[0] + partial["other"][0], other[1] + partial["other"][1]]
        ordered = sorted(by_host.items(), key=lambda item: (-sum(item[1]), item[0]))
        for _, counts in ordered[TOP_HOSTS:]:
            other = [other[0] + counts[0], other[1] + counts[1]]
        domains = [{"domain": host, "kept": k, "rejected": r} for host, (k, r) in ordered[:TOP_HOSTS]]
        if sum(other):
            domains.append({"domain": OTHER, "kept": other[0], "rejected": other[1]})
        kept, rejected = sum(d["kept"] for d in domains), sum(d["rejected"] for d in domains)
        lowest = [p["lowest_kept"] for p in partials if p["lowest_kept"] is not None]
        rule = next((name for name in ("threshold", "keep_fraction", "keep_buckets")
                     if getattr(self.params, name) is not None), None)
        cutoff = float(np.float32(self.params.threshold)) if rule == "threshold" else \
            (min(lowest) if lowest else None) if rule == "keep_fraction" else None
        result = {"documents": kept + rejected, "kept": kept, "rejected": rejected, "rule": rule, "cutoff": cutoff,
                  "histogram": score_histogram(buckets), "domains": domains}
        planned = self.planned or {}
        if rule == "keep_fraction" and "selection" in planned:
            result["selection"] = planned["selection"]  # the plan's result: documents, keep = k, kept
        if self.params.buckets:
            result["buckets"] = self._buckets_result(partials, planned.get("buckets", {}))
        return {REPORT_KEY: {self.id: result}}

    def _buckets_result(self, partials: list[dict], planned: dict[str, Any]) -> dict[str, Any]:
        """Per quality_bucket the documents and units, kept and rejected (where they left the run), and per model the
        corpus's units in each of its buckets and the score where each bucket begins (the percentile cuts)."""
        rows = [[0, 0, 0, 0] for _ in range(self.params.buckets)]  # documents, units, kept documents, kept units
        for partial in partials:
            for bucket, rejected, documents, units in partial.get("quality_buckets", []):
                row = rows[bucket]
                row[0], row[1] = row[0] + documents, row[1] + units
                if not rejected:
                    row[2], row[3] = row[2] + documents, row[3] + units
        models = {name: {**info, "cut_scores": [score_of_rank(rank) for rank in info["cuts"]]}
                  for name, info in planned.items()}  # the plan's result: each model's units per bucket and cuts
        return {"by": self.params.by, "combine": self.params.combine, "keep_buckets": self.params.keep_buckets,
                "quality_bucket": [{"bucket": b, "documents": r[0], "units": r[1], "kept_documents": r[2],
                                    "kept_units": r[3]} for b, r in enumerate(rows)],
                "models": models}
