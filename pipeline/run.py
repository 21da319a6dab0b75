"""One pipeline run, engine-neutral: list inputs, check the plan, guard the output, run the phases, commit."""
from __future__ import annotations

import time
from dataclasses import dataclass

from curate.pipeline import output as layout
from curate.pipeline.config import PipelineConfig
from curate.pipeline.errors import CurateError
from curate.pipeline.inputs import resolve
from curate.pipeline.output import Output, now, refuse_inside_input
from curate.pipeline.plan import Plan, build
from curate.pipeline.stats import compute

FORMAT_VERSION = 1


@dataclass
class RunResult:
    output: Output
    stats: dict
    seconds: float
    resumed_files: int


def plan_of(config: PipelineConfig) -> Plan:
    refuse_inside_input(config.output, config.input.paths)
    return build(config, resolve(config.input))


def run(config: PipelineConfig, *, resume: bool = False, overwrite: bool = False, progress=None) -> RunResult:
    started = time.time()
    plan = plan_of(config)
    output = Output(config.output)
    listing = [f.listing() for f in plan.inputs]
    resuming = output.prepare(config.content_hash(), listing, resume, overwrite)
    if resuming and output.exists(layout.MANIFEST):
        return RunResult(output, output.read_json(layout.STATS), time.time() - started, len(plan.inputs))
    done = output.committed() if resuming else {}
    todo = [f for f in plan.inputs if f.key not in done]
    from curate.pipeline.spark import SparkEngine

    try:
        with SparkEngine(config.engine, progress) as engine:
            engine.run_phase_a(config, todo, output)
    except Exception as error:
        if isinstance(error, CurateError):
            raise
        raise CurateError(f"the {config.engine.name} job failed: {_last_line(error)}") from error
    committed = output.committed()
    missing = [f.rel for f in plan.inputs if f.key not in committed]
    if missing:
        raise CurateError(f"{len(missing)} input file(s) were not committed (first: {missing[0]}); rerun with --resume")
    records = [committed[f.key] for f in plan.inputs]
    output.write_json(layout.PHASE_A, {"files": records})
    stats = compute(output, records)
    stats["seconds"] = round(time.time() - started, 2)
    output.write_json(layout.STATS, stats)
    output.write_json(layout.MANIFEST, {
        "format_version": FORMAT_VERSION,
        "created": now(),
        "config": config.to_json(),
        "config_hash": config.content_hash(),
        "inputs": listing,
        "phases": {"A": layout.PHASE_A},
        "documents": [path for r in records for path in r["documents"]],
        "rejects": [path for r in records for path in r["rejects"]],
        "stats": layout.STATS,
    })
    return RunResult(output, stats, time.time() - started, len(done))


def _last_line(error: Exception) -> str:
    """The Python exception that ended a Spark task, not the JVM's stack around it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    python = [line for line in lines if "Error:" in line or "Exception:" in line]
    return (python[-1] if python else lines[-1] if lines else type(error).__name__)[:500]
