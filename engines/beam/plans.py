"""The Beam plans of the global stages, by stage: the one place the Beam engine names stages.

A plan is `plan(stage, keys, output) -> PCollection`: key rows in, decision rows out (`curate.engines.beam`'s
`run_global` writes them per input file). A stage in `PREPARE` first runs `prepare(stage, key_files, output, run)`:
pipelines of their own (`run(build)` runs one), for work that loops until a count read back says it is done
(MinHash's connected-components rounds). Plans call the stage's pure decisions through the stage they are given, and
import nothing from `curate.stages`; this module alone does, to list them.
"""
from __future__ import annotations

from curate.engines.beam import balance, exact_dedup, minhash_dedup, paragraph_dedup, quality_classifier
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

PREPARE = {
    MinHashDedup: minhash_dedup.prepare,
}
