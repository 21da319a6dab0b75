"""The `curate` command line: run, explain, stages, demo, report, train, ablate."""
from __future__ import annotations

import difflib
import logging
import os
import sys
import time
import traceback
import types
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from curate.pipeline.errors import CurateError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Data curation for LLM pretraining corpora on Apache Spark or Apache Beam.")
console = Console()
errors = Console(stderr=True)
_state = {"verbose": False}


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="show tracebacks")] = False) -> None:
    _state["verbose"] = verbose


def _config(pipeline: Path, input: list[str] | None, output: str | None, master: str | None,
            engine: str | None = None):
    from curate.pipeline import config

    overrides = {"input.paths": input or None, "output": output, "engine.master": master, "engine.name": engine}
    return config.load(pipeline, overrides, notice=lambda line: errors.print(f"curate: note: {line}", highlight=False))


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="input paths (replace the YAML's)")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="output directory or URI")] = None,
    engine: Annotated[Optional[str], typer.Option(help="spark or beam (default: the YAML's engine.name)")] = None,
    master: Annotated[Optional[str], typer.Option(help="Spark master URL (spark://, yarn, k8s://)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run in the same output")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier run's output")] = False,
    keep_work: Annotated[bool, typer.Option(help="keep OUTPUT/work/ (rows between passes) for debugging")] = False,
) -> None:
    """Run a pipeline and print its funnel."""
    from curate.pipeline.output import MANIFEST, Output
    from curate.pipeline.progress import RunProgress
    from curate.pipeline.run import run as run_pipeline

    if resume and overwrite:
        raise CurateError("--resume and --overwrite exclude each other")
    config = _config(pipeline, input, output, master, engine)
    finished = resume and Output(config.output).exists(MANIFEST)  # then the run only reads back what it wrote
    result = run_pipeline(config, resume=resume, overwrite=overwrite, keep_work=keep_work, progress=RunProgress(errors))
    _show_result(result, finished)
    _write_report(result.output.uri)


def _write_report(output: str) -> None:
    """The run report after every run; the run's output is complete without it, so a failure only warns."""
    from curate.pipeline.output import Output
    from curate.cli.report import write_report

    try:
        with Output(output).lock():
            page = write_report(output)
        console.print(f"report: {page}")
    except Exception as error:  # noqa: BLE001 (a plotting bug must not turn a finished run into a failed one)
        if _state["verbose"]:
            traceback.print_exc()
        errors.print(f"[yellow]curate: warning:[/] no report written ({type(error).__name__}: {error}); "
                     f"retry with `curate report {output}`", highlight=False, soft_wrap=True)


def _show_result(result, finished: bool = False) -> None:
    """The funnel, the reasons and the stages' lines; then the documents and the rate, or, for a run that `--resume`
    found finished, no rate (it measured nothing)."""
    from curate.cli.funnel import funnel_table, reasons_table

    stats = result.stats
    console.print(funnel_table(stats))
    if stats["rejected"]:
        console.print(reasons_table(stats))
    for file, error in stats.get("file_errors", {}).items():
        console.print(f"[yellow]file error[/] {file}: {error}")
    _show_sections(result.output)
    if finished:
        console.print(f"{stats['input']:,} documents: the run had finished; nothing to do; output: {result.output.uri}")
        return
    rate = stats["input"] / result.seconds if result.seconds else 0.0
    resumed = f", {result.resumed_tasks} task(s) kept from the attempt before" if result.resumed_tasks else ""
    console.print(f"{stats['input']:,} documents in {result.seconds:.1f} s ({rate:.1f} docs/s){resumed}; "
                  f"output: {result.output.uri}")


@app.command()
def explain(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o")] = None,
    estimate: Annotated[bool, typer.Option("--estimate", help="also predict each global stage's key bytes, shuffle "
                                           "bytes, largest group and memory per worker from a sample of the input")]
    = False,
) -> None:
    """Print the checked plan: stages, the columns each needs and adds, and the passes. A static check: the input
    need not exist yet (with --estimate it must: a sample of it is read)."""
    from curate.pipeline.estimate import estimate as predict
    from curate.pipeline.run import checked

    plan = checked(_config(pipeline, input, output, None), static=not estimate)
    console.print(plan.explain(), highlight=False, soft_wrap=True)
    if estimate:
        found = predict(plan.pipeline, plan.inputs)
        refusal = found.refusal()
        checked_first = plan.config.engine.memory_per_worker is not None
        verdict = [] if refusal is None else [f"a run refuses to start: {refusal}" if checked_first else
                                              f"warning: {refusal} (a run checks this with engine.memory_per_worker)"]
        console.print("\n".join(["", *found.lines(), *verdict]), highlight=False, soft_wrap=True)


@app.command()
def stages(name: Annotated[Optional[str], typer.Argument(help="one stage to show (default: every stage)")] = None) -> None:
    """List the registered stages with their parameters and defaults, or show one stage."""
    from curate.pipeline import registry

    shown = registry.stages()
    if name is not None:
        if name not in shown:
            close = difflib.get_close_matches(name, list(shown), n=3)
            hint = f"did you mean {' or '.join(map(repr, close))}?" if close else f"registered: {', '.join(shown)}"
            raise CurateError(f"no stage named {name!r}: {hint}")
        shown = {name: shown[name]}
    for name, cls in shown.items():
        summary = (cls.__doc__ or "").strip().split("\n")[0]  # the docstring's first line says what a stage does
        table = Table(title=f"[bold]{name}[/]  {summary}", title_justify="left", show_header=True)
        fields = cls.Params.model_fields
        # names and types are what a user copies into YAML: never cut; the meaning wraps instead
        table.add_column("parameter", no_wrap=True, min_width=max((len(f) for f in fields), default=9))
        table.add_column("type", overflow="fold")
        table.add_column("default", overflow="fold")
        table.add_column("meaning", ratio=1)
        for field, info in fields.items():
            # Text, not markup: `list[str]` is a type here, not a style tag
            table.add_row(*map(Text, (field, _type_name(info.annotation), _default(info), info.description or "")))
        console.print(table)


def _default(info) -> str:
    """A parameter's default as YAML would state it; `(required)` only when there is none."""
    from pydantic_core import PydanticUndefined

    if info.default_factory is not None:
        return repr(info.default_factory())
    return "(required)" if info.default is PydanticUndefined else repr(info.default)


def _type_name(annotation) -> str:
    """`str | None`, `list[str]`, `dict[str, float]`, `a | b` for a Literal: as the YAML value is written."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " | ".join(map(str, args))
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if annotation is type(None):
        return "None"
    if origin is not None and args:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(arg) for arg in args)}]"
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="where the sample crawl and the output go")] = Path("curate-demo"),
) -> None:
    """Generate a small multilingual sample crawl, run examples/demo.yaml on it, and show the funnel."""
    from curate.cli.demo import run_demo
    from curate.pipeline.progress import RunProgress

    result = run_demo(workdir, RunProgress(errors), console)
    _show_result(result)
    _write_report(result.output.uri)


@app.command()
def report(output: Annotated[str, typer.Argument(help="a run's output directory or URI")]) -> None:
    """Write the run report (report/report.html with its plots) of a finished run, and show the funnel."""
    from curate.cli.funnel import funnel_table, reasons_table
    from curate.pipeline.output import MANIFEST, STATS, Output
    from curate.cli.report import write_report

    out = Output(output)
    if not out.exists(MANIFEST):  # before the lock, which would make the folder
        raise CurateError(f"{output!r} holds no finished run ({MANIFEST} is missing): run the pipeline first")
    with out.lock():
        page = write_report(output)
    stats = out.read_json(STATS)
    console.print(funnel_table(stats))
    if stats["rejected"]:
        console.print(reasons_table(stats))
    _show_sections(out)
    console.print(f"report: {page}")


def _show_sections(out) -> None:
    """The console lines of the run's stage families that have some (the bias report, the domain mixture, …)."""
    from curate.cli.report import report_text

    for line in report_text(out):
        console.print(line, highlight=False)


@app.command()
def inspect(
    output: Annotated[str, typer.Argument(help="a run's output directory or URI")],
    n: Annotated[int, typer.Option("-n", help="rows to show")] = 10,
    where: Annotated[Optional[str], typer.Option(help="filter, e.g. \"lang == de and n_tokens > 100\"")] = None,
    columns: Annotated[Optional[str], typer.Option(help="comma-separated columns to show beside id and text")] = None,
    rejected: Annotated[bool, typer.Option("--rejected", help="rejected records instead of kept documents")] = False,
    reason: Annotated[Optional[str], typer.Option(help="rejected records whose reason starts with this")] = None,
    shard: Annotated[Optional[str], typer.Option(help="a shard path from the manifest, or a domain")] = None,
    decode: Annotated[bool, typer.Option(help="with --shard: decode the tokens")] = True,
    record: Annotated[Optional[str], typer.Option("--id", help="what became of one input record (its id)")] = None,
) -> None:
    """Show a few documents of a finished run (kept, or rejected with reasons) or of a token shard, decoded."""
    from curate.cli.inspect import inspect_documents, inspect_record, inspect_shard

    if record is not None:
        console.print(inspect_record(output, record))
    elif shard is not None:
        console.print(inspect_shard(output, shard, n, decode=decode))
    else:
        chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        console.print(inspect_documents(output, n, where=where, rejected=rejected, reason=reason, columns=chosen))


tokenizer_app = typer.Typer(no_args_is_help=True, help="Tokenizers for the tokenize stage.")
export_app = typer.Typer(no_args_is_help=True, help="Export a run's shards for other trainers.")
quality_app = typer.Typer(no_args_is_help=True, help="Quality classifiers for the quality_classifier stage.")
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(export_app, name="export")
app.add_typer(quality_app, name="quality")


@tokenizer_app.command("train")
def tokenizer_train(
    output: Annotated[str, typer.Argument(help="a run's output directory: its documents are the sample")],
    vocab_size: Annotated[int, typer.Option(help="vocabulary size")] = 32_000,
    sample: Annotated[int, typer.Option(help="documents to train on")] = 100_000,
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    out: Annotated[Optional[str], typer.Option(help="where to write tokenizer.json (default OUTPUT/tokenizer.json)")] = None,
) -> None:
    """Train a byte-level BPE tokenizer on a sample of a run's documents."""
    from curate.cli.tokenizer_train import train_tokenizer

    console.print(f"tokenizer: {train_tokenizer(output, vocab_size, sample, out, seed)}")


@quality_app.command("train")
def quality_train(
    positive: Annotated[str, typer.Option(help="good documents: a curate output, JSONL/Parquet, or a .txt folder")],
    negative: Annotated[str, typer.Option(help="the documents to tell apart from them (same kinds of source)")],
    model: Annotated[str, typer.Option(help="the model file to write; its card goes beside it as <model>.json")],
    text_field: Annotated[str, typer.Option(help="JSONL/Parquet: the field holding the text")] = "text",
    max_per_class: Annotated[Optional[int], typer.Option(help="documents per class at most")] = None,
    heldout: Annotated[float, typer.Option(help="share of each class held out for the metrics")] = 0.1,
    seed: Annotated[int, typer.Option(help="seed of the sampling, the split and fastText")] = 0,
    threshold: Annotated[float, typer.Option(help="score threshold of the card's precision/recall")] = 0.5,
    threads: Annotated[Optional[int], typer.Option(help="fastText threads; none = 1 on small data, else cores")] = None,
    dim: Annotated[int, typer.Option(help="fastText vector size (DCLM: 100)")] = 100,
    epoch: Annotated[int, typer.Option(help="fastText epochs (DCLM: 5)")] = 5,
    bucket: Annotated[Optional[int], typer.Option(help="fastText bigram hash buckets; none = 2 per distinct bigram "
                                                     "of the data, at most DCLM's 2,000,000 (an 800 MB model)")]
    = None,
) -> None:
    """Train a fastText quality classifier (DCLM's recipe) and write its model card."""
    from curate.cli.quality_train import train_quality

    train_quality(positive, negative, model, text_field=text_field, max_per_class=max_per_class, heldout=heldout,
                  seed=seed, threshold=threshold, threads=threads,
                  overrides={"dim": dim, "epoch": epoch, "bucket": bucket},
                  log=lambda line: errors.print(line, highlight=False))


@export_app.command("megatron")
def export_megatron(
    output: Annotated[str, typer.Argument(help="a run's output directory with token shards")],
    target: Annotated[str, typer.Argument(help="where the .bin/.idx files go")],
) -> None:
    """Write Megatron-LM indexed datasets (MMIDIDX v1 .bin/.idx) per domain, and the --data-path line."""
    from curate.cli.export_megatron import export_megatron as export

    written = export(output, target)
    for path in written[:-1]:
        console.print(f"wrote {path}")
    console.print(written[-1].read_text(), highlight=False)


class _TrainCommands(typer.core.TyperGroup):
    """`curate train CONFIG [key=value ...]` trains (the `run` subcommand); `curate train export-hf ...` exports."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


train_app = typer.Typer(cls=_TrainCommands, no_args_is_help=True,
                        help="Train the bundled model on a run's shards; export its weights.")
app.add_typer(train_app, name="train")


@train_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="trainer YAML; then key.path=value overrides")],
    nnodes: Annotated[int, typer.Option(help="nodes taking part (run the same command on each)")] = 1,
    node_rank: Annotated[int, typer.Option(help="this node's rank; node 0 hosts the rendezvous")] = 0,
    rdzv_endpoint: Annotated[Optional[str], typer.Option(help="host:port on node 0 (torchrun's c10d rendezvous)")] = None,
) -> None:
    """Train (`curate train CONFIG ...`): in-process, or torchrun with parallel.nproc processes on each node."""
    from curate.trainer.launch import main as launch

    status = launch(str(config), list(ctx.args), nnodes, node_rank, rdzv_endpoint)
    if status:
        sys.exit(status)  # a failed run (a bad config: 2; a failed or killed rank: torchrun's status) is never 0


@train_app.command("export-hf")
def train_export_hf(
    run_dir: Annotated[Path, typer.Argument(help="a training run's output directory")],
    out: Annotated[Path, typer.Argument(help="where the Hugging Face checkpoint goes")],
) -> None:
    """Write the newest checkpoint as a Hugging Face Llama model (config.json, safetensors, tokenizer)."""
    from curate.trainer.export_hf import ExportError, export

    try:
        step = export(run_dir, out)
    except ExportError as e:
        raise CurateError(str(e)) from None
    console.print(f"wrote {out} (step {step}): transformers.LlamaForCausalLM.from_pretrained({str(out)!r})")


@app.command()
def ablate(
    ablation: Annotated[Path, typer.Argument(help="ablation YAML (docs/ABLATE.md)")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="input paths (replace the YAML's)")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="where arms, runs and results go")] = None,
) -> None:
    """Train small models on each arm's data (same tokens, tokenizer, seeds) and compare them; resumable."""
    from curate.workflows.ablate import ablate as run_ablation
    from curate.workflows.ablate_config import load

    config = load(ablation, {"input.paths": input or None, "output": output})
    started = time.monotonic()
    results = run_ablation(config, progress=lambda line: errors.print(
        f"ablate [{time.monotonic() - started:5.0f} s] {line}", highlight=False, soft_wrap=True))
    console.print((Path(config.output) / "results.md").read_text(), highlight=False)
    console.print(f"report: {Path(config.output) / 'report' / 'ablation.html'} ({results['wall_seconds']:.0f} s)")


def main(argv: list[str] | None = None) -> None:
    """The console script. Exit status: 0 success, 2 a usage or config error, 130 interrupted (one line, nothing
    else), 1 any other failure, a run stopped by its data or its engine included (one line; `--verbose` adds the
    traceback)."""
    # Libraries log warnings about optional extras they lack (Beam's GCP clients); curate reports what matters.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    # py4j logs (on the root logger) every call to the JVM that a Ctrl-C or a failed job cuts short, with a traceback;
    # curate reports the interruption or the failure itself, in one line.
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: f"{os.sep}py4j{os.sep}" not in record.pathname)
    sys.exit(_status(argv))


def _status(argv: list[str] | None) -> int:
    try:
        code = app(args=argv, standalone_mode=False)
    except CurateError as error:
        if _state["verbose"]:
            traceback.print_exc()
        for line in str(error).splitlines() or [""]:  # a config error lists every problem, one a line
            errors.print(f"[bold red]curate: error:[/] {escape(line)}", highlight=False, soft_wrap=True)
        return error.status
    except (typer.Abort, KeyboardInterrupt):
        return _interrupted()
    except typer.TyperException as error:  # usage errors (status 2) and the like, shown as click shows them
        show = getattr(error, "show", None)
        if show is not None:
            show()
        return getattr(error, "exit_code", 2)
    except Exception as error:  # noqa: BLE001 (a bug, or an engine failure nothing above named: still one line)
        if _state["verbose"]:
            traceback.print_exc()
        message = (str(error).strip().splitlines() or [""])[0][:500]
        errors.print(f"[bold red]curate: failed:[/] {type(error).__name__}: {escape(message)} (--verbose shows the traceback)",
                     highlight=False, soft_wrap=True)
        return 1
    code = code if isinstance(code, int) else 0  # a command's own return value is not a status
    if code < 0:  # a child process killed by a signal (subprocess reports -N): the shell's 128 + N
        code = 128 - code
    return _interrupted() if code == 130 else code


def _interrupted() -> int:
    errors.print("curate: interrupted", highlight=False)
    return 130


if __name__ == "__main__":
    main()
