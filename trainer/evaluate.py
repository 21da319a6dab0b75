"""Evaluation of a model: the validation loss during training, and of a trained model bits per byte on reference
text, multiple-choice accuracy and loss per token.

- **Validation loss** (`validation_loss`, called by the training loop every `eval.every` steps): the mean loss over
  the blended validation set, the same `eval.batches` global batches every time, overall and per domain.

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

Nothing here trains or knows about pipelines: a trained model comes from a trainer checkpoint
(`checkpoint.load_model`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .model import Transformer

Encode = Callable[[str], list[int]]


@torch.no_grad()
def validation_loss(model, val, cfg, d, autocast) -> dict:
    """Loss over the blended validation set `val` (a `data.BlendedDataset`; the same `eval.batches` global batches
    every time), overall and per domain, summed over the data-parallel ranks (`d`, a `parallel.Dist`):
    {"loss": ..., "loss_by_domain": {name: ...}}."""
    model.eval()
    t = cfg.train
    per_rank = t.global_batch // d.dp_size
    n_domains = len(val.datasets)
    sums = torch.zeros(n_domains, dtype=torch.float64, device=d.device)
    counts = torch.zeros(n_domains, dtype=torch.float64, device=d.device)
    for b in range(cfg.eval.batches):
        base = b * t.global_batch + d.dp_rank * per_rank
        for a in range(0, per_rank, t.micro_batch):
            ids = range(base + a, base + a + t.micro_batch)
            batch = torch.from_numpy(np.stack([val[i] for i in ids])).to(d.device)
            domain = torch.as_tensor(np.asarray(val.domain[base + a:base + a + t.micro_batch], np.int64),
                                     device=d.device)
            with autocast():
                logits = model(batch[:, :-1])
            per_sample = F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten(),
                                         reduction="none").view(len(ids), -1).mean(1)
            sums.index_add_(0, domain, per_sample.double())
            counts.index_add_(0, domain, torch.ones_like(per_sample, dtype=torch.float64))
    model.train()
    sums, counts = d.dp_sum(sums).cpu(), d.dp_sum(counts).cpu()
    return {"loss": float(sums.sum() / counts.sum()),
            "loss_by_domain": {ds.name: float(sums[i] / counts[i])
                               for i, ds in enumerate(val.datasets) if counts[i] > 0}}


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
    """Bits per UTF-8 byte of `texts`, each scored as its own document after one EOS. No text is a ValueError: zero
    bytes have no bits per byte (0.0 would read as a perfect score)."""
    spans, n_bytes, n_tokens = [], 0, 0
    for text in texts:
        ids = encode(text)
        n_bytes += len(text.encode("utf-8"))
        n_tokens += len(ids)
        spans += [(w, 0) for w in windows([eos_id, *ids], seq_len)]
    if not n_bytes:
        raise ValueError("no text to score: bits per byte needs at least one byte")
    nll = -float(logprob_sums(model, spans, batch).sum())
    return BitsPerByte(nll / math.log(2) / n_bytes, n_bytes, n_tokens, len(texts))


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
    """lm-evaluation-harness's acc and acc_norm (see the module docstring) for every item (at least one)."""
    if not items:
        raise ValueError("no items to score: an accuracy needs at least one")
    spans, owner = [], []
    for k, item in enumerate(items):
        context = [eos_id, *encode(item.context)]
        for choice in item.choices:
            continuation = encode(" " + choice)
            whole = np.asarray(context + continuation, np.int64)[-(seq_len + 1):]
            spans.append((whole, len(whole) - 1 - len(continuation)))
            owner.append(k)
    sums = logprob_sums(model, spans, batch)
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
