"""Run statistics as a query over committed output: reader ledger, reject ledger and documents.

Never from accumulators or metrics, which count a retried or speculative task twice. The run fails when the input
count is not kept + rejected.
"""
from __future__ import annotations

from collections import Counter

import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline.errors import CurateError
from curate.pipeline.output import Output
from curate.pipeline.schema import REJECT


class AccountingError(CurateError):
    """Input records are missing from (or counted twice in) the output: a bug, never a user mistake."""


def compute(output: Output, records: list[list[dict]]) -> dict:
    """`stats.json` for the committed `records` (per pass, one per input file)."""
    first, last = records[0], records[-1]
    seen = sum(r["reader"]["records_seen"] for r in first)
    kept = sum(_rows(output, path) for r in last for path in r["rows"])
    rejected: Counter[str] = Counter()
    for step in records:
        for r in step:
            for path in r["rejects"]:
                with output.fs.open(output.path(path), "rb") as f:
                    column = pq.read_table(f, columns=[REJECT]).column(REJECT)
                for item in pc.value_counts(column).to_pylist():
                    rejected[item["values"]] += item["counts"]
    read_rejects = sum(n for reason, n in rejected.items() if reason.startswith("read:"))
    stages = [{"name": "read", "in": seen, "out": seen - read_rejects, "cpu_seconds": None}]
    for step in records:
        by_stage: dict[str, dict] = {}
        for r in step:
            for s in r["stages"]:
                row = by_stage.setdefault(s["name"], {"name": s["name"], "in": 0, "out": 0, "cpu_seconds": 0.0})
                row["in"] += s["in"]
                row["out"] += s["out"]
                row["cpu_seconds"] = round(row["cpu_seconds"] + s["cpu_seconds"], 3)
        stages += list(by_stage.values())
    file_errors = {r["file"]: r["reader"]["error"] for r in first if r["reader"]["error"]}
    stats = {
        "input": seen,
        "kept": kept,
        "rejected": dict(sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))),
        "stages": stages,
        "files": len(first),
        "file_errors": file_errors,
    }
    if seen != kept + sum(rejected.values()):
        raise AccountingError(f"accounting failed: input {seen} != kept {kept} + rejected {sum(rejected.values())}")
    return stats


def _rows(output: Output, path: str) -> int:
    with output.fs.open(output.path(path), "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows
