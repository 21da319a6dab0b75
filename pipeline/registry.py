"""The stage registry: stages register by name so a YAML pipeline can name them."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from curate.pipeline.stage import Stage

_STAGES: dict[str, type[Stage]] = {}

# Modules that register the built-in stages when imported.
_BUILTIN_MODULES = (
    "curate.stages.extract",
    "curate.stages.langid",
    "curate.stages.quality",
)


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator: make a stage available under its `name`."""
    if cls.name in _STAGES and _STAGES[cls.name] is not cls:
        raise ValueError(f"stage name {cls.name!r} registered twice")
    _STAGES[cls.name] = cls
    return cls


def _load_builtins() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def stages() -> dict[str, type[Stage]]:
    """Every registered stage by name, sorted."""
    _load_builtins()
    return dict(sorted(_STAGES.items()))


def get(name: str) -> type[Stage] | None:
    _load_builtins()
    return _STAGES.get(name)
