"""One pipeline run, engine-neutral: list inputs, check the pipeline, guard the output, run the passes and the global
stages' plans on the pipeline's engine, commit."""
from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass

from curate.pipeline import output as layout
from curate.pipeline.check import Checked, assumed_format, check, named_files
from curate.pipeline.config import PipelineConfig
from curate.pipeline.engine import Engine, opened
from curate.pipeline.estimate import refuse_exceeding, resources
from curate.pipeline.errors import CurateError, RunFailed, job_failed
from curate.pipeline.inputs import InputFile, Range, resolve, tasks
from curate.pipeline.output import Output, now, refuse_deleting, refuse_inside_input
from curate.pipeline.passes import Pipeline
from curate.pipeline.stage import Facts, GlobalStage, Published
from curate.pipeline.stats import compute

FORMAT_VERSION = 1


@dataclass
class RunResult:
    output: Output
    stats: dict
    seconds: float
    resumed_tasks: int  # committed by an earlier attempt, kept


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
    refuse_exceeding(pipeline.pipeline, pipeline.inputs)  # with engine.memory_per_worker: before anything is written
    if overwrite:
        refuse_deleting(config.output, named_files(config))
    output = Output(config.output)
    with output.lock():
        return _run(pipeline, output, started, resume, overwrite, keep_work, progress)


def _run(checked_: Checked, output: Output, started: float, resume: bool, overwrite: bool, keep_work: bool,
         progress) -> RunResult:
    config, pipeline = checked_.config, checked_.pipeline
    listing = [f.listing() for f in checked_.inputs]
    resuming = output.prepare(config.content_hash(), listing, resume, overwrite)
    if resuming and output.exists(layout.MANIFEST):
        return RunResult(output, output.read_json(layout.STATS), time.time() - started, len(checked_.inputs))
    resumed = len(output.committed(0)) if resuming else 0
    work = _tasks(checked_.inputs, config, output, resuming)
    with opened(pipeline, work, progress) as engine:  # closed once the manifest is written (or failed)
        try:
            records, decisions = _run_passes(pipeline, work, output, engine, resuming)
        except CurateError:
            raise
        except Exception as error:
            raise job_failed(f"the {config.engine.name} job failed", _last_line(error)) from error
        documents = [path for r in records[-1] for path in r["rows"]]
        rejects = [path for step in records for r in step for path in r["rejects"]]
        # what failed attempts left beside the committed files goes before anything counts them
        collected = [path for step in records for r in step for p in r["partials"].values() for path in p["files"]]
        planned = [path for v in decisions.values() for path in v.get("outputs") or []]
        output.remove_unlisted({*documents, *rejects, *collected, *planned}, _collectors_folders(pipeline, records))
        output.write_json(layout.PASSES, {"passes": records, "decisions": decisions})
        stats = compute(output, records)
        stats["seconds"] = round(time.time() - started, 2)
        output.write_json(layout.STATS, stats)
        sections = _results(pipeline, output, records)
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
            # What each global stage's plan reported (the quality selection, the balance mixture), by stage id.
            "plans": {k: v["result"] for k, v in decisions.items() if v.get("result") is not None},
            **sections,
        })
        if not keep_work and output.exists(layout.WORK):
            output.fs.rm(output.path(layout.WORK), recursive=True)
    return RunResult(output, stats, time.time() - started, resumed)


def _tasks(inputs: list[InputFile], config: PipelineConfig, output: Output, resuming: bool) -> list[InputFile]:
    """The run's tasks: each input file, or each range of one larger than `input.split_size`. Cut once, when the run
    begins, and kept in the output (`ledger/tasks.json`), so that a resumed run reads the ranges its first attempt
    committed, whatever `input.split_size` (or a newer splitter) would cut now, and does not scan the files again.
    A cut file gets a multiple of the engine's tasks at once per worker in ranges."""
    cfg = config.input
    if resuming and output.exists(layout.TASKS):
        planned = output.read_json(layout.TASKS)
        files = {file.rel: file for file in inputs}  # the same listing (`prepare` checked it), maybe a new location
        work = [dataclasses.replace(files[task["path"]], part=Range.from_json(task["range"]))
                for task in planned["tasks"]]
        if planned["split_size"] != cfg.split_size:
            print(f"curate: resuming with the {len(work)} tasks the run began with (input.split_size "
                  f"{planned['split_size']:,} bytes then, {cfg.split_size:,} now: the new size applies to a new run)",
                  file=sys.stderr)
        return work
    split = any(file.size > cfg.split_size for file in inputs)
    work = tasks(inputs, cfg, slots=resources(config).tasks_per_worker if split else 1)
    output.write_json(layout.TASKS, {"split_size": cfg.split_size,
                                     "tasks": [{"path": task.rel, "range": task.part and dataclasses.asdict(task.part)}
                                               for task in work]})
    return work


def _run_passes(pipeline: Pipeline, inputs: list[InputFile], output: Output, engine: Engine, resuming: bool):
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
    for step in pipeline.passes:
        if step.applies is not None:
            stage = step.applies.stage
            manifest = layout.decisions_manifest(stage.id)
            if not redone and output.exists(manifest):
                listing = output.read_json(manifest)["files"]
            else:
                started = time.time()
                key_files = [path for record in previous.values() for path in record["keys"]]
                listing, result = engine.run_plan(stage, key_files, output)
                output.write_json(manifest, {"stage": stage.id, "name": stage.name, "files": listing, "result": result,
                                             "outputs": output.files(layout.stage_outputs(stage.id),
                                                                     (".parquet", ".json")),
                                             "seconds": round(time.time() - started, 2)})
                redone = True
            written = output.read_json(manifest)
            stage.planned = written.get("result")  # for the stages whose results build on it (`Stage.result`)
            decisions[stage.id] = {"manifest": manifest, "files": listing,
                                   **{k: written.get(k) for k in ("name", "outputs", "result")}}
        done = {} if redone else output.committed(step.index)
        todo = [f for f in inputs if f.key not in done]
        redone = redone or bool(todo)
        engine.run_pass(step, todo, output, previous, listing)
        committed = output.committed(step.index)
        missing = [f.rel + (f" range {f.part.index}" if f.part else "") for f in inputs if f.key not in committed]
        if missing:
            raise RunFailed(f"{len(missing)} input file(s) or range(s) did not finish pass {step.index} "
                            f"(first: {missing[0]}); rerun with --resume")
        previous = {f.key: committed[f.key] for f in inputs}
        records.append([previous[f.key] for f in inputs])
    return records, decisions


def _collectors_folders(pipeline: Pipeline, records: list[list[dict]]) -> tuple[str, ...]:
    """The folders the framework gave the stages whose collectors committed partials (`collector_folder`)."""
    collecting = {stage_id for step in records for r in step for stage_id in r["partials"]}
    return tuple(dict.fromkeys(layout.collector_folder(bound.id, bound.stage.publishes)
                               for bound in pipeline.stages if bound.id in collecting))


def _results(pipeline: Pipeline, output: Output, records: list[list[dict]]) -> dict:
    """The manifest sections of the stages' corpus-level results, each from its collectors' partials, in pipeline
    order: a stage's result is published under the names in its `publishes` for the stages after it (every plan's
    result is published before). Two stages that return the same section by stage id (a stage used twice under two
    ids) both keep theirs."""
    stages = [bound.stage for bound in pipeline.stages]
    published = {name: Published(stage.id, stage.planned) for stage in stages if isinstance(stage, GlobalStage)
                 for name in stage.publishes}
    sections: dict = {}
    for stage in stages:
        partials = [r["partials"][stage.id]["value"] for step in records for r in step if stage.id in r["partials"]]
        if partials:
            result = stage.result(partials, output, Facts(tuple(s.id for s in stages), dict(published)))
            for key, value in result.items():
                merged = isinstance(value, dict) and isinstance(sections.get(key), dict)
                sections[key] = {**sections[key], **value} if merged else value
            if not isinstance(stage, GlobalStage):
                published.update({name: Published(stage.id, result) for name in stage.publishes})
    return sections


def _last_line(error: Exception) -> str:
    """The Python exception that ended an engine's task, not the engine's stack around it (a JVM's)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    python = [line for line in lines if "Error:" in line or "Exception:" in line]
    return (python[-1] if python else lines[-1] if lines else type(error).__name__)[:500]
