"""The per-language funnel of a run: per language, the documents, text bytes and tokens that came in and were kept,
how many of each language every stage rejected — counted by a collector beside `langid`, never by reading the
documents again — and the FineWeb-2 configs the run applied to each language.

`langid`'s collector (:class:`LanguageCounts`) sees every row that leaves the run in a task, in every pass: the rows
each stage rejects (their `reject_reason` names the stage) and, in the last pass, the rows kept. It counts them by
`lang` (a row that left before `langid` ran, or had no text to identify, has no language: `(none)`) and by the stage
that rejected them: documents, UTF-8 bytes of `text`, and for kept rows `n_tokens` where `tokenize` ran. Its partial
is committed with the pass, so a retried task counts once. `langid`'s `result` adds the partials up into the
manifest's `language_funnel`; the report draws it (:func:`funnel_parts`, :func:`funnel_table`).

A language's *in* is every document labelled with it (kept + rejected by any stage, `langid`'s own rejects
included); the documents rejected before a language was known are `(none)`'s. Tokens exist only where `tokenize` ran,
so only the kept side has them; bytes are the volume on both sides.

The configs (:func:`config_parts`): from the run's own config, for every stage with `thresholds: fineweb2` (and a
`langid` with `threshold: fineweb2`), which FineWeb-2 config each language of the funnel was judged by — its own, the
stage's `language_fallback`, or none (`no_language_config`) — with the config's main values and the language's word
tokenizer; a label the report maps itself (lid.176's `sr`) is named by its default script's code.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.filters.fineweb2.configs import config
from curate.filters.languages import fineweb2_code, is_fineweb2_code
from curate.filters.words import assignment
from curate.pipeline.sections import KEPT, PALETTE, RunView, figure, pct, table
from curate.pipeline.stage import Collector, Partial

FUNNEL = "language_funnel"  # the manifest key
NONE = ""  # the language of documents that left the run before one was known
TOP = 20  # languages the report names one by one; the rest are "other"


def _counts(rows: pa.RecordBatch, by_stage: bool) -> pa.Table:
    """Rows grouped by language (and by the stage that rejected them): documents, text bytes, tokens."""
    n = rows.num_rows
    names = rows.schema.names
    lang = pc.fill_null(rows.column("lang"), NONE) if "lang" in names else pa.array([NONE] * n, pa.string())
    text = rows.column("text") if "text" in names else pa.nulls(n, pa.string())
    tokens = rows.column("n_tokens").cast(pa.int64()) if "n_tokens" in names else pa.nulls(n, pa.int64())
    columns = {"lang": lang.cast(pa.string()), "bytes": pc.fill_null(pc.binary_length(text.cast(pa.string())), 0),
               "tokens": tokens}
    if by_stage:
        columns["stage"] = pc.list_element(pc.split_pattern(rows.column("reject_reason"), ":", max_splits=1), 0)
    keys = ["lang", "stage"] if by_stage else ["lang"]
    return pa.table(columns).group_by(keys).aggregate([("bytes", "count"), ("bytes", "sum"), ("tokens", "sum")])


class LanguageCounts(Collector):
    """One input file's rows in one pass, counted by language: rejected by stage, and kept."""

    def __init__(self):
        self.rejects: dict[tuple[str, str], list[int]] = {}
        self.keeps: dict[str, list[int | None]] = {}

    def rejected(self, rows: pa.RecordBatch) -> None:
        for row in _counts(rows, by_stage=True).to_pylist():
            total = self.rejects.setdefault((row["lang"], row["stage"]), [0, 0])
            total[0] += row["bytes_count"]
            total[1] += row["bytes_sum"] or 0

    def kept(self, rows: pa.RecordBatch) -> pa.RecordBatch:
        for row in _counts(rows, by_stage=False).to_pylist():
            total = self.keeps.setdefault(row["lang"], [0, 0, None])
            total[0] += row["bytes_count"]
            total[1] += row["bytes_sum"] or 0
            if row["tokens_sum"] is not None:
                total[2] = (total[2] or 0) + row["tokens_sum"]
        return rows

    def close(self) -> Partial:
        return Partial({"rejected": [[lang, stage, *total] for (lang, stage), total in self.rejects.items()],
                        "kept": [[lang, *total] for lang, total in self.keeps.items()]})


def _empty() -> dict:
    return {"in": [0, 0], "rejected": {}, "kept": [0, 0, None]}


def _add(total: dict, rejected: dict[str, list[int]], kept: list) -> None:
    """Add one language's counts (rejected [documents, bytes] by stage; kept [documents, bytes, tokens or None]) to
    `total`, whose `in` follows."""
    for stage, (documents, size) in rejected.items():
        seen = total["rejected"].setdefault(stage, [0, 0])
        seen[0] += documents
        seen[1] += size
    total["kept"][0] += kept[0]
    total["kept"][1] += kept[1]
    if kept[2] is not None:
        total["kept"][2] = (total["kept"][2] or 0) + kept[2]
    total["in"] = [total["kept"][i] + sum(r[i] for r in total["rejected"].values()) for i in (0, 1)]


def funnel(partials: list[dict], stage_ids: list[str]) -> dict[str, Any]:
    """The partials of every file and pass added up: per language (most documents first) `in` and `kept` as
    [documents, bytes] (kept: and tokens, null without `tokenize`), `rejected` by stage id as [documents, bytes]; and
    the stages in pipeline order (`read` first) that rejected any."""
    languages: dict[str, dict] = {}
    for partial in partials:
        for lang, stage, documents, size in partial["rejected"]:
            _add(languages.setdefault(lang, _empty()), {stage: [documents, size]}, [0, 0, None])
        for lang, documents, size, tokens in partial["kept"]:
            _add(languages.setdefault(lang, _empty()), {}, [documents, size, tokens])
    for counts in languages.values():
        counts["rejected"] = dict(sorted(counts["rejected"].items(), key=lambda kv: _position(kv[0], stage_ids)))
    rejecting = {stage for counts in languages.values() for stage in counts["rejected"]}
    ordered = sorted(languages.items(), key=lambda kv: (kv[0] == NONE, -kv[1]["in"][0], kv[0]))
    return {"stages": sorted(rejecting, key=lambda s: _position(s, stage_ids)), "languages": dict(ordered)}


def _position(stage: str, stage_ids: list[str]) -> tuple[int, str]:
    order = ["read", *stage_ids]
    return (order.index(stage) if stage in order else len(order), stage)


def _label(lang: str) -> str:
    return lang if lang != NONE else "(none)"


def _shown(languages: dict[str, dict]) -> list[tuple[str, dict]]:
    """The `TOP` languages with the most documents in, then the others added up as `other`; `(none)` last."""
    named = [(k, v) for k, v in languages.items() if k != NONE]
    shown = named[:TOP]
    if len(named) > TOP:
        other = _empty()
        for _, counts in named[TOP:]:
            _add(other, counts["rejected"], counts["kept"])
        shown.append((f"other ({len(named) - TOP})", other))
    if NONE in languages:
        shown.append((NONE, languages[NONE]))
    return shown


def _rows(section: dict) -> tuple[list[str], list[list[Any]]]:
    stages = section["stages"]
    header = ["lang", "documents in", "MB in", *[f"{s} rejected" for s in stages], "kept", "kept %", "MB kept",
              "tokens kept"]
    rows = []
    for lang, counts in _shown(section["languages"]):
        (docs_in, bytes_in), (kept, bytes_kept, tokens) = counts["in"], counts["kept"]
        rows.append([_label(lang), docs_in, round(bytes_in / 1e6, 3),
                     *[counts["rejected"].get(s, [0, 0])[0] for s in stages],
                     kept, pct(kept, docs_in), round(bytes_kept / 1e6, 3), tokens])
    return header, rows


def funnel_parts(run: RunView) -> list[str]:
    """The report's per-language funnel: a bar per language (kept, and rejected by stage) and its table."""
    section = run.manifest.get(FUNNEL)
    if not section or not section["languages"]:
        return []
    shown = _shown(section["languages"])
    stages = section["stages"]
    plot = figure(10, 0.32 * len(shown) + 1.4)
    ax = plot.add_subplot()
    y = np.arange(len(shown))[::-1]
    totals = np.array([max(counts["in"][0], 1) for _, counts in shown], float)  # shares: languages differ by 10^4
    left = np.array([counts["kept"][0] for _, counts in shown], float) / totals
    ax.barh(y, left, color=KEPT, label="kept")
    for i, stage in enumerate(stages):
        values = np.array([counts["rejected"].get(stage, [0, 0])[0] for _, counts in shown], float) / totals
        ax.barh(y, values, left=left, color=PALETTE[i % len(PALETTE)], label=f"{stage} rejected")
        left += values
    for row, (_, counts) in zip(y, shown):
        ax.text(1.01, row, f"{counts['kept'][0]:,} / {counts['in'][0]:,}", va="center", fontsize=7)
    ax.set_yticks(y, [_label(lang) for lang, _ in shown])
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("share of the language's documents (blue: kept; colours: rejected, by stage); kept / in")
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("per-language funnel", fontsize=10)
    header, rows = _rows(section)
    note = ("<p>Per language: every document labelled with it (kept, or rejected by any stage, the language stage "
            "included); <i>(none)</i>: documents that left the run before a language was known. Bytes: UTF-8 of "
            "the text; tokens: the kept documents' <code>n_tokens</code>, where the run tokenized.</p>")
    return ["<h3>Per-language funnel</h3>", note, run.plot("language-funnel", plot), table(header, rows)]


FINEWEB2 = "fineweb2"


def _fineweb2_stages(run: RunView) -> list[dict]:
    """The run's stage specs that take FineWeb-2's configs: `thresholds: fineweb2`, or langid's `threshold:
    fineweb2` (alone or as a dict's value)."""
    found = []
    for spec in run.manifest.get("config", {}).get("stages", []):
        threshold = spec.get("threshold")
        if spec.get("thresholds") == FINEWEB2 or threshold == FINEWEB2 or \
                (isinstance(threshold, dict) and FINEWEB2 in threshold.values()):
            found.append(spec)
    return found


def _code(lang: str) -> str:
    return lang if is_fineweb2_code(lang) else fineweb2_code(lang)


def _applied(code: str, specs: list[dict]) -> list[tuple[str | None, str]]:
    """Which configs the stages judged `code` by, each as (its code or None, how it was chosen): the language's own, a
    stage's pinned language's, a fallback, or none (rejected)."""
    found = {}
    for spec in specs:
        pinned = spec.get("language")
        own = _code(pinned) if pinned else code
        fallback = spec.get("language_fallback")
        if config(own) is not None:
            found[own] = own if not pinned else f"{own} (language: {pinned})"
        elif fallback:
            found[fallback] = f"{fallback} (fallback)"
        else:
            found[None] = "none: no_language_config"
    return list(found.items())


def config_rows(run: RunView) -> tuple[list[list[Any]], list[str], list[list[Any]]] | None:
    """(how each stage took its thresholds, the per-language header, one row per language of the funnel) for a run
    with FineWeb-2 configs; None for one without."""
    specs = _fineweb2_stages(run)
    section = run.manifest.get(FUNNEL)
    if not specs or not section:
        return None
    stages = [[spec["id"], spec.get("thresholds") or f"threshold: {spec.get('threshold')}",
               spec.get("language") or "each document's lang", spec.get("language_fallback"),
               ", ".join(f"{k}: {v}" for k, v in (spec.get("overrides") or {}).items()) or None] for spec in specs]
    header = ["lang", "FineWeb-2 code", "config applied", "word tokenizer", "language_score", "dup_line_frac",
              "new_line_ratio", "line_punct_thr", "avg word length", "alpha words ≥", "stop words"]
    pinned = next((_code(spec["language"]) for spec in specs if spec.get("language")), None)
    rows = []
    for lang, _ in _shown(section["languages"]):
        if lang == NONE or lang.startswith("other ("):
            continue
        code = _code(lang)
        applied = _applied(code, specs)
        used = next((config(c) for c, _ in applied if c is not None), None)
        words = assignment(pinned or code)  # the words are the document's language's, under a fallback too
        values = [None] * 7 if used is None else [
            used.language_score, used.dup_line_frac, used.new_line_ratio, used.line_punct_thr,
            f"{used.min_avg_word_length:g}–{used.max_avg_word_length:g}", used.max_non_alpha_words_ratio,
            len(used.stopwords)]
        rows.append([lang, code, "; ".join(how for _, how in applied), f"{words.family} {words.argument}".strip(),
                     *values])
    return stages, header, rows


def config_parts(run: RunView) -> list[str]:
    """The report's FineWeb-2 configs: how each stage took its thresholds, and which config judged each language."""
    found = config_rows(run)
    if found is None:
        return []
    stages, header, rows = found
    note = ("<p>The config each language's documents were judged by (before <code>overrides</code>): its own, the "
            "stage's <code>language_fallback</code>, or none (rejected <code>no_language_config</code>). "
            "<i>alpha words ≥</i>: the config's <code>max_non_alpha_words_ratio</code>, which is the minimum share "
            "of words with a letter.</p>")
    return ["<h3>FineWeb-2 configs used</h3>",
            table(["stage", "thresholds", "language", "language_fallback", "overrides"], stages, numeric_from=5),
            note, table(header, rows, numeric_from=4)]


def funnel_table(run: RunView):
    """The same funnel for `curate report` on the console (a rich Table), or None when the run has none."""
    section = run.manifest.get(FUNNEL)
    if not section or not section["languages"]:
        return None
    from rich.table import Table

    header, rows = _rows(section)
    listing = Table(title="per-language funnel (documents; bytes of text; tokens where the run tokenized)",
                    title_justify="left")
    for i, name in enumerate(header):
        listing.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        listing.add_row(*[_cell(v) for v in row])
    return listing


def configs_table(run: RunView):
    """The configs each language was judged by, for the console (a rich Table), or None for a run without."""
    found = config_rows(run)
    if found is None:
        return None
    from rich.table import Table

    _, header, rows = found
    listing = Table(title="FineWeb-2 configs used (per language)", title_justify="left")
    for i, name in enumerate(header):
        listing.add_column(name, justify="left" if i < 4 else "right")
    for row in rows:
        listing.add_row(*[_cell(v) for v in row])
    return listing


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
