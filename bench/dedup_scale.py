"""MinHash dedup at scale: the real pipeline (one `minhash_dedup` stage, defaults) on N generated documents.

    python bench/dedup_scale.py [--docs 1000000] [--cores 2] [--files 16] [--keep DIR] [--datatrove DIR]
                                [--only curate|datatrove] [--out result.json]

Input: `--files` Parquet files of generated documents (`text`, and `planted`: the document's planted cluster, -1
for a unique one), written in chunks as they are generated (never the whole corpus in memory). Texts are 150-400
words drawn from a Zipf distribution over 50,000 pseudo-words, words hashed from (base text, position), so unrelated
texts share no run of 5 words beyond chance. 90% of the documents are distinct texts; the other 10% are planted
copies: clusters of a base text and its copies (cluster sizes Zipf(2) from 2 up to N / 500), each copy with 0 to 1%
of its words replaced (5-gram Jaccard to its base >= 0.9, between two copies >= ~0.82). Members are shuffled over
the files.

Run: `curate.pipeline.run.run` in-process, on a SparkSession made first by `curate.engines.spark.session` from the
pipeline YAML's `engine.conf` (`local[<cores>]`, UI on, `spark.sql.shuffle.partitions` = 4 x cores, 4 GB driver),
so the run uses it and the bench can read Spark's monitoring API after the run (shuffle bytes per stage). The
process tree is sampled from /proc (`procmem.TreeMemory`): peak memory of the JVM and of one Python worker (forks of
curate's daemon), CPU seconds of the whole tree. Phases are cut at times the run leaves on disk: pass 0 ends at its
last reader commit, the global stage starts `seconds` (its decisions manifest) before that manifest was written,
the star edges end when `cc-edges` is checkpointed (under the run's checkpoint directory), the components rounds
when the last `cc-round-*` is; pass 1 ends at its last commit. CPU per phase is read off the sampled CPU curve;
shuffle bytes per phase from the stages' completion times. Rounds: `work/components/minhash_dedup/components.json`
(written by the Spark plan). Session start-up is reported apart, not in any phase.

`--datatrove DIR` (a folder datatrove is installed in, as for end_to_end.py) also runs datatrove's MinHash — its four
stages, `peers/datatrove_minhash.py`, MinhashConfig's defaults (the same 5-word shingles and 14 × 8 bands) — on the
same files with `--cores` workers, after curate, measured the same way from /proc: per stage wall, CPU, the bytes it
left on disk for the next stage (datatrove's shuffle goes through files), the peak of the whole tree and of its largest
single process; found vs planted from the `planted` column its writer keeps in `metadata`.

Found vs planted: the kept documents' `planted` column. A planted cluster should keep one member (more: missed
duplicates); unique documents should all be kept (a rejected one is a false merge).

Extrapolation to one Common Crawl snapshot (3e9 pages) on a cluster, printed with these assumptions:
- passes (read, signatures, apply, write) and the global stage's bucket/edge and keep phases cost CPU in proportion
  to documents: the measured CPU-s per document x 3e9;
- the components phase costs per document per round as measured, times the rounds at scale: rounds grow with the log
  of the largest component, taken to grow with the corpus (same share of documents): rounds x ln(largest x 3e9 / N)
  / ln(largest);
- shuffle bytes per document as measured (linear), the components phase's scaled by the same rounds ratio;
- the measured CPU includes fixed costs (JVM start, job scheduling, JIT), which per document are small at 1M
  documents but not at 20k: extrapolate from the 1M run; the duplicate rate (10%) and text length of this corpus,
  not Common Crawl's (FineWeb reports far more near-duplicates across snapshots, fewer within one).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmem import TreeMemory, datatrove_worker  # noqa: E402

SNAPSHOT = 3_000_000_000  # pages in one Common Crawl snapshot
VOCABULARY = 50_000
DISTINCT_SHARE = 0.9
CHUNK = 2_000  # documents generated (and written as one row group) at a time
SEED = 11


# --- the corpus -----------------------------------------------------------------------------------------------------

def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: uint64 → well-mixed uint64, vectorised."""
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _uniform(key: np.ndarray, salt: int) -> np.ndarray:
    return (_mix(key.astype(np.uint64) ^ np.uint64(salt)) >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


class Words:
    """50,000 pseudo-words (1-4 syllables, shortest most frequent) and a Zipf law over them, as byte buffers."""

    def __init__(self, rng: np.random.Generator):
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + \
                    [c + v + e for c in "bdgklmnprst" for v in "aeiou" for e in "nrs"]
        syllables = np.array(syllables + [""])
        picks = rng.integers(0, len(syllables) - 1, size=(4 * VOCABULARY, 4))
        picks[np.arange(4) >= rng.choice([1, 2, 3, 4], p=[0.1, 0.45, 0.35, 0.1], size=(4 * VOCABULARY, 1))] = -1
        candidates = syllables[picks[:, 0]]
        for column in range(1, 4):
            candidates = np.char.add(candidates, syllables[picks[:, column]])
        words = list(dict.fromkeys(candidates.tolist()))[:VOCABULARY]
        ordered = sorted(words, key=len)  # Zipf's law of abbreviation: the frequent words are short
        encoded = [w.encode() + b" " for w in ordered]
        self.lengths = np.array([len(w) for w in encoded], np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.buffer = np.frombuffer(b"".join(encoded), np.uint8)
        weights = 1.0 / (np.arange(1, VOCABULARY + 1) + 2.7)  # Zipf-Mandelbrot
        self.cdf = np.cumsum(weights) / weights.sum()

    def draw(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, u), VOCABULARY - 1)

    def texts(self, words: np.ndarray, counts: np.ndarray) -> pa.StringArray:
        """Word ids (all documents' words, in order) and words per document → texts, words joined by spaces, a full
        stop last; built as Arrow buffers, no Python string per document."""
        sizes = self.lengths[words]
        ends = np.cumsum(sizes)
        gather = np.arange(ends[-1]) + np.repeat(self.starts[words] - (ends - sizes), sizes)
        data = self.buffer[gather]
        doc_ends = ends[np.cumsum(counts) - 1]
        data[doc_ends - 1] = ord(".")
        offsets = np.concatenate([[0], doc_ends]).astype(np.int32)
        return pa.StringArray.from_buffers(len(counts), pa.py_buffer(offsets), pa.py_buffer(data))


def plant(docs: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per document slot (shuffled): its base text, its edit count, its planted cluster (-1: unique); and the
    planted cluster sizes."""
    distinct = round(docs * DISTINCT_SHARE)
    copies_left, sizes = docs - distinct, []
    cap = max(2, docs // 500)
    while copies_left > 0:
        size = int(min(rng.zipf(2.0) + 1, cap, copies_left + 1))
        sizes.append(size)
        copies_left -= size - 1
    sizes = np.array(sizes, np.int64)
    clusters = len(sizes)
    base = np.concatenate([np.repeat(np.arange(clusters), sizes), np.arange(clusters, distinct)])
    planted = np.concatenate([np.repeat(np.arange(clusters), sizes), np.full(distinct - clusters, -1)])
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    is_copy = np.ones(int(sizes.sum()), bool)
    is_copy[first] = False  # each cluster's base text, unedited
    copy = np.concatenate([is_copy, np.zeros(distinct - clusters, bool)])
    order = rng.permutation(docs)
    return base[order], copy[order], planted[order], sizes


def generate(folder: Path, docs: int, files: int, words: Words, rng: np.random.Generator) -> dict:
    base, copy, planted, sizes = plant(docs, rng)
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("text", pa.string()), ("planted", pa.int64())])
    bounds = np.linspace(0, docs, files + 1).astype(np.int64)
    for f in range(files):
        with pq.ParquetWriter(folder / f"docs-{f:03d}.parquet", schema) as writer:
            for start in range(bounds[f], bounds[f + 1], CHUNK):
                slots = np.arange(start, min(start + CHUNK, bounds[f + 1]))
                b = base[slots].astype(np.uint64)
                counts = 150 + (_mix(b ^ np.uint64(0xC0FFEE)) % np.uint64(251)).astype(np.int64)  # 150-400
                firsts = np.cumsum(counts) - counts
                position = np.arange(counts.sum()) - np.repeat(firsts, counts)
                key = (np.repeat(b, counts) << np.uint64(20)) | position.astype(np.uint64)
                flat = words.draw(_uniform(key, 1))
                # copies: 0 to 1% of their words replaced (slot-seeded: every copy differs)
                edits = np.where(copy[slots], (_mix(slots.astype(np.uint64)) % (counts // 100 + 1).astype(np.uint64))
                                 .astype(np.int64), 0)
                which = np.repeat(np.arange(len(slots)), edits)
                k = np.arange(edits.sum()) - np.repeat(np.cumsum(edits) - edits, edits)
                ekey = (slots[which].astype(np.uint64) << np.uint64(8)) | k.astype(np.uint64)
                at = firsts[which] + (_uniform(ekey, 2) * counts[which]).astype(np.int64)
                flat[at] = words.draw(_uniform(ekey, 3))
                writer.write_batch(pa.RecordBatch.from_arrays(
                    [words.texts(flat, counts), pa.array(planted[slots])], schema=schema))
    return {"docs": docs, "distinct_texts": int(docs - (sizes - 1).sum()), "planted_clusters": len(sizes),
            "planted_duplicates": int((sizes - 1).sum()), "largest_planted_cluster": int(sizes.max()),
            "planted_cluster_sizes": {f"{lo}-{hi}": int(((sizes >= lo) & (sizes <= hi)).sum())
                                      for lo, hi in [(2, 2), (3, 5), (6, 20), (21, 100), (101, 10 ** 9)]}}


# --- the run --------------------------------------------------------------------------------------------------------

def pipeline_yaml(inputs: Path, output: Path, cores: int) -> dict:
    return {"input": {"paths": [str(inputs)], "format": "parquet", "dataset": "bench"},
            "output": str(output),
            "engine": {"name": "spark", "master": f"local[{cores}]",
                       "conf": {"spark.ui.enabled": "true", "spark.sql.shuffle.partitions": str(4 * cores),
                                "spark.driver.memory": "4g"}},
            "stages": [{"name": "minhash_dedup"}]}


class CpuCurve(TreeMemory):
    """TreeMemory that also keeps (time, CPU seconds of the tree) at every sample, to cut CPU into phases."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.curve: list[tuple[float, float]] = []

    def sample(self) -> None:
        super().sample()
        self.curve.append((time.time(), self.cpu_seconds, self.total_now, self.largest_now))

    def at(self, moment: float) -> float:
        times, cpu = zip(*((t, c) for t, c, _, _ in self.curve))
        return float(np.interp(moment, times, cpu))

    def peaks(self, begin: float, end: float) -> tuple[int, int]:
        """The tree's and its largest process's peak resident bytes between two moments."""
        inside = [(total, largest) for t, _, total, largest in self.curve if begin <= t <= end] or [(0, 0)]
        return max(t for t, _ in inside), max(p for _, p in inside)


def spark_worker(command: str, parent: str) -> bool:
    """PySpark's Python workers are forks of its daemon (same command line; curate's daemon module)."""
    return "spark.daemon" in command and "spark.daemon" in parent


def spark_stages(spark) -> list[dict]:
    url, app = spark.sparkContext.uiWebUrl, spark.sparkContext.applicationId
    with urllib.request.urlopen(f"{url}/api/v1/applications/{app}/stages?status=complete") as response:
        return json.load(response)


def _epoch(spark_time: str) -> float:
    return datetime.strptime(spark_time.replace("GMT", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def phase_marks(out: Path, started: float, finished: float) -> dict[str, float]:
    """Phase boundaries (epoch seconds) from the files the run wrote, in run order."""
    manifest = out / "ledger" / "decisions-minhash_dedup.json"
    checkpoints = out / "work" / "checkpoints" / "minhash_dedup"
    rounds = sorted(checkpoints.glob("*/cc-round-*/_SUCCESS"), key=lambda p: p.stat().st_mtime)
    return {"start": started,
            "pass 0: read + signatures": max(p.stat().st_mtime for p in (out / "ledger" / "reader").glob("*.json")),
            "global start": manifest.stat().st_mtime - json.loads(manifest.read_text())["seconds"],
            "global: buckets + star edges + verify": next(checkpoints.glob("*/cc-edges-*/_SUCCESS")).stat().st_mtime,
            "global: components rounds": rounds[-1].stat().st_mtime,
            "global: keep + decisions": manifest.stat().st_mtime,
            "pass 1: apply + write": max(p.stat().st_mtime for p in (out / "ledger" / "pass-1").glob("*.json")),
            "stats + manifest": finished}


def versus_planted(planted: np.ndarray, truth: dict) -> dict:
    """The kept documents' `planted` clusters against the truth: duplicates found (documents not kept), planted copies
    missed (a cluster keeping more than one member), unique documents rejected (false merges)."""
    per_cluster = np.bincount(planted[planted >= 0], minlength=truth["planted_clusters"])
    unique = truth["docs"] - int(truth["planted_duplicates"] + truth["planted_clusters"])
    found = truth["docs"] - len(planted)
    return {"found_duplicates": found, "planted_duplicates": truth["planted_duplicates"],
            "found_over_planted": round(found / max(1, truth["planted_duplicates"]), 4),
            "missed_in_planted_clusters": int(np.maximum(per_cluster - 1, 0).sum()),
            "planted_clusters_split": int((per_cluster > 1).sum()),
            "planted_clusters_none_kept": int((per_cluster == 0).sum()),
            "unique_documents_rejected": unique - int((planted < 0).sum())}


def found_vs_planted(out: Path, truth: dict, stats: dict) -> dict:
    kept = ds.dataset(out / "documents", format="parquet").to_table(columns=["planted", "dup_cluster_size"])
    return {**versus_planted(kept.column("planted").to_numpy(), truth),
            "rejected_in_stats": stats["rejected"].get("minhash_dedup:duplicate", 0),  # = found, when nothing is lost
            "largest_component": int(pc.max(kept.column("dup_cluster_size")).as_py())}


def measure(inputs: Path, out: Path, cores: int, docs: int) -> dict:
    from curate.pipeline.config import parse
    from curate.pipeline.run import run
    from curate.engines.spark import session

    raw = pipeline_yaml(inputs, out, cores)
    (out.parent / "pipeline.yaml").write_text(yaml.safe_dump(raw))
    config = parse(raw)
    baseline = sum(os.times()[:2])  # this process's CPU before the Spark session (the corpus generation)
    with CpuCurve(os.getpid(), is_worker=spark_worker) as memory:
        before_session = time.time()
        spark, _ = session(config.engine)
        started = time.time()
        result = run(config, keep_work=True)  # the phase marks are read off work/
        finished = time.time()
        stages = spark_stages(spark)
    marks = phase_marks(out, started, finished)
    names, times = list(marks), list(marks.values())
    phases = []
    for name, begin, end in zip(names[1:], times[:-1], times[1:]):
        if name == "global: buckets + star edges + verify":
            begin = marks["global start"]
        if name == "global start":
            continue
        shuffled = sum(s["shuffleWriteBytes"] for s in stages if begin < _epoch(s["completionTime"]) <= end + 0.5)
        phases.append({"phase": name, "wall_s": round(end - begin, 2),
                       "cpu_s": round(memory.at(end) - memory.at(begin), 2), "shuffle_bytes": shuffled})
    rounds = json.loads((out / "work/components/minhash_dedup/components.json").read_text())["rounds"]
    decisions = json.loads((out / "ledger" / "decisions-minhash_dedup.json").read_text())
    spark.stop()
    return {"session_start_s": round(started - before_session, 2), "run_wall_s": round(finished - started, 2),
            "stats_seconds": result.stats["seconds"], "minhash_dedup_global_s": decisions["seconds"],
            "docs_per_s": round(docs / (finished - started), 1),
            "components_rounds": rounds, "shuffle_bytes": sum(s["shuffleWriteBytes"] for s in stages),
            "cpu_s": round(memory.cpu_seconds - baseline, 1), "jvm_cpu_s": round(memory.jvm_cpu_seconds, 1),
            "peak_jvm_mb": round(memory.peak_jvm / 2 ** 20), "peak_worker_mb": round(memory.peak_worker / 2 ** 20),
            "peak_tree_mb": round(memory.peak_total / 2 ** 20), "workers": len(memory.workers_seen),
            "phases": phases, "stats": result.stats}


STAGES = ("signatures", "buckets", "cluster", "filter")  # datatrove's MinHash stages, in order


def measure_datatrove(inputs: Path, work: Path, cores: int, library: str, resume: bool = False) -> dict:
    """datatrove's four MinHash stages (bench/peers/datatrove_minhash.py) on the same files, measured the same way:
    the process tree sampled from /proc; per stage its wall, CPU, bytes left on disk (its shuffle: what one stage
    hands the next through files), the tree's and the largest single process's peak memory.

    The figures so far are written to `work/attempts.json` every 10 s, so that a run stopped before its end (at 10^7
    documents datatrove needs longer than a working session on two cores) can go on with `resume`: datatrove skips
    the tasks it completed, and the attempts add up — wall and CPU summed (the tasks in flight when an attempt stopped
    are done again, and counted twice: they cost twice; an attempt's last seconds after its last record are not
    counted), peaks the largest of any attempt. Stop a run with its whole process group (`kill -- -PGID`): a pool worker
    left behind would go on writing the files the resumed run writes."""
    record = work / "attempts.json"
    attempts = json.loads(record.read_text()) if resume and record.exists() else []
    if not attempts:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    peer = Path(__file__).resolve().parent / "peers" / "datatrove_minhash.py"
    command = [sys.executable, str(peer), "--input", str(inputs), "--work", str(work), "--workers", str(cores),
               "--datatrove", library]
    marks: dict[str, dict] = {}
    started = time.time()
    with open(work / f"attempt-{len(attempts)}.log", "w") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True)
        with CpuCurve(process.pid, is_worker=datatrove_worker) as memory:

            def attempt() -> dict:
                now = time.time()
                stages = {}
                for mark in list(marks.values()):
                    end = mark.get("ended", now)
                    tree, largest = memory.peaks(mark["started"], end)
                    stages[mark["stage"]] = {"wall_s": end - mark["started"], "bytes_written": mark.get("bytes", 0),
                                             "cpu_s": memory.at(end) - memory.at(mark["started"]),
                                             "peak_tree": tree, "peak_process": largest}
                return {"started": started, "ended": now, "cpu_s": memory.cpu_seconds, "stages": stages,
                        "peak_worker": memory.peak_worker, "peak_tree": memory.peak_total,
                        "peak_process": max((largest for *_, largest in memory.curve), default=0)}

            stop = threading.Event()

            def keep() -> None:
                while not stop.wait(10):
                    record.write_text(json.dumps(attempts + [attempt()]))

            keeper = threading.Thread(target=keep, daemon=True)
            keeper.start()
            for line in process.stdout:
                if line.startswith("{"):
                    mark = json.loads(line)
                    marks[mark["stage"]] = mark
            process.wait()
            stop.set()
            keeper.join()
        attempts.append(attempt())
        record.write_text(json.dumps(attempts))
    if process.returncode != 0:
        raise SystemExit(f"datatrove's MinHash failed ({process.returncode}): see {log.name}")
    stages = []
    for name in STAGES:
        parts = [a["stages"][name] for a in attempts if name in a["stages"]]
        stages.append({"stage": name, "wall_s": round(sum(p["wall_s"] for p in parts), 2),
                       "cpu_s": round(sum(p["cpu_s"] for p in parts), 2), "bytes_written": parts[-1]["bytes_written"],
                       "peak_tree_mb": round(max(p["peak_tree"] for p in parts) / 2 ** 20),
                       "peak_process_mb": round(max(p["peak_process"] for p in parts) / 2 ** 20)})
    return {"run_wall_s": round(sum(a["ended"] - a["started"] for a in attempts), 2),
            "cpu_s": round(sum(a["cpu_s"] for a in attempts), 1), "attempts": len(attempts),
            "intermediate_bytes": sum(s["bytes_written"] for s in stages if s["stage"] != "filter"),
            "peak_worker_mb": round(max(a["peak_worker"] for a in attempts) / 2 ** 20),
            "peak_tree_mb": round(max(a["peak_tree"] for a in attempts) / 2 ** 20),
            "peak_process_mb": round(max(a["peak_process"] for a in attempts) / 2 ** 20), "stages": stages}


def datatrove_found_vs_planted(work: Path, truth: dict) -> dict:
    kept = ds.dataset(work / "output", format="parquet").to_table(columns=["metadata"])
    return versus_planted(pc.struct_field(kept.column("metadata"), "planted").to_numpy(), truth)


# --- extrapolation --------------------------------------------------------------------------------------------------

def extrapolate(measured: dict, accuracy: dict, docs: int) -> dict:
    largest = max(2, accuracy["largest_component"])
    rounds = measured["components_rounds"]
    ratio = math.log(largest * SNAPSHOT / docs) / math.log(largest)
    cpu = shuffle = 0.0
    for phase in measured["phases"]:
        scale = SNAPSHOT / docs * (ratio if phase["phase"] == "global: components rounds" else 1.0)
        cpu += phase["cpu_s"] * scale
        shuffle += phase["shuffle_bytes"] * scale
    return {"pages": SNAPSHOT, "components_rounds": f"{rounds} -> ~{math.ceil(rounds * ratio)} "
            f"(largest component {largest} -> {round(largest * SNAPSHOT / docs):,})",
            "cpu_hours": round(cpu / 3600), "cpu_s_per_doc_measured": round(sum(p["cpu_s"] for p in measured["phases"])
                                                                           / docs, 6),
            "wall_hours_on_1000_cores_if_linear": round(cpu / 3600 / 1000, 1),
            "shuffle_tb": round(shuffle / 1e12, 2),
            "shuffle_bytes_per_doc_measured": round(measured["shuffle_bytes"] / docs, 1),
            "assumptions": [
                "passes and the bucket/edge and keep phases: CPU and shuffle linear in documents",
                ("components phase: per document per round as measured; rounds x ln(largest x pages/N) / ln(largest), "
                 "the largest component growing with the corpus"),
                "fixed costs (JVM, scheduling, JIT) are in the measured per-document costs: trust the 1M run, not 20k",
                "this corpus's 10% planted duplicates and 150-400 word texts, not Common Crawl's mix",
                "CPU measured on a shared machine: CPU time, not wall time, is what scales"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--keep", type=Path,
                        help="keep the input and the runs' output in this folder (an input generated there before "
                             "with the same --docs and --files is used again)")
    parser.add_argument("--datatrove", default=os.environ.get("DATATROVE_PATH"),
                        help="folder datatrove is installed in: also run its four MinHash stages on the same input")
    parser.add_argument("--only", choices=["curate", "datatrove"], help="run one tool only")
    parser.add_argument("--resume", action="store_true",
                        help="go on with a datatrove run of the same --keep folder that stopped before its end")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.only == "datatrove" and not args.datatrove:
        parser.error("--only datatrove needs --datatrove (or DATATROVE_PATH)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="curate-dedup-scale-"))
    if args.resume and not (args.keep and args.datatrove):
        parser.error("--resume needs --keep (the folder of the stopped run) and --datatrove")
    shutil.rmtree(work / "output", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)

    corpus = work / "corpus.json"  # beside the input: both tools read every file in it
    earlier = json.loads(corpus.read_text()) if corpus.exists() else {}
    if earlier.get("docs") == args.docs and earlier.get("files") == args.files:
        truth, generated = earlier["truth"], earlier["generate_s"]
        print(f"using the input generated before in {work / 'input'}", flush=True)
    else:
        shutil.rmtree(work / "input", ignore_errors=True)
        started = time.perf_counter()
        truth = generate(work / "input", args.docs, args.files, Words(np.random.default_rng(SEED)),
                         np.random.default_rng(SEED + 1))
        generated = round(time.perf_counter() - started, 1)
        corpus.write_text(json.dumps({"docs": args.docs, "files": args.files, "generate_s": generated,
                                      "truth": truth}))
    size = sum(p.stat().st_size for p in (work / "input").glob("*.parquet"))
    print(f"{args.docs:,} documents in {args.files} files ({size / 2 ** 20:.0f} MB), generated in {generated} s; "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    result = {"docs": args.docs, "cores": args.cores, "files": args.files, "input_mb": round(size / 2 ** 20),
              "generate_s": generated, "corpus": truth}
    if args.only != "datatrove":
        measured = measure(work / "input", work / "output", args.cores, args.docs)
        accuracy = found_vs_planted(work / "output", truth, measured.pop("stats"))
        result.update({"run": measured, "duplicates": accuracy, "extrapolation": extrapolate(measured, accuracy,
                                                                                             args.docs)})
        run, found, snapshot = measured, accuracy, result["extrapolation"]
        print(f"curate, {args.docs:,} documents on local[{args.cores}]: {run['run_wall_s']} s ({run['docs_per_s']} "
              f"docs/s), {run['cpu_s']} CPU-s, minhash_dedup global {run['minhash_dedup_global_s']} s, "
              f"{run['components_rounds']} rounds, shuffle {run['shuffle_bytes'] / 2 ** 20:.0f} MB, peak JVM "
              f"{run['peak_jvm_mb']} MB / worker {run['peak_worker_mb']} MB / tree {run['peak_tree_mb']} MB; "
              f"duplicates {found['found_duplicates']:,} found / {found['planted_duplicates']:,} planted; one "
              f"snapshot (3e9 pages): ~{snapshot['cpu_hours']:,} CPU-hours, ~{snapshot['shuffle_tb']} TB shuffled",
              flush=True)
    if args.datatrove and args.only != "curate":
        peer = measure_datatrove(work / "input", work / "datatrove", args.cores, args.datatrove, args.resume)
        found = datatrove_found_vs_planted(work / "datatrove", truth)
        result["datatrove"] = {"run": peer, "duplicates": found}
        print(f"datatrove, {args.docs:,} documents, {args.cores} workers: {peer['run_wall_s']} s, {peer['cpu_s']} "
              f"CPU-s, intermediate files {peer['intermediate_bytes'] / 2 ** 20:.0f} MB, peak process "
              f"{peer['peak_process_mb']} MB / tree {peer['peak_tree_mb']} MB; duplicates "
              f"{found['found_duplicates']:,} found / {found['planted_duplicates']:,} planted", flush=True)
        for stage in peer["stages"]:
            print(f"  {stage}", flush=True)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
