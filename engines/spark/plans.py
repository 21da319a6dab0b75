"""The Spark plans of the global stages, by stage: the one place the Spark engine names stages.

A plan is `plan(stage, keys, output) -> DataFrame`: the keys of every file in, the decision table keyed by `uid` out
(`curate.engines.spark.run_global` writes it per input file). It calls the stage's pure decisions through the stage
it is given, and imports nothing from `curate.stages`; this module alone does, to list them.
"""
from __future__ import annotations

from curate.engines.spark import balance, exact_dedup, minhash_dedup, paragraph_dedup, quality_classifier
from curate.stages.balance import Balance
from curate.stages.dedup.exact import ExactDedup
from curate.stages.dedup.minhash import MinHashDedup
from curate.stages.dedup.paragraph import ParagraphDedup
from curate.stages.quality_classifier import QualityClassifier

PLANS = {
    ExactDedup: exact_dedup.plan,
    MinHashDedup: minhash_dedup.plan,
    ParagraphDedup: paragraph_dedup.plan,
    QualityClassifier: quality_classifier.plan,
    Balance: balance.plan,
}
