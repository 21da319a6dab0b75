"""The ablation YAML (`curate ablate`): arms, the shared tokenizer, one training setup and the evaluation sets.

Validated with the pipeline config's one-line errors (`training.tokens: ...`); paths are relative to the working
directory, as in a pipeline file. docs/ABLATE.md describes every key.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from curate.pipeline.config import InputConfig, _lines
from curate.pipeline.errors import ConfigError

_NAME = r"^[A-Za-z0-9_.\-]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArmConfig(_Strict):
    name: str = Field(pattern=_NAME)
    pipeline: str | None = Field(None, description="a pipeline YAML, run on the ablation's input (or `after`)")
    after: str | None = Field(None, description="run the pipeline on this arm's documents instead of the input")
    output: str | None = Field(None, description="an existing curate output: its documents are the arm")

    @model_validator(mode="after")
    def _one_source(self) -> ArmConfig:
        if (self.pipeline is None) == (self.output is None):
            raise ValueError("give exactly one of `pipeline` (a pipeline YAML) or `output` (an existing curate output)")
        if self.after is not None and self.pipeline is None:
            raise ValueError("`after` needs a `pipeline` to run on that arm's documents")
        return self


class TokenizerConfig(_Strict):
    path: str | None = Field(None, description="a tokenizer.json for every arm; none: train one on all arms")
    vocab_size: int = Field(8192, ge=257, description="vocabulary of the trained tokenizer")
    sample: int = Field(20_000, gt=0, description="documents sampled from each arm to train it")


class TrainingConfig(_Strict):
    preset: Literal["tiny", "125M", "350M", "1B"] = "tiny"
    seq_len: int = Field(128, ge=2)
    tokens: int = Field(gt=0, description="training tokens per run, the same for every arm")
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    global_batch: int = Field(16, gt=0, description="sequences per optimizer step")
    micro_batch: int | None = Field(None, gt=0, description="sequences per forward; none = global_batch")
    lr: float = Field(3e-3, gt=0)
    min_lr: float = Field(3e-4, ge=0)
    warmup_steps: int = Field(20, ge=0)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "bf16", "float32"] = Field("auto", description="auto: bf16 on GPUs, float32 on CPUs")
    eval_every: int = Field(0, ge=0, description="steps between the trainer's validation evals (0: at the end only)")
    runs_at_once: int | None = Field(None, ge=1, description="runs in parallel; none = one per GPU, else 1")
    threads: int | None = Field(None, ge=1, description="CPU threads per run (train.threads); none = the trainer's "
                                 "default, the cores shared out between the runs at once")
    validation_fraction: float = Field(0.02, gt=0, lt=1, description="share of each arm held out for its own "
                                                                     "validation loss")

    @model_validator(mode="after")
    def _schedule(self) -> TrainingConfig:
        if self.min_lr > self.lr:
            raise ValueError("min_lr must not exceed lr")
        if self.global_batch % (self.micro_batch or self.global_batch):
            raise ValueError("global_batch must be a multiple of micro_batch")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds must differ")
        return self

    @property
    def tokens_per_step(self) -> int:
        return self.global_batch * self.seq_len

    @property
    def steps(self) -> int:
        """Optimizer steps per run: the token budget rounded up to whole steps (the same for every arm)."""
        return -(-self.tokens // self.tokens_per_step)


class ReferenceSet(_Strict):
    name: str = Field(pattern=_NAME)
    path: str = Field(description=".txt (one document per file), .jsonl or .parquet; a file, folder or glob")
    text_field: str = "text"


class ChoiceSet(_Strict):
    name: str = Field(pattern=_NAME)
    path: str = Field(description="JSONL, one item a line: {context, choices, gold}")


class EvaluationConfig(_Strict):
    reference: list[ReferenceSet] = Field(default_factory=list, description="bits per byte, each set separately")
    multiple_choice: list[ChoiceSet] = Field(default_factory=list)
    leak_ngrams: int = Field(13, ge=3, le=64, description="decontaminate's n: words per shared n-gram")
    batch: int = Field(32, gt=0, description="windows per forward pass")

    @model_validator(mode="after")
    def _distinct(self) -> EvaluationConfig:
        names = [s.name for s in self.reference] + [s.name for s in self.multiple_choice]
        if len(set(names)) != len(names):
            raise ValueError("reference and multiple_choice set names must all differ")
        return self


class SearchConfig(_Strict):
    """Mixture search over one arm's domains (docs/ABLATE.md, `curate.workflows.ablate_search`)."""

    arm: str = Field(description="the arm whose domains are mixed")
    metric: str = Field(description="what the chosen mixture should do best: bpb/<set>, acc/<set> or acc_norm/<set>")
    proxies: int = Field(24, ge=4, description="proxy runs, each on its own mixture")
    held_out: int = Field(6, ge=0, description="proxies left out of a first fit, to check its predictions")
    tokens: int = Field(gt=0, description="training tokens per proxy run")
    preset: Literal["tiny", "125M", "350M", "1B"] = Field("tiny", description="the proxies' model")
    concentration: float = Field(4.0, gt=0, description="Dirichlet concentration around the natural mixture: larger "
                                                        "draws closer to it")
    max_epochs: float = Field(4.0, ge=1, description="no domain repeated more at the full budget (training.tokens)")
    regression: Literal["quadratic", "linear", "boosted"] = Field(
        "quadratic", description="the regression that chooses; all three are fitted and shown")
    seed: int = Field(0, description="seed of the draws and of every proxy run")

    @model_validator(mode="after")
    def _enough_to_fit(self) -> SearchConfig:
        if self.proxies - self.held_out < 3:
            raise ValueError("proxies - held_out must leave at least 3 proxies to fit")
        return self


SEARCHED = ".searched"  # the verification arm: the searched arm's data on the chosen mixture, `<arm>.searched`


class AblationConfig(_Strict):
    output: str
    input: InputConfig | None = Field(None, description="what the pipeline arms run on (replaces their input)")
    arms: list[ArmConfig] = Field(min_length=1)
    tokenizer: TokenizerConfig = TokenizerConfig()
    training: TrainingConfig
    evaluation: EvaluationConfig = EvaluationConfig()
    search: SearchConfig | None = Field(None, description="mixture search over one arm's domains")

    @model_validator(mode="after")
    def _arms(self) -> AblationConfig:
        names = [a.name for a in self.arms]
        if len(names) < 2 and self.search is None:
            raise ValueError("give at least two arms to compare (one is enough with a `search:` section)")
        if len(set(names)) != len(names):
            raise ValueError("arm names must differ")
        if self.search is not None:
            if self.search.arm not in names:
                raise ValueError(f"search.arm: {self.search.arm!r} is not an arm ({', '.join(names)})")
            if self.search.arm + SEARCHED in names:
                raise ValueError(f"arm {self.search.arm + SEARCHED!r}: the name is the search's verification arm")
            sets = {f"bpb/{s.name}" for s in self.evaluation.reference} | {
                f"{kind}/{s.name}" for s in self.evaluation.multiple_choice for kind in ("acc", "acc_norm")}
            if self.search.metric not in sets:
                raise ValueError(f"search.metric: {self.search.metric!r} is not measured; one of "
                                 f"{', '.join(sorted(sets)) or '(no evaluation set)'}")
        for arm in self.arms:
            if arm.after is not None and arm.after not in names[:names.index(arm.name)]:
                raise ValueError(f"arm {arm.name!r}: `after: {arm.after}` must name an arm listed before it")
            if arm.pipeline is not None and arm.after is None and self.input is None:
                raise ValueError(f"arm {arm.name!r} runs a pipeline: give the ablation an `input`")
        return self


def load(path: str | Path, overrides: dict[str, Any] | None = None) -> AblationConfig:
    """Read and validate an ablation file; `overrides` (`output`, `input.paths`) replace its values."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read ablation file {str(path)!r}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML: {str(error).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the ablation file must be a mapping with output, input, arms, training")
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        section, _, field = key.partition(".")
        raw[section] = {**(raw.get(section) or {}), field: value} if field else value
    try:
        return AblationConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError("\n".join(_lines(error))) from None
