"""balance: the domain mixture — target shares by tokens (or characters), epoch caps, deterministic down-sampling.

A global stage. The pipeline decides the mixture and the trainer applies it (DESIGN.md, "Shards and what the trainer
owns"): the decision is a weight and an epoch cap per domain, written to the manifest; the only thing done to the
documents is down-sampling (`downsample`, and `unweighted` for a domain whose weight is 0). Documents are never
repeated physically: where a domain is short, the trainer repeats it, at most `max_epochs` times.

The decision, for a training budget of N units (tokens, or characters before tokenisation; default: the corpus size),
with n_d the units domain d has:
- target shares t_d: `weights` (normalised), or `temperature` T with t_d ∝ n_d^(1/T) (T = 1 is the natural mixture,
  a larger T flattens it toward uniform: the sampling used for many languages, e.g. XLM-R's α = 1/T = 0.3);
- a domain can supply at most E_d · n_d units (E_d its `max_epochs`), a share of at most c_d = E_d n_d / N. Where a
  target exceeds its cap the domain is held at the cap and the others share the rest in proportion to their targets
  (water-filling). The target is then infeasible at that budget, and the summary says so and shows what is achieved;
  where even every domain at its cap cannot fill N, the budget shrinks to Σ E_d n_d;
- a domain with more than w_d N units keeps w_d N of them: whole documents, chosen by a seeded hash of `uid` (the same
  seed and input keep the same documents on every engine). The cut is made on 2^12 hash buckets per domain, so it
  lands within one bucket (1/4,096 of the domain, or one document on small data) of w_d N.
The engines aggregate the keys into a histogram of units per (domain, bucket), at most 4,096 rows per domain, and
call `decide` and `cuts` on it; each document is then kept or rejected by its bucket alone.

With `repeats:` (stages/repeats.py) every document gets a repeat count k (by quality bucket, by duplicate-cluster
size, or from a column; at most `max_repeats`), written as the `repeats` column the shards carry: still no copy on
disk, the trainer's index names the document k times an epoch. Its units count k times in the histogram, so the
weights, the caps, the budget and the down-sampling all apply to the repeated corpus; the summary's `repeats` reports
the inflation per domain and per bucket or language (`inflation`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field, model_validator

from curate.filters.uid_hash import uid_hash
from curate.pipeline.estimate import Estimate, KeySample
from curate.pipeline.registry import register
from curate.pipeline.stage import GlobalStage, Params
from curate.stages import repeats as repeat_counts
from curate.stages.repeats import RepeatsParams

MIXTURE = "mixture"  # what balance publishes (`Stage.publishes`): its plan's result, the decided mixture
BUCKET_BITS = 12
DOWNSAMPLE_SALT = 0x62616C616E6365  # "balance": independent of the train/validation split's hash


class BalanceParams(Params):
    weights: dict[str, float] | None = Field(
        None, description="target share of each domain (normalised); domains not named get 0 and are dropped")
    temperature: float | None = Field(None, gt=0, description="instead of weights: shares ∝ n^(1/T)")
    by: Literal["tokens", "characters"] = Field(
        "tokens", description="what shares count: tokens (needs n_tokens: tokenize first) or characters of text")
    max_epochs: float | dict[str, float] = Field(
        4.0, description="how often the trainer may repeat a domain; one number, or per domain with 'default'")
    budget: int | None = Field(None, gt=0, description="training units the mixture must supply; none = the corpus")
    seed: int = Field(0, description="seed of the down-sampling hash")
    repeats: RepeatsParams | None = Field(
        None, description="a repeat count per document (by_bucket, by_cluster_size or column; max_repeats): a "
                          "domain's units then count every copy")

    @model_validator(mode="after")
    def _one_mode(self) -> BalanceParams:
        if (self.weights is None) == (self.temperature is None):
            raise ValueError("give exactly one of weights and temperature")
        if self.weights is not None and (any(w < 0 for w in self.weights.values()) or sum(self.weights.values()) <= 0):
            raise ValueError("weights must be >= 0 with a positive sum")
        caps = self.max_epochs.values() if isinstance(self.max_epochs, dict) else [self.max_epochs]
        if any(c < 1 for c in caps):
            raise ValueError("max_epochs must be >= 1 (a domain is always seen once)")
        return self

    def cap(self, domain: str) -> float:
        if isinstance(self.max_epochs, dict):
            return float(self.max_epochs.get(domain, self.max_epochs.get("default", 4.0)))
        return float(self.max_epochs)


def _water_fill(target: dict[str, float], cap: dict[str, float]) -> dict[str, float]:
    """Shares as close to `target` as the caps allow: capped domains at their cap, the rest scaled up together."""
    weight = {d: 0.0 for d in target}
    free = sorted(d for d, t in target.items() if t > 0)  # sums in one order: the same floats in every process
    mass = 1.0
    while free:
        total = sum(target[d] for d in free)
        over = [d for d in free if target[d] / total * mass > cap[d] + 1e-15]
        if not over:
            for d in free:
                weight[d] = target[d] / total * mass
            break
        for d in over:
            weight[d] = cap[d]
            mass -= cap[d]
        free = [d for d in free if d not in over]
    return weight


def decide(available: dict[str, int], params: BalanceParams) -> dict:
    """The mixture for domains with `available` units: targets, weights, caps and how much of each domain to keep.

    Pure: the engines' plans collect the per-domain totals (one row per domain) and call this.
    """
    domains = sorted(set(available) | set(params.weights or {}))
    n = {d: int(available.get(d, 0)) for d in domains}
    if params.weights is not None:
        raw = {d: float(params.weights.get(d, 0.0)) for d in domains}
    else:
        raw = {d: float(n[d]) ** (1.0 / params.temperature) if n[d] > 0 else 0.0 for d in domains}
    total_raw = sum(raw.values()) or 1.0
    target = {d: raw[d] / total_raw for d in domains}
    budget = params.budget or sum(n[d] for d in domains if target[d] > 0)
    notes: list[str] = []
    if budget <= 0:
        notes.append("no weighted domain has any documents")
        budget = 1
    supply = {d: params.cap(d) * n[d] for d in domains}
    if sum(supply[d] for d in domains if target[d] > 0) < budget:
        reduced = int(sum(supply[d] for d in domains if target[d] > 0))
        notes.append(f"the budget of {budget:,} {params.by} exceeds what the domains can supply at their caps; "
                     f"budget reduced to {reduced:,}")
        budget = max(reduced, 1)
    weight = _water_fill(target, {d: supply[d] / budget for d in domains})
    for d in domains:
        if target[d] > 0 and n[d] == 0:
            notes.append(f"{d}: target {target[d]:.4f} but no documents")
        elif weight[d] < target[d] - 1e-9:
            notes.append(f"{d}: target {target[d]:.4f} needs {target[d] * budget / n[d]:.2f} epochs of its "
                         f"{n[d]:,} {params.by}, above its cap of {params.cap(d):g}; achieved {weight[d]:.4f}")
    out = {}
    for d in domains:
        keep = min(n[d], int(round(weight[d] * budget))) if weight[d] > 0 else 0
        out[d] = {"available": n[d], "target": round(target[d], 6), "weight": weight[d], "max_epochs": params.cap(d),
                  "keep": keep, "epochs": weight[d] * budget / keep if keep else 0.0}
    return {"by": params.by, "mode": "weights" if params.weights is not None else "temperature",
            "temperature": params.temperature, "budget": budget, "feasible": not notes, "notes": notes,
            "domains": out}


def cuts(histogram: dict[str, dict[int, int]], summary: dict) -> dict[str, tuple[int, str]]:
    """Per domain to cut: the last hash bucket kept (-1: none) and the reason of the rejected documents.

    A bucket is kept while its midpoint lies within the domain's `keep`: the cut rounds to the nearest bucket edge.
    """
    out = {}
    for domain, info in summary["domains"].items():
        if info["keep"] >= info["available"]:
            continue
        if info["keep"] == 0:
            out[domain] = (-1, "unweighted" if info["weight"] == 0 else "downsample")
            continue
        last, before = -1, 0
        for bucket, amount in sorted(histogram.get(domain, {}).items()):
            if before + amount / 2 >= info["keep"]:
                break
            last, before = bucket, before + amount
        out[domain] = (last, "downsample")
    return out


@dataclass(frozen=True)
class Mixture:
    """balance's decision, as both engines' plans call it: the corpus's units per (domain, hash bucket) in, the
    mixture (`decide`: the plan's result, published as the run's `mixture`) and the last bucket kept per domain
    (`cuts`) out."""

    params: BalanceParams

    def decide(self, histogram: dict[str, dict[int, int]], inflation: list | None = None) \
            -> tuple[dict, dict[str, tuple[int, str]]]:
        """The mixture and the cuts per domain from the units per (domain, bucket); with repeats, the mixture carries
        their report (`inflation`: one (domain, group, documents, unique units, units) row per domain and bucket or
        language, as both plans gather them)."""
        summary = decide({d: sum(buckets.values()) for d, buckets in histogram.items()}, self.params)
        if self.params.repeats:
            summary["repeats"] = repeat_counts.inflation(self.params.repeats, self.params.by, inflation or [])
        return summary, cuts(histogram, summary)


@register
class Balance(GlobalStage):
    """Domain mixture: target shares (or temperature), epoch caps, hash-based down-sampling; weights to the manifest."""

    name = "balance"
    Params = BalanceParams
    publishes = (MIXTURE,)  # its plan's result: the token shards take their weights from it

    files = ("repeats.by_cluster_size",)

    def requires(self) -> tuple[str, ...]:
        needed = ("domain", "n_tokens" if self.params.by == "tokens" else "text")
        return needed + self.params.repeats.requires() if self.params.repeats else needed

    def adds(self) -> dict[str, pa.DataType]:
        return {"repeats": pa.int32()} if self.params.repeats else {}

    def defaults(self) -> dict[str, int]:
        return {"repeats": 1} if self.params.repeats else {}

    def key_schema(self) -> pa.Schema:
        schema = pa.schema([("uid", pa.binary(16)), ("domain", pa.string()), ("amount", pa.int64()),
                            ("bucket", pa.int32())])
        if self.params.repeats:
            schema = schema.append(pa.field("repeats", pa.int32())).append(pa.field("unique", pa.int64())) \
                .append(pa.field("group", pa.string()))
        return schema

    def policy(self) -> Mixture:
        return Mixture(self.params)

    def estimate(self, sample: KeySample) -> Estimate:
        """What the plan moves: the units per (domain, hash bucket), summed map-side, so each task sends at most one
        row per domain and bucket, and all of them reach the driver; then, through a broadcast of the cuts, the
        decision rows (uid, reason) of the documents it rejects, found by deciding the mixture on the sample's
        histogram scaled up (with repeats: every document, an upper bound). The driver holds the whole histogram:
        of 2^BUCKET_BITS buckets per domain, the ones its documents fill."""
        keys = sample.keys
        domains, counts = np.unique(keys.column("domain").to_numpy(zero_copy_only=False).astype(str),
                                    return_counts=True) if keys.num_rows else (np.zeros(0), np.zeros(0))
        cells = 1 << BUCKET_BITS
        histogram = round(sum(cells * -np.expm1(-c * sample.scale / cells) for c in counts))  # occupied buckets
        decided = sample.documents
        if not self.params.repeats and keys.num_rows:
            table = keys.group_by(["domain", "bucket"]).aggregate([("amount", "sum")]).to_pylist()
            scaled: dict[str, dict[int, int]] = {}
            for row in table:
                scaled.setdefault(row["domain"], {})[row["bucket"]] = sample.scaled(row["amount_sum"])
            _, cut = self.policy().decide(scaled)
            last = pa.array([cut.get(d, (cells, None))[0] for d in keys.column("domain").to_pylist()], pa.int32())
            decided = sample.scaled(pc.sum(pc.greater(keys.column("bucket"), last).cast(pa.int64())).as_py() or 0)
        tasks = sample.resources.partitions
        shuffle = min(histogram * tasks, sample.documents) * 24 + decided * (16 + 8)
        return Estimate(sample.documents, sample.key_bytes, round(shuffle), histogram,
                        sample.held(decided * 24, histogram * 24),
                        bounds={"domains seen": len(domains), "buckets per domain": cells},
                        suggestion="the histogram grows with the domains: group small domains into one (the "
                        "domain stage) or give the driver more memory")

    def keys(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if self.params.by == "tokens":
            amount = batch.column("n_tokens").cast(pa.int64())
        else:
            amount = pc.fill_null(pc.utf8_length(batch.column("text")), 0).cast(pa.int64())
        hashes = uid_hash(batch.column("uid"), self.params.seed, DOWNSAMPLE_SALT)
        bucket = (hashes >> np.uint64(64 - BUCKET_BITS)).astype(np.int32)
        arrays = [batch.column("uid"), batch.column("domain"), amount, pa.array(bucket)]
        if self.params.repeats:  # the amount counts every copy; `unique` keeps the document's own units
            counts = repeat_counts.counts(self.params.repeats, batch)
            arrays = [*arrays[:2], pa.array(amount.to_numpy(zero_copy_only=False) * counts), arrays[3],
                      pa.array(counts), amount, repeat_counts.groups(self.params.repeats, batch)]
        return pa.RecordBatch.from_arrays(arrays, schema=self.key_schema())

