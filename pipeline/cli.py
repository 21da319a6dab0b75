"""The `curate` command line: run, explain, stages, demo, report, train."""
from __future__ import annotations

import logging
import sys
import traceback
import typing
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from curate.pipeline.errors import CurateError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Data curation for LLM pretraining corpora on Apache Spark.")
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
    return config.load(pipeline, overrides)


@app.command()
def run(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i", help="input paths (replace the YAML's)")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="output directory or URI")] = None,
    engine: Annotated[Optional[str], typer.Option(help="spark or beam (default: the YAML's engine.name)")] = None,
    master: Annotated[Optional[str], typer.Option(help="Spark master URL (spark://, yarn, k8s://)")] = None,
    resume: Annotated[bool, typer.Option(help="continue an interrupted run in the same output")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an earlier run's output")] = False,
) -> None:
    """Run a pipeline and print its funnel."""
    from curate.pipeline.progress import RunProgress
    from curate.pipeline.run import run as run_pipeline

    if resume and overwrite:
        raise CurateError("--resume and --overwrite exclude each other")
    config = _config(pipeline, input, output, master, engine)
    result = run_pipeline(config, resume=resume, overwrite=overwrite, progress=RunProgress(errors))
    _show_result(result)
    _write_report(result.output.uri)


def _write_report(output: str) -> None:
    """The run report after every run; the run's output is complete without it, so a failure only warns."""
    from curate.pipeline.report import write_report

    try:
        console.print(f"report: {write_report(output)}")
    except Exception as error:  # noqa: BLE001 (a plotting bug must not turn a finished run into a failed one)
        if _state["verbose"]:
            traceback.print_exc()
        errors.print(f"[yellow]curate: warning:[/] no report written ({type(error).__name__}: {error}); "
                     f"retry with `curate report {output}`", highlight=False, soft_wrap=True)


def _show_result(result) -> None:
    from curate.pipeline.funnel import funnel_table, reasons_table

    stats = result.stats
    console.print(funnel_table(stats))
    if stats["rejected"]:
        console.print(reasons_table(stats))
    for file, error in stats.get("file_errors", {}).items():
        console.print(f"[yellow]file error[/] {file}: {error}")
    _show_sections(result.output)
    rate = stats["input"] / result.seconds if result.seconds else 0.0
    resumed = f", {result.resumed_files} file(s) resumed" if result.resumed_files else ""
    console.print(f"{stats['input']:,} documents in {result.seconds:.1f} s ({rate:.1f} docs/s){resumed}; "
                  f"output: {result.output.uri}")


@app.command()
def explain(
    pipeline: Annotated[Path, typer.Argument(help="pipeline YAML")],
    input: Annotated[Optional[list[str]], typer.Option("--input", "-i")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o")] = None,
) -> None:
    """Print the checked plan: stages, the columns each needs and adds, and the phases."""
    from curate.pipeline.run import plan_of

    console.print(plan_of(_config(pipeline, input, output, None)).explain(), highlight=False)


@app.command()
def stages() -> None:
    """List the registered stages with their parameters and defaults."""
    from pydantic_core import PydanticUndefined

    from curate.pipeline import registry

    for name, cls in registry.stages().items():
        table = Table(title=f"[bold]{name}[/]  {cls.summary()}", title_justify="left", show_header=True)
        table.add_column("parameter")
        table.add_column("type")
        table.add_column("default")
        table.add_column("meaning")
        for field, info in cls.Params.model_fields.items():
            default = "(required)" if info.default is PydanticUndefined else repr(info.default)
            kind = _type_name(info.annotation)
            table.add_row(field, kind, default, info.description or "")
        console.print(table)


def _type_name(annotation) -> str:
    if typing.get_origin(annotation) is typing.Literal:
        return " | ".join(map(str, typing.get_args(annotation)))
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


@app.command()
def demo(
    workdir: Annotated[Path, typer.Option(help="where the sample crawl and the output go")] = Path("curate-demo"),
) -> None:
    """Generate a small multilingual sample crawl, run examples/demo.yaml on it, and show the funnel."""
    from curate.pipeline.demo import run_demo
    from curate.pipeline.progress import RunProgress

    result = run_demo(workdir, RunProgress(errors), console)
    _show_result(result)
    _write_report(result.output.uri)


@app.command()
def report(output: Annotated[str, typer.Argument(help="a run's output directory or URI")]) -> None:
    """Write the run report (report/report.html with its plots) of a finished run, and show the funnel."""
    from curate.pipeline.funnel import funnel_table, reasons_table
    from curate.pipeline.output import STATS, Output
    from curate.pipeline.report import write_report

    page = write_report(output)  # refuses an output without manifest.json, in one line
    out = Output(output)
    stats = out.read_json(STATS)
    console.print(funnel_table(stats))
    if stats["rejected"]:
        console.print(reasons_table(stats))
    _show_sections(out)
    console.print(f"report: {page}")


def _show_sections(out) -> None:
    """The bias report and the domain mixture of a finished run, where it has them."""
    from curate.pipeline.funnel import mixture_table
    from curate.pipeline.output import MANIFEST

    manifest = out.read_json(MANIFEST)
    if "bias" in manifest:
        from curate.stages.bias import format_report

        console.print(format_report(out.read_json(manifest["bias"])), highlight=False)
    if "balance" in manifest:
        balance = out.read_json(manifest["balance"])
        console.print(mixture_table(balance))
        for note in balance["notes"] or ["target met"]:
            console.print(f"  {note}")
        console.print(f"  the weights support up to {balance['max_training_tokens']:,} training tokens")


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
    from curate.pipeline.inspect import inspect_documents, inspect_record, inspect_shard

    if record is not None:
        console.print(inspect_record(output, record))
    elif shard is not None:
        console.print(inspect_shard(output, shard, n, decode=decode))
    else:
        chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        console.print(inspect_documents(output, n, where=where, rejected=rejected, reason=reason, columns=chosen))


tokenizer_app = typer.Typer(no_args_is_help=True, help="Tokenizers for the tokenize stage.")
export_app = typer.Typer(no_args_is_help=True, help="Export a run's shards for other trainers.")
app.add_typer(tokenizer_app, name="tokenizer")
app.add_typer(export_app, name="export")


@tokenizer_app.command("train")
def tokenizer_train(
    output: Annotated[str, typer.Argument(help="a run's output directory: its documents are the sample")],
    vocab_size: Annotated[int, typer.Option(help="vocabulary size")] = 32_000,
    sample: Annotated[int, typer.Option(help="documents to train on")] = 100_000,
    seed: Annotated[int, typer.Option(help="seed of the sample")] = 0,
    out: Annotated[Optional[str], typer.Option(help="where to write tokenizer.json (default OUTPUT/tokenizer.json)")] = None,
) -> None:
    """Train a byte-level BPE tokenizer on a sample of a run's documents."""
    from curate.pipeline.tokenizer_train import train_tokenizer

    console.print(f"tokenizer: {train_tokenizer(output, vocab_size, sample, out, seed)}")


@export_app.command("megatron")
def export_megatron(
    output: Annotated[str, typer.Argument(help="a run's output directory with token shards")],
    target: Annotated[str, typer.Argument(help="where the .bin/.idx files go")],
) -> None:
    """Write Megatron-LM indexed datasets (MMIDIDX v1 .bin/.idx) per domain, and the --data-path line."""
    from curate.pipeline.export_megatron import export_megatron as export

    written = export(output, target)
    for path in written[:-1]:
        console.print(f"wrote {path}")
    console.print(written[-1].read_text(), highlight=False)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train(
    ctx: typer.Context,
    config: Annotated[Path, typer.Argument(help="trainer YAML")],
) -> None:
    """Train the bundled model on a run's shards (spawns torchrun for the configured processes)."""
    from curate.trainer.launch import main as launch

    raise typer.Exit(launch(str(config), list(ctx.args)))


def main() -> None:
    # Libraries log warnings about optional extras they lack (Beam's GCP clients); curate reports what matters.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=False)
    except CurateError as error:
        if _state["verbose"]:
            traceback.print_exc()
        errors.print(f"[bold red]curate: error:[/] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        errors.print("curate: interrupted")
        sys.exit(130)
    except Exception as error:  # click usage errors carry their own exit status
        import click

        if isinstance(error, click.ClickException):
            error.show()
            sys.exit(error.exit_code)
        raise
if __name__ == "__main__":
    main()
