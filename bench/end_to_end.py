"""End to end against datatrove: FineWeb's English recipe on the same WARC files, the same cores, side by side.

    python bench/end_to_end.py --datatrove DIR [--cores 2] [--copies 3] [--files 8] [--out result.json]
    python bench/end_to_end.py --mode scaling [--copies 3]      # curate on local[1] vs local[2]
    python bench/end_to_end.py --mode growth --copies 2 --files 2 --factor 10   # peak memory per worker, input x10

Input: WARC files built from the 990 real pages of `../shared/data/extraction/trafilatura-eval/` — each page
`--copies` times under changed URLs (`?curate_copy=k`), shuffled over `--files` gzipped WARC files, with a
`WARC-Identified-Payload-Type: text/html` as Common Crawl writes it. Record ids are derived from the URL, so both
tools' outputs are matched by id.

Runs (each a fresh process tree, wall time from launch to exit, so start-up counts):
- `curate`: `curate run examples/fineweb.yaml --master local[<cores>]` (lang_precheck → extract → langid en ≥ 0.65
  → Gopher repetition → Gopher quality → C4 → FineWeb rules → Parquet + reject ledger; `--no-precheck` drops the
  pre-check, so trafilatura runs on every page as in datatrove); with `--engines spark,beam` also `curate run
  --engine beam` (Beam's local runner, a worker process per core: `curate-beam` in the output), the same recipe;
- `datatrove`: `bench/peers/datatrove_fineweb.py` — datatrove's own steps with FineWeb's settings on its
  LocalPipelineExecutor with `<cores>` workers, one task per file, exclusion writers on every filter as FineWeb ran it;
- each again with resiliparse as the extractor, without the pre-check (`--no-resiliparse` skips those).

Printed per run: documents/s per core (input records / wall seconds / cores), kept documents, peak resident memory
per worker (the worker process with its extraction sandbox) and of the whole tree (the JVM included); then the ratios
and the kept-set overlap (Jaccard of the kept ids) for each extractor, with the ids kept by one tool only listed by the
reason the other gave, and `<extractor>_bound_cpu_ratio`: the peer's CPU over the CPU of curate's `extract` stage in the
same run (its sandboxed extractor calls included), the CPU ratio curate would reach if nothing else cost anything.
`--datatrove` is a folder datatrove is installed in (see the peer script's docstring).
"""
from __future__ import annotations

import argparse
import collections
import gzip
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pyarrow.dataset as ds
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procmem import TreeMemory, beam_worker, datatrove_worker  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "extraction" / "trafilatura-eval"
RECIPE = ROOT / "examples" / "fineweb.yaml"


def record_id(url: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, url))


def build_warcs(pages: Path, out: Path, copies: int, files: int, seed: int = 0) -> int:
    """The bench input: every page `copies` times under changed URLs, shuffled over `files` WARC files."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    index = [json.loads(line) for line in (pages / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    records = [(page, k) for page in index for k in range(copies)]
    random.Random(seed).shuffle(records)
    out.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        with open(out / f"bench-{f:03d}.warc.gz", "wb") as stream:
            writer = WARCWriter(stream, gzip=True)
            for page, k in records[f::files]:
                url = page["url"] if k == 0 else f"{page['url']}{'&' if '?' in page['url'] else '?'}curate_copy={k}"
                body = gzip.decompress((pages / page["html"]).read_bytes())
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                   ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
                record = writer.create_warc_record(url, "response", payload=io.BytesIO(body),
                                                   http_headers=http, warc_headers_dict={
                                                       "WARC-Record-ID": f"<urn:uuid:{record_id(url)}>",
                                                       "WARC-Identified-Payload-Type": "text/html"})
                writer.write_record(record)
    return len(records)


def resiliparse_visible_text(page: str) -> str:
    """resiliparse's visible text of the whole page, no main-content pass: what `lang_precheck` read before
    8 December 2026 (the English-only page set is defined by it; `precheck.py` compares the stage with it)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    return extract_plain_text(HTMLTree.parse(page), main_content=False, alt_texts=False, links=False,
                              list_bullets=True, form_fields=False, noscript=False) or ""


def english_pages(pages: Path, out: Path) -> Path:
    """The English-only shape: the 188 pages whose whole visible text (resiliparse's, no main-content pass) scores
    English 0.1 or more, or that have no text to judge, as a pages folder of their own: what `lang_precheck` passed
    when it read that text, kept as the set so that runs before and after its own scan compare (the scan passes 185 of
    them). Every page of it goes on to trafilatura: the pre-check only costs there, and the run measures extraction."""
    from curate.stages.langid import load_model, normalise
    from curate.stages.sandbox_worker import decode_html

    model = load_model(None)
    index = [json.loads(line) for line in (pages / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    kept = []
    for page in index:
        html = gzip.decompress((pages / page["html"]).read_bytes())
        text = normalise(resiliparse_visible_text(decode_html(html, "text/html")), 1000)
        labels, scores = model.predict([text], k=5) if text else ([[]], [[]])
        if not text or any(label == "__label__en" and score >= 0.1 for label, score in zip(labels[0], scores[0])):
            kept.append(page)
    out.mkdir(parents=True, exist_ok=True)
    (out / "index.jsonl").write_text("".join(json.dumps(page) + "\n" for page in kept), encoding="utf-8")
    for page in kept:
        (out / page["html"]).parent.mkdir(parents=True, exist_ok=True)
        (out / page["html"]).unlink(missing_ok=True)
        (out / page["html"]).symlink_to((pages / page["html"]).resolve())
    return out


def spark_worker(command: str, parent: str) -> bool:
    """PySpark's Python workers are forks of its daemon (same command line: curate's daemon module); the daemon's
    parent is the JVM, whose command line names the module too."""
    return "spark.daemon" in command and parent.startswith(command.split(" ", 1)[0])


def process_kind(command: str) -> str:
    """Which part of a run a process is, by its command line: what the CPU split (`cpu_by_process`) is keyed by."""
    program = command.split(" ", 1)[0]
    if "java" in program:
        return "jvm"
    for marker, kind in (("sandbox_worker", "sandbox"), ("spark.daemon", "spark worker"), ("forkserver", "worker"),
                         ("sdk_worker_main", "beam worker"),
                         ("curate run", "driver"), ("datatrove_fineweb", "driver")):
        if marker in command:
            return kind
    return "other"


def timed(command: list[str], is_worker=None) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with TreeMemory(process.pid, is_worker=is_worker) as memory:
        log, _ = process.communicate()
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[0:3]} failed ({process.returncode}):\n{log[-3000:]}")
    return {"seconds": round(seconds, 2), "cpu_seconds": round(memory.cpu_seconds, 1),
            "jvm_cpu_seconds": round(memory.jvm_cpu_seconds, 1), "peak_worker_mb": round(memory.peak_worker / 2**20),
            "peak_total_mb": round(memory.peak_total / 2**20), "peak_jvm_mb": round(memory.peak_jvm / 2**20),
            "workers": len(memory.workers_seen), "cpu_by_process": cpu_by_process(memory)}


def cpu_by_process(memory: TreeMemory) -> dict[str, float]:
    split: dict[str, float] = collections.Counter()
    for pid, cpu in memory.cpu.items():
        split[process_kind(memory.commands[pid])] += cpu
    return {kind: round(cpu, 1) for kind, cpu in sorted(split.items())}


def run_curate(warcs: Path, out: Path, cores: int, backend: str, precheck: bool,
               engine: str = "spark") -> tuple[dict, dict[str, str | None]]:
    recipe = yaml.safe_load(RECIPE.read_text())
    if backend == "resiliparse" or not precheck:  # resiliparse runs as datatrove does: every page
        recipe["stages"] = [s for s in recipe["stages"] if s["name"] != "lang_precheck"]
    next(s for s in recipe["stages"] if s["name"] == "extract")["backend"] = backend
    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    curate = Path(sys.executable).parent / "curate"
    command = [str(curate), "run", str(path), "-i", str(warcs), "-o", str(out), "--engine", engine]
    if engine == "spark":
        figures = timed(command + ["--master", f"local[{cores}]"], is_worker=spark_worker)
    else:  # Beam's local runner: one worker process per core of the machine
        if cores != os.cpu_count():
            raise SystemExit(f"--engines beam runs a worker per core of this machine ({os.cpu_count()}), not {cores}")
        figures = timed(command, is_worker=beam_worker)
    outcome: dict[str, str | None] = {}
    for row in ds.dataset(out / "documents", format="parquet").to_table(columns=["id"]).to_pylist():
        outcome[row["id"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")] = None
    for row in ds.dataset(out / "ledger" / "rejects", format="parquet").to_table(
            columns=["id", "reject_reason"]).to_pylist():
        outcome[row["id"].rsplit("/", 1)[-1].removeprefix("urn:uuid:")] = row["reject_reason"]
    # each stage's CPU in the run, its sandbox's included (the run's stats): extract's is trafilatura's cost here
    stats = json.loads((out / "stats.json").read_text())
    figures["stage_cpu_seconds"] = {stage["name"]: stage["cpu_seconds"] for stage in stats["stages"]
                                    if stage["cpu_seconds"] is not None}
    return figures, outcome


def run_datatrove(warcs: Path, out: Path, cores: int, backend: str, library: str) -> tuple[dict, dict[str, str | None]]:
    peer = Path(__file__).resolve().parent / "peers" / "datatrove_fineweb.py"
    figures = timed([sys.executable, str(peer), "--input", str(warcs), "--output", str(out), "--workers", str(cores),
                     "--datatrove", library, "--extractor", backend], is_worker=datatrove_worker)
    outcome: dict[str, str | None] = {}
    for folder, reason in [(out / "output", None), *((d, d.name) for d in sorted((out / "removed").glob("*")))]:
        for path in folder.glob("*.jsonl.gz"):
            with gzip.open(path, "rt", encoding="utf-8") as lines:
                for line in lines:
                    doc = json.loads(line)
                    why = reason and f"{reason}:{doc.get('metadata', {}).get('filter_reason', '')}".rstrip(":")
                    outcome[doc["id"].strip("<>").removeprefix("urn:uuid:")] = why
    return figures, outcome


def compare(ours: dict[str, str | None], peer: dict[str, str | None], records: int) -> dict:
    kept_ours = {i for i, why in ours.items() if why is None}
    kept_peer = {i for i, why in peer.items() if why is None}
    union = kept_ours | kept_peer
    only_ours = collections.Counter(peer.get(i, "extractor: dropped") for i in kept_ours - kept_peer)
    only_peer = collections.Counter(ours.get(i, "missing") for i in kept_peer - kept_ours)
    return {"kept_curate": len(kept_ours), "kept_datatrove": len(kept_peer),
            "overlap_jaccard": round(len(kept_ours & kept_peer) / len(union), 4) if union else 1.0,
            "curate_accounted": len(ours), "records": records,
            "kept_by_curate_only": dict(only_ours.most_common()), "kept_by_datatrove_only": dict(only_peer.most_common())}


def extract_bound(ours: dict, peer: dict, backend: str) -> dict:
    """The CPU ratio curate would reach if nothing but its extract stage cost anything: the peer's CPU over the CPU
    curate's extract stage spent in the same run (trafilatura's own calls in their sandboxes, on the pages the
    pre-check let through, with the page's round trip). The limit of the CPU ratio for this extractor on this input."""
    extract = ours.get("stage_cpu_seconds", {}).get("extract")
    if not extract:
        return {}
    return {"extract_cpu_seconds": extract, f"{backend}_bound_cpu_ratio": round(peer["cpu_seconds"] / extract, 2)}


def measured(figures: dict, outcome: dict, records: int, cores: int) -> dict:
    figures["docs_per_s_per_core"] = round(records / figures["seconds"] / cores, 2)
    figures["docs_per_cpu_s"] = round(records / figures["cpu_seconds"], 2)
    figures["kept"] = sum(why is None for why in outcome.values())
    return figures


def show(name: str, figures: dict) -> None:
    print(f"{name:22} {figures['seconds']:7.1f} s  {figures['docs_per_s_per_core']:6.1f} docs/s/core  "
          f"{figures['docs_per_cpu_s']:6.1f} docs/CPU-s  kept {figures['kept']:5}  peak/worker {figures['peak_worker_mb']} MB  "
          f"tree {figures['peak_total_mb']} MB (JVM {figures['peak_jvm_mb']} MB, {figures['jvm_cpu_seconds']} CPU-s)  "
          f"load {os.getloadavg()[0]:.2f}", flush=True)


def scaling(work: Path, pages: Path, copies: int, files: int, precheck: bool) -> dict:
    """curate's recipe on the same WARC files with local[1] and local[2]: documents/s and the ratio."""
    warcs = work / "warc"
    records = build_warcs(pages, warcs, copies, files)
    runs = {}
    for cores in (1, 2):
        out = work / f"curate-local{cores}"
        shutil.rmtree(out, ignore_errors=True)
        figures, outcome = run_curate(warcs, out, cores, "trafilatura", precheck)
        runs[cores] = measured(figures, outcome, records, cores)
        show(f"curate local[{cores}]", runs[cores])
    ratio = runs[1]["seconds"] / runs[2]["seconds"]
    print(f"{records} records: documents/s with 2 cores = {ratio:.2f} x with 1", flush=True)
    return {"records": records, "runs": runs, "speedup_2_over_1": round(ratio, 2)}


def growth(work: Path, pages: Path, base: int, factor: int, files: int, cores: int, precheck: bool) -> dict:
    """Peak memory per worker on the input (`base` copies of each page) and on the input `factor` times larger, each
    file `factor` times longer. A worker holds one Arrow batch of pages at a time (64 MB or 4,096 rows at most), so
    the base input should already fill batches: below that, memory grows with the file up to the cap."""
    runs = {}
    for copies in (base, base * factor):
        warcs = work / f"warc-x{copies}"
        shutil.rmtree(warcs, ignore_errors=True)
        records = build_warcs(pages, warcs, copies, files)
        out = work / f"curate-x{copies}"
        shutil.rmtree(out, ignore_errors=True)
        figures, outcome = run_curate(warcs, out, cores, "trafilatura", precheck)
        runs[copies] = {"records": records, **measured(figures, outcome, records, cores)}
        show(f"curate x{copies} ({records} records)", runs[copies])
    ratio = runs[base * factor]["peak_worker_mb"] / runs[base]["peak_worker_mb"]
    print(f"input x{factor}: peak memory per worker x{ratio:.2f}", flush=True)
    return {"runs": runs, "peak_worker_ratio": round(ratio, 2)}


def limit(pages: Path) -> dict:
    """CPU per page of each part of curate's extraction on `pages`, one core, in this process: trafilatura's own call
    (the limit: datatrove runs it too), `decode_html`, the sandbox's round trip beyond what its child spends, and the
    pre-check (the `lang_precheck` stage on the pages: its scan of the visible text and fastText). Two alternating
    passes, the smaller of each."""
    import statistics

    import pyarrow as pa

    from curate.stages.lang_precheck import LangPrecheck, LangPrecheckParams
    from curate.stages.sandbox import Sandbox
    from curate.stages.sandbox_worker import _extractor, decode_html

    index = [json.loads(line) for line in (pages / "index.jsonl").read_text(encoding="utf-8").splitlines()]
    htmls = [gzip.decompress((pages / page["html"]).read_bytes()) for page in index]
    texts = [decode_html(html, "text/html") for html in htmls]
    extract, precheck = _extractor("trafilatura"), LangPrecheck(LangPrecheckParams(languages=["en"]))
    precheck.setup()
    batch = pa.RecordBatch.from_pydict({"html": pa.array(htmls, pa.binary()),
                                        "content_type": pa.array(["text/html"] * len(htmls), pa.string())})
    sandbox = Sandbox("trafilatura", 30.0, 1 << 30)
    sandbox.warm()

    def cpu(run) -> float:
        started = time.process_time()
        run()
        return time.process_time() - started

    def round_trip() -> float:  # the parent's CPU and the child's, less what the child spends in decode + extract
        child = sandbox.cpu_seconds
        parent = cpu(lambda: [sandbox.extract(html, "text/html") for html in htmls])
        return parent + sandbox.cpu_seconds - child

    parts = {"trafilatura": lambda: cpu(lambda: [extract(text) for text in texts]),
             "decode_html": lambda: cpu(lambda: [decode_html(html, "text/html") for html in htmls]),
             "sandbox_total": round_trip,
             "precheck": lambda: cpu(lambda: precheck.process(batch))}
    best = {name: min(run() for _ in range(2)) for name, run in parts.items()}
    sandbox.close()
    ms = {name: round(seconds / len(htmls) * 1000, 2) for name, seconds in best.items()}
    ms["sandbox_round_trip"] = round(ms["sandbox_total"] - ms["trafilatura"] - ms["decode_html"], 2)
    result = {"pages": len(htmls), "mean_kb": round(statistics.mean(map(len, htmls)) / 1024), "ms_per_page": ms,
              "load": round(os.getloadavg()[0], 2)}
    print(json.dumps(result, indent=1), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["compare", "scaling", "growth", "limit"], default="compare",
                        help="compare: curate and datatrove side by side; scaling: curate on local[1] and local[2]; "
                             "growth: curate's peak memory per worker on the input and on --factor times more; "
                             "limit: CPU per page of trafilatura itself and of what curate adds around it")
    parser.add_argument("--factor", type=int, default=10, help="growth: how much larger the second input is")
    parser.add_argument("--datatrove", default=os.environ.get("DATATROVE_PATH"))
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--pages", type=Path, default=PAGES)
    parser.add_argument("--english-only", action="store_true",
                        help="only the pages the language pre-check passes (each --copies times): every page is "
                             "extracted, the pre-check saves nothing")
    parser.add_argument("--no-resiliparse", dest="resiliparse", action="store_false")
    parser.add_argument("--no-precheck", dest="precheck", action="store_false",
                        help="run curate's recipe without lang_precheck (trafilatura on every page, as datatrove)")
    parser.add_argument("--only", choices=["curate", "datatrove"], help="run one tool only (profiling)")
    parser.add_argument("--engines", type=lambda value: value.split(","), default=["spark"],
                        help="compare: curate's engines to run, spark and/or beam (comma-separated)")
    parser.add_argument("--keep", type=Path, help="keep the WARC files and outputs in this folder")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if not args.pages.is_dir():
        raise SystemExit(f"{args.pages} not found: the bench needs ../shared/data beside the project")

    work = args.keep or Path(tempfile.mkdtemp(prefix="curate-e2e-"))
    if args.english_only:
        args.pages = english_pages(args.pages, work / "pages-en")
    if args.mode != "compare":
        result = (limit(args.pages) if args.mode == "limit" else
                  scaling(work, args.pages, args.copies, args.files, args.precheck) if args.mode == "scaling" else
                  growth(work, args.pages, args.copies, args.factor, args.files, args.cores, args.precheck))
        if args.out:
            args.out.write_text(json.dumps(result, indent=1))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0
    if not set(args.engines) <= {"spark", "beam"}:
        parser.error(f"--engines: spark and/or beam, not {','.join(args.engines)}")
    if not args.datatrove:
        parser.error("--datatrove (or DATATROVE_PATH) is required to compare with datatrove")
    warcs = work / "warc"
    if warcs.is_dir():
        shutil.rmtree(warcs)
    records = build_warcs(args.pages, warcs, args.copies, args.files)
    print(f"{records} records in {args.files} WARC files ({sum(p.stat().st_size for p in warcs.iterdir()) / 2**20:.1f} MB); "
          f"{args.cores} cores; load average before: {os.getloadavg()[0]:.2f}", flush=True)
    result: dict = {"records": records, "cores": args.cores, "cpu_count": os.cpu_count(), "runs": {}, "compare": {}}
    tools = [("datatrove", None), *(("curate" if engine == "spark" else f"curate-{engine}", engine)
                                     for engine in args.engines)]  # (name in the output, curate's engine)
    for backend in ["trafilatura"] + (["resiliparse"] if args.resiliparse else []):
        outcomes = {}
        for tool, engine in tools:
            if args.only and not tool.startswith(args.only):
                continue
            out = work / f"{tool}-{backend}"
            if out.exists():
                shutil.rmtree(out)
            if engine is None:
                figures, outcomes[tool] = run_datatrove(warcs, out, args.cores, backend, args.datatrove)
            else:
                figures, outcomes[tool] = run_curate(warcs, out, args.cores, backend, args.precheck, engine)
            result["runs"][f"{tool}/{backend}"] = measured(figures, outcomes[tool], records, args.cores)
            show(f"{tool} {backend}", figures)
        for tool in [tool for tool in outcomes if tool != "datatrove" and "datatrove" in outcomes]:
            ours, peer = result["runs"][f"{tool}/{backend}"], result["runs"][f"datatrove/{backend}"]
            key = backend if tool == "curate" else f"{backend} ({tool})"
            result["compare"][key] = {
                "speed_ratio": round(ours["docs_per_s_per_core"] / peer["docs_per_s_per_core"], 2),
                "cpu_ratio": round(ours["docs_per_cpu_s"] / peer["docs_per_cpu_s"], 2),
                **extract_bound(ours, peer, backend),
                **compare(outcomes[tool], outcomes["datatrove"], records)}
            print(json.dumps({key: result["compare"][key]}, indent=1), flush=True)
    if {"curate/resiliparse", "datatrove/trafilatura"} <= result["runs"].keys():
        result["compare"]["curate_resiliparse_vs_datatrove_trafilatura"] = round(
            result["runs"]["curate/resiliparse"]["docs_per_s_per_core"]
            / result["runs"]["datatrove/trafilatura"]["docs_per_s_per_core"], 2)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
