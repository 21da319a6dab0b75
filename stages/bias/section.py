"""bias in the run report: the tables of `bias.json` (representation, pronouns, toxicity by group, before and after
filtering), and the same as plain text for the console."""
from __future__ import annotations

import html

from curate.pipeline.sections import RunView, Section, pct, table
from curate.pipeline.stage import Stage
from curate.stages.bias.report import REPORT_KEY, format_report


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
