"""The engine boundary: what an engine does for a run, the registry that finds engines by name, and the registry of
the global stages' plans on each engine.

An engine (`Engine`) runs a pipeline's passes over the input files, each global stage's plan between two passes, and
tears down what it started (`close`). The framework names no engine: it finds one by the name a pipeline gives
(`engine.name`) among the engines registered with `@register_engine`: curate's own are the subpackages of
`curate.engines`, imported by that name when a pipeline names one (importing one imports PySpark or Beam, so only
the one a run uses is), and a plugin module registers its own when it is imported.

A plan is a global stage's computation on one engine, from every file's keys to a decision table keyed by `uid`, and
the result it reports (`Planned`). It is registered for a stage class with `@plan("<engine>", StageClass)`: an engine
package registers the plans of the built-in stages when it is imported, and a plugin module registers its own, so a
plugin ships a global stage with its plans. A plan is called with the stage's pure decision (`GlobalStage.policy()`),
the keys in the engine's own form (a DataFrame, a PCollection) and the engine's job (its output, the stage's folder).
"""
from __future__ import annotations

import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from curate.pipeline.errors import CurateError

if TYPE_CHECKING:
    from curate.pipeline.config import EngineConfig
    from curate.pipeline.inputs import InputFile
    from curate.pipeline.output import Output
    from curate.pipeline.passes import Pass, Pipeline
    from curate.pipeline.progress import RunProgress
    from curate.pipeline.stage import GlobalStage


@dataclass
class Planned:
    """What a plan returns: the decision table (in the engine's form, one row per decided document: `uid`,
    `file_key`, `reject_reason` and the stage's added columns) and the plan's result, a JSON value the framework
    writes into the manifest under `plans.<stage id>` (None: nothing to report). On Beam the result may also be a
    PCollection of one value, which the engine reads back once the pipeline has run."""

    decisions: Any
    result: Any = None


class Engine(Protocol):
    """One engine for one run: made by the framework when the run has work to do, closed when the run ends."""

    name: ClassVar[str]

    def __init__(self, pipeline: Pipeline, inputs: list[InputFile], progress: RunProgress) -> None:
        """For one run of `pipeline` over `inputs`, its tasks (files or ranges of them; an engine sizes itself to
        their stored bytes: a small input is not worth the start-up of what pays only on a large one)."""

    def run_pass(self, step: Pass, files: list[InputFile], output: Output, previous: dict[str, dict],
                 decisions: dict[str, list[str]]) -> None:
        """Pass `step` over `files` (files or ranges of them), one task each running `passes.run_pass`; each commits
        its record in `output`. `previous` is each task's record of the pass before, `decisions` the files of its
        decision table."""

    def run_plan(self, stage: GlobalStage, key_files: list[str], output: Output) -> tuple[dict[str, list[str]], Any]:
        """The plan of global stage `stage` over every file's keys: its decision table written per input file
        (returned as the files of each file key) and the plan's result."""

    def close(self, error: BaseException | None) -> None:
        """Tear down what the engine started (a session, a JVM), after the run's output is written or when it
        failed with `error`."""

    @classmethod
    def check(cls, settings: EngineConfig) -> None:
        """Refuse, with a ValueError in one line, engine settings this engine does not take."""

    @classmethod
    def kept_open(cls, settings: EngineConfig) -> contextlib.AbstractContextManager:
        """Within: what the engine starts (a JVM) is kept for every run made inside, instead of once per run."""


_ENGINES: dict[str, type[Engine]] = {}
_PLANS: dict[tuple[str, type], Callable[..., Planned]] = {}


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: make an engine available under its `name`."""
    if _ENGINES.get(cls.name, cls) is not cls:
        raise ValueError(f"engine name {cls.name!r} registered twice")
    _ENGINES[cls.name] = cls
    return cls


def _builtin() -> list[str]:
    """The names of curate's own engines: the subpackages of `curate.engines`, listed without importing them."""
    import curate.engines as package

    return [module.name for module in pkgutil.iter_modules(package.__path__) if module.ispkg]


def engine_names() -> list[str]:
    """Every engine a pipeline may name, sorted: curate's own and the ones plugins registered."""
    return sorted(set(_ENGINES) | set(_builtin()))


def engine(name: str) -> type[Engine]:
    """The engine class called `name`; importing its package registers it and its plans. CurateError when there is
    none."""
    if name not in _ENGINES and name in _builtin():
        importlib.import_module(f"curate.engines.{name}")  # it registers itself
    if name not in _ENGINES:
        raise CurateError(f"no engine named {name!r}; engines: {', '.join(engine_names())}")
    return _ENGINES[name]


def plan(engine_name: str, stage: type[GlobalStage]) -> Callable[[Callable[..., Planned]], Callable[..., Planned]]:
    """Function decorator: the plan of global stage class `stage` on engine `engine_name`."""
    def registered(function: Callable[..., Planned]) -> Callable[..., Planned]:
        if _PLANS.get((engine_name, stage), function) is not function:
            raise ValueError(f"two {engine_name} plans for stage {stage.name!r}")
        _PLANS[(engine_name, stage)] = function
        return function

    return registered


def plan_of(engine_name: str, stage: type[GlobalStage]) -> Callable[..., Planned]:
    """The plan of a global stage on an engine; a one-line CurateError when the engine has none."""
    engine(engine_name)  # the engine's package registers the built-in stages' plans
    found = _PLANS.get((engine_name, stage))
    if found is None:
        raise CurateError(f"stage {stage.name!r} has no {engine_name} plan yet (none registered with "
                          f"@plan({engine_name!r}, {stage.__name__})); run it with another engine")
    return found


@contextlib.contextmanager
def opened(pipeline: Pipeline, inputs: list[InputFile], progress: RunProgress) -> Iterator[Engine]:
    """The pipeline's engine for one run, closed when the block ends (with the error that ended it, if one did)."""
    made = engine(pipeline.config.engine.name)(pipeline, inputs, progress)
    try:
        yield made
    except BaseException as error:
        made.close(error)
        raise
    made.close(None)


def kept_open(settings: EngineConfig) -> contextlib.AbstractContextManager:
    """Within: what the engine of `settings` starts is kept for every run made inside (`Engine.kept_open`)."""
    return engine(settings.name).kept_open(settings)
