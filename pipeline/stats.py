"""Run statistics as a query over committed output: reader ledger, reject ledger and documents.

Never from accumulators or metrics, which count a retried or speculative task twice. The run fails (no manifest is
written) when, for any input file, the records its reader saw are not its kept + rejected rows, or its bytes are not
all accounted for: read, or skipped with a file error (`ledger_problem`). The error names each file and the counts
that disagree.
"""
from __future__ import annotations

from collections import Counter, defaultdict

import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate.pipeline.errors import RunFailed
from curate.pipeline.output import RUN, Output
from curate.pipeline.schema import REJECT


class AccountingError(RunFailed):
    """Input records are missing from (or counted twice in) the output: a bug, never a user mistake."""


# How many disagreeing files an accounting error names.
_NAMED = 5


def ledger_problem(reader: dict) -> str | None:
    """What does not add up in one file's reader ledger (pipeline/ledger.py), or None."""
    if reader["bytes_read"] + reader["bytes_skipped"] != reader["size"]:
        return (f"bytes read {reader['bytes_read']} + skipped {reader['bytes_skipped']} != file size "
                f"{reader['size']}")
    if reader["decoded_in_records"] + reader["decoded_skipped"] != reader["decoded"]:
        return (f"decoded bytes in records {reader['decoded_in_records']} + skipped {reader['decoded_skipped']} != "
                f"decoded {reader['decoded']}")
    if (reader["bytes_skipped"] or reader["decoded_skipped"]) and not reader["error"]:
        return "bytes skipped without a file error"
    return None


def compute(output: Output, records: list[list[dict]]) -> dict:
    """`stats.json` for the committed `records` (per pass, one per input file)."""
    first, last = records[0], records[-1]
    seen = sum(r["reader"]["records_seen"] for r in first)
    # by task: a file read in ranges has a record per range, each of which must add up
    kept_by_task = {r["key"]: sum(_rows(output, path) for path in r["rows"]) for r in last}
    kept = sum(kept_by_task.values())
    rejected: Counter[str] = Counter()
    rejected_by_task: Counter[str] = Counter()
    for step in records:
        for r in step:
            for path in r["rejects"]:
                with output.fs.open(output.path(path), "rb") as f:
                    column = pq.read_table(f, columns=[REJECT]).column(REJECT)
                rejected_by_task[r["key"]] += len(column)
                for item in pc.value_counts(column).to_pylist():
                    rejected[item["values"]] += item["counts"]
    read_rejects = sum(n for reason, n in rejected.items() if reason.startswith("read:"))
    stages = [{"name": "read", "in": seen, "out": seen - read_rejects, "cpu_seconds": None}]
    # in pipeline order; a global stage's rows come from two passes: those it could not key in the pass before its
    # plan (in, never out), and those its decision saw in the pass after
    by_stage: dict[str, dict] = {}
    for step in records:
        for r in step:
            for s in r["stages"]:
                row = by_stage.setdefault(s["name"], {"name": s["name"], "in": 0, "out": 0, "cpu_seconds": 0.0})
                row["in"] += s["in"]
                row["out"] += s["out"]
                row["cpu_seconds"] = round(row["cpu_seconds"] + s["cpu_seconds"], 3)
    stages += list(by_stage.values())
    file_errors: dict[str, str] = {}
    for r in first:
        if r["reader"]["error"]:
            error = r["reader"]["error"] if r.get("range") is None else \
                f"{r['reader']['error']} (in bytes {r['range']['start']}-{r['range']['end']})"
            file_errors[r["file"]] = f"{file_errors[r['file']]}; {error}" if r["file"] in file_errors else error
    problems = defaultdict(list)
    for r in first:
        reader, key = r["reader"], r["key"]
        name = r["file"] if r.get("range") is None else f"{r['file']} range {r['range']['index']}"
        if reader["records_seen"] != kept_by_task.get(key, 0) + rejected_by_task[key]:
            problems[name].append(f"records seen {reader['records_seen']} != kept {kept_by_task.get(key, 0)} + "
                                  f"rejected {rejected_by_task[key]}")
        if (problem := ledger_problem(reader)) is not None:
            problems[name].append(problem)
    for name, problem in _untiled(output, first).items():
        problems[name].append(problem)
    if problems:
        named = "; ".join(f"{name}: {', '.join(p)}" for name, p in sorted(problems.items())[:_NAMED])
        more = f" (and {len(problems) - _NAMED} more files)" if len(problems) > _NAMED else ""
        raise AccountingError(f"accounting failed, manifest not written: {named}{more}")
    stats = {
        "input": seen,
        "kept": kept,
        "rejected": dict(sorted(rejected.items(), key=lambda kv: (-kv[1], kv[0]))),
        "stages": stages,
        "files": len({r["file"] for r in first}),
        "ranges": sum(1 for r in first if r.get("range") is not None),
        "file_errors": file_errors,
        "bytes": {"read": sum(r["reader"]["bytes_read"] for r in first),
                  "skipped": sum(r["reader"]["bytes_skipped"] for r in first),
                  "decoded_skipped": sum(r["reader"]["decoded_skipped"] for r in first)},
        "urls_unparsed": sum(r["reader"]["urls_unparsed"] for r in first),
    }
    if seen != kept + sum(rejected.values()):
        raise AccountingError(f"accounting failed: input {seen} != kept {kept} + rejected {sum(rejected.values())}")
    return stats


def _untiled(output: Output, first: list[dict]) -> dict[str, str]:
    """Files read in ranges whose ranges do not tile the file, from byte 0 to its size in the run's listing."""
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for r in first:
        if r.get("range") is not None:
            spans[r["file"]].append((r["range"]["start"], r["range"]["end"]))
    if not spans:
        return {}
    sizes = {entry["path"]: entry["size"] for entry in output.read_json(RUN)["inputs"]}
    untiled = {}
    for name, parts in spans.items():
        parts.sort()
        ends = [0] + [end for _, end in parts]
        if [start for start, _ in parts] != ends[:-1] or ends[-1] != sizes.get(name):
            untiled[name] = f"ranges {parts} do not tile the file's {sizes.get(name)} bytes"
    return untiled


def _rows(output: Output, path: str) -> int:
    with output.fs.open(output.path(path), "rb") as f:
        return pq.ParquetFile(f).metadata.num_rows
