"""One pipeline run, engine-neutral: list inputs, check the pipeline, guard the output, run the passes, commit."""
from __future__ import annotations

import time
from dataclasses import dataclass

from curate.pipeline import output as layout
from curate.pipeline.check import Checked, assumed_format, check, named_files
from curate.pipeline.config import PipelineConfig
from curate.pipeline.errors import CurateError, RunFailed, job_failed
from curate.pipeline.inputs import InputFile, resolve
from curate.pipeline.output import Output, now, refuse_deleting, refuse_inside_input
from curate.pipeline.passes import passes
from curate.pipeline.readers import tasks
from curate.pipeline.stats import compute

FORMAT_VERSION = 1


@dataclass
class RunResult:
    output: Output
    stats: dict
    seconds: float
    resumed_files: int


def checked(config: PipelineConfig, static: bool = False) -> Checked:
    """The checked pipeline over the listed input files; `static`: an input that cannot be listed (not there yet, on a
    host not reachable from here) is checked by its format instead of refused."""
    refuse_inside_input(config.output, config.input.paths)
    try:
        inputs = resolve(config.input)
    except CurateError as error:
        if not static:
            raise
        pipeline = check(config, [], assumed_format(config), static=True)
        pipeline.warnings.insert(0, f"the input is not listed here ({error}); a run lists it first")
        return pipeline
    return check(config, inputs, static=static)


def run(config: PipelineConfig, *, resume: bool = False, overwrite: bool = False, keep_work: bool = False,
        progress=None) -> RunResult:
    """Run a pipeline into its output, as the output's only writer. `keep_work` keeps `work/` (the rows between
    passes, the global stages' decisions) for debugging; it is deleted once the manifest is written."""
    started = time.time()
    pipeline = checked(config)
    if overwrite:
        refuse_deleting(config.output, named_files(config))
    output = Output(config.output)
    with output.lock():
        try:
            return _run(config, pipeline, output, started, resume, overwrite, keep_work, progress)
        finally:
            if config.engine.name == "spark":
                from curate.pipeline.spark import finish_archive

                finish_archive()


def _run(config: PipelineConfig, pipeline: Checked, output: Output, started: float, resume: bool, overwrite: bool,
         keep_work: bool, progress) -> RunResult:
    listing = [f.listing() for f in pipeline.inputs]
    resuming = output.prepare(config.content_hash(), listing, resume, overwrite)
    if resuming and output.exists(layout.MANIFEST):
        return RunResult(output, output.read_json(layout.STATS), time.time() - started, len(pipeline.inputs))
    resumed = len(output.committed(0)) if resuming else 0
    work = tasks(pipeline.inputs, config.input)  # a file, or each range of one larger than input.split_size
    try:
        with _engine(config, progress, work) as engine:
            records, decisions = _run_passes(config, work, output, engine, resuming)
    except CurateError:
        raise
    except Exception as error:
        raise job_failed(f"the {config.engine.name} job failed", _last_line(error)) from error
    documents = [path for r in records[-1] for path in r["rows"]]
    rejects = [path for step in records for r in step for path in r["rejects"]]
    # what failed attempts left beside the committed files goes before anything counts them
    collected = [path for step in records for r in step for p in r["partials"].values() for path in p["files"]]
    output.remove_unlisted({*documents, *rejects, *collected})
    output.write_json(layout.PASSES, {"passes": records, "decisions": decisions})
    stats = compute(output, records)
    stats["seconds"] = round(time.time() - started, 2)
    output.write_json(layout.STATS, stats)
    sections = _results(config, output, records)
    output.write_json(layout.MANIFEST, {
        "format_version": FORMAT_VERSION,
        "created": now(),
        "config": config.to_json(),
        "config_hash": config.content_hash(),
        "inputs": listing,
        "phases": {"passes": layout.PASSES, "decisions": {k: v["manifest"] for k, v in decisions.items()}},
        "documents": documents,
        "rejects": rejects,
        "stats": layout.STATS,
        # Files a global stage wrote as part of the result (a dedup index), by stage id, with the stage's name.
        "stage_outputs": {k: {"stage": v["name"], "files": v["outputs"]} for k, v in decisions.items()
                          if v.get("outputs")},
        **sections,
    })
    if not keep_work and output.exists(layout.WORK):
        output.fs.rm(output.path(layout.WORK), recursive=True)
    return RunResult(output, stats, time.time() - started, resumed)


def _engine(config: PipelineConfig, progress, inputs: list[InputFile]):
    """The engine, sized to the input (its tasks): a small one is not worth the start-up of what pays only on a large
    one."""
    size = sum(end - start for start, end in (f.stored for f in inputs))
    if config.engine.name == "beam":
        from curate.pipeline.beam import WORKERS_INPUT_BYTES, BeamEngine

        return BeamEngine(config.engine, progress, in_process=len(inputs) < 2 or size < WORKERS_INPUT_BYTES)
    from curate.pipeline.spark import JIT_INPUT_BYTES, SparkEngine

    return SparkEngine(config.engine, progress, jvm_work=len(passes(config)) > 1 and size >= JIT_INPUT_BYTES)


def _run_passes(config: PipelineConfig, inputs: list[InputFile], output: Output, engine, resuming: bool):
    """Every pass in order over the tasks `inputs` (files or ranges), each global stage's plan between two; returns the
    records of each pass and the decision listings. Finished work (per task for passes, whole for a global stage) is
    kept on resume."""
    records: list[list[dict]] = []
    decisions: dict[str, dict] = {}
    previous: dict[str, dict] = {}
    listing: dict[str, list[str]] = {}
    # Finished work is reused only while nothing before it was redone: a file redone in pass 0 (or a global stage
    # recomputed) makes every later decision and pass stale, so those run again as a whole.
    redone = not resuming
    for step in passes(config):
        if step.applies is not None:
            manifest = layout.decisions_manifest(step.applies.id)
            if not redone and output.exists(manifest):
                listing = output.read_json(manifest)["files"]
            else:
                started = time.time()
                key_files = [path for record in previous.values() for path in record["keys"]]
                listing = engine.run_global(config, passes(config)[step.index - 1], key_files, output)
                output.write_json(manifest, {"stage": step.applies.id, "name": step.applies.name, "files": listing,
                                             "outputs": output.files(layout.stage_outputs(step.applies.id),
                                                                         (".parquet", ".json")),
                                             "seconds": round(time.time() - started, 2)})
                redone = True
            decisions[step.applies.id] = {"manifest": manifest, "files": listing,
                                          **{k: output.read_json(manifest).get(k) for k in ("name", "outputs")}}
        done = {} if redone else output.committed(step.index)
        todo = [f for f in inputs if f.key not in done]
        redone = redone or bool(todo)
        engine.run_pass(config, step, todo, output, previous, listing)
        committed = output.committed(step.index)
        missing = [f.rel + (f" range {f.part.index}" if f.part else "") for f in inputs if f.key not in committed]
        if missing:
            raise RunFailed(f"{len(missing)} input file(s) or range(s) did not finish pass {step.index} "
                              f"(first: {missing[0]}); rerun with --resume")
        previous = {f.key: committed[f.key] for f in inputs}
        records.append([previous[f.key] for f in inputs])
    return records, decisions


def _results(config: PipelineConfig, output: Output, records: list[list[dict]]) -> dict:
    """The manifest sections of the stages' corpus-level results, each from its collectors' partials. Two stages
    that return the same section by stage id (a stage used twice under two ids) both keep theirs."""
    stages = [spec.build() for spec in config.stages]
    sections: dict = {}
    for stage in stages:
        partials = [r["partials"][stage.id]["value"] for step in records for r in step if stage.id in r["partials"]]
        if partials:
            for key, value in stage.result(partials, output, stages).items():
                merged = isinstance(value, dict) and isinstance(sections.get(key), dict)
                sections[key] = {**sections[key], **value} if merged else value
    return sections


def _last_line(error: Exception) -> str:
    """The Python exception that ended a Spark task, not the JVM's stack around it."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    python = [line for line in lines if "Error:" in line or "Exception:" in line]
    return (python[-1] if python else lines[-1] if lines else type(error).__name__)[:500]
