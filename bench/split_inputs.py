"""One big file, every core: a 2 GB JSONL and a 2 GB Parquet file run whole and in ranges, then killed and resumed.

    nice -n 10 python bench/split_inputs.py [--gb 2] [--formats jsonl,parquet] [--engine spark] [--repeat 1]
                                            [--split-size 128MiB] [--stages gopher_quality] [--seed N]

The input is built in /tmp from real text (990 pages of trafilatura's evaluation set in `../shared/data/extraction/`,
main text extracted with resiliparse), each copy of a page with its paragraphs in another order and its own URL, up
to `--gb` GB on disk: a JSONL file, and a Parquet file (pyarrow's defaults: snappy, row groups of 32 MiB of text).
Both are deleted at the end.

Per format, every run a fresh `curate run` process in its own session, at the bench's niceness (run it under
`nice -n 10` on a shared machine), with the wall time, the CPU seconds of every process of its session (the driver, the JVM
and the Python workers, each sampled from /proc every 0.5 s; user + system). Linux (sched_autogroup) shares the cores between
sessions first and a nice value counts only inside its own session, so the bench gives each run's session its own
niceness (`/proc/<pid>/autogroup`): otherwise `nice -n 10` would not yield to the other sessions. On a busy machine
the same autogroup sharing means that a run's second process mostly takes CPU from its first one, not from the others:
the ranges' gain needs idle cores (it prints the load average, and the cores busy = CPU s / wall s of each run).
1. whole: `input.split_size` above the file's size, so the file is one task (what every run did before ranges);
2. ranges: `input.split_size` as given (the default, 128 MiB): one task per range, every core busy;
   whole and ranges alternate `--repeat` times; the best wall time of each, and their ratio, with the load average;
3. killed: the ranges run killed with SIGKILL (every process of its session) after a random number of ranges has
   committed, plus a random fraction of a range's time; what was lost is the ranges that had written files but not
   committed (each a range's work, at most one per core: the keys of the files they wrote and of their in-flight
   reports, `pipeline/inflight.py`, with the bytes they had read); then `--resume` finishes it, and must redo no
   committed range.
The outputs of 1, 2 and 3 must be the same documents (every column) and the same reject reasons: a multiset hash of
the rows of each, and their counts, are compared. Exit status 1 when they differ or a run fails.
"""
from __future__ import annotations

import argparse
import ctypes
import gzip
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
PAGES = ROOT.parent / "shared" / "data" / "extraction" / "trafilatura-eval"
GROUP_BYTES = 32 << 20  # text per Parquet row group


def real_pages() -> list[dict]:
    from resiliparse.extract.html2text import extract_plain_text

    rows = []
    for line in (PAGES / "index.jsonl").read_text().splitlines():
        page = json.loads(line)
        html = gzip.decompress((PAGES / page["html"]).read_bytes()).decode("utf-8", "replace")
        text = extract_plain_text(html, main_content=True)
        if text.strip():
            rows.append({"url": page["url"], "text": text})
    return rows


def copies(pages: list[dict], seed: int):
    """Endless documents: each page again with its paragraphs shuffled and its own URL."""
    rng = random.Random(seed)
    for n in range(10 ** 9):
        page = pages[n % len(pages)]
        paragraphs = page["text"].split("\n")
        rng.shuffle(paragraphs)
        yield {"url": f"{page['url']}?copy={n}", "text": "\n".join(paragraphs), "copy": n}


def build_jsonl(path: Path, pages: list[dict], size: int, seed: int) -> int:
    written = 0
    with open(path, "wb") as f:
        for row in copies(pages, seed):
            line = (json.dumps(row, ensure_ascii=False) + "\n").encode()
            f.write(line)
            written += len(line)
            if written >= size:
                return written
    return written


def build_parquet(path: Path, pages: list[dict], size: int, seed: int) -> int:
    rows, text_bytes = [], 0
    with pq.ParquetWriter(path, pa.schema([("url", pa.string()), ("text", pa.string()), ("copy", pa.int64())])) as w:
        for row in copies(pages, seed):
            rows.append(row)
            text_bytes += len(row["text"])
            if text_bytes >= GROUP_BYTES:
                w.write_table(pa.Table.from_pylist(rows, schema=w.schema), row_group_size=len(rows))
                rows, text_bytes = [], 0
                if path.stat().st_size >= size:
                    break
    return path.stat().st_size


def session_members(sid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                out.append(int(entry))
    return out


def kill_session(process: subprocess.Popen) -> None:
    """SIGKILL to every process of the run's session (PySpark's daemon leaves the run's process group)."""
    for _ in range(50):
        members = session_members(process.pid)
        if not members:
            break
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    if process.returncode is None:
        process.wait()


def start(pipeline: Path, resume: bool) -> subprocess.Popen:
    """`curate run` in its own session, at this process's niceness, its session's included (module docstring)."""
    command = [str(Path(sys.executable).parent / "curate"), "run", str(pipeline)]
    process = subprocess.Popen(command + (["--resume"] if resume else []), stdout=subprocess.DEVNULL,
                               stderr=open(pipeline.with_suffix(".log"), "ab"), start_new_session=True)
    try:
        Path(f"/proc/{process.pid}/autogroup").write_text(str(os.getpriority(os.PRIO_PROCESS, 0)))
    except OSError:  # no autogroups here: the niceness of the processes is all there is
        pass
    return process


class Sampler:
    """CPU seconds of a run's processes by role (driver, JVM, Python workers), read from /proc every 0.5 s while it
    runs: each process's own user + system time when last seen (a process shorter than a look is missed, and at most
    a look's worth of each one's last CPU). Not `wait4`'s rusage of the run: it missed the PySpark workers (9 CPU-s
    counted for a run whose workers had used 91)."""

    def __init__(self, process: subprocess.Popen):
        self.process, self.seen, self.stop = process, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self.stop.wait(0.5):
            for pid in session_members(self.process.pid):
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                role = ("driver" if pid == self.process.pid else "JVM" if b"java" in command
                        else "Python workers")
                self.seen[pid] = (role, (int(fields[11]) + int(fields[12])) / tick)

    def done(self) -> tuple[float, str]:
        """The CPU seconds of every process seen, and their split by role."""
        self.stop.set()
        self.thread.join()
        totals: dict[str, float] = {}
        for role, cpu in self.seen.values():
            totals[role] = totals.get(role, 0.0) + cpu
        roles = ", ".join(f"{role} {cpu:.0f}" for role, cpu in sorted(totals.items(), key=lambda kv: -kv[1]))
        return sum(totals.values()), roles


def reap() -> None:
    """Wait for every descendant left once a run's session is killed (this process is their subreaper: the JVM, the
    PySpark daemon and its workers end here, orphaned or not), so that none is left a zombie."""
    while True:
        try:
            os.wait4(-1, 0)
        except ChildProcessError:
            return


def finish(process: subprocess.Popen, pipeline: Path, started: float) -> float:
    """Wall s once `curate run` has ended well; exits otherwise."""
    _, status = os.waitpid(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = code = os.waitstatus_to_exitcode(status)
    kill_session(process)
    reap()
    if code != 0:
        sys.exit(f"{pipeline.name}: curate exited {code}: {pipeline.with_suffix('.log').read_text()[-2000:]}")
    return wall


def write_pipeline(work: Path, name: str, source: Path, split_size: int, engine: str, stages: list[dict]) -> Path:
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"input": {"paths": [str(source)], "dataset": "bench", "split_size": split_size},
                                    "output": str(work / name), "engine": {"name": engine}, "stages": stages}))
    return path


def fingerprint(output: Path) -> dict:
    """Row counts and a multiset hash (order-free) of the kept documents, every column, and of (id, reason) rejects."""
    manifest = json.loads((output / "manifest.json").read_text())
    out = {}
    for side, columns in (("documents", None), ("rejects", ["id", "reject_reason"])):
        total, rows = 0, 0
        for path in manifest[side]:
            for batch in pq.ParquetFile(output / path).iter_batches(batch_size=2048, columns=columns):
                for row in batch.to_pylist():
                    digest = hashlib.blake2b(repr(sorted(row.items())).encode(), digest_size=16).digest()
                    total = (total + int.from_bytes(digest, "little")) % (1 << 128)
                    rows += 1
        out[side] = (rows, f"{total:032x}")
    return out


def committed(output: Path) -> dict[str, str]:
    folder = output / "ledger" / "reader"
    records = {}
    for path in folder.glob("*.json") if folder.is_dir() else []:
        record = json.loads(path.read_text())
        records[record["key"]] = record["attempt"]
    return records


def written_keys(output: Path) -> set[str]:
    """Task keys that pass 0 wrote files for (documents, rejects, rows between passes), committed or not."""
    names = [p.name for folder in ("documents", "ledger/rejects", "work/pass-0/rows") if (output / folder).is_dir()
             for p in (output / folder).glob("*.parquet")]
    return {name.removeprefix("part-").rsplit("-p0-", 1)[0] for name in names}


def in_flight(output: Path) -> dict[str, dict]:
    """The in-flight figures the running tasks of pass 0 last wrote (every 10 s when the progress goes to a log)."""
    folder = output / "work" / "progress" / "pass-0"
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")} if folder.is_dir() else {}


def load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def bench(fmt: str, source: Path, work: Path, args, stages: list[dict], rng: random.Random) -> bool:
    size = source.stat().st_size
    whole = write_pipeline(work, f"{fmt}-whole", source, size + 1, args.engine, stages)
    ranges = write_pipeline(work, f"{fmt}-ranges", source, args.split_size, args.engine, stages)
    times: dict[str, list[float]] = {"whole": [], "ranges": []}
    cpus: dict[str, list[float]] = {"whole": [], "ranges": []}
    for _ in range(args.repeat):
        for name, pipeline in (("whole", whole), ("ranges", ranges)):
            shutil.rmtree(work / pipeline.stem, ignore_errors=True)
            before = load()
            started = time.perf_counter()
            process = start(pipeline, False)
            sampler = Sampler(process)
            wall = finish(process, pipeline, started)
            cpu, roles = sampler.done()
            times[name].append(wall)
            cpus[name].append(cpu)
            print(f"  {fmt} {name}: {wall:.1f} s wall, {cpu:.0f} CPU-s ({cpu / wall:.2f} cores busy; {roles}; "
                  f"load {before} -> {load()})", flush=True)
    prints = {name: fingerprint(work / f"{fmt}-{name}") for name in times}
    tasks = len(committed(work / f"{fmt}-ranges"))
    # killed: the ranges run again, killed after a random number of ranges has committed
    output = work / f"{fmt}-ranges"
    shutil.rmtree(output)
    target = rng.randint(1, max(1, tasks - 3))
    before = load()
    started = time.perf_counter()
    process = start(ranges, False)
    while process.poll() is None and len(committed(output)) < target:
        time.sleep(0.05)
    time.sleep(rng.uniform(0, min(times["ranges"]) / max(tasks, 1)))  # into the next ranges' work
    finished = process.poll() is not None
    kill_session(process)
    killed_after = time.perf_counter() - started
    kept = committed(output)
    reading = in_flight(output)
    lost = (written_keys(output) | set(reading)) - set(kept)
    lost_bytes = sum(reading.get(key, {}).get("bytes_read", 0) for key in lost)
    resumed = time.perf_counter()
    reap()
    resume_wall = finish(start(ranges, True), ranges, resumed)
    after = committed(output)
    redone = [key for key, attempt in kept.items() if after.get(key) != attempt]
    prints["killed"] = fingerprint(output)
    ratio = min(times["whole"]) / min(times["ranges"])
    same = prints["whole"] == prints["ranges"] == prints["killed"]
    print(f"{fmt}: {size / 1e9:.2f} GB, {tasks} ranges of {args.split_size >> 20} MiB; "
          f"whole {min(times['whole']):.1f} s, "
          f"ranges {min(times['ranges']):.1f} s: {ratio:.2f}x (best of {args.repeat}); CPU-s whole "
          f"{min(cpus['whole']):.0f}, ranges {min(cpus['ranges']):.0f}; load {before} at the kill run's start")
    print(f"  killed after {killed_after:.1f} s{' (it had finished)' if finished else ''}: {len(kept)} of {tasks} "
          f"ranges committed, {len(lost)} range(s) in flight lost ({sorted(lost)}, {lost_bytes / 1e6:.0f} MB read "
          f"by them at their last in-flight report); committed ranges redone on "
          f"resume: {len(redone)}; resume {resume_wall:.1f} s")
    print(f"  output: documents {prints['whole']['documents']}, rejects {prints['whole']['rejects']}; "
          f"ranges {'same' if prints['ranges'] == prints['whole'] else 'DIFFERENT'}, "
          f"killed+resumed {'same' if prints['killed'] == prints['whole'] else 'DIFFERENT'}", flush=True)
    return same and not redone and len(lost) <= (os.cpu_count() or 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--formats", default="jsonl,parquet")
    parser.add_argument("--engine", default="spark", choices=["spark", "beam"])
    parser.add_argument("--split-size", default="128MiB")
    parser.add_argument("--stages", default="gopher_quality", help="comma-separated stage names")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None, help="the kill point's seed (default: random)")
    args = parser.parse_args()
    from curate.pipeline.config import byte_size

    args.split_size = byte_size(args.split_size)
    if not PAGES.is_dir():
        sys.exit(f"missing input: {PAGES} (../shared/data beside the checkout)")
    seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: see `reap`
    stages = [{"name": name} for name in args.stages.split(",")]
    ok = True
    with tempfile.TemporaryDirectory(prefix="curate-split-") as tmp:
        work = Path(tmp)
        pages = real_pages()
        print(f"{os.cpu_count()} cores, engine {args.engine}, stages {args.stages}, kill seed {seed}; "
              f"load {load()}", flush=True)
        for fmt in args.formats.split(","):
            source = work / ("input.jsonl" if fmt == "jsonl" else "input.parquet")
            started = time.perf_counter()
            (build_jsonl if fmt == "jsonl" else build_parquet)(source, pages, int(args.gb * 1e9), seed)
            print(f"{fmt}: built {source.stat().st_size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s",
                  flush=True)
            ok &= bench(fmt, source, work, args, stages, rng)
            for path in work.iterdir():  # the next format's input and runs need the disk
                shutil.rmtree(path) if path.is_dir() else path.unlink()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
