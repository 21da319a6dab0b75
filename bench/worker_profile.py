"""Where a worker's CPU goes on the FineWeb recipe: each part of pass 0 in ms of CPU a page, in this process.

    python bench/worker_profile.py --warcs DIR [--recipe examples/fineweb.yaml] [--no-precheck] [--cprofile N]
        [--rounds N]

Runs `run_pass` — the function a Spark or Beam task calls — over every WARC file of DIR, one after the other in this
process, with the recipe's pipeline built once (as a worker does). Parts are timed by CPU (`time.process_time` in this
process, `/proc/<pid>/stat` for each sandbox child), so the load of other processes changes them little:
- `reader`: the WARC reader's batches (`pipeline.inputs.read`);
- per stage, the stage's own CPU in this process (`<stage>`) and, for the sandboxed ones, the child's CPU in its
  parse (`<stage> child: parse`, as the child reports it) and around it (`<stage> child: pipe`: framing, reading the
  page, writing the text);
- `write`: the Parquet writers (documents, reject ledger);
- `run_pass other`: the rest of `run_pass` (splitting batches into kept and rejected, the commit record).
Stage set-up (models, sandboxes' imports) is measured apart: a worker pays it once per run.
`--cprofile N` prints this process's N costliest functions (cumulative) besides. `--rounds N` reads the files N times
over, as a worker does that is given file after file, and keeps this process's resident memory after each file
(`rss_mb_after_each_file`): it stays flat unless something is kept from one file to the next.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def child_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Clock:
    """CPU seconds spent inside the wrapped callables and generators, by part name."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def call(self, name: str, function):
        def timed(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.process_time() - started)
        return timed

    def generator(self, name: str, function):
        def timed(*args, **kwargs):
            items = function(*args, **kwargs)
            while True:
                started = time.process_time()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    self.add(name, time.process_time() - started)
                yield item
        return timed


def resident_mb() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") >> 20


def profile(warcs: Path, recipe: Path, precheck: bool, top: int, rounds: int = 1) -> dict:
    from curate.pipeline import passes
    from curate.pipeline.config import parse
    from curate.pipeline.inputs import InputFile
    from curate.pipeline.output import Output

    raw = yaml.safe_load(recipe.read_text())
    if not precheck:
        raw["stages"] = [s for s in raw["stages"] if s["name"] != "lang_precheck"]
    out = Path(tempfile.mkdtemp(prefix="curate-profile-"))
    raw["input"]["paths"], raw["output"] = [str(warcs)], str(out)
    pipeline = passes.Pipeline(parse(raw))
    started = time.process_time()
    for bound in pipeline.stages:
        bound._ready()
    setup = time.process_time() - started

    clock = Clock()
    passes.read = clock.generator("reader", passes.read)
    passes._Sink.write = clock.call("write", passes._Sink.write)
    passes._Sink.close = clock.call("write", passes._Sink.close)
    for bound in pipeline.stages:
        bound.stage.process = clock.call(bound.id, bound.stage.process)
    sandboxes = {bound.id: bound.stage.sandbox for bound in pipeline.stages if hasattr(bound.stage, "sandbox")}
    before = {name: (child_cpu(box.process.pid), box.cpu_seconds) for name, box in sandboxes.items()}

    files = sorted(warcs.glob("*.warc.gz"))
    output, records = Output(str(out)), 0
    profiler = cProfile.Profile(time.process_time) if top else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    resident = []
    for round_ in range(rounds):
        for path in files:
            name = path.name if round_ == 0 else f"{path.name}.{round_}"  # each read its own task, as in a run
            record = passes.run_pass(pipeline, pipeline.passes[0], InputFile(str(path), name, path.stat().st_size,
                                                                             "warc"), output)
            records += record["kept"] + record["rejected"]
            resident.append(resident_mb())
    if profiler:
        profiler.disable()
    total = time.process_time() - started

    parts = dict(clock.seconds)
    inside = sum(parts.values())
    parts["run_pass other"] = total - inside
    for name, box in sandboxes.items():
        real, reported = before[name]
        parse_cpu = box.cpu_seconds - reported
        parts[f"{name} child: parse"] = parse_cpu
        parts[f"{name} child: pipe"] = child_cpu(box.process.pid) - real - parse_cpu
    ms = {name: round(seconds / records * 1000, 2) for name, seconds in parts.items()}
    result = {"records": records, "files": len(files), "rounds": rounds, "ms_per_page": ms,
              "total_ms_per_page": round(sum(parts.values()) / records * 1000, 2),
              "setup_cpu_s": round(setup, 2), "rss_mb_after_each_file": resident,
              "load": round(os.getloadavg()[0], 2)}
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warcs", type=Path, required=True)
    parser.add_argument("--recipe", type=Path, default=ROOT / "examples" / "fineweb.yaml")
    parser.add_argument("--no-precheck", dest="precheck", action="store_false")
    parser.add_argument("--cprofile", type=int, default=0, help="print this many costliest functions")
    parser.add_argument("--rounds", type=int, default=1, help="read the files this many times over")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = profile(args.warcs, args.recipe, args.precheck, args.cprofile, args.rounds)
    print(json.dumps(result, indent=1), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
