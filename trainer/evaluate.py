"""Evaluation of a trained model: bits per byte on reference text, multiple-choice accuracy, loss per token.

Every score is a sum of next-token log-probabilities computed in windows of at most `seq_len` predicted tokens:
a window is `seq_len + 1` tokens, its first token context only (lm-evaluation-harness's rolling windows with one
token of context, `get_rolling_token_windows(..., context_len=1)`). A text is scored as `[EOS] + tokens(text)`, the
EOS standing in for the end of the previous document, as the model saw documents during training.

- **Bits per byte**: the summed negative log-likelihood of a text's tokens, in bits, over its UTF-8 bytes:
  `sum(-ln p) / ln 2 / bytes`. The byte count does not depend on the tokenizer, so models with different vocabularies
  compare; the EOS that ends a document is not scored (the text does not contain it).
- **Multiple choice**, as lm-evaluation-harness scores HellaSwag, ARC and PIQA (`lm_eval/api/task.py`,
  `ConfigurableTask.process_results`): each choice is the continuation `" " + choice` after the context; `ll_i` is its
  summed log-likelihood; `acc` = [argmax ll == gold], `acc_norm` = [argmax ll_i / len(choice_i) == gold] with the
  length in characters; a context too long is cut from the left to fit one window. The standard error of an accuracy
  is the harness's `mean_stderr`: sample standard deviation (n - 1) over sqrt(n).
- **Loss per token**: the mean next-token loss (nats) over token sequences, such as a domain's validation documents.

Nothing here trains or knows about pipelines: the model comes from a trainer checkpoint (`load_model`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import checkpoint
from .config import TrainConfig
from .model import ModelArgs, Transformer

Encode = Callable[[str], list[int]]


def load_model(cfg: TrainConfig, vocab_size: int, device: torch.device | str = "cpu") -> Transformer:
    """The model of the newest checkpoint under `cfg.output`, in float32, in eval mode (one process)."""
    import torch.distributed.checkpoint as dcp

    last = checkpoint.latest(Path(cfg.output) / "checkpoints")
    if last is None:
        raise FileNotFoundError(f"{cfg.output}: no checkpoint to evaluate")
    m = cfg.model
    # As the trainer builds it: the vocabulary padded to a multiple of 128.
    args = ModelArgs(dim=m.dim, n_layers=m.n_layers, n_heads=m.n_heads, n_kv_heads=m.n_kv_heads, ffn_dim=m.ffn_dim,
                     vocab_size=-(-vocab_size // 128) * 128, max_seq_len=cfg.data.seq_len, rope_theta=m.rope_theta,
                     norm_eps=m.norm_eps)
    with torch.device(device):
        model = Transformer(args)
    state = {"model": model.state_dict()}
    with warnings.catch_warnings():  # one process by design: DCP's warning about that is noise here
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(last), planner=dcp.DefaultLoadPlanner(allow_partial_load=True))
    model.load_state_dict(state["model"])
    return model.eval()


def windows(tokens: Sequence[int], seq_len: int) -> list[np.ndarray]:
    """`tokens` cut into windows of <= seq_len + 1 tokens that overlap by one: every token after the first is a
    target exactly once."""
    tokens = np.asarray(tokens, np.int64)
    return [tokens[start:start + seq_len + 1] for start in range(0, max(len(tokens) - 1, 0), seq_len)]


@torch.inference_mode()
def logprob_sums(model: Transformer, spans: list[tuple[np.ndarray, int]], batch: int = 32) -> np.ndarray:
    """For each (window, first): the sum of log p(window[t + 1] | window[:t + 1]) over targets t >= first."""
    device = next(model.parameters()).device
    out = np.zeros(len(spans), np.float64)
    order = sorted(range(len(spans)), key=lambda i: len(spans[i][0]))  # similar lengths share a batch: less padding
    for at in range(0, len(order), batch):
        chosen = order[at:at + batch]
        width = max(len(spans[i][0]) for i in chosen) - 1
        inputs = torch.zeros(len(chosen), width, dtype=torch.long)
        targets = torch.zeros(len(chosen), width, dtype=torch.long)
        scored = torch.zeros(len(chosen), width, dtype=torch.bool)
        for row, i in enumerate(chosen):
            window, first = spans[i]
            n = len(window) - 1
            inputs[row, :n] = torch.from_numpy(window[:-1])
            targets[row, :n] = torch.from_numpy(window[1:])
            scored[row, first:n] = True
        logits = model(inputs.to(device)).float()
        # cross_entropy fuses log-softmax and the pick of the target: no second (batch, seq, vocab) tensor
        nll = F.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(), reduction="none")
        sums = -(nll.view(len(chosen), width) * scored.to(device)).sum(dim=1).double().cpu().numpy()
        out[chosen] = sums
    return out


@dataclass
class BitsPerByte:
    bits_per_byte: float
    bytes: int
    tokens: int
    documents: int


def bits_per_byte(model: Transformer, texts: Sequence[str], encode: Encode, eos_id: int, seq_len: int,
                  batch: int = 32) -> BitsPerByte:
    """Bits per UTF-8 byte of `texts`, each scored as its own document after one EOS."""
    spans, n_bytes, n_tokens = [], 0, 0
    for text in texts:
        ids = encode(text)
        n_bytes += len(text.encode("utf-8"))
        n_tokens += len(ids)
        spans += [(w, 0) for w in windows([eos_id, *ids], seq_len)]
    nll = -float(logprob_sums(model, spans, batch).sum()) if spans else 0.0
    return BitsPerByte(nll / math.log(2) / max(n_bytes, 1), n_bytes, n_tokens, len(texts))


@dataclass
class ChoiceItem:
    context: str
    choices: list[str]
    gold: int


@dataclass
class ChoiceScores:
    loglikelihoods: list[list[float]]  # per item, per choice
    acc: np.ndarray  # 0/1 per item
    acc_norm: np.ndarray  # 0/1 per item


def multiple_choice(model: Transformer, items: Sequence[ChoiceItem], encode: Encode, eos_id: int, seq_len: int,
                    batch: int = 32) -> ChoiceScores:
    """lm-evaluation-harness's acc and acc_norm (see the module docstring) for every item."""
    spans, owner = [], []
    for k, item in enumerate(items):
        context = [eos_id, *encode(item.context)]
        for choice in item.choices:
            continuation = encode(" " + choice)
            whole = np.asarray(context + continuation, np.int64)[-(seq_len + 1):]
            spans.append((whole, len(whole) - 1 - len(continuation)))
            owner.append(k)
    sums = logprob_sums(model, spans, batch) if spans else np.zeros(0)
    lls: list[list[float]] = [[] for _ in items]
    for k, value in zip(owner, sums):
        lls[k].append(float(value))
    acc = np.array([float(np.argmax(ll) == it.gold) for ll, it in zip(lls, items)])
    acc_norm = np.array([float(np.argmax(np.asarray(ll) / [len(c) for c in it.choices]) == it.gold)
                         for ll, it in zip(lls, items)])
    return ChoiceScores(lls, acc, acc_norm)


def mean_stderr(values: np.ndarray) -> float:
    """Standard error of a mean (lm-evaluation-harness's `mean_stderr`); 0 for fewer than two values."""
    values = np.asarray(values, np.float64)
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0


def token_loss(model: Transformer, documents: Sequence[np.ndarray], eos_id: int, seq_len: int,
               batch: int = 32) -> tuple[float, int]:
    """(mean next-token loss in nats, tokens scored) over token documents, each scored after one EOS."""
    spans, n = [], 0
    for doc in documents:
        stream = np.concatenate([[eos_id], np.asarray(doc, np.int64)])
        n += len(stream) - 1
        spans += [(w, 0) for w in windows(stream, seq_len)]
    if not n:
        return math.nan, 0
    return -float(logprob_sums(model, spans, batch).sum()) / n, n
