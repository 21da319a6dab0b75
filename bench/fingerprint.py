"""Fingerprints of what curate writes, to show that a refactor changed no result.

`record` runs, through the `curate` command only (so it works on any layout of the code): `curate demo`, and a wide
pipeline over the demo crawl on Spark and on Beam (URL lists, opt-outs, extraction, language ID, text repair, PII, two
rule sets with their signals, toxicity, bias, exact, paragraph and MinHash dedup, a URL dedup, a quality classifier
keeping the top half, domains, tokenize, balance). It writes one JSON of digests: per run, the sorted rows of
`documents/` and `ledger/rejects/`, the token shards read back, `stats.json` and the manifest without timings, file
names of attempts or absolute paths, and every other JSON the run wrote. `compare` prints what differs.

    python bench/fingerprint.py record --workdir /tmp/fp-before --out /tmp/fp-before.json
    python bench/fingerprint.py record --workdir /tmp/fp-after --out /tmp/fp-after.json --model /tmp/fp-before.quality.bin
    python bench/fingerprint.py compare /tmp/fp-before.json /tmp/fp-after.json

The quality model is trained once (`--model`, default `<out>.quality.bin`, trained when missing): give the "after"
record the "before" record's model, as above.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CURATE = [sys.executable, "-m", "curate.cli.main"]
# Keys whose values are times, places or names of attempts: never compared.
VOLATILE = {"seconds", "cpu_seconds", "created", "started", "finished", "output", "attempt", "documents", "rejects",
            "rows", "keys", "files", "path", "paths", "file", "uri", "manifest", "work", "tokenizer", "model",
            "model_path", "stage_outputs", "passes", "docs_per_second", "elapsed"}


def _curate(*args: str) -> None:
    # the `curate` of this interpreter's environment (a light venv has its own), not whichever one PATH finds first
    cli = Path(sys.executable).parent / "curate"
    command = [str(cli), *args] if cli.is_file() else [*CURATE, *args]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _quality_model(model: Path) -> Path:
    """A tiny fastText quality model, trained once and kept at `model`: fastText's training is not reproducible on
    this build (with one thread and a seed, a small `bucket` still gives different weights run to run, and without
    word n-grams it often stops on "Encountered NaN"), so `record` reuses the model the first record trained, and its
    sha256 goes into the fingerprints."""
    import fasttext

    if model.is_file():
        return model
    rng = random.Random(3)
    good = "the council reviewed the report and published a plan for the coming season".split()
    bad = "click buy now cheap free offer win prize casino deal".split()
    lines = [f"__label__{label} " + " ".join(rng.choices(words, k=12))
             for label, words in (("hq", good), ("cc", bad)) for _ in range(300)]
    text = model.with_suffix(".txt")
    text.write_text("\n".join(lines) + "\n")
    for _ in range(5):  # a NaN in training is a bad draw of this build, not of the data
        try:
            trained = fasttext.train_supervised(str(text), epoch=5, dim=16, wordNgrams=2, minCount=1, thread=1,
                                                seed=1, bucket=10000, verbose=0)
            break
        except RuntimeError:
            continue
    else:
        raise SystemExit("fastText training gave NaN five times")
    trained.save_model(str(model))
    text.unlink()
    return model


def _wide(workdir: Path, engine: str, model: Path) -> dict:
    return {
        "input": {"paths": [str(workdir / "crawl")], "dataset": "demo"},
        "output": str(workdir / f"wide-{engine}"),
        "engine": {"name": engine},
        "stages": [
            {"name": "url_filter", "banned_words": ["casino"]},
            {"name": "opt_out"},
            {"name": "extract"},
            {"name": "langid", "languages": ["en", "de", "fr", "es"], "threshold": 0.5},
            {"name": "pii"},
            {"name": "gopher_quality", "keep_signals": True},
            {"name": "c4_quality", "keep_signals": True},
            {"name": "toxicity"},
            {"name": "bias"},
            {"name": "exact_dedup"},
            {"name": "paragraph_dedup"},
            {"name": "minhash_dedup"},
            {"name": "exact_dedup", "id": "url_dedup", "on": "url"},
            {"name": "quality_classifier", "model": str(model), "label": "__label__hq", "keep_fraction": 0.5},
            {"name": "domain", "column": "lang"},
            {"name": "tokenize", "tokenizer": str(workdir / "tokenizer.json"), "shard_tokens": 20000},
            {"name": "balance", "by": "tokens", "weights": {"en": 0.4, "de": 0.2, "fr": 0.2, "es": 0.2}},
        ],
    }


def _stable(value):
    """`value` without volatile keys (times, attempt file names, absolute paths), recursively."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in sorted(value.items()) if k not in VOLATILE}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _rows(folder: Path, drop: tuple[str, ...] = ()) -> str | None:
    files = sorted(folder.rglob("*.parquet"))
    if not files:
        return None
    table = pa.concat_tables([pq.read_table(f) for f in files], promote_options="permissive")
    table = table.drop_columns([c for c in drop if c in table.column_names])
    rows = sorted(table.to_pylist(), key=lambda r: json.dumps(r, sort_keys=True, default=str))
    return _digest(rows)


def fingerprint(output: Path) -> dict:
    out = {"documents": _rows(output / "documents"), "rejects": _rows(output / "ledger" / "rejects"),
           "shards": _rows(output / "shards", drop=("file",))}
    for path in sorted(output.rglob("*.json")):
        relative = path.relative_to(output)
        if relative.parts[0] in ("ledger", "work") or relative.name.startswith("."):
            continue
        out[str(relative)] = _digest(_stable(json.loads(path.read_text())))
    manifest = json.loads((output / "manifest.json").read_text())
    out["manifest keys"] = sorted(manifest)
    return out


def record(workdir: Path, out: Path, model: Path | None = None) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    _curate("demo", "--workdir", str(workdir))
    model = _quality_model(model or out.with_suffix(".quality.bin"))
    result = {"demo": fingerprint(workdir / "output"),
              "model": {"sha256": hashlib.sha256(model.read_bytes()).hexdigest()[:16]}}
    for engine in ("spark", "beam"):
        pipeline = workdir / f"wide-{engine}.yaml"
        pipeline.write_text(json.dumps(_wide(workdir, engine, model)))  # JSON is YAML
        _curate("run", str(pipeline))
        result[f"wide-{engine}"] = fingerprint(workdir / f"wide-{engine}")
    out.write_text(json.dumps(result, indent=1, sort_keys=True))
    print(f"{out}: {sum(len(v) for v in result.values())} digests")


def compare(before: Path, after: Path) -> int:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    differ = 0
    for run in sorted(set(a) | set(b)):
        for key in sorted(set(a.get(run, {})) | set(b.get(run, {}))):
            x, y = a.get(run, {}).get(key), b.get(run, {}).get(key)
            if x != y:
                differ += 1
                print(f"{run} {key}: {x} -> {y}")
    same = sum(len(v) for v in a.values()) - differ
    print(f"{same} equal, {differ} differ")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("--workdir", type=Path, required=True)
    rec.add_argument("--out", type=Path, required=True)
    rec.add_argument("--model", type=Path, help="the fastText quality model (trained there when missing)")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        record(args.workdir, args.out, args.model)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
