"""Paragraph/line dedup on real pages: how much it removes, what it removes, and what it does to the quality filters.

    python -P bench/dedup_paragraphs.py [--unit line] [--max-count 1] [--out result.json]

Input: the shared crawls (`../shared/data/warc/*.warc.gz`) and the 990 trafilatura-eval pages written as WARC
(`bench/end_to_end.py`'s `build_warcs`, one copy each). Three runs on Spark `local[2]`, one session:

1. `extract` (trafilatura) alone: the extracted texts, the common input of the next two (Parquet).
2. FineWeb's quality filters (`gopher_repetition`, `gopher_quality`, `c4_quality` as in `examples/fineweb.yaml`,
   `fineweb_quality`) on those texts;
3. `paragraph_dedup` (`--unit`, `--max-count`) and then the same filters, `write_rejects: true` so every text after
   the cut is at hand.

Reported: the share of characters `paragraph_dedup` removed (over all extracted characters; documents it rejected
`too_short` count whole), the documents it touched, the 20 most frequent removed units (by documents, as they
read), and the documents whose quality decision (kept / rejected by a quality rule) changed between runs 2 and 3.
Extracted text has one paragraph per line, so `line` is the unit that fits it (`paragraph` = between blank lines).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "bench"))

QUALITY = [{"name": "gopher_repetition"}, {"name": "gopher_quality", "punctuation_tokens": True},
           {"name": "c4_quality", "remove_no_terminal_punct_lines": False, "min_words_per_line": 3,
            "min_sentences": 5},
           {"name": "fineweb_quality"}]


def curate(inputs: list[str], out: Path, stages: list[dict]) -> dict:
    from curate.pipeline.config import parse
    from curate.pipeline.run import run

    source = {"paths": inputs, "dataset": "pages"}
    started = time.time()
    run(parse({"input": source, "output": str(out), "write_rejects": True,
               "engine": {"name": "spark", "master": "local[2]"}, "stages": stages}))
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["wall_s"] = round(time.time() - started, 1)
    return manifest


def rows(out: Path, manifest: dict, section: str, columns: list[str]) -> list[dict]:
    tables = [pq.read_table(out / p) for p in manifest[section]]
    if not tables:
        return []
    table = pa.concat_tables(tables, promote_options="permissive")
    return table.select([c for c in columns if c in table.column_names]).to_pylist()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unit", default="line", choices=["line", "paragraph"])
    parser.add_argument("--max-count", type=int, default=1)
    parser.add_argument("--work", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from end_to_end import build_warcs

    work = args.work or Path(tempfile.mkdtemp(prefix="dedup-paragraphs-"))
    crawls = sorted(str(p) for p in (SHARED / "warc").glob("*.warc.gz"))
    if (work / "extracted" / "manifest.json").exists():  # --work from an earlier try: the extraction is reused
        pages = sum(1 for _ in (SHARED / "extraction" / "trafilatura-eval" / "index.jsonl").open())
        extracted = json.loads((work / "extracted" / "manifest.json").read_text()) | {"wall_s": None}
    else:
        pages = build_warcs(SHARED / "extraction" / "trafilatura-eval", work / "warc", copies=1, files=4)
        extracted = curate([str(work / "warc"), *crawls], work / "extracted", [{"name": "extract"}])
    texts = {r["id"]: r["text"] for r in rows(work / "extracted", extracted, "documents", ["id", "text"])}
    # The extracted texts as the common input of both runs: one JSONL file, ids pages/extracted.jsonl:<line>.
    (work / "texts").mkdir(exist_ok=True)
    with open(work / "texts" / "extracted.jsonl", "w") as f:
        for doc_id in sorted(texts):
            f.write(json.dumps({"text": texts[doc_id], "page": doc_id}) + "\n")
    original = {f"pages/extracted.jsonl:{i}": texts[doc_id] for i, doc_id in enumerate(sorted(texts))}
    as_input = [str(work / "texts")]
    for name in ("quality", "dedup-quality"):
        shutil.rmtree(work / name, ignore_errors=True)
    plain = curate(as_input, work / "quality", QUALITY)
    cut = curate(as_input, work / "dedup-quality", [{"name": "paragraph_dedup", "unit": args.unit,
                                                     "max_count": args.max_count}, *QUALITY])
    after, decision_b, reason_b = {}, {}, {}
    for r in rows(work / "dedup-quality", cut, "documents", ["id", "text"]):
        after[r["id"]], decision_b[r["id"]] = r["text"], "kept"
    for r in rows(work / "dedup-quality", cut, "rejects", ["id", "text", "reject_reason"]):
        after[r["id"]], reason_b[r["id"]] = r["text"], r["reject_reason"]
        decision_b[r["id"]] = "too_short" if r["reject_reason"].startswith("paragraph_dedup") else "rejected"
    decision_a = {r["id"]: "kept" for r in rows(work / "quality", plain, "documents", ["id"])}
    reason_a = {}
    for r in rows(work / "quality", plain, "rejects", ["id", "reject_reason"]):
        decision_a[r["id"]], reason_a[r["id"]] = "rejected", r["reject_reason"]

    total = sum(len(t or "") for t in original.values())
    removed_chars, touched, removed_units = 0, 0, Counter()
    sep = "\n" if args.unit == "line" else "\n\n"
    for doc_id, text in original.items():
        text = text or ""
        if decision_b.get(doc_id) == "too_short":
            removed_chars += len(text)
        else:
            removed_chars += len(text) - len(after.get(doc_id) or "")
        gone = Counter(text.split(sep)) - Counter((after.get(doc_id) or "").split(sep))
        if decision_b.get(doc_id) != "too_short" and gone:
            touched += 1
            removed_units.update({u.strip() for u in gone if u.strip()})
    changed = Counter()
    examples = []
    for doc_id in original:
        a, b = decision_a.get(doc_id), decision_b.get(doc_id)
        if b == "too_short":
            changed[f"{a} -> paragraph_dedup:too_short"] += 1
        elif a != b:
            changed[f"{a} -> {b}"] += 1
            if len(examples) < 10:
                examples.append({"id": doc_id, "before": reason_a.get(doc_id, "kept"),
                                 "after": reason_b.get(doc_id, "kept")})
    result = {"unit": args.unit, "max_count": args.max_count, "pages_written_as_warc": pages,
              "crawl_files": [Path(c).name for c in crawls], "documents": len(original),
              "characters": total, "characters_removed": removed_chars,
              "share_removed": round(removed_chars / max(1, total), 4),
              "documents_touched": touched,
              "top_removed": [{"documents": n, "text": u[:160]} for u, n in removed_units.most_common(20)],
              "quality_kept_without": sum(1 for v in decision_a.values() if v == "kept"),
              "quality_kept_with": sum(1 for v in decision_b.values() if v == "kept"),
              "decision_changes": dict(changed), "change_examples": examples,
              "wall_s": {"extract": extracted["wall_s"], "quality": plain["wall_s"],
                         "paragraph_dedup+quality": cut["wall_s"]},
              "load_average_1m": round(os.getloadavg()[0], 1)}
    print(json.dumps(result, indent=2, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
