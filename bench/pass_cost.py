"""The cost of one pass, and how often a run builds its stages: to show that building the pipeline once per process
(`passes.Pipeline`) made a pass no dearer.

Two figures, in this process, on the demo crawl (4 WARC files, 218 pages), with extract, the Gopher rules, exact dedup
and a URL dedup:
- **one pass**: `run_pass` over every file for pass 0 (read, extract, the rules, exact dedup's keys, commit), CPU and
  wall seconds, best of `--repeat` after one warm-up round (the stages' models loaded, the pages in the page cache);
- **stage builds per run**: how many times a `Stage` is constructed during one whole `run()` on Beam's in-process
  runner (driver and workers are this process, so every build is counted).

It runs on the layout before the refactor too (`passes(config)` and `run_pass(config, ...)`), so that the same script
measures both trees: run it with each tree's interpreter, one after the other, and compare.

    python bench/pass_cost.py --repeat 5
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from curate.pipeline import config as pipeline_config
    from curate.pipeline import passes
    from curate.pipeline.inputs import resolve
    from curate.pipeline.output import Output
    from curate.pipeline.run import run
    from curate.pipeline.stage import Stage

    try:
        from curate.testing import generate_crawl
    except ImportError:  # the layout before the refactor
        from curate.pipeline.commands.demo import generate_crawl

    builds = {"n": 0}
    init = Stage.__init__

    def counted(self, *a, **k):
        builds["n"] += 1
        init(self, *a, **k)

    Stage.__init__ = counted
    with tempfile.TemporaryDirectory(prefix="curate-pass-cost-") as scratch:
        crawl = Path(scratch) / "crawl"
        generate_crawl(crawl, files=4)
        stages = [{"name": "extract", "backend": "resiliparse"}, {"name": "gopher_quality"},
                  {"name": "exact_dedup"}, {"name": "exact_dedup", "id": "url_dedup", "on": "url"}]

        def config(out: str, engine: str = "spark"):
            return pipeline_config.parse({"input": {"paths": [str(crawl)], "dataset": "c"}, "output": out,
                                          "engine": {"name": engine}, "stages": stages})

        cfg = config(str(Path(scratch) / "pass"))
        if hasattr(passes, "Pipeline"):
            pipeline = passes.Pipeline(cfg)
            subject, step = pipeline, pipeline.passes[0]
        else:
            subject, step = cfg, passes.passes(cfg)[0]
        files, output = resolve(cfg.input), Output(cfg.output)
        best_cpu = best_wall = float("inf")
        for round_ in range(args.repeat + 1):
            cpu, wall = _cpu(), time.perf_counter()
            for file in files:
                passes.run_pass(subject, step, file, output)
            if round_:  # the first round warms up
                best_cpu, best_wall = min(best_cpu, _cpu() - cpu), min(best_wall, time.perf_counter() - wall)

        builds["n"] = 0
        run(config(str(Path(scratch) / "run"), "beam"))
        result = {"one pass cpu_s": round(best_cpu, 3), "one pass wall_s": round(best_wall, 3),
                  "stage builds per run": builds["n"], "stages": len(stages), "files": len(files),
                  "load": [round(x, 1) for x in os.getloadavg()]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
