"""bias: counts identity-term mentions per document (`bias_<axis>_<group>`) and reports them over the corpus.

A family package, one job per module: `lexicon` (the term lists, compiled for vectorised matching), `report` (the
additive sums and the corpus report built from them), `section` (the run report's tables); this module is the stage
(its parameters, `process`, its collector and its result).

Lexicons (`stages/bias_lexicons/<lang>.tsv`, written for this project; en, de, fr, es) list terms under six axes —
gender, sexual orientation, religion, race/ethnicity, disability, nationality — and gendered pronouns (axis
`pronoun`). A term of several words matches them in a row; matching uses the normalised words of
:mod:`curate.filters.ngrams`, so case and punctuation do not matter. A document uses the lexicon of its `lang` column
(from langid) and English when it has none or its language has no lexicon. `lexicon_paths` adds the user's files in the
same four-column format (`lang axis group term`, tab-separated, `#` comments; lang `*` = every language); a user's entry
for a (lang, term) replaces the built-in one.

This stage rejects nothing. Counting words says who is *mentioned*, not how: the report is a screen for skews, in the
manner of the representation statistics of Dodge et al. 2021 (C4's blocklist removed text about minorities) and
the Gopher/PaLM data cards (gendered pronoun ratio). Its numbers:

- representation: per axis, each group's share of the axis's mentions and of documents mentioning it;
- gendered pronoun ratio (female : male pronoun mentions);
- mean toxicity (`tox_*` columns, where a toxicity stage ran) of documents mentioning each group vs the corpus;
- before/after: the same over the documents that reached this stage and over those kept at the end, with each group's
  kept fraction and its removal ratio (group removal rate / corpus removal rate: > 1 means filters removed documents
  about that group more often than others).

The report is built from additive sums (`bias_sums`, `merge_sums`), so an engine can sum per file and never gather
documents in one place; `bias_report(before, after)` is the whole computation on two tables.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
from pydantic import Field

from curate.pipeline.output import Folder, Output
from curate.pipeline.registry import register
from curate.pipeline.sections import Report
from curate.pipeline.stage import Collector, Facts, Params, Partial, Stage, emit
from curate.stages.bias.lexicon import PREFIX, Lexicon, column_name, read_entries, split_column
from curate.stages.bias.report import (REPORT_FILE, REPORT_KEY, bias_report, bias_sums, format_report, merge_sums,
                                       report_from_sums)
from curate.stages.bias.section import bias_section, bias_text

__all__ = ["PREFIX", "REPORT_FILE", "REPORT_KEY", "Bias", "BiasParams", "BiasSums", "Lexicon", "bias_report",
           "bias_section", "bias_sums", "bias_text", "column_name", "format_report", "merge_sums", "read_entries",
           "report_from_sums", "split_column"]


class BiasParams(Params):
    lexicon_paths: list[str] = Field(default_factory=list, description="extra lexicon files (lang, axis, group, "
                                                                       "term; tab-separated)")


@register
class Bias(Stage):
    """Identity-term mention counts per document (gender, orientation, religion, race, disability, nationality)."""

    name = "bias"
    files = ("lexicon_paths",)
    Params = BiasParams
    report = Report(bias_section, bias_text)

    def __init__(self, params: BiasParams, stage_id: str | None = None):
        super().__init__(params, stage_id)
        self._lexicon: Lexicon | None = None

    @property
    def lexicon(self) -> Lexicon:
        if self._lexicon is None:  # small: read where the columns are first needed (plan check or first batch)
            self._lexicon = Lexicon.load(self.params.lexicon_paths)
        return self._lexicon

    def adds(self) -> dict[str, pa.DataType]:
        return {name: pa.int32() for name in self.lexicon.columns}

    def setup(self) -> None:
        _ = self.lexicon

    def process(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        langs = batch.column("lang").to_pylist() if "lang" in batch.schema.names else None
        counts = self.lexicon.count(batch.column("text"), langs)
        columns = {name: pa.array(counts[:, i].astype(np.int32)) for i, name in enumerate(self.lexicon.columns)}
        return emit(batch, [None] * batch.num_rows, **columns)

    def collector(self, folder: Folder, tag: str) -> Collector:
        return BiasSums()

    def result(self, partials: list[dict], output: Output, run: Facts) -> dict[str, Any]:
        """`bias.json`: `before` sums every document that reached this stage (rejected later or kept), `after` the
        kept ones."""
        before = after = bias_sums(pa.table({}))
        for partial in partials:
            before = merge_sums(before, partial["rejected"])
        for partial in partials:
            before = merge_sums(before, partial["kept"])
            after = merge_sums(after, partial["kept"])
        output.write_json(REPORT_FILE, report_from_sums(before, after))
        return {REPORT_KEY: REPORT_FILE}


class BiasSums(Collector):
    """The additive bias totals of one input file in one pass: rows rejected after the bias stage, rows kept at the
    end."""

    def __init__(self):
        self.totals = {"kept": bias_sums(pa.table({})), "rejected": bias_sums(pa.table({}))}

    def rejected(self, rows: pa.RecordBatch) -> None:
        self.totals["rejected"] = merge_sums(self.totals["rejected"], bias_sums(pa.Table.from_batches([rows])))

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        self.totals["kept"] = merge_sums(self.totals["kept"], bias_sums(pa.Table.from_batches([rows])))
        return rows

    def close(self) -> Partial:
        return Partial(self.totals)
