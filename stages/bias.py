"""bias: counts identity-term mentions per document (`bias_<axis>_<group>`) and reports them over the corpus.

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

import csv
import html
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import Field

from curate.filters.ngrams import Words, ngrams, words
from curate.pipeline.errors import CurateError
from curate.pipeline.registry import register
from curate.pipeline.output import Output
from curate.pipeline.sections import RunView, Section, pct, table
from curate.pipeline.stage import Collector, Params, Partial, Stage, emit
from curate.stages.toxicity import PREFIX as TOX_PREFIX

PREFIX = "bias_"
REPORT_FILE = "bias.json"  # the corpus report, at the output root; the manifest names it under `bias`
REPORT_KEY = "bias"
PRONOUN = "pronoun"
DEFAULT_LANG = "en"
BUILTIN_LANGS = ("en", "de", "fr", "es")
_AXIS = re.compile(r"^[a-z]+$")
_GROUP = re.compile(r"^[a-z0-9_]+$")


def column_name(axis: str, group: str) -> str:
    return f"{PREFIX}{axis}_{group}"


def split_column(name: str) -> tuple[str, str]:
    """`bias_<axis>_<group>` -> (axis, group); axis names have no underscore."""
    axis, _, group = name.removeprefix(PREFIX).partition("_")
    return axis, group


def _builtin_files() -> list[Path]:
    folder = resources.files("curate.stages").joinpath("bias_lexicons")
    return [Path(str(folder.joinpath(f"{lang}.tsv"))) for lang in BUILTIN_LANGS]


def read_entries(paths: list[Path]) -> dict[tuple[str, str], tuple[str, str]]:
    """(lang, term) -> (axis, group), later files winning. Terms are stored as written; matching normalises them."""
    entries: dict[tuple[str, str], tuple[str, str]] = {}
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise CurateError(f"bias.lexicon_paths: cannot read {str(path)!r}: {error.strerror or error}") from None
        for number, row in enumerate(csv.reader(lines, delimiter="\t"), 1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if len(row) != 4:
                raise CurateError(f"{path}:{number}: expected 4 tab-separated columns (lang, axis, group, term), "
                                  f"got {len(row)}")
            lang, axis, group, term = (cell.strip() for cell in row)
            if not _AXIS.match(axis) or not _GROUP.match(group):
                raise CurateError(f"{path}:{number}: axis must be lowercase letters and group lowercase letters, "
                                  f"digits or '_', got {axis!r}, {group!r}")
            entries[(lang, term.lower())] = (axis, group)
    return entries


class _Table:
    """One language's terms: sorted n-gram hashes and the column each counts for."""

    def __init__(self, hashes: np.ndarray, columns: np.ndarray):
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.columns = hashes[order], columns[order]

    def lookup(self, values: np.ndarray) -> np.ndarray:
        if len(self.hashes) == 0 or len(values) == 0:
            return np.full(len(values), -1, np.int64)
        at = np.minimum(np.searchsorted(self.hashes, values), len(self.hashes) - 1)
        return np.where(self.hashes[at] == values, self.columns[at], -1)


@dataclass
class Lexicon:
    """Every language's terms, compiled for vectorised matching."""

    columns: list[str]
    tables: dict[str, _Table]
    lengths: list[int]  # the word counts of the terms

    @classmethod
    def load(cls, user_paths: list[str]) -> Lexicon:
        entries = read_entries(_builtin_files() + [Path(p) for p in user_paths])
        columns = sorted({column_name(*target) for target in entries.values()})
        where = {name: i for i, name in enumerate(columns)}
        langs = sorted({lang for lang, _ in entries if lang != "*"} | {DEFAULT_LANG})
        per_lang: dict[str, dict[str, int]] = {lang: {} for lang in langs}
        for (lang, term), target in sorted(entries.items(), key=lambda item: item[0][0] != "*"):
            for into in (langs if lang == "*" else [lang]):
                per_lang[into][term] = where[column_name(*target)]
        tables, lengths = {}, set()
        for lang, terms in per_lang.items():
            parsed = words(pa.array(list(terms), pa.string()))
            columns_of = np.array(list(terms.values()), np.int64)
            if (parsed.counts == 0).any():
                term = list(terms)[int(np.flatnonzero(parsed.counts == 0)[0])]
                raise CurateError(f"bias lexicon ({lang}): term {term!r} has no letters or digits")
            hashes, cols = [], []
            for k in np.unique(parsed.counts).tolist():  # terms of k words: each is exactly one k-gram
                chosen = np.flatnonzero(parsed.counts == k)
                word_index = (parsed.offsets[chosen][:, None] + np.arange(k)).ravel()
                same = Words(parsed.hashes[word_index], np.arange(len(chosen) + 1, dtype=np.int64) * k)
                hashes.append(ngrams(same, k).hashes)
                cols.append(columns_of[chosen])
                lengths.add(k)
            tables[lang] = _Table(np.concatenate(hashes), np.concatenate(cols))
        return cls(columns, tables, sorted(lengths))

    def count(self, texts: pa.Array, langs: list[str | None] | None) -> np.ndarray:
        """Mentions per document and column: int64 [len(texts), len(columns)]."""
        rows, width = len(texts), len(self.columns)
        names = list(self.tables)
        table_of = {lang: i for i, lang in enumerate(names)}
        default = table_of[DEFAULT_LANG]
        doc_table = np.array([table_of.get(lang, default) for lang in langs] if langs else [default] * rows,
                             np.int64)
        batch_words = words(texts)
        flat = np.zeros(rows * width, np.int64)
        for k in self.lengths:
            grams = ngrams(batch_words, k)
            of_gram = doc_table[grams.doc]
            for t in np.unique(of_gram).tolist():
                mine = of_gram == t
                col = self.tables[names[t]].lookup(grams.hashes[mine])
                found = col >= 0
                flat += np.bincount(grams.doc[mine][found] * width + col[found], minlength=rows * width)
        return flat.reshape(rows, width)


# ---- the run report ------------------------------------------------------------------------------------------

def bias_section(run: RunView, stages: list[Stage]) -> Section | None:
    """The run report's bias tables: representation, pronouns and toxicity by group, before and after filtering."""
    if REPORT_KEY not in run.manifest:
        return None
    report = run.output.read_json(run.manifest[REPORT_KEY])
    docs = report["documents"]
    body = [f"<p>{docs['before']:,} documents reached the bias stage; {docs['after']:,} were kept "
            f"({pct(docs['after'], docs['before'])}). Removal ratio: a group's removal rate over the corpus's "
            "(above 1: filters removed documents mentioning it more often than others).</p>"]
    summary = []
    for label, before in report["toxicity"]["before"].items():
        summary.append([f"corpus mean {label}", before, report["toxicity"]["after"].get(label)])
    for side in ("before", "after"):
        pronouns = report["pronouns"].get(side) or {}
        if pronouns:
            summary.append([f"pronouns female : male ({side})",
                            f"{pronouns.get('female', 0):,} : {pronouns.get('male', 0):,}", pronouns["female_to_male"]])
    if summary:
        body.append(table(["", "before / count", "after / ratio"], summary))
    labels = list(report["toxicity"]["before"])
    for axis, groups in report["axes"].items():
        rows, silent = [], []
        for name, row in groups.items():
            if not row["before"]["documents"]:
                silent.append(name)
                continue
            share = row["before"]["mention_share"]
            rows.append([name, row["before"]["documents"], row["after"]["documents"],
                         None if share is None else f"{100 * share:.1f}%", row["kept_fraction"], row["removal_ratio"],
                         *[row["before"]["mean_toxicity"].get(label) for label in labels]])
        note = f' <span class="note">(no mention of {html.escape(", ".join(silent))})</span>' if silent else ""
        body.append(f"<h3>{html.escape(axis)}{note}</h3>")
        if rows:
            body.append(table(["group", "documents before", "after", "mention share", "kept fraction",
                                "removal ratio", *[f"mean {label}" for label in labels]], rows))
    return Section("bias", "Bias", body)


def bias_text(run: RunView, stages: list[Stage]) -> list[str]:
    """The bias report as a plain-text table, for `curate report` on the console."""
    return [format_report(run.output.read_json(run.manifest[REPORT_KEY]))] if REPORT_KEY in run.manifest else []


class BiasParams(Params):
    lexicon_paths: list[str] = Field(default_factory=list, description="extra lexicon files (lang, axis, group, "
                                                                       "term; tab-separated)")


@register
class Bias(Stage):
    """Identity-term mention counts per document (gender, orientation, religion, race, disability, nationality)."""

    name = "bias"
    files = ("lexicon_paths",)
    Params = BiasParams
    report_section = staticmethod(bias_section)
    report_text = staticmethod(bias_text)

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

    def collector(self, output: Output, tag: str) -> Collector:
        return BiasSums()

    def result(self, partials: list[dict], output: Output, stages: list[Stage]) -> dict[str, Any]:
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


# ---- the corpus report -------------------------------------------------------------------------------------------

def bias_sums(table: pa.Table) -> dict[str, Any]:
    """Additive totals over a table's documents that carry `bias_*` counts (rows where they are null are skipped)."""
    bias = [n for n in table.schema.names if n.startswith(PREFIX)]
    tox = [n for n in table.schema.names if n.startswith(TOX_PREFIX)]
    if not bias:
        return {"documents": 0, "toxicity": {}, "groups": {}}
    present = pc.is_valid(table.column(bias[0]))
    table = table.filter(present)
    counts = {n: table.column(n).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64) for n in bias}
    scores = {n.removeprefix(TOX_PREFIX): table.column(n).to_numpy(zero_copy_only=False).astype(np.float64)
              for n in tox}

    def tox_totals(mask: np.ndarray) -> dict[str, list[float]]:
        out = {}
        for label, values in scores.items():
            chosen = values[mask]
            chosen = chosen[~np.isnan(chosen)]
            out[label] = [float(chosen.sum()), int(len(chosen))]
        return out

    everyone = np.ones(table.num_rows, bool)
    groups = {}
    for name, values in counts.items():
        mentioned = values > 0
        groups[name] = {"documents": int(mentioned.sum()), "mentions": int(values.sum()),
                        "toxicity": tox_totals(mentioned)}
    return {"documents": table.num_rows, "toxicity": tox_totals(everyone), "groups": groups}


def merge_sums(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The sums of two disjoint sets of documents."""
    def tox(x: dict, y: dict) -> dict:
        return {label: [x.get(label, [0.0, 0])[0] + y.get(label, [0.0, 0])[0],
                        x.get(label, [0.0, 0])[1] + y.get(label, [0.0, 0])[1]] for label in sorted({*x, *y})}

    groups = {}
    for name in sorted({*a["groups"], *b["groups"]}):
        ga = a["groups"].get(name, {"documents": 0, "mentions": 0, "toxicity": {}})
        gb = b["groups"].get(name, {"documents": 0, "mentions": 0, "toxicity": {}})
        groups[name] = {"documents": ga["documents"] + gb["documents"], "mentions": ga["mentions"] + gb["mentions"],
                        "toxicity": tox(ga["toxicity"], gb["toxicity"])}
    return {"documents": a["documents"] + b["documents"], "toxicity": tox(a["toxicity"], b["toxicity"]),
            "groups": groups}


def _mean(total: list[float]) -> float | None:
    return round(total[0] / total[1], 6) if total[1] else None


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 6) if b else None


def _side(sums: dict[str, Any]) -> dict[str, Any]:
    """One set of documents: per axis and group, counts and shares; pronouns; corpus toxicity."""
    n = sums["documents"]
    axes: dict[str, dict[str, Any]] = {}
    for name, group in sums["groups"].items():
        axis, label = split_column(name)
        axes.setdefault(axis, {})[label] = group
    out: dict[str, Any] = {"documents": n, "toxicity": {k: _mean(v) for k, v in sums["toxicity"].items()}, "axes": {}}
    for axis, groups in sorted(axes.items()):
        mentions = sum(g["mentions"] for g in groups.values())
        out["axes"][axis] = {
            label: {"documents": g["documents"], "mentions": g["mentions"],
                    "document_share": _ratio(g["documents"], n), "mention_share": _ratio(g["mentions"], mentions),
                    "mean_toxicity": {k: _mean(v) for k, v in g["toxicity"].items()}}
            for label, g in sorted(groups.items())
        }
    return out


def report_from_sums(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The bias report: `before` = documents that reached the bias stage, `after` = those kept at the end."""
    b, a = _side(before), _side(after)
    kept = _ratio(a["documents"], b["documents"])
    report: dict[str, Any] = {
        "documents": {"before": b["documents"], "after": a["documents"], "kept_fraction": kept},
        "toxicity": {"before": b["toxicity"], "after": a["toxicity"]},
        "pronouns": {},
        "axes": {},
    }
    for axis in b["axes"]:
        rows = {}
        for label, gb in b["axes"][axis].items():
            ga = a["axes"].get(axis, {}).get(label, {"documents": 0, "mentions": 0, "document_share": 0.0,
                                                      "mention_share": None, "mean_toxicity": {}})
            group_kept = _ratio(ga["documents"], gb["documents"])
            removal = None
            if group_kept is not None and kept is not None and kept < 1:
                removal = round((1 - group_kept) / (1 - kept), 4)
            rows[label] = {"before": gb, "after": ga, "kept_fraction": group_kept, "removal_ratio": removal}
        if axis == PRONOUN:
            for side, data in (("before", b), ("after", a)):
                mentions = {label: g["mentions"] for label, g in data["axes"].get(PRONOUN, {}).items()}
                report["pronouns"][side] = {**mentions, "female_to_male": _ratio(mentions.get("female", 0),
                                                                                  mentions.get("male", 0))}
        else:
            report["axes"][axis] = rows
    return report


def bias_report(before: pa.Table, after: pa.Table) -> dict[str, Any]:
    """The bias report of two tables with `bias_*` (and, where scored, `tox_*`) columns: every document that reached
    the bias stage (kept or rejected later), and the documents kept at the end."""
    return report_from_sums(bias_sums(before), bias_sums(after))


def format_report(report: dict[str, Any]) -> str:
    """The report as a plain-text table for `curate report`."""
    docs = report["documents"]
    lines = [f"bias: {docs['before']} documents reached the bias stage, {docs['after']} kept "
             f"({_pct(docs['kept_fraction'])})"]
    label = _main_label(report["toxicity"]["before"])
    if label:
        lines.append(f"corpus mean {label}: before {_num(report['toxicity']['before'].get(label))}, "
                     f"after {_num(report['toxicity']['after'].get(label))}")
    for side in ("before", "after"):
        pronouns = report["pronouns"].get(side)
        if pronouns:
            lines.append(f"pronouns {side}: she/her {pronouns.get('female', 0)}, he/him {pronouns.get('male', 0)}, "
                         f"female:male {_num(pronouns['female_to_male'])}")
    header = f"  {'group':<26}{'docs':>8}{'share':>8}{'kept':>8}{'removal':>9}"
    if label:
        header += f"{'mean ' + label:>{max(len(label) + 6, 14)}}"
    for axis, groups in report["axes"].items():
        silent = [name for name, row in groups.items() if not row["before"]["documents"]]
        lines += ["", f"{axis}:" + (f" (no mention of {', '.join(silent)})" if silent else ""), header]
        for name, row in groups.items():
            if name in silent:
                continue
            line = (f"  {name:<26}{row['before']['documents']:>8}{_pct(row['before']['mention_share']):>8}"
                    f"{_pct(row['kept_fraction']):>8}{_num(row['removal_ratio']):>9}")
            if label:
                line += f"{_num(row['before']['mean_toxicity'].get(label)):>{max(len(label) + 6, 14)}}"
            lines.append(line)
    return "\n".join(lines)


def _main_label(toxicity: dict[str, Any]) -> str | None:
    for label in ("toxicity", "profanity"):
        if label in toxicity:
            return label
    return next(iter(toxicity), None)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
