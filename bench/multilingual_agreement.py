"""Agreement and throughput against datatrove with FineWeb-2's configs: curate's `gopher_repetition`, `fineweb_quality`
and `gopher_quality` stages with `thresholds: fineweb2`, document by document, in 20 languages.

    python bench/multilingual_agreement.py [--work /tmp/curate-multilingual] [--per-language 300] [--rounds 3]
        [--datatrove-python /work/venvs/datatrove/bin/python] [--skip-run] [--skip-throughput] [--out result.json]
        [--languages hin_Deva,kor_Hang]

1. The corpus (`bench/multilingual_corpus.py`, seeded) is built once into `--work` and read back on later runs.
2. datatrove's side: `bench/peers/datatrove_fineweb2_filters.py decide`, run with the datatrove venv's interpreter,
   gives each filter's decision on each document with the signals beside their thresholds. The bench prints, per filter,
   language and rule, how many documents the rule rejects and how many sit near its threshold on either side.
3. curate's side: each stage's `process` on Arrow batches of the whole mixed-language corpus (1,000 documents a
   batch, languages interleaved as a crawl has them, each document judged by its own `lang`), every filter on every
   document; then once `curate run` on Spark and on Beam with the three stages in FineWeb-2's order, whose kept and
   rejected documents are compared with the chain of the `process` decisions.
4. Per language: documents, agreement per filter (same decision and the same rule) and overall (the chain's outcome:
   kept, or the first filter's rule that rejects), then every disagreement with the document id, both decisions and
   the signal values on both sides.
5. Throughput: per language the three filters on the language's documents (the `huge` ones aside), curate's stages in
   this process against the peer's `time` command in its own, one process at a time, alternating, best of `--rounds`;
   documents per CPU second and per wall second, the ratio curate / datatrove, the load average. Then each language's
   word tokenizer loaded in a fresh process on each side: seconds and resident memory added.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multilingual_corpus as corpus_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = corpus_module.DATA
CONFIGS = DATA / "fineweb-2" / "configs"
PEER = ROOT / "bench" / "peers" / "datatrove_fineweb2_filters.py"
DATATROVE_PYTHON = Path("/work/venvs/datatrove/bin/python")
FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")  # FineWeb-2's order
BATCH = 1000

#: datatrove's reason -> curate's rule name (the rule names of `curate.filters`; word count and mean word length are
#: one rule each in curate, two bounds in datatrove).
RULES = {
    "dup_line_frac": "dup_line_fraction",
    **{f"top_{n}_gram": f"top_{n}gram_char_fraction" for n in (2, 3, 4)},
    **{f"duplicated_{n}_n_grams": f"dup_{n}gram_char_fraction" for n in range(5, 11)},
    "line_punct_ratio": "line_punct_ratio",
    "short_line_ratio": "short_line_ratio",
    "char_dup_ratio": "dup_line_char_fraction",
    "list_ratio": "list_ratio",
    "gopher_short_doc": "word_count",
    "gopher_long_doc": "word_count",
    "gopher_below_avg_threshold": "mean_word_length",
    "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_ratio",
    "gopher_too_many_ellipsis": "ellipsis_ratio",
    "gopher_too_many_bullets": "bullet_line_fraction",
    "gopher_too_many_end_ellipsis": "ellipsis_line_fraction",
    "gopher_below_alpha_threshold": "alpha_word_fraction",
    "gopher_enough_stop_words": "stop_word_count",
}
def corpus_file(work: Path, per_language: int, seed: int) -> Path:
    """The corpus as JSONL in `work`, built on the first call."""
    path = work / f"corpus-{per_language}-{seed}.jsonl"
    if not path.exists():
        work.mkdir(parents=True, exist_ok=True)
        docs = corpus_module.build(list(corpus_module.LANGUAGES), per_language, seed)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
        tmp.rename(path)
    return path


def peer(python: Path, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    done = subprocess.run([str(python), str(PEER), *args], check=True, capture_output=True, text=True, env=env)
    return done.stdout


def datatrove_decisions(python: Path, corpus: Path, work: Path) -> dict[tuple[str, str], dict]:
    out = work / (corpus.stem + "-datatrove.jsonl")
    if not out.exists() or out.stat().st_mtime < max(corpus.stat().st_mtime, PEER.stat().st_mtime):
        started = time.time()
        print(peer(python, "decide", "--corpus", str(corpus), "--configs", str(CONFIGS), "--out", str(out)).strip(),
              f"({time.time() - started:.0f} s)")
    decisions = {}
    with open(out, encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            decisions[d["id"], d["filter"]] = d
    return decisions


def word_agreement(docs: list[dict], python: Path, work: Path, examples: int = 3) -> dict:
    """Diagnostic: per language, the documents whose word lists (curate's `curate.filters.words` against the words
    datatrove's filters split) are identical, and the first difference of a few that are not."""
    from curate.filters.words import word_tokenizer

    sample = [d for d in docs if d["kind"] != "huge"]
    path, out = work / "words-corpus.jsonl", work / "words-datatrove.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in sample)
    peer(python, "words", "--corpus", str(path), "--out", str(out))
    with open(out, encoding="utf-8") as f:
        theirs = {row["id"]: row["words"] for row in map(json.loads, f)}
    table: dict[str, dict] = {}
    print("\nWord tokenizers: documents whose words are identical (curate.filters.words vs datatrove)")
    for d in sample:
        ours = word_tokenizer(d["lang"]).words(d["text"])
        row = table.setdefault(d["lang"], {"documents": 0, "identical": 0, "examples": []})
        row["documents"] += 1
        if ours == theirs[d["id"]]:
            row["identical"] += 1
        elif len(row["examples"]) < examples:
            i = next((k for k, (a, b) in enumerate(zip(ours, theirs[d["id"]])) if a != b), min(len(ours), len(theirs[d["id"]])))
            row["examples"].append(f"{d['id']} word {i}: curate {ours[i:i + 4]}, datatrove {theirs[d['id']][i:i + 4]} "
                                   f"({len(ours)} vs {len(theirs[d['id']])} words)")
    for lang, row in sorted(table.items()):
        print(f"{lang:9} {row['identical']:>5}/{row['documents']:<5}" + "".join(f"\n    {e}" for e in row["examples"]))
    return table


# -- curate's side ---------------------------------------------------------------------------------------------------

def curate_stages(keep_signals: bool) -> dict:
    from curate.pipeline.registry import get

    stages = {}
    for name in FILTERS:
        cls = get(name)
        stage = cls(cls.Params(thresholds="fineweb2", keep_signals=keep_signals))
        stage.setup()
        stages[name] = stage
    return stages


def batches(docs: list[dict]) -> list[pa.RecordBatch]:
    return [pa.RecordBatch.from_pydict({"id": [d["id"] for d in docs[i:i + BATCH]],
                                        "text": [d["text"] for d in docs[i:i + BATCH]],
                                        "lang": [d["lang"] for d in docs[i:i + BATCH]]})
            for i in range(0, len(docs), BATCH)]


def curate_decisions(docs: list[dict], seed: int) -> dict[tuple[str, str], dict]:
    """Every filter on every document, through the stages' `process`, in mixed-language batches."""
    stages = curate_stages(keep_signals=True)
    mixed = list(docs)
    random.Random(seed).shuffle(mixed)
    out = {}
    for batch in batches(mixed):
        ids = batch.column("id").to_pylist()
        for name, stage in stages.items():
            result = stage.process(batch)
            reasons = result.column("reject_reason").to_pylist()
            prefix = f"{stage.id}_"
            signal_columns = {c.removeprefix(prefix): result.column(c).to_pylist()
                              for c in result.schema.names if c.startswith(prefix)}
            for i, (doc_id, reason) in enumerate(zip(ids, reasons)):
                out[doc_id, name] = {"kept": reason is None, "reason": reason,
                                     "signals": {k: v[i] for k, v in signal_columns.items()}}
    return out


def outcome(ours: dict, doc_id: str) -> str:
    """curate's outcome of the three filters in FineWeb-2's order: 'kept' or '<filter>:<rule>' of the first that
    rejects (what a run with the three stages gives)."""
    for name in FILTERS:
        if not ours[doc_id, name]["kept"]:
            return f"{name}:{ours[doc_id, name]['reason']}"
    return "kept"


# -- comparison ------------------------------------------------------------------------------------------------------

def same(ours: dict, theirs: dict) -> bool:
    """The same decision and the same rule. datatrove rejects a text without words or lines as `empty` before its
    rules; curate has no such rule and names the first rule that is on: any rejection is the same decision."""
    if ours["kept"] != theirs["kept"]:
        return False
    return ours["kept"] or theirs["reason"] == "empty" or ours["reason"] == RULES.get(theirs["reason"])


def chain_agrees(ours: dict, theirs: dict, doc_id: str) -> bool:
    """Whether the three filters in FineWeb-2's order end the same on both sides: kept by all, or rejected by the
    same filter with the same rule."""
    for name in FILTERS:
        if not same(ours[doc_id, name], theirs[doc_id, name]):
            return False
        if not ours[doc_id, name]["kept"]:
            return True
    return True


def signal_differences(docs: list[dict], ours: dict, theirs: dict) -> dict[str, dict[str, list]]:
    """Per filter and datatrove rule: the largest |curate - datatrove| of the rule's signal, and its document."""
    out: dict[str, dict[str, list]] = {}
    for d in docs:
        for name in FILTERS:
            mine = ours[d["id"], name]["signals"]
            for rule, (value, _, _) in theirs[d["id"], name]["signals"].items():
                other = mine.get(RULES[rule])
                if other is not None and math.isfinite(other) and math.isfinite(value):
                    cell = out.setdefault(name, {}).setdefault(rule, [0.0, None])
                    if abs(other - value) > cell[0]:
                        cell[:] = [abs(other - value), d["id"]]
    return out


def fmt(x) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def describe(doc_id: str, name: str, ours: dict, theirs: dict) -> str:
    """One disagreement: both decisions and the signal values of the rules involved, on both sides."""
    rules = {r for r in (theirs["reason"],) if r} | {r for r, v in theirs["signals"].items()
                                                     if RULES.get(r) == ours["reason"]}
    parts = []
    for rule in sorted(rules):
        value, threshold, bound = theirs["signals"].get(rule, (None, None, None))
        mine = ours["signals"].get(RULES.get(rule, rule))
        parts.append(f"{rule}: datatrove {fmt(value)}, curate {fmt(mine)} ({bound} {fmt(threshold)})")
    return (f"  {doc_id} {name}: curate {'kept' if ours['kept'] else ours['reason']}, "
            f"datatrove {'kept' if theirs['kept'] else theirs['reason']}; " + "; ".join(parts))


def compare(docs: list[dict], ours: dict, theirs: dict) -> dict:
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        by_lang[d["lang"]].append(d)
    table, disagreements = {}, []
    print("\nAgreement with datatrove (same decision and the same rule), % of documents")
    print(f"{'lang':9} {'docs':>5} " + " ".join(f"{n:>17}" for n in FILTERS) + f" {'overall':>8} {'kept/rejected':>13}")
    for lang in sorted(by_lang):
        row = {"documents": len(by_lang[lang])}
        for name in FILTERS:
            agree = sum(same(ours[d["id"], name], theirs[d["id"], name]) for d in by_lang[lang])
            row[name] = 100 * agree / len(by_lang[lang])
            for d in by_lang[lang]:
                if not same(ours[d["id"], name], theirs[d["id"], name]):
                    disagreements.append(describe(d["id"], name, ours[d["id"], name], theirs[d["id"], name]))
        overall = sum(chain_agrees(ours, theirs, d["id"]) for d in by_lang[lang])
        decided = sum((outcome(ours, d["id"]) == "kept") == all(theirs[d["id"], n]["kept"] for n in FILTERS)
                      for d in by_lang[lang])
        row["overall"] = 100 * overall / len(by_lang[lang])
        row["kept_or_rejected"] = 100 * decided / len(by_lang[lang])
        table[lang] = row
        print(f"{lang:9} {row['documents']:>5} " + " ".join(f"{row[n]:>17.2f}" for n in FILTERS)
              + f" {row['overall']:>8.2f} {row['kept_or_rejected']:>13.2f}")
    print("\nLargest difference of a signal between the two sides (documents where both are finite)")
    differences = signal_differences(docs, ours, theirs)
    for name, rules in differences.items():
        print(f"  {name}: " + ", ".join(f"{rule} {fmt(d)}" + (f" ({doc})" if doc else "")
                                        for rule, (d, doc) in rules.items()))
    print(f"\n{len(disagreements)} disagreements (filter by filter):")
    print("\n".join(disagreements) if disagreements else "  none")
    return {"languages": table, "disagreements": disagreements, "largest_signal_difference": differences}


# -- curate run on both engines --------------------------------------------------------------------------------------

def engine_runs(docs: list[dict], ours: dict, work: Path) -> dict:
    """`curate run` on Spark and on Beam over the corpus as JSONL (`lang` a field); each run's outcome per document
    against the chain of the `process` decisions."""
    from curate.pipeline import config as pipeline_config
    from curate.pipeline.run import run

    inputs = work / "jsonl"
    inputs.mkdir(parents=True, exist_ok=True)
    files = 4
    line_of = {}  # (file, line) -> document id: how a rejected row's curate id names it
    for f in range(files):
        with open(inputs / f"part-{f}.jsonl", "w", encoding="utf-8") as out:
            for n, d in enumerate(docs[f::files]):
                out.write(json.dumps({"text": d["text"], "lang": d["lang"], "doc": d["id"]}, ensure_ascii=False) + "\n")
                line_of[f"part-{f}.jsonl", n] = d["id"]
    expected = {d["id"]: outcome(ours, d["id"]) for d in docs}
    result = {}
    for engine in ("spark", "beam"):
        out = work / f"run-{engine}"
        raw = {"input": {"paths": [str(inputs)], "dataset": "ml", "fields": ["lang", "doc"]}, "output": str(out),
               "engine": {"name": engine},
               "stages": [{"name": name, "thresholds": "fineweb2"} for name in FILTERS]}
        started = time.time()
        run(pipeline_config.parse(raw), overwrite=True)
        seconds = time.time() - started
        got = {}
        kept = ds.dataset(out / "documents", format="parquet").to_table(columns=["doc"]).column("doc").to_pylist()
        got.update({doc: "kept" for doc in kept})
        rejects = ds.dataset(out / "ledger" / "rejects", format="parquet").to_table(columns=["id", "reject_reason"])
        for curate_id, reason in zip(rejects.column("id").to_pylist(), rejects.column("reject_reason").to_pylist()):
            path, offset = curate_id.split("/", 1)[1].rsplit(":", 1)
            got[line_of[path, int(offset)]] = reason
        differ = [f"  {i}: run {got.get(i)}, process {expected[i]}" for i in expected if got.get(i) != expected[i]]
        result[engine] = {"seconds": round(seconds, 1), "kept": sum(v == "kept" for v in got.values()),
                          "documents": len(got), "differ": len(differ)}
        print(f"curate run --engine {engine}: {len(got)} documents, {result[engine]['kept']} kept, "
              f"{len(differ)} outcomes differ from the stages' process ({seconds:.0f} s)")
        print("\n".join(differ[:20]))
    return result


# -- throughput ------------------------------------------------------------------------------------------------------

def time_curate(corpus: Path, out: Path, share_words: bool) -> None:
    """One timing round of curate's three stages, per language, in this (fresh) process: `process` on each batch
    with the three stages in FineWeb-2's order, after a warm-up text that loads the tokenizer. Without
    `share_words`, each stage segments the text itself (the word tokenizer remembers nothing), as datatrove's
    filters do."""
    if not share_words:
        import curate.filters.words as words_module
        words_module.REMEMBERED.LIMIT = 0  # every text forgotten as soon as the next one is segmented
    by_lang: dict[str, list[dict]] = defaultdict(list)
    with open(corpus, encoding="utf-8") as f:
        for d in map(json.loads, f):
            by_lang[d["lang"]].append(d)
    stages = curate_stages(keep_signals=False)
    result = {}
    for lang, docs in by_lang.items():
        warm_up = batches([{**docs[0], "text": docs[0]["text"][:50]}])[0]  # a text that is not in the corpus
        for stage in stages.values():
            stage.process(warm_up)
        lang_batches = batches(docs)
        cpu, wall = time.process_time(), time.perf_counter()
        for batch in lang_batches:
            for stage in stages.values():
                stage.process(batch)
        result[lang] = {"documents": len(docs), "cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    out.write_text(json.dumps(result))


SIDES = {"curate": "curate", "curate_each": "curate, each stage segmenting", "datatrove": "datatrove"}


def throughput(docs: list[dict], python: Path, work: Path, rounds: int) -> dict:
    """Best of `rounds` alternating rounds, each side in a fresh process per round (nothing carried over)."""
    timed = [d for d in docs if d["kind"] != "huge"]
    path = work / "throughput.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in timed)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    best: dict[str, dict[str, dict]] = {side: {} for side in SIDES}
    loads = []
    for r in range(rounds):
        order = list(SIDES)[r % 3:] + list(SIDES)[:r % 3]
        for side in order:
            loads.append(os.getloadavg()[0])
            out = work / f"timing-{side}.json"
            if side == "datatrove":
                peer(python, "time", "--corpus", str(path), "--configs", str(CONFIGS), "--out", str(out))
            else:
                subprocess.run([sys.executable, __file__, "--time-curate", str(path), "--time-out", str(out),
                                *(["--each-stage-segments"] if side == "curate_each" else [])], check=True, env=env)
            for lang, t in json.loads(out.read_text()).items():
                b = best[side].setdefault(lang, dict(t))
                b["cpu_s"], b["wall_s"] = min(b["cpu_s"], t["cpu_s"]), min(b["wall_s"], t["wall_s"])
        print(f"round {r + 1}/{rounds} done ({', '.join(order)}), load average {os.getloadavg()[0]:.1f}")
    table = {}
    print(f"\nThroughput, three filters, documents per CPU second, one process each, best of {rounds} alternating "
          f"rounds (load average 1 min: {min(loads):.1f}-{max(loads):.1f}); ratios against datatrove")
    print(f"{'lang':9} {'docs':>5} {'curate':>8} {'each':>8} {'datatrove':>10} {'ratio':>6} {'each':>6} "
          f"{'wall ratio':>10}")
    for lang in sorted(best["curate"]):
        rate = {side: best[side][lang]["documents"] / best[side][lang]["cpu_s"] for side in SIDES}
        wall = {side: best[side][lang]["documents"] / best[side][lang]["wall_s"] for side in SIDES}
        row = {"documents": best["curate"][lang]["documents"],
               **{f"{side}_docs_per_cpu_s": rate[side] for side in SIDES},
               **{f"{side}_docs_per_s": wall[side] for side in SIDES},
               "ratio_cpu": rate["curate"] / rate["datatrove"], "ratio_each_cpu": rate["curate_each"] / rate["datatrove"],
               "ratio_wall": wall["curate"] / wall["datatrove"]}
        table[lang] = row
        print(f"{lang:9} {row['documents']:>5} {rate['curate']:>8.1f} {rate['curate_each']:>8.1f} "
              f"{rate['datatrove']:>10.1f} {row['ratio_cpu']:>6.2f} {row['ratio_each_cpu']:>6.2f} "
              f"{row['ratio_wall']:>10.2f}")
    total = {side: sum(t["cpu_s"] for t in best[side].values()) for side in SIDES}
    ratios = {side: total["datatrove"] / total[side] for side in ("curate", "curate_each")}
    print(f"all languages: curate {len(timed) / total['curate']:.1f} docs/CPU-s ({ratios['curate']:.2f}x datatrove), "
          f"each stage segmenting {len(timed) / total['curate_each']:.1f} ({ratios['curate_each']:.2f}x), "
          f"datatrove {len(timed) / total['datatrove']:.1f}")
    return {"rounds": rounds, "load_average": [round(x, 1) for x in loads], "languages": table,
            "ratio_all_cpu": ratios["curate"], "ratio_all_cpu_each_stage_segments": ratios["curate_each"]}


def tokenizer_costs(python: Path, languages: list[str]) -> dict:
    """Each language's word tokenizer in a fresh process on each side, after the three filters' imports: the seconds
    and resident memory the imports take, then what loading the tokenizer and segmenting one text add."""
    ours_code = ("import time; started = time.perf_counter()\n"
                 "import json, os, sys\n"
                 "from pathlib import Path\n"
                 "import curate.stages.gopher_quality, curate.stages.gopher_repetition, curate.stages.fineweb_quality\n"
                 "from curate.filters.words import word_tokenizer\n"
                 "def rss(): return int(Path('/proc/self/statm').read_text().split()[1]) * os.sysconf('SC_PAGE_SIZE')\n"
                 "imported, base = time.perf_counter(), rss()\n"
                 "word_tokenizer(sys.argv[1]).words('A short text, to make the tokenizer load.')\n"
                 "print(json.dumps({'import_s': imported - started, 'import_rss_bytes': base,\n"
                 "                  'tokenizer_s': time.perf_counter() - imported, 'tokenizer_rss_bytes': rss() - base}))\n")
    table = {}
    print("\nWord tokenizer cost per worker, a fresh process each: the three filters' imports (seconds, resident MiB), "
          "then the tokenizer's load and first text (seconds, MiB added)")
    print(f"{'lang':9} {'curate imports':>15} {'tokenizer':>13} {'datatrove imports':>18} {'tokenizer':>13}")
    for lang in languages:
        ours = json.loads(subprocess.run([sys.executable, "-c", ours_code, lang], check=True, capture_output=True,
                                         text=True).stdout)
        theirs = json.loads(peer(python, "load", "--language", lang))
        table[lang] = {"curate": ours, "datatrove": theirs}
        print(f"{lang:9} " + " ".join(f"{x['import_s']:>6.2f} s {x['import_rss_bytes'] / 2**20:>4.0f} M "
                                      f"{x['tokenizer_s']:>5.2f} s {x['tokenizer_rss_bytes'] / 2**20:>4.0f} M "
                                      for x in (ours, theirs)))
    return table


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/curate-multilingual"))
    parser.add_argument("--per-language", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--datatrove-python", type=Path, default=DATATROVE_PYTHON)
    parser.add_argument("--skip-run", action="store_true", help="no `curate run` on the engines")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--languages", help="only these languages' documents (comma-separated FineWeb-2 codes); the "
                                            "corpus and datatrove's decisions stay those of all of them")
    parser.add_argument("--words", action="store_true", help="also compare the word tokenizers' words (diagnostic)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--time-curate", type=Path, help=argparse.SUPPRESS)  # one timing round, in a fresh process
    parser.add_argument("--time-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--each-stage-segments", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_curate:
        time_curate(args.time_curate, args.time_out, share_words=not args.each_stage_segments)
        return 0

    path = corpus_file(args.work, args.per_language, args.seed)
    with open(path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f]
    if args.languages:
        wanted = set(args.languages.split(","))
        docs = [d for d in docs if d["lang"] in wanted]
    languages = Counter(d["lang"] for d in docs)
    print(f"corpus: {len(docs)} documents in {len(languages)} languages ({path})")
    theirs = datatrove_decisions(args.datatrove_python, path, args.work)
    never, off = corpus_module.print_coverage(corpus_module.coverage(theirs.values()))
    print("\nRules that never reject in a language though they could: " + (", ".join(never) or "none"))
    by_rule: dict[str, list[str]] = defaultdict(list)
    for item in off:
        lang, rest = item.split(":", 1)
        by_rule[rest].append(lang)
    print("Rules FineWeb-2's configs leave nothing to reject: "
          + "; ".join(f"{rule} in {', '.join(langs)}" for rule, langs in by_rule.items()))
    result: dict = {"documents": len(docs), "languages": len(languages), "never_rejects": never, "cannot_reject": off}
    if args.words:
        result["words"] = word_agreement(docs, args.datatrove_python, args.work)
    started = time.time()
    ours = curate_decisions(docs, args.seed)
    print(f"\ncurate: {len(docs)} documents x 3 filters in {time.time() - started:.0f} s")
    result["agreement"] = compare(docs, ours, theirs)
    if not args.skip_run:
        result["engines"] = engine_runs(docs, ours, args.work)
    if not args.skip_throughput:
        result["throughput"] = throughput(docs, args.datatrove_python, args.work, args.rounds)
        result["tokenizers"] = tokenizer_costs(args.datatrove_python, sorted(languages))
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
